import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateFixture } from '../../fixtures/generate.js'
import { jobOfEntry } from '../../jobs/run-job.js'
import { JOB_NAMES } from '../../src/domain/jobs.js'

const dir = mkdtempSync(join(tmpdir(), 'lateview-jobs-'))
const env = { ...process.env, LATEVIEW_DB: join(dir, 'store.db'), LATEVIEW_VIEWS: 'views', LATEVIEW_LOG_LEVEL: 'silent' }
const run = (args: string[], input?: string) => spawnSync(process.execPath, args, { env, encoding: 'utf8', ...(input !== undefined ? { input } : {}) })

test.after(() => rmSync(dir, { recursive: true, force: true }))

test('jobs/<job>.ts runs one job once against LATEVIEW_DB, idempotently', () => {
  const lines = generateFixture('retail', { days: 2, events: 200 })
    .map((e) => JSON.stringify(e))
    .join('\n')
  writeFileSync(join(dir, 'events.ndjson'), lines)
  const ingest = run(['src/cli/lateview.mjs', 'ingest', '--import', join(dir, 'events.ndjson')])
  assert.is(ingest.status, 0, ingest.stderr)
  const args = ['--import', 'tsx', 'jobs/consolidate.ts', '--view', 'daily_revenue', '--period', '2026-11-02', '--now', '2026-11-03T03:00:00+08:00']
  const first = run(args)
  assert.is(first.status, 0, first.stderr)
  assert.match(first.stdout, /consolidate\s+daily_revenue\s+2026-11-02\s+published\s+1\s+consolidated at cutoff seq \d+/)
  const second = run(args)
  assert.is(second.status, 0, second.stderr)
  assert.match(second.stdout, /consolidate\s+daily_revenue\s+2026-11-02\s+skipped\s+1\s+already consolidated/)
  const bad = run(['--import', 'tsx', 'jobs/flash.ts', '--period', '2026-11-02'])
  assert.is(bad.status, 2)
  assert.match(bad.stderr, /--period needs --view/)
})

test('jobs/ holds one entry file per job of the table, each running the job it is named after', () => {
  const entries = readdirSync('jobs').filter((f) => f.endsWith('.ts') && f !== 'run-job.ts')
  assert.equal(entries.sort(), JOB_NAMES.map((job) => `${job}.ts`).sort())
  for (const job of JOB_NAMES) assert.is(jobOfEntry(join('jobs', `${job}.ts`)), job)
  assert.throws(() => jobOfEntry(join('jobs', 'restate.ts')), /jobs\/restate\.ts is named after no job/)
})

test.run()
