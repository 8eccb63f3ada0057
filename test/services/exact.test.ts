/**
 * Figures are exact at any magnitude the store holds, on both engines: Realtime, revisions,
 * as-of, CSV and JSON agree to the last digit with a BigInt oracle written here, or the batch is
 * refused (LV_ERR_MEASURE_OVERFLOW) and nothing is written. Inputs round half away from zero.
 */
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import type { Amount } from '../../src/domain/aggregate.js'
import { ManualClock } from '../../src/domain/clock.js'
import { numeral } from '../../src/domain/decimal.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import { engines } from '../helpers/engines.js'
import { at, rejection } from '../helpers/ingest-fixtures.js'
import { summarise } from '../helpers/lifecycle.js'

const D = '2026-11-20'
const view = (name: string, measures: Record<string, unknown>, types = ['sale', 'refund']) =>
  parseViewDefinition({ name, eventTypes: types, sign: { [types[1] as string]: -1 }, timezone: 'UTC', granularity: 'day', dimensions: [], measures }, `${name}.json`)
const VIEWS = [
  // Its own event types: billions at 6 decimals are more than one value may be at 9.
  view('big', { amt: { sum: 'amount', decimals: 6 } }, ['bigsale', 'bigrefund']),
  view('fine', { amt: { sum: 'amount', decimals: 9 }, mean: { avg: 'amount', decimals: 9 }, low: { min: 'amount', decimals: 9 } }),
  view('cents', { amt: { sum: 'amount', decimals: 2 }, mean: { avg: 'amount', decimals: 2 } }),
  view('whole', { amt: { sum: 'amount', decimals: 0 } }),
]

let counter = 0
const event = (amount: number, type = 'sale', received = `${D}T10:00:00Z`, day = D) => ({
  id: `e${++counter}`,
  source: 's',
  type,
  occurredAt: `${day}T09:00:00Z`,
  receivedAt: received,
  data: { amount },
})

/** The exact value a view shows, as JSON text, from the HTTP answer's own characters. */
function shownInJson(body: string, measure: string): string[] {
  return [...body.matchAll(new RegExp(`"${measure}":(-?[0-9.]+)`, 'g'))].map((m) => m[1] as string)
}

// ------------------------------------------------------------------------------- the oracle

/** An event's value rounded to `decimals` from its shortest decimal form, half away from zero, as a BigInt. */
function oracleScaled(value: number, decimals: number): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value))
  if (!m) throw new Error(`no decimal form for ${value}`)
  const digits = `${m[2]}${m[3] ?? ''}`
  // value = digits · 10^exp
  const exp = Number(m[4] ?? 0) - (m[3]?.length ?? 0) + decimals
  let magnitude: bigint
  if (exp >= 0) magnitude = BigInt(digits) * 10n ** BigInt(exp)
  else {
    const divisor = 10n ** BigInt(-exp)
    const whole = BigInt(digits)
    magnitude = whole / divisor
    if ((whole % divisor) * 2n >= divisor) magnitude += 1n
  }
  return m[1] === '-' ? -magnitude : magnitude
}

/** x / 10^d as the exact decimal numeral lateview must print. */
function oracleText(x: bigint, decimals: number): string {
  const negative = x < 0n
  const digits = (negative ? -x : x).toString().padStart(decimals + 1, '0')
  const whole = digits.slice(0, digits.length - decimals)
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '')
  const text = fraction ? `${whole}.${fraction}` : whole
  return negative && text !== '0' ? `-${text}` : text
}

const INT64 = 2n ** 63n - 1n

/** A shown amount as its numeral (a number without exponent, or a Decimal's text). */
const exactText = (v: Amount | null): string => (v === null ? '0' : typeof v === 'number' ? numeral(v) : v.text)

for (const factory of await engines()) {
  const test = suite(`services/exact (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  async function fresh(body: (lv: Lateview, app: FastifyInstance, clock: ManualClock) => Promise<void>) {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(at(`${D}T12:00:00Z`))
      const lv = await Lateview.fromEngine(engine, VIEWS, clock)
      const app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: true }, { lateview: lv })
      try {
        await body(lv, app, clock)
      } finally {
        await app.close()
      }
    } finally {
      await engine.close()
    }
  }
  const text = async (app: FastifyInstance, url: string) => {
    const res = await app.inject({ method: 'GET', url })
    assert.is(res.statusCode, 200, res.body)
    return res.body
  }

  test('sums past 2^53 scaled units keep every digit in Realtime, revisions, as-of, CSV and diffs', () =>
    fresh(async (lv, app) => {
      await lv.ingest([event(5000000000, 'bigsale', `${D}T10:00:00Z`), event(0.000001, 'bigsale', `${D}T10:01:00Z`), event(5000000000, 'bigsale', `${D}T10:02:00Z`)], { imported: true })
      assert.equal(summarise(await lv.jobs.run('flash', { view: 'big', period: D, now: at(`${D}T10:30:00Z`), trigger: 'cron' })), [['flash', 'big', D, 'published', 1, 'flash at cutoff seq 3']])
      await lv.ingest([event(5000000000, 'bigrefund', `${D}T11:00:00Z`)], { imported: true })
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: 'big', period: D, now: at(`${D}T11:30:00Z`), trigger: 'cron' })), [
        ['consolidate', 'big', D, 'published', 2, 'consolidated at cutoff seq 4'],
      ])

      const P = `/v1/views/big/periods/${D}`
      // The one cell and the totals.
      assert.equal(shownInJson(await text(app, '/v1/views/big/realtime'), 'amt'), ['5000000000.000001', '5000000000.000001'])
      // Revision 1 holds 10000000000.000001: 17 significant digits, more than a double keeps.
      assert.equal(shownInJson(await text(app, `${P}?revision=1`), 'amt'), ['10000000000.000001', '10000000000.000001'])
      assert.equal(shownInJson(await text(app, `${P}?revision=2`), 'amt'), ['5000000000.000001', '5000000000.000001'])
      assert.equal(shownInJson(await text(app, `${P}?asOf=${D}T10:45:00Z`), 'amt'), ['10000000000.000001', '10000000000.000001'])
      assert.is(await text(app, `${P}?revision=1&format=csv`), 'amt,eventCount\r\n10000000000.000001,3\r\n')
      assert.is(await text(app, `${P}?format=csv`), 'amt,eventCount\r\n5000000000.000001,4\r\n')
      const diff = await text(app, `${P}/diff?from=1&to=2`)
      // The change (before, after, delta, the contribution of the refund), then the totals (before, after, delta).
      assert.equal(shownInJson(diff, 'amt'), ['10000000000.000001', '5000000000.000001', '-5000000000', '-5000000000', '10000000000.000001', '5000000000.000001', '-5000000000'])
      assert.equal(shownInJson(await text(app, `${P}/revisions`), 'amt'), ['10000000000.000001', '5000000000.000001'])
      // The alert of the change carries the exact totals too.
      assert.equal(shownInJson(await text(app, '/v1/alerts?kind=ReportRevised'), 'amt'), ['10000000000.000001', '5000000000.000001', '-5000000000'])
      const { realtime, revisions } = await lv.verifyStore()
      assert.equal([realtime.differences, revisions.differences], [[], []])
    }))

  test('a sum past the int64 range is refused at ingest, naming view and measure; nothing is written', () =>
    fresh(async (lv, app) => {
      // 9007199.254 at 9 decimals is 9007199254000000 units, just under 2^53: 1,024 of them pass int64.
      const first = Array.from({ length: 600 }, () => event(9007199.254))
      await lv.ingest(first, { imported: true })
      const error = await rejection(
        () =>
          lv.ingest(
            Array.from({ length: 600 }, () => event(9007199.254)),
            { imported: true },
          ),
        'LV_ERR_MEASURE_OVERFLOW',
      )
      assert.equal(error.details, { view: 'fine', measure: 'amt', period: D, dims: {} })
      assert.is(error.message, `measure amt of view fine would leave the range lateview keeps exactly (±9223372036.854775807 at 9 decimals) in period ${D}, cell []; nothing was written`)
      // One batch whose own sum is past the range is refused the same way.
      await rejection(
        () =>
          lv.ingest(
            Array.from({ length: 1100 }, () => event(9007199.254)),
            { imported: true },
          ),
        'LV_ERR_MEASURE_OVERFLOW',
      )
      const stored = await lv.engine.db.kysely
        .selectFrom('events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
      assert.is(Number(stored.n), 600)
      assert.equal(shownInJson(await text(app, '/v1/views/fine/realtime'), 'amt'), [oracleText(600n * 9007199254000000n, 9), oracleText(600n * 9007199254000000n, 9)])
      assert.equal(summarise(await lv.jobs.run('flash', { view: 'fine', period: D, now: at(`${D}T22:00:00Z`), trigger: 'cron' })), [['flash', 'fine', D, 'published', 1, 'flash at cutoff seq 600']])
      assert.equal(shownInJson(await text(app, `/v1/views/fine/periods/${D}`), 'amt'), ['5404319552.4', '5404319552.4'])
      const { realtime, revisions } = await lv.verifyStore()
      assert.equal([realtime.differences, revisions.differences], [[], []])
    }))

  test('rounding is symmetric: a correction cancels what it corrects; 1.005 is 1.01 and 1.115 is 1.12', () =>
    fresh(async (lv, app) => {
      await lv.ingest([event(0.125), event(-0.125), event(2.5), event(-2.5)], { imported: true })
      const cells = async (name: string) => (await lv.realtime(name)).cells.map((c) => c.measures)
      assert.equal(await cells('cents'), [{ amt: 0, mean: 0 }])
      assert.equal(await cells('whole'), [{ amt: 0 }])
      await lv.ingest([event(1.005), event(1.115), event(-1.005)], { imported: true })
      assert.equal(await cells('cents'), [{ amt: 1.12, mean: 0.16 }])
      assert.equal(await cells('whole'), [{ amt: 1 }])
      // At 9 decimals: 1.115 plus a billionth; the mean 1.115000001 / 8 = 0.139375000125 shown at 9 decimals.
      await lv.ingest([event(0.000000001)], { imported: true })
      const body = await text(app, '/v1/views/fine/realtime')
      assert.equal(
        [shownInJson(body, 'amt'), shownInJson(body, 'mean'), shownInJson(body, 'low')],
        [
          ['1.115000001', '1.115000001'],
          ['0.139375', '0.139375'],
          ['-2.5', '-2.5'],
        ],
      )
      // Tiny figures print as plain numerals, never 1e-9, in JSON and CSV.
      await lv.ingest([event(0.000000001, 'sale', `${D}T10:00:00Z`, '2026-11-19')], { imported: true })
      const tiny = await text(app, '/v1/views/fine/realtime?from=2026-11-19&to=2026-11-19')
      assert.match(tiny, '"measures":{"amt":0.000000001,"mean":0.000000001,"low":0.000000001}')
      await lv.restate('fine', '2026-11-19')
      assert.is(await text(app, '/v1/views/fine/periods/2026-11-19?format=csv'), 'amt,mean,low,eventCount\r\n0.000000001,0.000000001,0.000000001,1\r\n')
    }))

  test('a single value is refused past 2^53 units at its decimals, before anything is written', () =>
    fresh(async (lv) => {
      const error = await rejection(() => lv.ingest([event(9007199.254741), event(1)], { imported: true }), 'LV_ERR_EVENTS_INVALID')
      assert.equal(error.details.errors, [
        {
          index: 0,
          id: `e${counter - 1}`,
          code: 'LV_EVENT_FIELD_INVALID',
          field: 'data.amount',
          message: 'value is too large for measure amt of view fine: at 9 decimals a value is at most 9007199.254740991',
        },
      ])
      assert.equal((await lv.realtime('fine')).cells, [])
    }))

  // --------------------------------------------------------------------------- the property

  /** Amounts across magnitudes: cents, long fractions, near 2^53 units at 9 decimals, negatives. */
  const amountArb = fc.oneof(
    fc.integer({ min: -100_000, max: 100_000 }).map((c) => c / 100),
    fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }).map((c) => c / 1e9),
    fc.integer({ min: 8_000_000, max: 9_007_199 }).map((n) => n + 0.254),
    fc.integer({ min: -9_007_199, max: -8_000_000 }).map((n) => n - 0.254),
    fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }).map((v) => Math.round(v * 1e4) / 1e4),
  )
  /** A batch item: `copies` events of one amount (hundreds of them reach the int64 range at 9 decimals), or a retraction. */
  const itemArb = fc.record({
    amount: amountArb,
    refund: fc.boolean(),
    retract: fc.nat(),
    copies: fc.oneof({ weight: 9, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 700 }) }),
  })
  const scenarioArb = fc.array(fc.array(itemArb, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 6 })
  /** Always among the runs: two batches near 2^53 units each that pass int64 together, then a retraction. */
  const overflowing = [
    [{ amount: 9007199.254, refund: false, retract: 1, copies: 600 }],
    [{ amount: 9007199.254, refund: false, retract: 1, copies: 600 }],
    [{ amount: 1, refund: false, retract: 0, copies: 1 }],
  ]

  test('property: Realtime, revisions and as-of equal a BigInt oracle at any magnitude, or the batch is refused', async () => {
    const decimals = { fine: 9, cents: 2, whole: 0 } as const
    let refusals = 0
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (batches) => {
        const engine = await factory.open()
        try {
          const clock = new ManualClock(at(`${D}T12:00:00Z`))
          const lv = await Lateview.fromEngine(engine, VIEWS, clock)
          // The oracle: every stored event's value per view, and which are retracted.
          const stored: Array<{ id: string; amount: number; sign: 1 | -1; retracted: boolean }> = []
          const sums = (name: keyof typeof decimals) => stored.filter((e) => !e.retracted).reduce((s, e) => s + BigInt(e.sign) * oracleScaled(e.amount, decimals[name]), 0n)
          const revisions: Array<{ revision: number; expected: Record<string, string> }> = []
          let minute = 0
          for (const batch of batches) {
            const received = new Date(at(`${D}T13:00:00Z`) + ++minute * 60_000).toISOString()
            const items: Array<Record<string, unknown>> = []
            const added: typeof stored = []
            const voiding = new Set<number>()
            for (const b of batch) {
              const live = stored.filter((e, i) => !e.retracted && !voiding.has(i))
              if (b.retract % 5 === 0 && live.length > 0) {
                const target = live[b.retract % live.length] as (typeof stored)[number]
                voiding.add(stored.indexOf(target))
                items.push({ id: `${target.id}-void`, source: 's', type: 'sale', occurredAt: `${D}T09:00:00Z`, receivedAt: received, retracts: target.id })
              } else {
                for (let k = 0; k < b.copies; k++) {
                  const e = event(b.amount, b.refund ? 'refund' : 'sale', received)
                  items.push(e)
                  added.push({ id: e.id, amount: b.amount, sign: b.refund ? -1 : 1, retracted: false })
                }
              }
            }
            // What the batch would leave, by the oracle: refused when a sum (or the batch's own) leaves int64.
            const before = Object.fromEntries(Object.keys(decimals).map((n) => [n, sums(n as keyof typeof decimals)]))
            const change = (name: keyof typeof decimals) =>
              added.reduce((s, e) => s + BigInt(e.sign) * oracleScaled(e.amount, decimals[name]), 0n) -
              [...voiding].reduce((s, i) => s + BigInt((stored[i] as (typeof stored)[number]).sign) * oracleScaled((stored[i] as (typeof stored)[number]).amount, decimals[name]), 0n)
            const out = (x: bigint) => x > INT64 || x < -INT64
            const refused = (Object.keys(decimals) as Array<keyof typeof decimals>).some((n) => out(change(n)) || out((before[n] as bigint) + change(n)))
            clock.set(at(received))
            if (refused) {
              await rejection(() => lv.ingest(items, { imported: true }), 'LV_ERR_MEASURE_OVERFLOW')
              refusals++
              continue
            }
            await lv.ingest(items, { imported: true })
            for (const i of voiding) (stored[i] as (typeof stored)[number]).retracted = true
            stored.push(...added)
            for (const name of Object.keys(decimals) as Array<keyof typeof decimals>) {
              const cells = (await lv.realtime(name)).cells
              const expected = oracleText(sums(name), decimals[name])
              const shown = cells.length === 0 ? '0' : exactText(cells[0]?.measures.amt ?? null)
              assert.is(shown, expected, `${name} after batch ${minute}`)
            }
            const [run] = await lv.jobs.run('rebuild', { view: 'fine', period: D, now: at(received), trigger: 'manual' })
            const published = run?.outcome === 'published' ? run : await lv.restate('fine', D)
            if (published.outcome === 'published') revisions.push({ revision: published.revision as number, expected: { amt: oracleText(sums('fine'), 9), at: received } })
          }
          // Every revision and every as-of still reads what the oracle said then.
          for (const r of revisions) {
            const doc = await lv.report('fine', D, { revision: r.revision })
            assert.is(exactText(doc.totals.measures.amt ?? null), r.expected.amt, `revision ${r.revision}`)
            const asOf = await lv.report('fine', D, { asOf: at(r.expected.at as string) })
            assert.is(exactText(asOf.totals.measures.amt ?? null), r.expected.amt, `as of ${r.expected.at}`)
          }
          const { realtime, revisions: checked } = await lv.verifyStore()
          assert.equal([realtime.differences, checked.differences], [[], []])
        } finally {
          await engine.close()
        }
      }),
      { numRuns: Number(process.env.LATEVIEW_PROPERTY_RUNS ?? 15), examples: [[overflowing]] },
    )
    assert.ok(refusals > 0, 'the runs met the int64 limit')
  })

  test.run()
}
