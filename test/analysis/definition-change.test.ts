/**
 * Revision analysis across a definition change. A history of 7 days (Asia/Kolkata) is played
 * under version 1 of a view; mid-way the view restarts with version 2, whose revenue keeps
 * 0 decimals instead of 2 (orders and largest unchanged). The README: a period whose release
 * and benchmark were published under definitions giving the measure different meanings
 * (decimals changed) is left out of that release's figures and listed under `excluded` with
 * the reason; a measure whose meaning did not change (orders) excludes nothing; vintages are
 * computed under the current definition (their benchmark too, even for a period finalised
 * under version 1). On SQLite and on PostgreSQL.
 */
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import type { Engine } from '../../src/store/engine.js'
import { jobsBetween, oracleViewOf, play, salesViewJson, smallHistory, viewOf } from '../helpers/analysis-history.js'
import {
  comparePeriods,
  compareReleases,
  compareVintages,
  expectedAccuracy,
  expectedVintages,
  getJson,
  publishedRevisions,
  type PublishedRevision,
  settle,
  soft,
  unitsOf,
} from '../helpers/analysis-expect.js'
import { localAt, Oracle, type StoredEvent } from '../helpers/analysis-oracle.js'
import { engines } from '../helpers/engines.js'

const ZONE = 'Asia/Kolkata'
const NAME = 'an_redef'
const V1_JSON = salesViewJson(NAME, ZONE, 1, 2)
const V2_JSON = salesViewJson(NAME, ZONE, 2, 0)
const FIRST = '2026-03-02'
const SWITCH = localAt('2026-03-06', 0, '12:00', ZONE)
const END = localAt('2026-03-12', 0, '01:00', ZONE)
const HISTORY = smallHistory(7, ZONE, FIRST, 7, END)
const DAYS = HISTORY.days
const FROM = DAYS[0] as string
const TO = DAYS[DAYS.length - 1] as string
const V = `/v1/views/${NAME}`
/** What each measure means under each version: kind, field and decimals. */
const MEANINGS: Record<string, Record<number, string>> = {
  revenue: { 1: 'sum amount 2', 2: 'sum amount 0' },
  orders: { 1: 'count', 2: 'count' },
  largest: { 1: 'max amount 2', 2: 'max amount 2' },
}

/** Every (kind, period) an answer lists under `excluded`, with its reason. */
function exclusions(answer: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>()
  assert.ok(Array.isArray(answer.excluded), `excluded is a list: ${JSON.stringify(answer.excluded)}`)
  for (const item of answer.excluded as Array<Record<string, unknown>>) out.set(`${item.kind}|${item.period}`, item.reason)
  return out
}

for (const factory of await engines()) {
  const test = suite(`analysis/definition-change (${factory.name})`)
  let engine: Engine
  let app: FastifyInstance
  let revisions: Map<string, PublishedRevision[]>
  let stored: StoredEvent[]

  test.before(async () => {
    engine = await factory.open()
    const jobs = jobsBetween(FIRST, END, ZONE)
    const clock = new ManualClock(localAt(FIRST, 0, '00:00', ZONE))
    const first = await Lateview.fromEngine(engine, [viewOf(V1_JSON)], clock)
    stored = await play(
      first,
      clock,
      NAME,
      HISTORY.events,
      jobs.filter((j) => j.at <= SWITCH),
      SWITCH,
    )
    // Restarted with version 2 of the view file.
    const second = await Lateview.fromEngine(engine, [viewOf(V2_JSON)], clock)
    stored = await play(
      second,
      clock,
      NAME,
      HISTORY.events,
      jobs.filter((j) => j.at > SWITCH),
      END,
      stored,
    )
    app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: false }, { lateview: second })
    revisions = await publishedRevisions(app, NAME, DAYS)
  })

  test.after(async () => {
    await app?.close()
    await engine?.close()
    await factory.cleanup()
  })

  test('the history straddles the change: periods released under version 1 and finalised under version 2', () => {
    const straddling = DAYS.filter((p) => {
      const revs = revisions.get(p) ?? []
      return revs[0]?.viewVersion === 1 && revs.find((r) => r.kind === 'final')?.viewVersion === 2
    })
    assert.ok(straddling.length >= 2, `straddling periods: ${straddling}`)
    assert.ok(DAYS.some((p) => (revisions.get(p) ?? []).every((r) => r.viewVersion === 1) && (revisions.get(p) ?? []).some((r) => r.kind === 'final')))
    assert.ok(DAYS.some((p) => (revisions.get(p) ?? []).every((r) => r.viewVersion === 2) && (revisions.get(p) ?? []).length > 0))
    assert.ok(
      DAYS.some((p) => (revisions.get(p) ?? []).some((r) => r.trigger === 'definition')),
      'a provisional period republished under version 2',
    )
    // Every published revision is the oracle's report under its own version.
    const oracles = { 1: new Oracle(oracleViewOf(V1_JSON), stored), 2: new Oracle(oracleViewOf(V2_JSON), stored) }
    for (const p of DAYS) {
      for (const r of revisions.get(p) ?? []) {
        const decimals = r.viewVersion === 1 ? 2 : 0
        const known = oracles[r.viewVersion as 1 | 2].report(p, r.cutoffSeq)
        soft.ok(unitsOf(r.totals.measures.revenue, decimals) === known.values.revenue, `${p} r${r.revision} v${r.viewVersion} revenue ${r.totals.measures.revenue} vs ${known.values.revenue}`)
      }
    }
    settle('revisions under their own versions')
  })

  for (const against of ['final', 'latest'] as const) {
    test(`accuracy of revenue against ${against}: releases under another meaning are excluded with a reason`, async () => {
      const answer = await getJson(app, `${V}/accuracy?from=${FROM}&to=${TO}${against === 'latest' ? '&against=latest' : ''}`)
      const expected = expectedAccuracy(revisions, { measure: 'revenue', decimals: 2, against, periods: DAYS, meaning: (v) => MEANINGS.revenue?.[v] ?? null })
      assert.ok(expected.excluded.length > 0)
      compareReleases(answer, expected, `accuracy revenue/${against}`)
      comparePeriods(answer, expected, 2, `accuracy revenue/${against}`)
      const listed = exclusions(answer)
      soft.equal([...listed.keys()].sort(), expected.excluded.map((x) => `${x.kind}|${x.period}`).sort(), `excluded (kind|period), answer.excluded = ${JSON.stringify(answer.excluded)}`)
      for (const [key, reason] of listed) soft.ok(typeof reason === 'string' && reason.length > 0, `${key}: a reason`)
      settle(`accuracy across versions against ${against}`)
    })
  }

  test('accuracy of orders (same meaning in both versions) excludes nothing', async () => {
    const answer = await getJson(app, `${V}/accuracy?from=${FROM}&to=${TO}&measure=orders`)
    const expected = expectedAccuracy(revisions, { measure: 'orders', decimals: 0, against: 'final', periods: DAYS, meaning: (v) => MEANINGS.orders?.[v] ?? null })
    assert.is(expected.excluded.length, 0)
    compareReleases(answer, expected, 'accuracy orders')
    comparePeriods(answer, expected, 0, 'accuracy orders')
    soft.is(exclusions(answer).size, 0, `nothing excluded: ${JSON.stringify(answer.excluded)}`)
    settle('accuracy orders across versions')
  })

  test('vintages are computed under the current definition, the benchmark of a period finalised under version 1 too', async () => {
    const oracle = new Oracle(oracleViewOf(V2_JSON), stored)
    const lags = ['-PT2H', 'PT0S', 'PT6H', 'P1D', 'P3D']
    for (const against of ['final', 'latest'] as const) {
      const answer = await getJson(app, `${V}/vintages?from=${FROM}&to=${TO}&lags=${lags.join(',')}${against === 'latest' ? '&against=latest' : ''}`)
      const o = { measure: 'revenue', decimals: 0, against, periods: DAYS, lags }
      compareVintages(answer, expectedVintages(oracle, revisions, o), o, `vintages under version 2 against ${against}`)
    }
    settle('vintages under the current definition')
  })

  test.run()
}
