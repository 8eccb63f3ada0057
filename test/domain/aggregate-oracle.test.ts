import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregate, cellId, emptyCell, foldEvent, ViewProgram, type CellState, type EventFacts } from '../../src/domain/aggregate.js'
import { parseViewDefinition } from '../../src/domain/view.js'

/**
 * `ViewProgram.addTo` and `foldEvent` (the aggregation step every reader shares) against an
 * oracle written plainly here: decimal texts rounded half away from zero with BigInt, sums,
 * counts, min, max and avg as sum / count, nothing from src/domain/decimal.ts.
 */

// Every measure kind; two sums at different decimals (rounding), refunds count negative.
const view = parseViewDefinition(
  {
    name: 'oracle',
    eventTypes: ['sale', 'refund'],
    timezone: 'UTC',
    granularity: 'day',
    dimensions: ['store'],
    measures: {
      total: { sum: 'amount', decimals: 2 },
      whole: { sum: 'amount', decimals: 0 },
      n: { count: true },
      low: { min: 'amount', decimals: 1 },
      high: { max: 'amount', decimals: 2 },
      mean: { avg: 'price', decimals: 3 },
    },
    sign: { refund: -1 },
  },
  'oracle.json',
)

const DAY = 86_400_000
const START = Date.UTC(2026, 10, 1)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** An event as the oracle sees it: decimal texts (null: the field is null; undefined: absent). */
interface Ev {
  type: 'sale' | 'refund'
  day: number
  store: string
  amount: string | null | undefined
  price: string | null | undefined
}

function facts(e: Ev): EventFacts {
  const data: Record<string, unknown> = { store: e.store }
  if (e.amount !== undefined) data.amount = e.amount === null ? null : Number(e.amount)
  if (e.price !== undefined) data.price = e.price === null ? null : Number(e.price)
  return { type: e.type, occurredAt: START + e.day * DAY + 3_600_000, data }
}

/** A decimal text as an integer scaled by 10^decimals, rounded half away from zero. */
function scaled(text: string, decimals: number): bigint {
  const neg = text.startsWith('-')
  const body = neg ? text.slice(1) : text
  const dot = body.indexOf('.')
  const fraction = dot < 0 ? '' : body.slice(dot + 1)
  const digits = BigInt((dot < 0 ? body : body.slice(0, dot)) + fraction)
  let magnitude: bigint
  if (fraction.length <= decimals) magnitude = digits * 10n ** BigInt(decimals - fraction.length)
  else {
    const unit = 10n ** BigInt(fraction.length - decimals)
    magnitude = digits / unit
    if (2n * (digits % unit) >= unit) magnitude += 1n
  }
  return neg ? -magnitude : magnitude
}

/** a / b rounded half away from zero. */
function divide(a: bigint, b: bigint): bigint {
  const neg = a < 0n !== b < 0n
  const x = a < 0n ? -a : a
  const y = b < 0n ? -b : b
  let q = x / y
  if (2n * (x % y) >= y) q += 1n
  return neg ? -q : q
}

/** What the oracle expects of one cell. */
interface Expected {
  events: number
  total: bigint
  whole: bigint
  n: bigint
  low: bigint | null
  high: bigint | null
  meanSum: bigint
  meanCount: bigint
}

function none(): Expected {
  return { events: 0, total: 0n, whole: 0n, n: 0n, low: null, high: null, meanSum: 0n, meanCount: 0n }
}

/**
 * Adds one event (direction 1) or takes back a voided one (direction -1): sums and counts move by
 * the signed value, min and max only ever take in values (a voided event's stays).
 */
function oracleAdd(x: Expected, e: Ev, direction: 1 | -1 = 1): void {
  const sign = BigInt(direction * (e.type === 'refund' ? -1 : 1))
  x.events += direction
  x.n += sign
  const amount = e.amount ?? null
  if (amount !== null) {
    x.total += sign * scaled(amount, 2)
    x.whole += sign * scaled(amount, 0)
    if (direction === 1) {
      const low = sign * scaled(amount, 1)
      const high = sign * scaled(amount, 2)
      if (x.low === null || low < x.low) x.low = low
      if (x.high === null || high > x.high) x.high = high
    }
  }
  const price = e.price ?? null
  if (price !== null) {
    x.meanSum += sign * scaled(price, 3)
    x.meanCount += BigInt(direction)
  }
}

/** The slots the program keeps for the oracle's figures, in measure order (avg: sum, then count). */
function expectedSlots(x: Expected): Array<bigint | null> {
  return [x.total, x.whole, x.n, x.low, x.high, x.meanSum, x.meanCount]
}

function big(v: number | bigint | null | undefined): bigint | null {
  return v === null || v === undefined ? null : BigInt(v)
}

/** The cell holds exactly the oracle's figures, each slot normalized (a number whenever safe). */
function check(program: ViewProgram, state: CellState, x: Expected, label = ''): void {
  assert.is(state.eventCount, x.events, `${label} eventCount`)
  assert.equal(state.slots.map(big), expectedSlots(x), `${label} slots`)
  for (const v of state.slots) {
    if (typeof v === 'bigint') assert.ok(v > MAX_SAFE || v < -MAX_SAFE, `${label} ${v} is safe yet a bigint`)
  }
  const shown = view.measures.map((_, i) => big(program.shownScaled(state, i)))
  const mean = x.meanCount === 0n ? null : divide(x.meanSum, x.meanCount)
  assert.equal(shown, [x.total, x.whole, x.n, x.low, x.high, mean], `${label} shown`)
}

// Decimal texts of at most 15 significant digits (a JS number holds them exactly): small ones
// with more fraction digits than the measures keep (rounding, ties included), and large ones
// whose sums pass 2^53.
const small = fc
  .tuple(fc.boolean(), fc.integer({ min: 0, max: 99_999 }), fc.stringMatching(/^[0-9]{0,5}$/))
  .map(([neg, whole, fraction]) => `${neg ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`)
const ties = fc.constantFrom('0.5', '-0.5', '2.5', '-2.5', '0.05', '-0.05', '1.25', '-1.25', '0.0005', '-0.0005', '0.00049', '0')
/** Large positive values (a whole part in [low, high], at most 15 significant digits in all). */
const large = (low: bigint, high: bigint, fraction: number) =>
  fc.tuple(fc.bigInt({ min: low, max: high }), fc.stringMatching(new RegExp(`^[0-9]{0,${fraction}}$`))).map(([whole, f]) => `${whole}${f === '' ? '' : `.${f}`}`)
const value = (big: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 5, arbitrary: small }, { weight: 2, arbitrary: ties }, { weight: 2, arbitrary: big }, { weight: 1, arbitrary: fc.constantFrom(null, undefined) })
// Large amounts (up to 9·10^13 at 2 decimals) or prices (9·10^12 at 3) pass 2^53 once a few
// are summed; refunds are rarer than sales, so that sums drift away from zero.
const event: fc.Arbitrary<Ev> = fc.record({
  type: fc.constantFrom('sale' as const, 'sale' as const, 'refund' as const),
  day: fc.integer({ min: 0, max: 2 }),
  store: fc.constantFrom('a', 'b'),
  amount: value(large(10n ** 13n, 9n * 10n ** 13n, 1)),
  price: value(large(10n ** 12n, 9n * 10n ** 12n, 2)),
})

// ---------------------------------------------------------------------------------------------
const examples = suite('addTo and foldEvent: exact examples')

examples('sales and a refund of every measure kind, with rounding half away from zero', () => {
  const program = new ViewProgram(view)
  assert.equal(program.ops, ['add', 'add', 'add', 'min', 'max', 'add', 'add'])
  const state = emptyCell(program.ops.length)
  program.addTo(state, 'sale', { store: 'a', amount: 10.25, price: 1.0005 })
  program.addTo(state, 'sale', { store: 'a', amount: 2.5, price: 2 })
  program.addTo(state, 'refund', { store: 'a', amount: 0.125, price: 0.5 })
  program.addTo(state, 'sale', { store: 'a' })
  // total at 2 decimals: 1025 + 250 - 13 (0.125 → 0.13); whole: 10 + 3 - 0 (2.5 → 3, 0.125 → 0).
  // low at 1 decimal: min(103, 25, -1); high at 2: max(1025, 250, -13).
  // mean: (1.001 + 2 - 0.5) / 3 = 0.833666… → 0.834; the event without a price does not count.
  assert.equal(state, { eventCount: 4, slots: [1262, 13, 2, -1, 1025, 2501, 3] })
  assert.equal(program.measuresOf(state), { total: 12.62, whole: 13, n: 2, low: -0.1, high: 10.25, mean: 0.834 })
})

examples('an event without values, a null value, and a cell of refunds only', () => {
  const program = new ViewProgram(view)
  const state = emptyCell(program.ops.length)
  program.addTo(state, 'sale', { store: 'a', amount: null, price: null })
  assert.equal(state, { eventCount: 1, slots: [0, 0, 1, null, null, 0, 0] })
  assert.equal(program.measuresOf(state), { total: 0, whole: 0, n: 1, low: null, high: null, mean: null })
  const refunds = emptyCell(program.ops.length)
  program.addTo(refunds, 'refund', { store: 'a', amount: 4.14159, price: -2.0005 })
  program.addTo(refunds, 'refund', { store: 'a', amount: 1, price: 1 })
  // The second refund is -1 (low) and -1 (high): -4.1 stays the minimum, -1 becomes the maximum.
  assert.equal(refunds, { eventCount: 2, slots: [-514, -5, -2, -41, -100, 1001, 2] })
  assert.equal(program.measuresOf(refunds), { total: -5.14, whole: -5, n: -2, low: -4.1, high: -1, mean: 0.501 })
})

examples('taking back a voided event subtracts sums and counts, and leaves min and max', () => {
  const program = new ViewProgram(view)
  const cells = new Map<string, CellState>()
  const id = cellId('2026-11-01', '["a"]')
  foldEvent(program, cells, id, 'sale', { store: 'a', amount: 7.5, price: 4 })
  foldEvent(program, cells, id, 'sale', { store: 'a', amount: 1.25, price: 2 })
  const state = foldEvent(program, cells, id, 'sale', { store: 'a', amount: 7.5, price: 4 }, -1)
  assert.is(cells.get(id), state)
  assert.equal(state, { eventCount: 1, slots: [125, 1, 1, 13, 750, 2000, 1] })
  assert.equal(program.measuresOf(state), { total: 1.25, whole: 1, n: 1, low: 1.3, high: 7.5, mean: 2 })
})

examples('sums past 2^53 turn into exact bigints, and back into numbers', () => {
  const program = new ViewProgram(view)
  const state = emptyCell(program.ops.length)
  const big = 999_999_999_999.99
  for (let i = 0; i < 100; i++) program.addTo(state, 'sale', { store: 'a', amount: big })
  assert.is(state.slots[0], 9_999_999_999_999_900n)
  assert.is(state.slots[1], 100_000_000_000_000)
  for (let i = 0; i < 99; i++) program.addTo(state, 'refund', { store: 'a', amount: big })
  assert.is(state.slots[0], 99_999_999_999_999)
  assert.is(state.slots[1], 1_000_000_000_000)
})

examples.run()

// ---------------------------------------------------------------------------------------------
const properties = suite('addTo and foldEvent: against the oracle')

properties('addTo, event by event into one cell, holds the oracle’s figures at every step', () => {
  let bigints = 0
  fc.assert(
    fc.property(fc.array(event, { maxLength: 40 }), (events) => {
      const program = new ViewProgram(view)
      const state = emptyCell(program.ops.length)
      const x = none()
      for (const e of events) {
        program.addTo(state, e.type, facts(e).data)
        oracleAdd(x, e)
        check(program, state, x)
      }
      if (state.slots.some((v) => typeof v === 'bigint')) bigints++
    }),
    { numRuns: 300 },
  )
  // The runs went past 2^53 as well.
  assert.ok(bigints > 0)
})

properties('foldEvent and aggregate group by cell id and hold the oracle’s figures per cell', () => {
  fc.assert(
    fc.property(fc.array(event, { maxLength: 60 }), (events) => {
      const program = new ViewProgram(view)
      const expected = new Map<string, Expected>()
      const folded = new Map<string, CellState>()
      for (const e of events) {
        const id = cellId(`2026-11-0${e.day + 1}`, JSON.stringify([e.store]))
        let x = expected.get(id)
        if (!x) expected.set(id, (x = none()))
        oracleAdd(x, e)
        const f = facts(e)
        foldEvent(program, folded, id, f.type, f.data)
      }
      const aggregated = aggregate(program, events.map(facts))
      for (const cells of [folded, aggregated]) {
        assert.equal([...cells.keys()].sort(), [...expected.keys()].sort())
        for (const [id, x] of expected) check(program, cells.get(id) as CellState, x, id)
      }
    }),
    { numRuns: 200 },
  )
})

properties('taking back voided events (direction -1) matches the oracle: sums and counts of what remains, min and max of all', () => {
  fc.assert(
    fc.property(
      fc.array(event, { minLength: 1, maxLength: 40 }).chain((events) => fc.tuple(fc.constant(events), fc.subarray(events.map((_, i) => i)))),
      ([events, voided]) => {
        const program = new ViewProgram(view)
        const cells = new Map<string, CellState>()
        const x = none()
        const remaining = none()
        for (const e of events) {
          foldEvent(program, cells, 'cell', e.type, facts(e).data)
          oracleAdd(x, e)
        }
        for (const i of voided) {
          const e = events[i] as Ev
          foldEvent(program, cells, 'cell', e.type, facts(e).data, -1)
          oracleAdd(x, e, -1)
        }
        check(program, cells.get('cell') as CellState, x)
        // The additive part equals the aggregation of the events not voided.
        const skip = new Set(voided)
        for (const [i, e] of events.entries()) if (!skip.has(i)) oracleAdd(remaining, e)
        const state = cells.get('cell') as CellState
        assert.equal(
          [0, 1, 2, 5, 6].map((s) => big(state.slots[s])),
          [remaining.total, remaining.whole, remaining.n, remaining.meanSum, remaining.meanCount],
        )
        assert.is(state.eventCount, remaining.events)
      },
    ),
    { numRuns: 200 },
  )
})

properties.run()
