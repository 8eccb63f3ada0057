/**
 * The benchmark must not rot: its quick mode, shrunk with --scale, runs on SQLite in a child
 * process and writes every figure as a finite number. Nothing here is timed and no figure is
 * held to its target; the checks that can fail besides "it runs" are the benchmark's own
 * sanity checks (same rows as lateview, same report as the naive query, a consistent rebuild).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const ROOT = join(import.meta.dirname, '..')

/** Every figure of issue 5 (and its same-run baseline), as paths into the results JSON. */
const FIGURES = [
  'sqlite.ingest.timeIds.library.eventsPerSec',
  'sqlite.ingest.timeIds.raw.eventsPerSec',
  'sqlite.ingest.timeIds.ratio.ratio',
  'sqlite.ingest.uuidIds.library.eventsPerSec',
  'sqlite.ingest.uuidIds.raw.eventsPerSec',
  'sqlite.ingest.uuidIds.ratio.ratio',
  'sqlite.http.library.eventsPerSec',
  'sqlite.http.bare.eventsPerSec',
  'sqlite.http.ratio.ratio',
  'sqlite.latest.small.p50Ms',
  'sqlite.latest.small.p99Ms',
  'sqlite.latest.large.p50Ms',
  'sqlite.latest.large.p99Ms',
  'sqlite.latest.floor.p99Ms',
  'sqlite.latest.small.serverP99Ms',
  'sqlite.latest.large.serverP99Ms',
  'sqlite.latest.floor.serverP99Ms',
  'sqlite.latest.small.firstReadP99Ms',
  'sqlite.latest.large.firstReadP99Ms',
  'sqlite.latest.scaling.ratio',
  'sqlite.asOf.library.ms',
  'sqlite.asOf.naive.ms',
  'sqlite.asOf.ratio.ratio',
  'sqlite.rebuild.eventsPerSec',
  'sqlite.rebuild.peakRssMb',
  'sqlite.consolidate.medianMs',
  'sqlite.memory.idleRssMb',
  'sqlite.memory.scenarios.0.peakRssMb',
  'sqlite.memory.scenarios.3.peakRssMb',
  'sqlite.analysis.rebuildMs',
  'sqlite.analysis.vintagesMs',
  'sqlite.analysis.accuracyMs',
  'sqlite.analysis.vintages.ratio',
  'sqlite.analysis.accuracy.ratio',
] as const

function at(root: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), root)
}

const bench = suite('bench')

bench('quick mode runs and writes every figure as a finite number', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lateview-bench-test-'))
  try {
    const out = join(dir, 'bench.json')
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--scale', '0.1', '--engine', 'sqlite', '--out', out], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 8 * 60 * 1000,
    })
    assert.is(run.status, 0, `bench exited with ${run.status}:\n${run.stdout}\n${run.stderr}`)
    const results = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>
    const missing = FIGURES.filter((path) => {
      const value = at(results, path)
      return typeof value !== 'number' || !Number.isFinite(value)
    })
    assert.equal(missing, [], `figures missing or not finite: ${missing.join(', ')}`)

    assert.is(at(results, 'sqlite.ingest.timeIds.rowsIdentical'), true, 'raw inserts wrote other rows than lateview (time-ordered ids)')
    assert.is(at(results, 'sqlite.ingest.uuidIds.rowsIdentical'), true, 'raw inserts wrote other rows than lateview (UUIDv4 ids)')
    assert.is(at(results, 'sqlite.asOf.resultsMatch'), true, 'the naive GROUP BY disagrees with the as-of report')
    assert.is(at(results, 'sqlite.rebuild.verifyDifferences'), 0, 'verifyRevisions found differences')
    const views = at(results, 'sqlite.rebuild.views') as Array<{ differing: number }>
    assert.ok(views.length === 2 && views.every((v) => v.differing === 0), 'recomputed cells differ from the stored ones')
    assert.is(at(results, 'sqlite.memory.pass'), true, 'a batch was refused or the server went past its memory bound')
    assert.ok((at(results, 'sqlite.analysis.checked') as number) > 0, 'no vintage value was checked against an as-of report')
    assert.is(at(results, 'sqlite.analysis.mismatches'), 0, 'vintage values differ from the as-of reports of their instants')
    const table = at(results, 'table') as Array<{ engine: string; pass: boolean | null }>
    assert.ok(table.length >= 12, 'the table has a row per figure')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

bench.run()
