/**
 * Revision analysis against an independent oracle. A seeded history of 15 days (America/New_York,
 * across the 2026-11-01 fall-back) is played into a fresh store with the jobs at their scheduled
 * times; then every figure of …/accuracy, …/vintages, …/completeness and …/close-advice is
 * recomputed from the README's definitions, in plain loops over the test's own events (exact
 * BigInt values, exact rationals for the statistics) and the revisions lateview published
 * (their totals are facts), and compared: exact values exactly, statistics to 6 significant
 * digits. On SQLite and on PostgreSQL.
 */
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import type { Engine } from '../../src/store/engine.js'
import { mainHistory, oracleViewOf, play, salesViewJson, viewOf } from '../helpers/analysis-history.js'
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
  type PublishedRevision,
  settle,
  soft,
  unitsOf,
} from '../helpers/analysis-expect.js'
import { dayEnd, Oracle, plusLag, Rational } from '../helpers/analysis-oracle.js'
import { engines } from '../helpers/engines.js'

const VIEW_JSON = salesViewJson('an_sales', 'America/New_York')
const VIEW = viewOf(VIEW_JSON)
const NAME = 'an_sales'
const HISTORY = mainHistory(20261024)
const DAYS = HISTORY.days
const FROM = DAYS[0] as string
const TO = DAYS[DAYS.length - 1] as string
const ZONE = HISTORY.zone
const V = `/v1/views/${NAME}`
const DECIMALS: Record<string, number> = { revenue: 2, orders: 0, largest: 2 }
const MEANING = (measure: string) => () => measure

for (const factory of await engines()) {
  const test = suite(`analysis/oracle (${factory.name})`)
  let engine: Engine
  let app: FastifyInstance
  let oracle: Oracle
  let revisions: Map<string, PublishedRevision[]>

  test.before(async () => {
    engine = await factory.open()
    const clock = new ManualClock((HISTORY.jobs[0]?.at as number) - 3_600_000)
    const lv = await Lateview.fromEngine(engine, [VIEW], clock)
    const stored = await play(lv, clock, NAME, HISTORY.events, HISTORY.jobs, HISTORY.end)
    oracle = new Oracle(oracleViewOf(VIEW_JSON), stored)
    app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: false }, { lateview: lv })
    revisions = await publishedRevisions(app, NAME, DAYS)
  })

  test.after(async () => {
    await app?.close()
    await engine?.close()
    await factory.cleanup()
  })

  const kinds = (p: string) => (revisions.get(p) ?? []).map((r) => r.kind)

  test('the history holds every case the definitions single out', () => {
    const { zeroDay, voidDay, noFlashDay, restatedDays } = HISTORY.special
    assert.not.ok(kinds(noFlashDay).includes('flash'), `${noFlashDay} has no flash: ${kinds(noFlashDay)}`)
    assert.is(kinds(noFlashDay)[0], 'consolidated')
    for (const p of restatedDays) assert.ok(kinds(p).includes('restatement'), `${p} restated after close: ${kinds(p)}`)
    for (const p of [zeroDay, voidDay]) {
      const final = (revisions.get(p) ?? []).find((r) => r.kind === 'final')
      assert.is(final?.totals.measures.revenue, 0, `${p}: a final revenue of 0`)
      assert.is.not((revisions.get(p) ?? [])[0]?.totals.measures.revenue, 0, `${p}: a flash other than 0`)
    }
    assert.is((revisions.get(voidDay) ?? []).find((r) => r.kind === 'final')?.totals.eventCount, 0)
    // The last days are not closed at the end; every kind occurs.
    assert.not.ok(kinds(TO).includes('final'))
    assert.ok(kinds(DAYS[DAYS.length - 3] as string).includes('final'))
    const all = new Set(DAYS.flatMap(kinds))
    for (const k of ['flash', 'consolidated', 'revision', 'final', 'restatement']) assert.ok(all.has(k), `some period has a ${k}`)
    assert.ok(oracle.events.some((e) => e.retracts !== undefined))
    assert.ok(oracle.events.length > 250, `${oracle.events.length} events`)
  })

  test('every published revision is what the oracle computes at its cutoff (the oracle reads the events as lateview does)', () => {
    for (const p of DAYS) {
      for (const r of revisions.get(p) ?? []) {
        const known = oracle.report(p, r.cutoffSeq)
        for (const m of ['revenue', 'orders', 'largest']) {
          const want = known.values[m] ?? null
          soft.ok(unitsOf(r.totals.measures[m], DECIMALS[m] as number) === want, `${p} revision ${r.revision} (${r.kind}) ${m}: published ${r.totals.measures[m]}, oracle ${want}`)
        }
        soft.is(r.eventCount, known.eventCount, `${p} revision ${r.revision} eventCount`)
      }
    }
    settle('revisions against the oracle')
  })

  for (const measure of ['revenue', 'orders'] as const) {
    for (const against of ['final', 'latest'] as const) {
      test(`accuracy of ${measure} against ${against}: per-release statistics and per-period values`, async () => {
        const query = `from=${FROM}&to=${TO}${measure === 'revenue' ? '' : `&measure=${measure}`}${against === 'final' ? '' : '&against=latest'}`
        const answer = await getJson(app, `${V}/accuracy?${query}`)
        const expected = expectedAccuracy(revisions, { measure, decimals: DECIMALS[measure] as number, against, periods: DAYS, meaning: MEANING(measure) })
        assert.ok(expected.releases.length >= 4)
        soft.equal({ view: answer.view, measure: answer.measure, against: answer.against, from: answer.from, to: answer.to }, { view: NAME, measure, against, from: FROM, to: TO }, 'accuracy header')
        compareReleases(answer, expected, `accuracy ${measure}/${against}`)
        comparePeriods(answer, expected, DECIMALS[measure] as number, `accuracy ${measure}/${against}`)
        const excluded = answer.excluded
        soft.ok(Array.isArray(excluded) && excluded.length === 0, `nothing excluded under one definition: ${JSON.stringify(excluded)}`)
        settle(`accuracy ${measure} against ${against}`)
      })
    }
  }

  test('accuracy with a dimension filter restricts every figure to the matching rows', async () => {
    // The published revisions filtered to store=web: the oracle's report at each cutoff
    // (checked equal to the published totals above) restricted to web's events.
    const filtered = new Map<string, PublishedRevision[]>()
    for (const [p, revs] of revisions) {
      filtered.set(
        p,
        revs.map((r) => {
          const known = oracle.report(p, r.cutoffSeq, { store: 'web' })
          return { ...r, totals: { measures: { revenue: Number(known.values.revenue) / 100 }, eventCount: known.eventCount } }
        }),
      )
    }
    const answer = await getJson(app, `${V}/accuracy?from=${FROM}&to=${TO}&store=web`)
    const expected = expectedAccuracy(filtered, { measure: 'revenue', decimals: 2, against: 'final', periods: DAYS, meaning: MEANING('revenue') })
    compareReleases(answer, expected, 'accuracy store=web')
    comparePeriods(answer, expected, 2, 'accuracy store=web')
    settle('accuracy store=web')
  })

  test('accuracy over part of the range, and by default over the last 30 periods with events', async () => {
    const from = DAYS[3] as string
    const to = DAYS[9] as string
    const part = await getJson(app, `${V}/accuracy?from=${from}&to=${to}`)
    const expected = expectedAccuracy(revisions, { measure: 'revenue', decimals: 2, against: 'final', periods: DAYS.slice(3, 10), meaning: MEANING('revenue') })
    compareReleases(part, expected, `accuracy ${from}…${to}`)
    comparePeriods(part, expected, 2, `accuracy ${from}…${to}`)
    const whole = await getJson(app, `${V}/accuracy`)
    soft.equal([whole.from, whole.to], [FROM, TO], 'default range: the (fewer than 30) periods with events')
    const all = expectedAccuracy(revisions, { measure: 'revenue', decimals: 2, against: 'final', periods: DAYS, meaning: MEANING('revenue') })
    compareReleases(whole, all, 'accuracy default range')
    settle('accuracy ranges')
  })

  test('vintages with the default lags against final: value known at end + lag, benchmark at the final cutoff', async () => {
    const answer = await getJson(app, `${V}/vintages?from=${FROM}&to=${TO}`)
    const o = { measure: 'revenue', decimals: 2, against: 'final' as const, periods: DAYS, lags: DEFAULT_LAGS }
    const expected = expectedVintages(oracle, revisions, o)
    // The benchmark of a closed period equals its final total (one definition throughout).
    for (const row of expected) {
      const final = (revisions.get(row.period) ?? []).find((r) => r.kind === 'final')
      assert.is(row.benchmark === null, final === undefined)
    }
    soft.is(answer.view, NAME, 'view')
    compareVintages(answer, expected, o, 'vintages default')
    settle('vintages default lags')
  })

  test('vintages at chosen lags: negative, mixed, on the local calendar across the DST change, against latest, per measure', async () => {
    const lags = ['-PT2H', '-P1D', 'PT0S', 'PT30M', 'PT1H30M', 'P1D', 'P1DT2H', 'P5D', 'P30D']
    for (const [measure, against] of [
      ['revenue', 'final'],
      ['revenue', 'latest'],
      ['orders', 'final'],
      ['largest', 'latest'],
    ] as const) {
      const query = `from=${FROM}&to=${TO}&lags=${lags.join(',')}&measure=${measure}${against === 'latest' ? '&against=latest' : ''}`
      const answer = await getJson(app, `${V}/vintages?${query}`)
      const o = { measure, decimals: DECIMALS[measure] as number, against, periods: DAYS, lags }
      compareVintages(answer, expectedVintages(oracle, revisions, o), o, `vintages ${measure}/${against}`)
    }
    // P1D after 2026-10-31 (which ends at local midnight, 04:00Z) is the next local midnight,
    // 25 hours later across the fall-back: the oracle's calendar, pinned.
    const end = dayEnd('2026-10-31', ZONE)
    assert.is(plusLag(end, 'P1D', ZONE) - end, 25 * 3_600_000)
    assert.is(plusLag(end, 'PT24H', ZONE) - end, 24 * 3_600_000)
    settle('vintages chosen lags')
  })

  test('vintages with a dimension filter', async () => {
    const lags = ['PT0S', 'PT6H', 'P3D']
    const answer = await getJson(app, `${V}/vintages?from=${FROM}&to=${TO}&lags=${lags.join(',')}&store=b`)
    const o = { measure: 'revenue', decimals: 2, against: 'final' as const, periods: DAYS, lags, filter: { store: 'b' } }
    compareVintages(answer, expectedVintages(oracle, revisions, o), o, 'vintages store=b')
    settle('vintages store=b')
  })

  test('completeness: share of the value and of the event count at each lag (nearest rank), lags by source', async () => {
    const answer = await getJson(app, `${V}/completeness?from=${FROM}&to=${TO}`)
    const rows = expectedVintages(oracle, revisions, { measure: 'revenue', decimals: 2, against: 'final', periods: DAYS, lags: DEFAULT_LAGS })
    // The periods with a benchmark of 0 are left out of the percentiles.
    assert.ok(rows.some((r) => r.benchmark === 0n))
    compareCompleteness(answer, expectedCompleteness(oracle, rows, FROM, TO), 'completeness')
    const part = await getJson(app, `${V}/completeness?from=${DAYS[2]}&to=${DAYS[8]}&measure=orders`)
    const partRows = expectedVintages(oracle, revisions, { measure: 'orders', decimals: 0, against: 'final', periods: DAYS.slice(2, 9), lags: DEFAULT_LAGS })
    compareCompleteness(part, expectedCompleteness(oracle, partRows, DAYS[2] as string, DAYS[8] as string), 'completeness orders, part of the range')
    settle('completeness')
  })

  for (const [target, rank] of [
    [null, [999, 1000]],
    ['0.95', [95, 100]],
    ['0.9', [9, 10]],
    ['1', [1, 1]],
  ] as const) {
    test(`close advice (target ${target ?? 'default 0.999'}): restatements per candidate close, recommended, SLA`, async () => {
      const answer = await getJson(app, `${V}/close-advice?from=${FROM}&to=${TO}${target === null ? '' : `&target=${target}`}`)
      const o = {
        measure: 'revenue',
        decimals: 2,
        periods: DAYS,
        closeAt: '03:30',
        now: HISTORY.end,
        target: target === null ? new Rational(999n, 1000n) : new Rational(BigInt(rank[0]), BigInt(rank[1])),
        targetRank: [rank[0], rank[1]] as [number, number],
      }
      const expected = expectedCloseAdvice(oracle, o)
      compareCloseAdvice(answer, expected, o, `close-advice ${target ?? 'default'}`)
      settle(`close advice ${target ?? 'default'}`)
    })
  }

  test('close advice is not fooled by the zero days: valueKnown over Σ|b|, the zero days still counted in n', async () => {
    const { zeroDay, voidDay } = HISTORY.special
    const answer = await getJson(app, `${V}/close-advice?from=${zeroDay}&to=${voidDay}`)
    const o = { measure: 'revenue', decimals: 2, periods: DAYS.slice(4, 8), closeAt: '03:30', now: HISTORY.end, target: new Rational(999n, 1000n), targetRank: [999, 1000] as [number, number] }
    compareCloseAdvice(answer, expectedCloseAdvice(oracle, o), o, 'close-advice zero days')
    // Only the two zero days: Σ|b| = 0, valueKnown null, nothing recommended.
    const zeros = await getJson(app, `${V}/close-advice?from=${zeroDay}&to=${zeroDay}`)
    const z = { ...o, periods: [zeroDay] }
    compareCloseAdvice(zeros, expectedCloseAdvice(oracle, z), z, 'close-advice one zero day')
    settle('close advice zero days')
  })

  test('a benchmark of 0 gives null shares and no division by zero', async () => {
    const { zeroDay, voidDay } = HISTORY.special
    const answer = await getJson(app, `${V}/vintages?from=${zeroDay}&to=${voidDay}&lags=PT0S,P1D`)
    for (const row of answer.rows as Array<{ period: string; benchmark: number; values: Array<{ share: unknown }> }>) {
      if (row.period !== zeroDay && row.period !== voidDay) continue
      soft.is(row.benchmark, 0, `${row.period} benchmark`)
      for (const v of row.values) soft.is(v.share, null, `${row.period} share with a 0 benchmark`)
    }
    // The zero days alone: accuracy of every release is null, n counts them.
    const acc = await getJson(app, `${V}/accuracy?from=${zeroDay}&to=${zeroDay}`)
    for (const r of acc.releases as Array<Record<string, unknown>>) {
      soft.is(r.accuracy, null, `${r.kind} accuracy over a 0 benchmark`)
      soft.is(r.relativeMeanAbsRevision, null, `${r.kind} relativeMeanAbsRevision over Σ|b| = 0`)
      soft.is(r.n, 1, `${r.kind} n`)
    }
    settle('benchmark 0')
  })

  test.run()
}

// The lag from the end of the period used above must not drift from the README's example:
// `-PT2H` after a day is 22:00 on the day itself.
{
  const check = suite('analysis/oracle calendar')
  check('-PT2H is 22:00 local on the day; P1D after a 25-hour day is the next local midnight', () => {
    const end = dayEnd('2026-11-01', 'America/New_York')
    assert.is(new Date(plusLag(end, '-PT2H', 'America/New_York')).toISOString(), '2026-11-02T03:00:00.000Z')
    assert.is(dayEnd('2026-11-01', 'America/New_York') - dayEnd('2026-10-31', 'America/New_York'), 25 * 3_600_000)
  })
  check.run()
}
