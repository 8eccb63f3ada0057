/**
 * A full disk and a lost database are 503s with codes of their own, nothing acknowledged is lost,
 * and /readyz fails until the store takes a write again. SQLite's disk is a small tmpfs mounted for
 * the test (root is needed to mount it); PostgreSQL is reached through a TCP proxy the test cuts.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import { openEngine } from '../../src/store/engine.js'
import { CuttableProxy } from '../helpers/cuttable-proxy.js'
import { engines, TEST_PG_URL } from '../helpers/engines.js'
import { dropSchemas } from '../helpers/store-locations.js'
import { expectOk, expectProblem, get, NOW, post, VIEWS_DIR } from './harness.js'

/** A batch of `n` sales with ids from `from`, each with a note that takes room on disk. */
const batch = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `s${String(from + i).padStart(7, '0')}`,
    source: `store-${String((from + i) % 7).padStart(3, '0')}`,
    type: 'sale',
    occurredAt: '2026-11-26T10:00:00+08:00',
    data: { store: String((from + i) % 7).padStart(3, '0'), channel: 'pos', amount: 1, note: 'x'.repeat(400) },
  }))

async function open(db: string): Promise<{ app: FastifyInstance; lateview: Lateview }> {
  const engine = await openEngine(db)
  const lateview = await Lateview.fromEngine(engine, loadViewFiles(VIEWS_DIR), new ManualClock(NOW))
  return { app: await buildApp({ tokens: null, logLevel: 'silent' }, { lateview }), lateview }
}

/** How many events the store holds, and whether every one of them was acknowledged. */
async function stored(lateview: Lateview): Promise<string[]> {
  return (await lateview.engine.db.kysely.selectFrom('events').select('id').orderBy('seq').execute()).map((r) => r.id)
}

const test = suite('api store faults')
const mountable = (() => {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

if (!mountable) {
  test.skip('SQLite on a full disk (needs root to mount a small tmpfs)', () => {})
} else {
  test('SQLite on a full disk: 503 LV_ERR_STORE_FULL, /readyz 503 until space is freed, nothing acknowledged lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lateview-full-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir])
    let closeApp: (() => Promise<void>) | null = null
    try {
      const { app, lateview } = await open(join(dir, 'store.db'))
      closeApp = async () => {
        await app.close()
        await lateview.close()
      }
      const acknowledged: string[] = []
      let refused: Array<Record<string, unknown>> | null = null
      for (let from = 0; from < 100_000 && refused === null; from += 500) {
        const events = batch(from, 500)
        const res = await post(app, events)
        if (res.statusCode === 200) acknowledged.push(...events.map((e) => e.id))
        else {
          expectProblem(res, 503, 'LV_ERR_STORE_FULL')
          refused = events
        }
      }
      assert.ok(refused, 'the disk filled up')
      assert.ok(acknowledged.length > 0)
      expectProblem(await get(app, '/readyz'), 503, 'LV_ERR_STORE_FULL')
      assert.equal(expectOk(await get(app, '/healthz')), { status: 'ok' })
      assert.equal(await stored(lateview), acknowledged)

      execFileSync('mount', ['-o', 'remount,size=64m', dir])
      assert.equal((expectOk(await get(app, '/readyz')) as { status: string }).status, 'ready')
      assert.is((expectOk(await post(app, refused)) as { accepted: number }).accepted, 500)
      assert.equal(await stored(lateview), [...acknowledged, ...refused.map((e) => e.id)])
      const check = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(lateview.engine.db.kysely)
      assert.equal(check.rows, [{ integrity_check: 'ok' }])
      const { realtime, revisions } = await lateview.verifyStore()
      assert.equal([realtime.differences, revisions.differences], [[], []])
    } finally {
      await closeApp?.()
      execFileSync('umount', [dir])
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

const hasPostgres = (await engines()).some((f) => f.name === 'postgres')
if (!hasPostgres) {
  test.skip('PostgreSQL lost (needs PostgreSQL)', () => {})
} else {
  test('PostgreSQL lost: 503 LV_ERR_STORE_UNAVAILABLE, /readyz 503 until it is back, nothing acknowledged lost', async () => {
    const proxy = new CuttableProxy()
    await proxy.start()
    const schema = `lvt_${process.pid}_${Date.now().toString(36)}_lost`
    const url = new URL(TEST_PG_URL)
    url.port = String(proxy.port)
    url.searchParams.set('schema', schema)
    const { app, lateview } = await open(url.toString())
    try {
      assert.is((expectOk(await post(app, batch(0, 10))) as { accepted: number }).accepted, 10)
      await proxy.cut()
      expectProblem(await post(app, batch(10, 10)), 503, 'LV_ERR_STORE_UNAVAILABLE')
      expectProblem(await get(app, '/readyz'), 503, 'LV_ERR_STORE_UNAVAILABLE')
      await proxy.start()
      assert.equal((expectOk(await get(app, '/readyz')) as { status: string }).status, 'ready')
      assert.is((expectOk(await post(app, batch(10, 10))) as { accepted: number }).accepted, 10)
      assert.equal(
        await stored(lateview),
        batch(0, 20).map((e) => e.id),
      )
    } finally {
      await app.close()
      await lateview.close()
      await proxy.cut()
      await dropSchemas([schema])
    }
  })
}

test.run()
