import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregate, applyContribution, cellId, DIMS_KEYS_KEPT, emptyCell, sameCell, splitCellId, ViewProgram, type CellState, type EventFacts } from '../../src/domain/aggregate.js'
import { parseInstant } from '../../src/domain/time.js'
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'

const dailyRevenue = parseViewDefinition(JSON.parse(readFileSync(new URL('../../views/daily_revenue.json', import.meta.url), 'utf8')), 'views/daily_revenue.json')

function at(iso: string): number {
  const ms = parseInstant(iso)
  if (ms === null) throw new Error(`bad instant ${iso}`)
  return ms
}

function inlineView(measures: Record<string, unknown>, extra: Record<string, unknown> = {}): ViewDefinition {
  return parseViewDefinition({ name: 'inline', eventTypes: ['sale', 'refund'], timezone: 'UTC', granularity: 'day', dimensions: ['store'], measures, ...extra }, 'inline.json')
}

function cell(cells: Map<string, CellState>, period: string, dims: unknown[]): CellState {
  const state = cells.get(cellId(period, JSON.stringify(dims)))
  if (!state) throw new Error(`no cell ${period} ${JSON.stringify(dims)} in ${JSON.stringify([...cells.keys()])}`)
  return state
}

const sale = (store: string, channel: string, amount: number, occurredAt = '2026-11-25T10:03:00+08:00'): EventFacts => ({
  type: 'sale',
  occurredAt: at(occurredAt),
  data: { store, channel, amount },
})
const refund = (store: string, channel: string, amount: number, occurredAt = '2026-11-25T18:00:00+08:00'): EventFacts => ({
  type: 'refund',
  occurredAt: at(occurredAt),
  data: { store, channel, amount },
})

// ---------------------------------------------------------------------------------------------
const revenue = suite('aggregate: daily_revenue')

revenue('slot layout: revenue add, orders add, largest max', () => {
  const program = new ViewProgram(dailyRevenue)
  assert.equal(program.ops, ['add', 'add', 'max'])
  assert.is(program.hasMinMax, true)
  assert.is(program.selects('sale'), true)
  assert.is(program.selects('refund'), true)
  assert.is(program.selects('visit'), false)
})

revenue('contribution of a sale and of a refund (sign -1)', () => {
  const program = new ViewProgram(dailyRevenue)
  assert.equal(program.contribution(sale('042', 'pos', 129.5)), {
    period: '2026-11-25',
    dimsKey: '["042","pos"]',
    eventCount: 1,
    slots: [12950, 1, 12950],
  })
  assert.equal(program.contribution(refund('042', 'pos', 20)), {
    period: '2026-11-25',
    dimsKey: '["042","pos"]',
    eventCount: 1,
    slots: [-2000, -1, -2000],
  })
})

revenue('a few sales and a refund give exact figures per (store, channel) cell and period', () => {
  const program = new ViewProgram(dailyRevenue)
  const events: EventFacts[] = [
    sale('042', 'pos', 129.5),
    sale('042', 'pos', 30.25, '2026-11-25T23:59:59+08:00'),
    refund('042', 'pos', 20),
    sale('042', 'online', 10.1, '2026-11-24T16:00:00Z'), // 00:00 in Taipei: still the 25th
    sale('042', 'online', 99.99, '2026-11-24T15:59:59Z'), // 23:59:59 in Taipei: the 24th
    sale('007', 'pos', 5, '2026-11-25T16:00:00Z'), // midnight: the 26th
    { type: 'visit', occurredAt: at('2026-11-25T10:00:00+08:00'), data: { store: '042', channel: 'pos', amount: 1000 } },
  ]
  const cells = aggregate(program, events)
  assert.equal(
    [...cells.keys()].map(splitCellId).sort((a, b) => (a.period + a.dimsKey).localeCompare(b.period + b.dimsKey)),
    [
      { period: '2026-11-24', dimsKey: '["042","online"]' },
      { period: '2026-11-25', dimsKey: '["042","online"]' },
      { period: '2026-11-25', dimsKey: '["042","pos"]' },
      { period: '2026-11-26', dimsKey: '["007","pos"]' },
    ],
  )
  const pos = cell(cells, '2026-11-25', ['042', 'pos'])
  assert.equal(pos, { eventCount: 3, slots: [13975, 1, 12950] })
  assert.equal(program.measuresOf(pos), { revenue: 139.75, orders: 1, largest: 129.5 })
  assert.equal(program.measuresOf(cell(cells, '2026-11-25', ['042', 'online'])), { revenue: 10.1, orders: 1, largest: 10.1 })
  assert.equal(program.measuresOf(cell(cells, '2026-11-24', ['042', 'online'])), { revenue: 99.99, orders: 1, largest: 99.99 })
  assert.equal(program.measuresOf(cell(cells, '2026-11-26', ['007', 'pos'])), { revenue: 5, orders: 1, largest: 5 })
})

revenue('a cell holding only a refund', () => {
  const program = new ViewProgram(dailyRevenue)
  const cells = aggregate(program, [refund('001', 'pos', 12.34)])
  const only = cell(cells, '2026-11-25', ['001', 'pos'])
  assert.equal(only, { eventCount: 1, slots: [-1234, -1, -1234] })
  assert.equal(program.measuresOf(only), { revenue: -12.34, orders: -1, largest: -12.34 })
})

revenue('measuresOf an empty cell', () => {
  const program = new ViewProgram(dailyRevenue)
  assert.equal(program.measuresOf(emptyCell(3)), { revenue: 0, orders: 0, largest: null })
})

revenue.run()

// ---------------------------------------------------------------------------------------------
const exact = suite('aggregate: exact decimals')

exact('0.1 + 0.2 three times is exactly 0.9, and retracting by subtraction is exact', () => {
  const program = new ViewProgram(inlineView({ total: { sum: 'amount', decimals: 2 } }))
  const events: EventFacts[] = []
  for (let i = 0; i < 3; i++) {
    events.push({ type: 'sale', occurredAt: at('2026-11-25T10:00:00Z'), data: { store: 's', amount: 0.1 } })
    events.push({ type: 'sale', occurredAt: at('2026-11-25T11:00:00Z'), data: { store: 's', amount: 0.2 } })
  }
  // Plain float addition drifts; the scaled integers do not.
  assert.is.not(
    events.reduce((s, e) => s + (e.data.amount as number), 0),
    0.9,
  )
  const all = cell(aggregate(program, events), '2026-11-25', ['s'])
  assert.equal(all, { eventCount: 6, slots: [90] })
  assert.equal(program.measuresOf(all), { total: 0.9 })

  // Retract one 0.1 and one 0.2, in an order different from insertion.
  const incremental = emptyCell(program.ops.length)
  for (const e of events) applyContribution(incremental, program.contribution(e), program.ops)
  applyContribution(incremental, program.contribution(events[3] as EventFacts), program.ops, -1)
  applyContribution(incremental, program.contribution(events[0] as EventFacts), program.ops, -1)
  const recomputed = cell(aggregate(program, [events[1], events[2], events[4], events[5]] as EventFacts[]), '2026-11-25', ['s'])
  assert.equal(incremental, { eventCount: 4, slots: [60] })
  assert.equal(recomputed, { eventCount: 4, slots: [60] })
  assert.ok(sameCell(incremental, recomputed))
  assert.equal(program.measuresOf(incremental), { total: 0.6 })
})

exact('values are rounded to the measure decimals from their decimal form, half away from zero', () => {
  const program = new ViewProgram(inlineView({ total: { sum: 'amount', decimals: 2 }, fine: { sum: 'amount' } }))
  const slots = (amount: number) => program.contribution({ type: 'sale', occurredAt: 0, data: { store: 's', amount } }).slots
  // 1.005 is 1.00499999… in binary, but the JSON said 1.005: it rounds up, as 1.115 does.
  assert.equal(slots(1.005), [101, 1005000])
  assert.equal(slots(1.115), [112, 1115000])
  assert.equal(program.measuresOf({ eventCount: 1, slots: slots(1.005) }), { total: 1.01, fine: 1.005 })
  // Symmetric: a correction cancels exactly what it corrects.
  assert.equal(slots(-1.005), [-101, -1005000])
  assert.equal(slots(0.125), [13, 125000])
  assert.equal(slots(-0.125), [-13, -125000])
  assert.equal(slots(0.0000005), [0, 1])
  assert.equal(slots(-0.0000005), [0, -1])
})

exact.run()

// ---------------------------------------------------------------------------------------------
const kinds = suite('aggregate: avg, min, max and missing fields')

kinds('avg is exact', () => {
  const program = new ViewProgram(inlineView({ mean: { avg: 'amount', decimals: 2 } }))
  assert.equal(program.ops, ['add', 'add'])
  const events: EventFacts[] = [10, 20, 25.5].map((amount) => ({ type: 'sale', occurredAt: at('2026-11-25T01:00:00Z'), data: { store: 's', amount } }))
  const state = cell(aggregate(program, events), '2026-11-25', ['s'])
  assert.equal(state, { eventCount: 3, slots: [5550, 3] })
  assert.equal(program.measuresOf(state), { mean: 18.5 })
  applyContribution(state, program.contribution(events[2] as EventFacts), program.ops, -1)
  assert.equal(state, { eventCount: 2, slots: [3000, 2] })
  assert.equal(program.measuresOf(state), { mean: 15 })
})

kinds('avg with a refund averages the signed values', () => {
  const program = new ViewProgram(inlineView({ mean: { avg: 'amount', decimals: 2 } }, { sign: { refund: -1 } }))
  const state = cell(
    aggregate(program, [
      { type: 'sale', occurredAt: 0, data: { store: 's', amount: 30 } },
      { type: 'refund', occurredAt: 0, data: { store: 's', amount: 10 } },
    ]),
    '1970-01-01',
    ['s'],
  )
  assert.equal(state, { eventCount: 2, slots: [2000, 2] })
  assert.equal(program.measuresOf(state), { mean: 10 })
})

const everyKind = {
  s: { sum: 'amount', decimals: 2 },
  n: { count: true },
  lo: { min: 'amount', decimals: 2 },
  hi: { max: 'amount', decimals: 2 },
  mean: { avg: 'amount', decimals: 2 },
}

kinds('a missing measure field adds 0 to sum, nothing to min/max/avg, 1 to count', () => {
  const program = new ViewProgram(inlineView(everyKind))
  assert.equal(program.ops, ['add', 'add', 'min', 'max', 'add', 'add'])
  const missing = program.contribution({ type: 'sale', occurredAt: 0, data: { store: 's' } })
  assert.equal(missing.slots, [0, 1, null, null, 0, 0])
  const nulled = program.contribution({ type: 'sale', occurredAt: 0, data: { store: 's', amount: null } })
  assert.equal(nulled.slots, [0, 1, null, null, 0, 0])

  const onlyMissing = cell(aggregate(program, [{ type: 'sale', occurredAt: 0, data: { store: 's' } }]), '1970-01-01', ['s'])
  assert.equal(onlyMissing, { eventCount: 1, slots: [0, 1, null, null, 0, 0] })
  assert.equal(program.measuresOf(onlyMissing), { s: 0, n: 1, lo: null, hi: null, mean: null })

  const mixed = cell(
    aggregate(program, [
      { type: 'sale', occurredAt: 0, data: { store: 's' } },
      { type: 'sale', occurredAt: 0, data: { store: 's', amount: 7.5 } },
      { type: 'sale', occurredAt: 0, data: { store: 's', amount: 2.25 } },
    ]),
    '1970-01-01',
    ['s'],
  )
  assert.equal(mixed, { eventCount: 3, slots: [975, 3, 225, 750, 975, 2] })
  // The mean 4.875 shown at the measure's 2 decimals, rounded half away from zero.
  assert.equal(program.measuresOf(mixed), { s: 9.75, n: 3, lo: 2.25, hi: 7.5, mean: 4.88 })
})

kinds('retraction leaves min/max untouched (they are recomputed by the caller)', () => {
  const program = new ViewProgram(inlineView(everyKind))
  const big: EventFacts = { type: 'sale', occurredAt: 0, data: { store: 's', amount: 100 } }
  const small: EventFacts = { type: 'sale', occurredAt: 0, data: { store: 's', amount: 1 } }
  const state = emptyCell(program.ops.length)
  applyContribution(state, program.contribution(big), program.ops)
  applyContribution(state, program.contribution(small), program.ops)
  applyContribution(state, program.contribution(big), program.ops, -1)
  assert.equal(state, { eventCount: 1, slots: [100, 1, 100, 10000, 100, 1] })

  // A retraction never widens min/max, even of a cell whose extremes were recomputed without it.
  const recomputed = emptyCell(program.ops.length)
  applyContribution(recomputed, program.contribution(small), program.ops)
  applyContribution(recomputed, program.contribution({ type: 'sale', occurredAt: 0, data: { store: 's', amount: 0.5 } }), program.ops, -1)
  applyContribution(recomputed, program.contribution(big), program.ops, -1)
  assert.equal(recomputed, { eventCount: -1, slots: [-9950, -1, 100, 100, -9950, -1] })
})

kinds.run()

// ---------------------------------------------------------------------------------------------
const dims = suite('aggregate: dims keys and problemWith')

dims('dims keys keep order and type; a missing dim is null', () => {
  const program = new ViewProgram(dailyRevenue)
  assert.is(program.dimsKey({ store: '042', channel: 'pos', amount: 1 }), '["042","pos"]')
  assert.is(program.dimsKey({ channel: 'pos', store: '042' }), '["042","pos"]')
  assert.is(program.dimsKey({ store: '042' }), '["042",null]')
  assert.is(program.dimsKey({ store: 42, channel: true }), '[42,true]')
  assert.is(program.dimsKey({ store: null, channel: 'web' }), '[null,"web"]')
  assert.is(program.dimsKey({}), '[null,null]')
  assert.equal(program.dimsOf('["042","pos"]'), { store: '042', channel: 'pos' })
  assert.equal(program.dimsOf('["042",null]'), { store: '042', channel: null })
  assert.equal(program.dimsOf('[42,false]'), { store: 42, channel: false })
  assert.is(cellId('2026-11-25', '["042","pos"]'), '2026-11-25\u0000["042","pos"]')
  assert.equal(splitCellId(cellId('2026-11-25', '["a\\u0000b",null]')), { period: '2026-11-25', dimsKey: '["a\\u0000b",null]' })
})

dims('dims keys remembered by value equal the keys built from the data, across a restart of the memory', () => {
  const program = new ViewProgram(dailyRevenue)
  const value = fc.oneof(
    fc.constantFrom('042', '42', 'pos', '', 'a"b', 'é'),
    fc.constantFrom(42, -0, 0, 1.5),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.constant({ x: 1 }),
    fc.constant([1]),
  )
  fc.assert(
    fc.property(fc.array(fc.record({ store: value, channel: value }), { maxLength: 30 }), (rows) => {
      for (const data of rows) assert.is(program.dimsKey(data), `[${[data.store, data.channel].map((v) => (v === undefined ? 'null' : JSON.stringify(v))).join(',')}]`)
    }),
    { numRuns: 500 },
  )
  // Past DIMS_KEYS_KEPT combinations the memory starts over, with the same answers.
  for (let i = 0; i <= DIMS_KEYS_KEPT + 10; i++) program.dimsKey({ store: i, channel: 'x' })
  assert.is(program.dimsKey({ store: 7, channel: 'x' }), '[7,"x"]')
  assert.is(program.dimsKey({ store: DIMS_KEYS_KEPT + 10, channel: 'x' }), `[${DIMS_KEYS_KEPT + 10},"x"]`)
})

dims('a view without dimensions has one total row', () => {
  const program = new ViewProgram(parseViewDefinition({ name: 't', eventTypes: ['sale'], timezone: 'UTC', granularity: 'month', dimensions: [], measures: { n: { count: true } } }, 't.json'))
  assert.is(program.dimsKey({ store: 'x' }), '[]')
  assert.equal(program.dimsOf('[]'), {})
})

dims('problemWith accepts good data and rejects bad measure and dimension values', () => {
  const program = new ViewProgram(dailyRevenue)
  assert.is(program.problemWith({ store: '042', channel: 'pos', amount: 129.5 }), null)
  assert.is(program.problemWith({ store: 42, channel: null }), null)
  assert.is(program.problemWith({ store: '042', channel: 'pos', amount: null }), null)

  const measureProblem = { field: 'data.amount', message: 'measure revenue of view daily_revenue needs a finite number' }
  assert.equal(program.problemWith({ store: '042', amount: '129.5' }), measureProblem)
  assert.equal(program.problemWith({ store: '042', amount: Number.NaN }), measureProblem)
  assert.equal(program.problemWith({ store: '042', amount: Number.POSITIVE_INFINITY }), measureProblem)
  assert.equal(program.problemWith({ store: '042', amount: Number.NEGATIVE_INFINITY }), measureProblem)
  assert.equal(program.problemWith({ store: '042', amount: [1] }), measureProblem)

  assert.equal(program.problemWith({ store: { id: '042' }, amount: 1 }), {
    field: 'data.store',
    message: 'dimension store of view daily_revenue must be a string, number, boolean or null',
  })
  assert.equal(program.problemWith({ store: '042', channel: ['pos'] })?.field, 'data.channel')

  assert.equal(program.problemWith({ amount: 1e14 }), {
    field: 'data.amount',
    message: 'value is too large for measure revenue of view daily_revenue: at 2 decimals a value is at most 90071992547409.91',
  })
  assert.is(program.problemWith({ amount: 90071992547409.91 }), null)
  assert.is(program.problemWith({ amount: -90071992547409.91 }), null)
  assert.is(program.problemWith({ amount: 90071992547409.92 })?.field, 'data.amount')
})

dims('a dims key is the JSON array of the values, whatever they are', () => {
  const program = new ViewProgram(dailyRevenue)
  const value = fc.oneof(fc.string({ unit: 'binary' }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined))
  fc.assert(
    fc.property(value, value, (store, channel) => {
      const data: Record<string, unknown> = {}
      if (store !== undefined) data.store = store
      if (channel !== undefined) data.channel = channel
      assert.is(program.dimsKey(data), JSON.stringify([store ?? null, channel ?? null]))
    }),
    { numRuns: 2000 },
  )
})

dims.run()

// ---------------------------------------------------------------------------------------------
const props = suite('aggregate: properties')

props('applying all contributions then subtracting the retracted ones equals aggregate() of the rest', () => {
  const program = new ViewProgram(dailyRevenue)
  const addSlots = program.ops.flatMap((op, i) => (op === 'add' ? [i] : []))
  assert.equal(addSlots, [0, 1])
  const day = at('2026-11-24T16:00:00Z')
  const event = fc.record({
    type: fc.constantFrom('sale', 'refund'),
    store: fc.constantFrom('001', '002', '003'),
    channel: fc.constantFrom('pos', 'online'),
    cents: fc.integer({ min: -1_000_000, max: 1_000_000 }),
    offset: fc.integer({ min: -36 * 3_600_000, max: 60 * 3_600_000 }),
    retracted: fc.boolean(),
  })
  fc.assert(
    fc.property(fc.array(event, { maxLength: 80 }), (raw) => {
      const events = raw.map((r) => ({
        facts: { type: r.type, occurredAt: day + r.offset, data: { store: r.store, channel: r.channel, amount: r.cents / 100 } } as EventFacts,
        retracted: r.retracted,
        signedCents: (r.type === 'refund' ? -1 : 1) * r.cents,
        sign: r.type === 'refund' ? -1 : 1,
      }))

      const incremental = new Map<string, CellState>()
      for (const e of events) {
        const c = program.contribution(e.facts)
        const id = cellId(c.period, c.dimsKey)
        const state = incremental.get(id) ?? emptyCell(program.ops.length)
        incremental.set(id, state)
        applyContribution(state, c, program.ops)
      }
      for (const e of events.filter((x) => x.retracted)) {
        const c = program.contribution(e.facts)
        applyContribution(incremental.get(cellId(c.period, c.dimsKey)) as CellState, c, program.ops, -1)
      }

      const kept = events.filter((e) => !e.retracted)
      const recomputed = aggregate(
        program,
        kept.map((e) => e.facts),
      )

      // An independent tally in integer cents.
      const tally = new Map<string, { count: number; cents: number; orders: number }>()
      for (const e of kept) {
        const id = cellId(program.bucketer.keyOf(e.facts.occurredAt), JSON.stringify([e.facts.data.store, e.facts.data.channel]))
        const t = tally.get(id) ?? { count: 0, cents: 0, orders: 0 }
        tally.set(id, { count: t.count + 1, cents: t.cents + e.signedCents, orders: t.orders + e.sign })
      }
      assert.equal([...recomputed.keys()].sort(), [...tally.keys()].sort())

      for (const [id, state] of incremental) {
        const expected = recomputed.get(id)
        if (!expected) {
          // Every event of the cell was retracted.
          assert.is(state.eventCount, 0, id)
          for (const i of addSlots) assert.is(state.slots[i], 0, id)
          continue
        }
        assert.is(state.eventCount, expected.eventCount, id)
        for (const i of addSlots) assert.is(state.slots[i], expected.slots[i], `${id} slot ${i}`)
        const t = tally.get(id) as { count: number; cents: number; orders: number }
        assert.equal([state.eventCount, state.slots[0], state.slots[1]], [t.count, t.cents, t.orders], id)
      }
      for (const id of recomputed.keys()) assert.ok(incremental.has(id), id)
    }),
    { numRuns: 300 },
  )
})

props.run()
