import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { openEngine } from '../../src/store/engine.js'
import { engines, TEST_PG_URL } from '../helpers/engines.js'
import { at, sale, shippedViews } from '../helpers/ingest-fixtures.js'
import { dropSchemas } from '../helpers/store-locations.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const REVENUE = 'daily_revenue'
const PERIODS = ['2026-11-23', '2026-11-24', '2026-11-25']

interface Exit {
  code: number | null
  stdout: string
  stderr: string
}

/** `lateview run consolidate` for one period in a process of its own, against `db`. */
function consolidate(db: string, period: string, now: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/cli/lateview.mjs', 'run', 'consolidate', '--view', REVENUE, '--period', period, '--now', now], {
      cwd: ROOT,
      env: { ...process.env, LATEVIEW_DB: db, LATEVIEW_VIEWS: 'views', FORCE_COLOR: '0', NO_COLOR: '1' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const test = suite('lifecycle/coordination (postgres)')
const hasPostgres = (await engines()).some((f) => f.name === 'postgres')

if (!hasPostgres) {
  test.skip('two processes racing for one consolidation (needs PostgreSQL)', () => {})
} else {
  const schemas: string[] = []

  test.after(async () => {
    await dropSchemas(schemas.splice(0))
  })

  for (const [i, period] of PERIODS.entries()) {
    test(`two processes consolidating ${period} at once publish one revision: one run published, one skipped`, async () => {
      const schema = `lvt_${process.pid}_${Date.now().toString(36)}_race${i}`
      schemas.push(schema)
      const url = new URL(TEST_PG_URL)
      url.searchParams.set('schema', schema)
      const db = url.toString()
      const engine = await openEngine(db)
      try {
        const lv = await Lateview.fromEngine(engine, shippedViews(), new ManualClock(at(`${period}T23:00:00+08:00`)))
        await lv.ingest(
          [
            sale(`a-${period}`, 10.5, { occurredAt: `${period}T10:00:00+08:00`, receivedAt: `${period}T10:01:00+08:00` }),
            sale(`b-${period}`, 20.25, { source: 'store-002', store: '002', occurredAt: `${period}T12:00:00+08:00`, receivedAt: `${period}T12:01:00+08:00` }),
          ],
          { imported: true },
        )
        const nextDay = new Date(at(`${period}T00:00:00+08:00`) + 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10)
        const now = `${nextDay}T03:00:00+08:00`

        const exits = await Promise.all([consolidate(db, period, now), consolidate(db, period, now)])
        for (const exit of exits) assert.is(exit.code, 0, `exit ${exit.code}: ${exit.stderr}${exit.stdout}`)
        assert.equal(exits.map((e) => (/\bpublished\b/.test(e.stdout) ? 'published' : /\bskipped\b/.test(e.stdout) ? 'skipped' : e.stdout)).sort(), ['published', 'skipped'])

        const revisions = await engine.db.kysely.selectFrom('revisions').selectAll().where('view', '=', REVENUE).where('period', '=', period).execute()
        assert.equal(
          revisions.map((r) => [r.revision, r.kind, r.trigger, r.cutoff_seq, r.event_count, new Date(r.computed_at).toISOString()]),
          [[1, 'consolidated', 'manual', 2, 2, new Date(at(now)).toISOString()]],
        )
        const runs = await engine.db.kysely.selectFrom('job_runs').selectAll().where('view', '=', REVENUE).where('period', '=', period).orderBy('id').execute()
        assert.equal(
          runs.map((r) => [r.job, r.outcome, r.revision, r.detail]),
          [
            ['consolidate', 'published', 1, 'consolidated at cutoff seq 2'],
            ['consolidate', 'skipped', 1, 'already consolidated'],
          ],
        )
        assert.equal((await lv.report(REVENUE, period)).totals, { measures: { revenue: 30.75, orders: 2, largest: 20.25 }, eventCount: 2 })
      } finally {
        await engine.close()
      }
    })
  }
}

test.run()
