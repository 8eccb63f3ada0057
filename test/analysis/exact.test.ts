/**
 * Exact figures in revision analysis: totals past 2^53 units (values of 90071992547409.9 at
 * 2 decimals, Pacific/Auckland). The README: per-period values (value, revision, benchmark),
 * vintage values and the restatement amounts of close advice are exact; the statistics are
 * floats rounded to 6 significant digits. The answers are read losslessly (every JSON number
 * kept as its numeral) and compared with the oracle's exact decimals. On SQLite and PostgreSQL.
 */
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import type { Engine } from '../../src/store/engine.js'
import { jobsBetween, oracleViewOf, type PlannedEvent, planned, play, salesViewJson, viewOf } from '../helpers/analysis-history.js'
import { DEFAULT_LAGS, expectedAccuracy, expectedCloseAdvice, expectedVintages, expectSix, isFiniteDecimal, publishedRevisions, rationalDecimalText, settle, soft } from '../helpers/analysis-expect.js'
import { decimalText, localAt, Oracle, Rational } from '../helpers/analysis-oracle.js'
import { engines } from '../helpers/engines.js'

const ZONE = 'Pacific/Auckland'
const NAME = 'an_big'
const VIEW_JSON = salesViewJson(NAME, ZONE)
const DAYS = ['2026-11-16', '2026-11-17', '2026-11-18']
const [D1, D2, D3] = DAYS as [string, string, string]
const END = localAt(D1, 8, '12:00', ZONE)
const V = `/v1/views/${NAME}`
const BIG = 90071992547409.9

const at = (day: string, hhmm: string, plusDays = 0) => localAt(day, plusDays, hhmm, ZONE)
let n = 0
const sale = (day: string, source: string, occurred: string, received: number, amount: number): PlannedEvent => {
  const occurredMs = at(day, occurred)
  return planned({ id: `x${n++}`, source, type: 'sale', occurredMs, receivedMs: received, data: { store: source, amount } }, ZONE)
}

const EVENTS: PlannedEvent[] = [
  sale(D1, 'web', '09:00', at(D1, '09:00') + 2000, BIG),
  sale(D1, 'web', '10:00', at(D1, '10:00') + 2000, BIG),
  sale(D1, 'web', '11:00', at(D1, '11:00') + 2000, 12345678901.23),
  sale(D1, 'store-a', '12:00', at(D1, '02:40', 1), 33333333333.33),
  sale(D1, 'store-b', '13:00', at(D1, '08:00', 2), 0.01),
  sale(D1, 'partner', '14:00', at(D1, '10:00', 4), 77777777777.77),
  sale(D2, 'web', '09:00', at(D2, '09:00') + 1000, 1.01),
  sale(D2, 'store-a', '12:00', at(D2, '02:40', 1), 87654321098765.4),
  sale(D3, 'web', '09:00', at(D3, '09:00') + 1000, 5.55),
  sale(D3, 'store-b', '10:00', at(D3, '10:00', 2), 44444444444.44),
].sort((a, b) => a.receivedMs - b.receivedMs)

/** JSON with every number kept as its numeral (a string): no digit lost to a double. */
function lossless(text: string): unknown {
  let out = ''
  for (let i = 0; i < text.length; ) {
    const c = text[i] as string
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      out += text.slice(i, j + 1)
      i = j + 1
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i)) as RegExpExecArray
      out += `"${m[0]}"`
      i += m[0].length
    } else {
      out += c
      i++
    }
  }
  return JSON.parse(out)
}

const exactText = (units: bigint | null) => (units === null ? null : decimalText(units, 2))

for (const factory of await engines()) {
  const test = suite(`analysis/exact (${factory.name})`)
  let engine: Engine
  let app: FastifyInstance
  let oracle: Oracle

  test.before(async () => {
    try {
      await setUp()
    } catch (error) {
      console.error(error)
      throw error
    }
  })

  const setUp = async () => {
    engine = await factory.open()
    const clock = new ManualClock(at(D1, '00:00'))
    const lv = await Lateview.fromEngine(engine, [viewOf(VIEW_JSON)], clock)
    const stored = await play(lv, clock, NAME, EVENTS, jobsBetween(D1, END, ZONE), END)
    oracle = new Oracle(oracleViewOf(VIEW_JSON), stored)
    app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: false }, { lateview: lv })
  }

  test.after(async () => {
    await app?.close()
    await engine?.close()
    await factory.cleanup()
  })

  const read = async (url: string) => {
    const res = await app.inject({ method: 'GET', url })
    assert.is(res.statusCode, 200, `${url}: ${res.body}`)
    return lossless(res.body) as Record<string, unknown>
  }

  test('vintage values and benchmarks past 2^53 units are exact numerals', async () => {
    const revisions = await publishedRevisions(app, NAME, DAYS)
    // Totals past 2^53 units: JSON.parse would have rounded them; the revisions list is read losslessly.
    const history = (await read(`${V}/periods/${D1}/revisions`)).revisions as Array<{ kind: string; cutoffSeq: string; totals: { measures: { revenue: string } } }>
    for (const r of history) soft.is(r.totals.measures.revenue, exactText(oracle.report(D1, Number(r.cutoffSeq)).values.revenue ?? null), `${D1} ${r.kind} published total`)
    for (const against of ['final', 'latest'] as const) {
      const answer = await read(`${V}/vintages?from=${D1}&to=${D3}${against === 'latest' ? '&against=latest' : ''}`)
      const expected = expectedVintages(oracle, revisions, { measure: 'revenue', decimals: 2, against, periods: DAYS, lags: DEFAULT_LAGS })
      const rows = answer.rows as Array<{ period: string; benchmark: string | null; values: Array<{ lag: string; value: string; share: string | null }> }>
      for (const want of expected) {
        const got = rows.find((r) => r.period === want.period)
        if (!got) {
          soft.ok(false, `${want.period} missing`)
          continue
        }
        soft.is(got.benchmark, exactText(want.benchmark), `${against} ${want.period} benchmark`)
        want.values.forEach((w, i) => {
          soft.is(got.values[i]?.value, exactText(w.value), `${against} ${want.period} ${w.lag} value`)
          expectSix(got.values[i]?.share === null ? null : Number(got.values[i]?.share), w.share, `${against} ${want.period} ${w.lag} share`)
        })
      }
    }
    settle('exact vintages')
  })

  test('accuracy: exact per-period values, statistics of large revisions to 6 significant digits', async () => {
    const revisions = await publishedRevisions(app, NAME, DAYS)
    // The published totals, read losslessly, replace the doubles for the oracle.
    for (const p of DAYS) {
      const list = (await read(`${V}/periods/${p}/revisions`)).revisions as Array<{ totals: { measures: { revenue: string } } }>
      ;(revisions.get(p) ?? []).forEach((r, i) => {
        r.totals.measures.revenue = list[i]?.totals.measures.revenue as unknown as number
      })
    }
    const answer = await read(`${V}/accuracy?from=${D1}&to=${D3}&against=latest`)
    const expected = expectedAccuracy(revisions, { measure: 'revenue', decimals: 2, against: 'latest', periods: DAYS, meaning: () => 'revenue' })
    const periods = answer.periods as Array<{ period: string; benchmark: string; releases: Record<string, { value: string; revision: string }> }>
    for (const want of expected.periods) {
      const got = periods.find((p) => p.period === want.period)
      if (!got) {
        soft.ok(false, `${want.period} missing`)
        continue
      }
      soft.is(got.benchmark, exactText(want.benchmark), `${want.period} benchmark`)
      for (const [kind, w] of Object.entries(want.releases)) {
        soft.is(got.releases[kind]?.value, exactText(w.value), `${want.period} ${kind} value`)
        soft.is(got.releases[kind]?.revision, exactText(w.r), `${want.period} ${kind} revision`)
      }
    }
    const releases = answer.releases as Array<Record<string, string | null>>
    for (const want of expected.releases) {
      const got = releases.find((r) => r.kind === want.kind)
      if (!got) {
        soft.ok(false, `release ${want.kind} missing`)
        continue
      }
      const num = (x: string | null | undefined) => (x === null || x === undefined ? null : Number(x))
      expectSix(num(got.meanRevision), want.meanRevision, `${want.kind} meanRevision`)
      expectSix(num(got.minRevision), want.minRevision, `${want.kind} minRevision`)
      expectSix(num(got.maxRevision), want.maxRevision, `${want.kind} maxRevision`)
      expectSix(num(got.stdRevision), want.variance, `${want.kind} stdRevision`, true)
      expectSix(num(got.relativeMeanAbsRevision), want.relativeMeanAbsRevision, `${want.kind} relativeMeanAbsRevision`)
      expectSix(num(got.accuracy), want.accuracy, `${want.kind} accuracy`)
    }
    settle('exact accuracy')
  })

  test('close advice: restatement amounts are exact, not rounded to 6 significant digits', async () => {
    const answer = await read(`${V}/close-advice?from=${D1}&to=${D3}`)
    const expected = expectedCloseAdvice(oracle, {
      measure: 'revenue',
      decimals: 2,
      periods: DAYS,
      closeAt: '03:30',
      now: END,
      target: new Rational(999n, 1000n),
      targetRank: [999, 1000],
    })
    const candidates = answer.candidates as Array<Record<string, string | null>>
    for (const want of expected.candidates) {
      const got = candidates.find((c) => c.afterDays === String(want.afterDays))
      if (!got) {
        soft.ok(false, `afterDays ${want.afterDays} missing`)
        continue
      }
      if (want.meanAbs === null) {
        // No period's close at D+n has come: nothing judged, no figure.
        soft.equal([got.maxAbsRestatement, got.meanAbsRestatement, got.valueKnown], [null, null, null], `afterDays ${want.afterDays}: nothing judged`)
        continue
      }
      soft.is(got.maxAbsRestatement, decimalText(want.maxAbs, 2), `afterDays ${want.afterDays} maxAbsRestatement`)
      soft.is(got.periodsRestated, String(want.periodsRestated), `afterDays ${want.afterDays} periodsRestated`)
      // The mean of three exact values: a finite decimal is shown exactly; else to at least the cents.
      const mean = got.meanAbsRestatement
      if (isFiniteDecimal(want.meanAbs)) soft.is(mean, rationalDecimalText(want.meanAbs), `afterDays ${want.afterDays} meanAbsRestatement`)
      else {
        const cents = Number(want.meanAbs.mul(new Rational(100n)).toNumber().toFixed(0))
        soft.ok(mean !== null && Math.abs(Number(mean) * 100 - cents) <= 1, `afterDays ${want.afterDays} meanAbsRestatement: expected ${want.meanAbs.toNumber()} to the cent, got ${mean}`)
      }
      expectSix(got.valueKnown === null ? null : Number(got.valueKnown), want.valueKnown, `afterDays ${want.afterDays} valueKnown`)
    }
    settle('exact close advice')
  })

  test.run()
}
