/**
 * The outside of revision analysis on a small hand-made case (Asia/Taipei): the vintages CSV
 * as exact text, bad input answered 404/400 problem+json with a code, and the command
 * `lateview accuracy … --format json` answering what GET …/accuracy answers, on a store
 * (SQLite file or PostgreSQL schema) the CLI opens itself.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { openEngine, type Engine } from '../../src/store/engine.js'
import { jobsBetween, type PlannedEvent, planned, play, salesViewJson, viewOf } from '../helpers/analysis-history.js'
import { getJson } from '../helpers/analysis-expect.js'
import { localAt } from '../helpers/analysis-oracle.js'
import { storeLocations } from '../helpers/store-locations.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'src/cli/lateview.mjs')
const ZONE = 'Asia/Taipei'
const NAME = 'an_small'
const VIEW_JSON = salesViewJson(NAME, ZONE)
const V = `/v1/views/${NAME}`
const D1 = '2026-11-23'
const D2 = '2026-11-24'
const END = localAt('2026-11-29', 0, '12:00', ZONE)
const TMP = mkdtempSync(join(tmpdir(), 'lateview-analysis-'))
process.on('exit', () => rmSync(TMP, { recursive: true, force: true }))
const VIEWS_DIR = join(TMP, 'views')

const at = (day: string, hhmm: string, plusDays = 0) => localAt(day, plusDays, hhmm, ZONE)
const ev = (id: string, source: string, type: string, occurred: number, received: number, amount?: number, retracts?: string): PlannedEvent =>
  planned({ id, source, type, occurredMs: occurred, receivedMs: received, ...(amount === undefined ? {} : { data: { store: source, amount } }), ...(retracts ? { retracts } : {}) }, ZONE)

/**
 * D1: web sales 10.5 (10:00, on time) and 20.25 (21:00, on time), a refund of 0.125 (→ −0.13),
 * a store upload of 100 at 02:40 on D1+1, a late sale of 7.77 on D1+2 and the retraction of the
 * 20.25 sale on D1+5 (after close). D2: one web sale of 5, on time.
 */
const EVENTS: PlannedEvent[] = [
  ev('w1', 'web', 'sale', at(D1, '10:00'), at(D1, '10:00') + 5000, 10.5),
  ev('w2', 'web', 'sale', at(D1, '21:00'), at(D1, '21:00') + 60_000, 20.25),
  ev('w3', 'web', 'refund', at(D1, '21:30'), at(D1, '21:30') + 30_000, 0.125),
  ev('a1', 'store-a', 'sale', at(D1, '15:00'), at(D1, '02:40', 1), 100),
  ev('w4', 'web', 'sale', at(D2, '09:00'), at(D2, '09:00') + 1000, 5),
  ev('b1', 'store-b', 'sale', at(D1, '12:00'), at(D1, '08:00', 2), 7.77),
  ev('w2-void', 'web', 'sale', at(D1, '21:00'), at(D1, '09:00', 5), undefined, 'w2'),
].sort((a, b) => a.receivedMs - b.receivedMs)

/** Plays the small case into the store at `db` and returns the app over it. */
async function build(engine: Engine): Promise<{ app: FastifyInstance; lv: Lateview; clock: ManualClock }> {
  const clock = new ManualClock(at(D1, '00:00'))
  const lv = await Lateview.fromEngine(engine, [viewOf(VIEW_JSON)], clock)
  await play(lv, clock, NAME, EVENTS, jobsBetween(D1, END, ZONE), END)
  const app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: false }, { lateview: lv })
  return { app, lv, clock }
}

function cli(args: string[], db: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { FORCE_COLOR: '0', NO_COLOR: '1' }
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LATEVIEW_') && key !== 'FORCE_COLOR') env[key] = value
  Object.assign(env, { LATEVIEW_DB: db, LATEVIEW_VIEWS: VIEWS_DIR, LATEVIEW_SCHEDULER: 'off' })
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const PROBLEM = 'application/problem+json; charset=utf-8'

for (const location of await storeLocations()) {
  const test = suite(`analysis/surface (${location.name})`)
  let db: string
  let engine: Engine
  let app: FastifyInstance
  let clock: ManualClock

  test.before(async () => {
    const { mkdirSync } = await import('node:fs')
    mkdirSync(VIEWS_DIR, { recursive: true })
    writeFileSync(join(VIEWS_DIR, `${NAME}.json`), JSON.stringify(VIEW_JSON, null, 2))
    db = location.next()
    engine = await openEngine(db)
    ;({ app, clock } = await build(engine))
  })

  test.after(async () => {
    await app?.close()
    await engine?.close()
    await location.cleanup()
  })

  test('the small case: the revisions the vintages below rest on', async () => {
    const r1 = (await getJson(app, `${V}/periods/${D1}/revisions`)).revisions as Array<{ kind: string; totals: { measures: { revenue: number } } }>
    // flash 30.62 (10.5 + 20.25 − 0.13), consolidated 130.62, revision 138.39, final 138.39, restatement 118.14.
    assert.equal(
      r1.map((r) => [r.kind, r.totals.measures.revenue]),
      [
        ['flash', 30.62],
        ['consolidated', 130.62],
        ['revision', 138.39],
        ['final', 138.39],
        ['restatement', 118.14],
      ],
    )
  })

  test('vintages as CSV: period,knownAt,lag,value, exact values, one line per period and lag', async () => {
    const lags = '-PT2H,PT0S,P1D,P2D,P7D'
    const json = await getJson(app, `${V}/vintages?from=${D1}&to=${D2}&lags=${lags}`)
    const rows = json.rows as Array<{ period: string; values: Array<{ lag: string; knownAt: string; value: number }> }>
    // Known at: D1 end − 2 h = 22:00 on D1 → 30.62; D1 end → 30.62; +1 day (00:00 D1+2) → 130.62;
    // +2 days → 138.39; +7 days (after the retraction, and after the last event) → 118.14.
    const expected: Array<[string, string, number, number]> = [
      [D1, '-PT2H', at(D1, '22:00'), 30.62],
      [D1, 'PT0S', at(D1, '00:00', 1), 30.62],
      [D1, 'P1D', at(D1, '00:00', 2), 130.62],
      [D1, 'P2D', at(D1, '00:00', 3), 138.39],
      [D1, 'P7D', at(D1, '00:00', 8), 118.14],
      [D2, '-PT2H', at(D2, '22:00'), 5],
      [D2, 'PT0S', at(D2, '00:00', 1), 5],
      [D2, 'P1D', at(D2, '00:00', 2), 5],
      [D2, 'P2D', at(D2, '00:00', 3), 5],
      [D2, 'P7D', at(D2, '00:00', 8), 5],
    ]
    const flat = rows.flatMap((r) => r.values.map((v) => [r.period, v.lag, Date.parse(v.knownAt), v.value]))
    assert.equal(flat, expected)
    const res = await app.inject({ method: 'GET', url: `${V}/vintages?from=${D1}&to=${D2}&lags=${lags}&format=csv` })
    assert.is(res.statusCode, 200, res.body)
    assert.match(String(res.headers['content-type']), /^text\/csv/)
    const knownAt = rows.flatMap((r) => r.values.map((v) => v.knownAt))
    const lines = ['period,knownAt,lag,value', ...expected.map(([p, lag, , value], i) => `${p},${knownAt[i]},${lag},${value}`)]
    assert.is(res.body, `${lines.join('\r\n')}\r\n`)
    // The same through Accept: text/csv.
    const accepted = await app.inject({ method: 'GET', url: `${V}/vintages?from=${D1}&to=${D2}&lags=${lags}`, headers: { accept: 'text/csv' } })
    assert.is(accepted.body, res.body)
  })

  test('a vintage at the very instant an event arrives holds it; one second before does not', async () => {
    // The store upload of D1 arrives at 02:40 on D1+1: PT2H40M after the end of D1.
    const json = await getJson(app, `${V}/vintages?from=${D1}&to=${D1}&lags=PT2H39M59S,PT2H40M`)
    const values = (json.rows as Array<{ values: Array<{ knownAt: string; value: number }> }>)[0]?.values ?? []
    assert.equal(
      values.map((v) => [Date.parse(v.knownAt), v.value]),
      [
        [at(D1, '02:40', 1) - 1000, 30.62],
        [at(D1, '02:40', 1), 130.62],
      ],
    )
  })

  test('an unknown view is 404 LV_ERR_VIEW_NOT_FOUND on every analysis route', async () => {
    for (const route of ['accuracy', 'vintages', 'completeness', 'close-advice']) {
      const res = await app.inject({ method: 'GET', url: `/v1/views/nope/${route}?from=${D1}&to=${D2}` })
      assert.is(res.statusCode, 404, `${route}: ${res.body}`)
      assert.is(res.headers['content-type'], PROBLEM)
      assert.is(res.json().code, 'LV_ERR_VIEW_NOT_FOUND', `${route}: ${res.body}`)
    }
  })

  test('malformed periods, lags, targets and options are 400 problem+json with a code', async () => {
    const cases: Array<[string, string]> = [
      [`accuracy?from=2026-13-01&to=${D2}`, 'LV_ERR_PERIOD_MALFORMED'],
      [`accuracy?from=${D1}&to=2026-W48`, 'LV_ERR_PERIOD_MALFORMED'],
      [`vintages?from=2026-11-31&to=${D2}`, 'LV_ERR_PERIOD_MALFORMED'],
      [`completeness?from=${D1}&to=1899-12-31`, 'LV_ERR_PERIOD_MALFORMED'],
      [`close-advice?from=${D1}&to=2026-11-24T10`, 'LV_ERR_PERIOD_MALFORMED'],
      [`vintages?from=${D1}&to=${D2}&lags=P1X`, 'LV_ERR_QUERY_INVALID'],
      [`vintages?from=${D1}&to=${D2}&lags=1D`, 'LV_ERR_QUERY_INVALID'],
      [`vintages?from=${D1}&to=${D2}&lags=PT0S,,P1D`, 'LV_ERR_QUERY_INVALID'],
      [`vintages?from=${D1}&to=${D2}&lags=`, 'LV_ERR_QUERY_INVALID'],
      [`vintages?from=${D1}&to=${D2}&lags=--PT2H`, 'LV_ERR_QUERY_INVALID'],
      [`close-advice?from=${D1}&to=${D2}&target=abc`, 'LV_ERR_QUERY_INVALID'],
      [`close-advice?from=${D1}&to=${D2}&target=1.5`, 'LV_ERR_QUERY_INVALID'],
      [`close-advice?from=${D1}&to=${D2}&target=-0.1`, 'LV_ERR_QUERY_INVALID'],
      [`accuracy?from=${D1}&to=${D2}&against=best`, 'LV_ERR_QUERY_INVALID'],
    ]
    for (const [url, code] of cases) {
      const res = await app.inject({ method: 'GET', url: `${V}/${url}` })
      assert.is(res.statusCode, 400, `${url}: ${res.statusCode} ${res.body}`)
      assert.is(res.headers['content-type'], PROBLEM, url)
      const body = res.json()
      assert.is(body.code, code, `${url}: ${res.body}`)
      assert.is(body.status, 400)
      assert.type(body.detail, 'string')
    }
    // An unknown measure and a range the wrong way round are refused with a code (4xx), not a 500.
    for (const url of [`accuracy?from=${D1}&to=${D2}&measure=nope`, `vintages?from=${D2}&to=${D1}`]) {
      const res = await app.inject({ method: 'GET', url: `${V}/${url}` })
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url}: ${res.statusCode} ${res.body}`)
      assert.is(res.headers['content-type'], PROBLEM, url)
      assert.match(String(res.json().code), /^LV_ERR_/)
    }
  })

  test('lateview accuracy --format json answers what GET …/accuracy answers', async () => {
    for (const [args, query] of [
      [['--from', D1, '--to', D2], `from=${D1}&to=${D2}`],
      [['--from', D1, '--to', D2, '--against', 'latest', '--measure', 'orders'], `from=${D1}&to=${D2}&against=latest&measure=orders`],
      [[], ''],
    ] as const) {
      // The route adds the seq its answer is exact at (a read's own fact, not a figure): the
      // command prints the figures.
      const { seq: _seq, ...api } = await getJson(app, `${V}/accuracy?${query}`)
      const run = await cli(['accuracy', NAME, ...args, '--format', 'json'], db)
      assert.is(run.code, 0, `exit ${run.code}: ${run.stderr}`)
      assert.is(run.stderr, '')
      const doc = JSON.parse(run.stdout) as Record<string, unknown>
      if ('releases' in doc) {
        assert.equal(doc, api, `lateview accuracy ${args.join(' ')}`)
        continue
      }
      // The command prints a summary: the accuracy answer, with completeness and close advice
      // over the same periods. Each part is what its route answers (at the CLI's now: the wall clock).
      assert.equal(Object.keys(doc).sort(), ['accuracy', 'closeAdvice', 'completeness'], 'the summary the command prints')
      assert.equal(doc.accuracy, api, `lateview accuracy ${args.join(' ')}: accuracy`)
      clock.set(Date.now())
      const range = `from=${api.from}&to=${api.to}${query.includes('measure=') ? '&measure=orders' : ''}${query.includes('against=') ? '&against=latest' : ''}`
      // Its completeness points are labelled by schedule (`D+1 03:00`: the consolidation), the
      // route's by ISO lag after the end of the day (PT3H): the same instants.
      const completeness = doc.completeness as { points: Array<{ lag: string }>; sources: unknown }
      const iso = completeness.points.map(({ lag }) => {
        const m = /^D\+(\d+) (\d\d):(\d\d)$/.exec(lag)
        return m ? `P${Number(m[1]) - 1}DT${Number(m[2])}H${Number(m[3])}M` : lag
      })
      const { seq: _routeSeq, ...route } = await getJson(app, `${V}/completeness?${range}&lags=${iso.join(',')}`)
      const relabelled = (route.points as Array<{ lag: string }>).map((p, i) => ({ ...p, lag: completeness.points[i]?.lag }))
      assert.equal(completeness, { ...route, points: relabelled }, `lateview accuracy ${args.join(' ')}: completeness`)
      const { seq: _adviceSeq, ...advice } = await getJson(app, `${V}/close-advice?${range}`)
      assert.equal(doc.closeAdvice, advice, `lateview accuracy ${args.join(' ')}: close advice`)
    }
    const csv = await cli(['accuracy', NAME, '--from', D1, '--to', D2, '--format', 'csv'], db)
    assert.is(csv.code, 0, csv.stderr)
    assert.ok(csv.stdout.length > 0)
    const bad = await cli(['accuracy', 'nope', '--format', 'json'], db)
    assert.ok(bad.code === 1 || bad.code === 2, `unknown view: exit ${bad.code}`)
    assert.ok(bad.stderr.length > 0)
    const usage = await cli(['accuracy', NAME, '--against', 'best'], db)
    assert.is(usage.code, 2, `bad --against: exit ${usage.code} ${usage.stderr}`)
  })

  test.run()
}
