/**
 * Property: for any small history (Europe/Berlin, three days around the 2026-10-25 fall-back,
 * sales and refunds from three sources with lags of seconds to days, retractions), played with
 * the jobs at their scheduled times, every vintage at any lags and every accuracy figure is what
 * the oracle computes from the README's definitions. fast-check, seeded.
 */
import fc from 'fast-check'
import { suite } from 'uvu'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { jobsBetween, oracleViewOf, type PlannedEvent, planned, play, salesViewJson, viewOf } from '../helpers/analysis-history.js'
import {
  compareCloseAdvice,
  compareCompleteness,
  comparePeriods,
  compareReleases,
  compareVintages,
  DEFAULT_LAGS,
  expectedAccuracy,
  expectedCloseAdvice,
  expectedCompleteness,
  expectedVintages,
  getJson,
  publishedRevisions,
  settle,
} from '../helpers/analysis-expect.js'
import { dayOf, daysBetween, localAt, Oracle, Rational } from '../helpers/analysis-oracle.js'
import { engines } from '../helpers/engines.js'

const ZONE = 'Europe/Berlin'
const NAME = 'an_prop'
const VIEW_JSON = salesViewJson(NAME, ZONE)
const DAYS = daysBetween('2026-10-24', '2026-10-26')
const START = localAt(DAYS[0] as string, 0, '00:00', ZONE)
const END = localAt(DAYS[0] as string, 8, '12:00', ZONE)
const LAGS = ['-P1D', '-PT2H', 'PT0S', 'PT1H', 'PT12H', 'P1D', 'P1DT6H', 'P2D', 'P3D', 'P4D']

interface Draw {
  day: number
  source: 'web' | 'store-a' | 'store-b'
  refund: boolean
  occurredS: number
  lagS: number
  cents: number
  half: boolean
  retractAfterS: number | null
}

const drawArb = fc.record({
  day: fc.integer({ min: 0, max: 2 }),
  source: fc.constantFrom('web' as const, 'store-a' as const, 'store-b' as const),
  refund: fc.boolean(),
  occurredS: fc.integer({ min: 0, max: 86_399 }),
  lagS: fc.oneof(fc.integer({ min: 1, max: 900 }), fc.integer({ min: 3600, max: 4 * 86_400 })),
  cents: fc.integer({ min: 1, max: 50_000 }),
  half: fc.boolean(),
  retractAfterS: fc.option(fc.integer({ min: 60, max: 3 * 86_400 }), { freq: 5 }),
})

function eventsOf(draws: Draw[]): PlannedEvent[] {
  const out: PlannedEvent[] = []
  draws.forEach((d, i) => {
    const day = DAYS[d.day] as string
    const occurredMs = localAt(day, 0, '00:00', ZONE) + d.occurredS * 1000
    // A 1-cent step, or a half cent (rounded half away from zero at 2 decimals).
    const amount = d.half ? Number(`${Math.floor(d.cents / 100)}.${String(d.cents % 100).padStart(2, '0')}5`) : d.cents / 100
    const e = planned({ id: `e${i}`, source: d.source, type: d.refund ? 'refund' : 'sale', occurredMs, receivedMs: occurredMs + d.lagS * 1000, data: { store: d.source, amount } }, ZONE)
    out.push(e)
    if (d.retractAfterS !== null) out.push(planned({ id: `e${i}-void`, source: d.source, type: e.type, occurredMs, receivedMs: e.receivedMs + d.retractAfterS * 1000, retracts: e.id }, ZONE))
  })
  // Events occurring after their arrival would be in the future: none here (lags are positive).
  return out.filter((e) => e.receivedMs <= END).sort((a, b) => a.receivedMs - b.receivedMs)
}

for (const factory of await engines()) {
  const test = suite(`analysis/property (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  test('vintages and accuracy equal the oracle for any small history', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(drawArb, { minLength: 1, maxLength: 25 }), fc.subarray(LAGS, { minLength: 1 }), async (draws, lags) => {
        const events = eventsOf(draws)
        // A range without a gap: every day between the first and the last has an event.
        const present = DAYS.map((p) => events.some((e) => e.retracts === undefined && dayOf(e.occurredMs, ZONE) === p))
        fc.pre(present.some(Boolean) && present.slice(present.indexOf(true), present.lastIndexOf(true) + 1).every(Boolean))
        const engine = await factory.open()
        try {
          const clock = new ManualClock(START)
          const lv = await Lateview.fromEngine(engine, [viewOf(VIEW_JSON)], clock)
          const stored = await play(lv, clock, NAME, events, jobsBetween(DAYS[0] as string, END, ZONE), END)
          const oracle = new Oracle(oracleViewOf(VIEW_JSON), stored)
          const app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: false }, { lateview: lv })
          try {
            const periods = DAYS.filter((p) => stored.some((e) => e.retracts === undefined && oracle.periodOf(e) === p))
            const from = periods[0] as string
            const to = periods[periods.length - 1] as string
            const inRange = DAYS.filter((p) => p >= from && p <= to)
            const revisions = await publishedRevisions(app, NAME, inRange)
            for (const against of ['final', 'latest'] as const) {
              const suffix = against === 'latest' ? '&against=latest' : ''
              const o = { measure: 'revenue', decimals: 2, against, periods: inRange, lags }
              const vintages = await getJson(app, `/v1/views/${NAME}/vintages?from=${from}&to=${to}&lags=${lags.join(',')}${suffix}`)
              compareVintages(vintages, expectedVintages(oracle, revisions, o), o, `vintages/${against}`)
              const accuracy = await getJson(app, `/v1/views/${NAME}/accuracy?from=${from}&to=${to}${suffix}`)
              const expected = expectedAccuracy(revisions, { measure: 'revenue', decimals: 2, against, periods: inRange, meaning: () => 'revenue' })
              compareReleases(accuracy, expected, `accuracy/${against}`)
              comparePeriods(accuracy, expected, 2, `accuracy/${against}`)
            }
            const rows = expectedVintages(oracle, revisions, { measure: 'revenue', decimals: 2, against: 'final', periods: inRange, lags: DEFAULT_LAGS })
            compareCompleteness(await getJson(app, `/v1/views/${NAME}/completeness?from=${from}&to=${to}`), expectedCompleteness(oracle, rows, from, to), 'completeness')
            const close = { measure: 'revenue', decimals: 2, periods: inRange, closeAt: '03:30', now: END, target: new Rational(999n, 1000n), targetRank: [999, 1000] as [number, number] }
            compareCloseAdvice(await getJson(app, `/v1/views/${NAME}/close-advice?from=${from}&to=${to}`), expectedCloseAdvice(oracle, close), close, 'close-advice')
            settle(`history of ${events.length} events, lags ${lags.join(',')}`)
          } finally {
            await app.close()
          }
        } finally {
          await engine.close()
        }
      }),
      { seed: 20261025, numRuns: factory.name === 'sqlite' ? 40 : 10, interruptAfterTimeLimit: 240_000 },
    )
  })

  test.run()
}
