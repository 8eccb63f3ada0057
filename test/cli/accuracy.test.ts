/**
 * `lateview accuracy`, run as users run it, on the store a short demo leaves (its days flashed,
 * consolidated, revised and closed): the JSON holds the three answers over the demo's days, the
 * CSV the accuracy by release, the table the three parts; bad usage exits 2, an unknown view 1.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TMP = mkdtempSync(join(tmpdir(), 'lateview-accuracy-test-'))
process.on('exit', () => rmSync(TMP, { recursive: true, force: true }))
const DB = join(TMP, 'demo.db')

/** Runs the command in a child process (several at once: each start costs seconds). */
function lateview(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { FORCE_COLOR: '0', NO_COLOR: '1' }
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LATEVIEW_')) env[key] = value
  const child = spawn(process.execPath, [join(ROOT, 'src/cli/lateview.mjs'), ...args], { cwd: ROOT, env: { ...env, LATEVIEW_VIEWS: 'views', LATEVIEW_DB: DB, ...extra } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const test = suite('cli: accuracy')

test('the demo ends with the summary; accuracy prints it as a table, JSON or CSV', async () => {
  const demo = await lateview(['demo', '--days', '2', '--events', '40', '--db', DB])
  assert.is(demo.code, 0, demo.stderr)
  assert.match(demo.stdout, /^accuracy of daily_revenue revenue by release, against the final revision \(2026-11-02 … 2026-11-03\):$/m)
  assert.match(demo.stdout, /^close advice \(target 0\.999 of the value known at the close\): /m)

  const [json, csv, table] = await Promise.all([
    lateview(['accuracy', 'daily_revenue', '--format', 'json']),
    lateview(['accuracy', 'daily_revenue', '--format', 'csv', '--measure', 'orders']),
    lateview(['accuracy', 'daily_revenue', '--against', 'latest']),
  ])
  assert.is(json.code, 0, json.stderr)
  const summary = JSON.parse(json.stdout) as {
    accuracy: { from: string; to: string; releases: Array<{ kind: string; n: number }> }
    completeness: { points: Array<{ lag: string }> }
    closeAdvice: { candidates: unknown[] }
  }
  assert.equal([summary.accuracy.from, summary.accuracy.to], ['2026-11-02', '2026-11-03'])
  // Both days were closed: the final release is its own benchmark.
  assert.equal(
    summary.accuracy.releases.find((r) => r.kind === 'final'),
    { kind: 'final', n: 2, meanRevision: 0, meanAbsRevision: 0, relativeMeanAbsRevision: 0, minRevision: 0, maxRevision: 0, stdRevision: 0, accuracy: 1, withinOnePercent: 1 },
  )
  assert.equal(
    summary.completeness.points.map((p) => p.lag),
    ['D+1 03:00', 'D+3 03:30'],
  )
  assert.is(summary.closeAdvice.candidates.length, 14)

  assert.is(csv.code, 0, csv.stderr)
  const lines = csv.stdout.split('\r\n')
  assert.is(lines[0], 'kind,n,meanRevision,meanAbsRevision,relativeMeanAbsRevision,minRevision,maxRevision,stdRevision,accuracy,withinOnePercent')
  assert.ok(lines.includes('final,2,0,0,0,0,0,0,1,1'), csv.stdout)

  assert.is(table.code, 0, table.stderr)
  assert.match(table.stdout, /against the latest revision/)
  assert.match(table.stdout, /^D\+3 03:30 /m)
})

test('demo --format json prints one document: the history, verify and the summary, equal to what report and accuracy read', async () => {
  const db = join(TMP, 'demo-json.db')
  const demo = await lateview(['demo', '--days', '2', '--events', '40', '--db', db, '--format', 'json'])
  assert.is(demo.code, 0, demo.stderr)
  type Revision = { revision: number; kind: string; eventCount: number; totals: { revenue: number; orders: number } }
  const doc = JSON.parse(demo.stdout) as {
    kind: string
    view: string
    timezone: string
    store: string
    events: number
    ingested: number
    revisionsPublished: number
    periods: Array<{ period: string; status: string; revisions: Revision[] }>
    verify: { cells: number; differences: unknown[]; revisions: number; revisionDifferences: unknown[] }
    analysis: { accuracy: unknown }
  }
  assert.equal([doc.kind, doc.view, doc.timezone, doc.store, doc.events, doc.ingested], ['retail', 'daily_revenue', 'Asia/Taipei', db, 80, 80])
  assert.equal(
    doc.periods.map((p) => [p.period, p.status, p.revisions[0]?.kind, p.revisions.at(-1)?.kind]),
    [
      ['2026-11-02', 'final', 'flash', 'final'],
      ['2026-11-03', 'final', 'flash', 'final'],
    ],
  )
  for (const p of doc.periods)
    assert.equal(
      p.revisions.map((r) => r.revision),
      p.revisions.map((_, i) => i + 1),
    )
  assert.is(
    doc.revisionsPublished,
    doc.periods.reduce((n, p) => n + p.revisions.length, 0),
  )
  assert.equal([doc.verify.differences, doc.verify.revisionDifferences, doc.verify.revisions], [[], [], doc.revisionsPublished])

  const env = { LATEVIEW_DB: db }
  const [reports, accuracy] = await Promise.all([
    Promise.all(doc.periods.map((p) => lateview(['report', 'daily_revenue', p.period, '--format', 'json'], env))),
    lateview(['accuracy', 'daily_revenue', '--format', 'json'], env),
  ])
  doc.periods.forEach((p, i) => {
    const report = JSON.parse(reports[i]?.stdout ?? '') as { revision: number; eventCount: number; totals: { measures: { revenue: number; orders: number } } }
    const last = p.revisions.at(-1) as Revision
    assert.equal([last.revision, last.eventCount, last.totals.revenue, last.totals.orders], [report.revision, report.eventCount, report.totals.measures.revenue, report.totals.measures.orders])
  })
  // The demo's summary is read on its simulated clock, at the end of the replay: completeness and
  // the close advice see only the lags reached by then, while the accuracy by release is final.
  const byRelease = (text: string): unknown => (JSON.parse(text) as { accuracy: unknown }).accuracy
  assert.equal(doc.analysis.accuracy, byRelease(accuracy.stdout))
  // The same seed makes the same history: the table demo's store gives the same accuracy.
  assert.equal(doc.analysis.accuracy, byRelease((await lateview(['accuracy', 'daily_revenue', '--format', 'json'])).stdout))
})

test('bad usage exits 2; an unknown view or measure exits 1 with its code', async () => {
  const usage = [['accuracy'], ['accuracy', 'daily_revenue', '--against', 'first'], ['accuracy', 'daily_revenue', '--format', 'xml'], ['accuracy', 'daily_revenue', '--target', '2']]
  const [unknown, measure, ...bad] = await Promise.all([lateview(['accuracy', 'nope']), lateview(['accuracy', 'daily_revenue', '--measure', 'profit']), ...usage.map((args) => lateview(args))])
  bad.forEach((run, i) => {
    assert.is(run.code, 2, `${usage[i]?.join(' ')}: ${run.stderr}`)
    assert.match(run.stderr, /^lateview accuracy: /)
  })
  assert.is(unknown.code, 1)
  assert.match(unknown.stderr, /LV_ERR_VIEW_NOT_FOUND/)
  assert.is(measure.code, 1)
  assert.match(measure.stderr, /LV_ERR_QUERY_INVALID/)
})

test.run()
