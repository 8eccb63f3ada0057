/**
 * Reads from a real streaming replica (PostgreSQL only): a primary and a replica made for this
 * suite (test/helpers/pg-replica.ts), lateview over both as the server builds it, and beside it
 * a lateview over the primary alone to compare figures with.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { loadConfig } from '../../src/config.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import { engines } from '../helpers/engines.js'
import { type ReplicaPair, startReplicaPair } from '../helpers/pg-replica.js'
import { expectOk, expectProblem, get, NOW, post, sale, VIEWS_DIR } from './harness.js'

const V = '/v1/views/daily_revenue'
const P = `${V}/periods/2026-11-26`
const WAIT_MS = 1500

/** Reads a replica serves, compared with the primary's answers. */
const READS = [
  `${V}/realtime?from=2026-11-26`,
  P,
  `${P}?revision=1`,
  `${P}?asOf=2026-11-26T12:00:00Z`,
  `${P}/revisions`,
  `${P}/diff?from=1&to=asOf:2026-11-26T12:00:00Z`,
  `${V}/accuracy`,
  `${V}/vintages?lags=PT0S`,
  `${V}/completeness?lags=PT0S`,
  `${V}/close-advice`,
]

interface Served {
  app: FastifyInstance
  lateview: Lateview
}

interface Ctx {
  pair: ReplicaPair
  /** lateview with LATEVIEW_DB_READ: it takes every write of the suite. */
  replicated: Served
  /** lateview over the primary alone, on the same store. */
  primary: Served
  setupError: unknown
}

async function serve(options: { db: string; readDb?: string | null; readWaitMs?: number }): Promise<Served> {
  const lateview = await Lateview.open({ ...options, views: loadViewFiles(VIEWS_DIR), clock: new ManualClock(NOW) })
  const app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: true }, { lateview })
  return { app, lateview }
}

const from = (res: LightMyRequestResponse) => res.headers['lateview-read-from']
const seqOf = (res: LightMyRequestResponse) => res.headers['lateview-seq']
const totals = (res: LightMyRequestResponse) => (expectOk(res) as { totals: unknown }).totals
const revenue = (revenue: number, orders: number, largest: number) => ({ measures: { revenue, orders, largest }, eventCount: orders })

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - started }
}

const postgres = (await engines()).some((f) => f.name === 'postgres')
const test = suite<Ctx>('api replica (postgres)', {} as Ctx)

if (!postgres) {
  console.warn('! PostgreSQL is left out (LATEVIEW_TEST_ENGINES=sqlite, or no server on 5432 outside CI): the replica suite does not run')
  test.skip('reads from a streaming replica', () => {})
} else {
  test.before(async (ctx) => {
    // uvu reports nothing thrown in a hook: the first test throws it, loudly.
    try {
      ctx.pair = await startReplicaPair()
      const config = loadConfig({
        LATEVIEW_DB: `${ctx.pair.primary.url()}?schema=lv_replica`,
        LATEVIEW_DB_READ: ctx.pair.replica.url(),
        LATEVIEW_DB_READ_WAIT: `${WAIT_MS}ms`,
      })
      assert.is(config.readDb, `${ctx.pair.replica.url()}?schema=lv_replica`)
      ctx.replicated = await serve({ db: config.db, readDb: config.readDb, readWaitMs: config.readWaitMs })
      ctx.primary = await serve({ db: config.db })
    } catch (error) {
      console.error('!! the replica suite could not start:', error)
      ctx.setupError = error
    }
  })
  test.before.each((ctx) => {
    if (ctx.setupError) throw ctx.setupError
  })
  test.after(async (ctx) => {
    // uvu swallows what an after hook throws: problems are printed and fail the process instead.
    const problems: string[] = []
    for (const served of [ctx.replicated, ctx.primary]) {
      if (!served) continue
      await served.app.close().catch((error: Error) => problems.push(`closing an app: ${error.message}`))
      await served.lateview.close().catch((error: Error) => problems.push(`closing lateview: ${error.message}`))
    }
    if (ctx.pair) problems.push(...ctx.pair.cleanup())
    if (problems.length > 0) {
      console.error(`!! the replica suite did not clean up:\n!! ${problems.join('\n!! ')}`)
      process.exitCode = 1
    }
  })

  test('a read is served by the replica, with the figures of the primary', async ({ pair, replicated, primary }) => {
    const ingest = expectOk(
      await post(replicated.app, [sale('a', '001', '2026-11-26T10:03:00+08:00', 129.5), sale('b', '002', '2026-11-26T11:00:00+08:00', 20), sale('c', '001', '2026-11-26T12:00:00+08:00', 5)]),
    ) as { lastSeq: number }
    assert.is(ingest.lastSeq, 3)
    const flash = expectOk(await replicated.app.inject({ method: 'POST', url: '/v1/jobs/flash', payload: { view: 'daily_revenue', period: '2026-11-26', now: '2026-11-26T20:00:00+08:00' } })) as {
      runs: Array<{ outcome: string; revision: number }>
    }
    assert.equal(
      flash.runs.map((r) => [r.outcome, r.revision]),
      [['published', 1]],
    )
    await pair.caughtUp()
    for (const url of READS) {
      const [r, p] = [await get(replicated.app, url), await get(primary.app, url)]
      assert.is(r.statusCode, 200, `${url}: ${r.body}`)
      assert.equal([from(r), seqOf(r)], ['replica', '3'], url)
      assert.equal([from(p), seqOf(p)], ['primary', '3'], url)
      assert.equal(r.json(), p.json(), url)
      // A revision, an as-of report and a diff read the same bytes forever: the seq is in the header only.
      const frozen = url === P || /[?&](revision|asOf)=|\/diff\?/.test(url)
      assert.is((r.json() as { seq?: number }).seq, frozen ? undefined : 3, url)
    }
    assert.equal(totals(await get(replicated.app, `${V}/realtime?from=2026-11-26`)), revenue(154.5, 3, 129.5))
    const report = expectOk(await get(replicated.app, P)) as { revision: number; kind: string; totals: unknown }
    assert.equal([report.revision, report.kind, report.totals], [1, 'flash', revenue(154.5, 3, 129.5)])
    assert.equal(expectOk(await get(replicated.app, '/readyz')), { status: 'ready', engine: 'postgres', views: 2, replica: { state: 'caught-up', seq: 3, behind: 0 } })
  })

  test("minSeq = the ingest's lastSeq: the read waits for the replica and includes the write", async ({ pair, replicated }) => {
    await pair.pauseReplay()
    const ingest = expectOk(await post(replicated.app, [sale('d', '003', '2026-11-26T13:00:00+08:00', 7.25)])) as { lastSeq: number }
    assert.is(ingest.lastSeq, 4)
    // Replay resumes 300 ms into the read, which waits for it.
    const resume = new Promise((resolve) => setTimeout(resolve, 300)).then(() => pair.resumeReplay())
    const { value: res, ms } = await timed(() => get(replicated.app, `${V}/realtime?from=2026-11-26&minSeq=4`))
    await resume
    assert.equal([res.statusCode, from(res), seqOf(res)], [200, 'replica', '4'], res.body)
    assert.equal(totals(res), revenue(161.75, 4, 129.5))
    assert.ok(ms >= 300 && ms < WAIT_MS, `the read took ${ms} ms`)
    // Written and read at once: the replica answers as soon as it has replayed the write.
    const next = expectOk(await post(replicated.app, [sale('e', '002', '2026-11-26T14:00:00+08:00', 2.75)])) as { lastSeq: number }
    const after = await get(replicated.app, `${P}?asOf=2026-11-26T12:00:00Z&minSeq=${next.lastSeq}`)
    assert.equal([after.statusCode, from(after), seqOf(after)], [200, 'replica', '5'], after.body)
    assert.equal(totals(after), revenue(164.5, 5, 129.5))
  })

  test('replay paused: a minSeq read goes to the primary after the wait, with the new figures', async ({ pair, replicated, primary }) => {
    await pair.pauseReplay()
    try {
      const ingest = expectOk(await post(replicated.app, [sale('f', '004', '2026-11-26T15:00:00+08:00', 100)])) as { lastSeq: number }
      assert.is(ingest.lastSeq, 6)
      const { value: res, ms } = await timed(() => get(replicated.app, `${V}/realtime?from=2026-11-26&minSeq=6`))
      assert.equal([res.statusCode, from(res), seqOf(res)], [200, 'primary', '6'], res.body)
      assert.equal(totals(res), revenue(264.5, 6, 129.5))
      assert.ok(ms >= WAIT_MS && ms < WAIT_MS + 1000, `the read took ${ms} ms`)
      assert.equal(res.json(), (await get(primary.app, `${V}/realtime?from=2026-11-26`)).json())
      // Without minSeq the replica answers what it has, and says so.
      const stale = await get(replicated.app, `${V}/realtime?from=2026-11-26`)
      assert.equal([stale.statusCode, from(stale), seqOf(stale)], [200, 'replica', '5'])
      assert.equal(totals(stale), revenue(164.5, 5, 129.5))
      // A publication writes no event, so no seq says it: the paused replica does not have revision 2
      // yet. Asked for by number (as the job answered it), its "not found" goes to the primary.
      const consolidate = expectOk(
        await replicated.app.inject({ method: 'POST', url: '/v1/jobs/consolidate', payload: { view: 'daily_revenue', period: '2026-11-26', now: '2026-11-27T03:00:00+08:00' } }),
      ) as { runs: Array<{ outcome: string; revision: number }> }
      assert.equal(
        consolidate.runs.map((r) => [r.outcome, r.revision]),
        [['published', 2]],
      )
      const r2 = await get(replicated.app, `${P}?revision=2`)
      assert.equal([r2.statusCode, from(r2), seqOf(r2)], [200, 'primary', '6'], r2.body)
      assert.equal(totals(r2), revenue(264.5, 6, 129.5))
      // The latest revision as the replica knows it is still revision 1, and the answer says whose it is.
      const latest = await get(replicated.app, P)
      assert.equal([latest.statusCode, from(latest), seqOf(latest), (latest.json() as { revision: number }).revision], [200, 'replica', '5', 1])
      // A seq the primary does not hold either is refused at once, without waiting.
      const ahead = await timed(() => get(replicated.app, `${V}/realtime?minSeq=7`))
      const problem = expectProblem(ahead.value, 409, 'LV_ERR_SEQ_NOT_YET')
      assert.equal([problem.minSeq, problem.seq], [7, 6])
      assert.ok(ahead.ms < WAIT_MS / 2, `the refusal took ${ahead.ms} ms`)
      assert.equal((expectOk(await get(replicated.app, '/readyz')) as { replica: unknown }).replica, { state: 'behind', seq: 5, behind: 1 })
    } finally {
      await pair.resumeReplay()
    }
    await pair.caughtUp()
    assert.equal((expectOk(await get(replicated.app, '/readyz')) as { replica: unknown }).replica, { state: 'caught-up', seq: 6, behind: 0 })
  })

  test('the replica stopped: reads go to the primary, never a 5xx', async ({ pair, replicated, primary }) => {
    await pair.stop(pair.replica)
    for (const url of [...READS, `${V}/realtime?minSeq=6`]) {
      const { value: r, ms } = await timed(() => get(replicated.app, url))
      assert.is(r.statusCode, 200, `${url}: ${r.body}`)
      assert.equal([from(r), seqOf(r)], ['primary', '6'], url)
      assert.equal(r.json(), (await get(primary.app, url)).json(), url)
      assert.ok(ms < WAIT_MS, `${url} took ${ms} ms`)
    }
    assert.equal(totals(await get(replicated.app, `${V}/realtime?from=2026-11-26`)), revenue(264.5, 6, 129.5))
    const ready = expectOk(await get(replicated.app, '/readyz')) as { status: string; replica: { state: string; seq: unknown; behind: unknown; error: unknown } }
    assert.equal([ready.status, ready.replica.state, ready.replica.seq, ready.replica.behind], ['ready', 'unavailable', null, null])
    assert.match(String(ready.replica.error), /cannot be reached|ECONNREFUSED|connect/)
    // Writes never needed the replica.
    assert.is((expectOk(await post(replicated.app, [sale('g', '001', '2026-11-26T16:00:00+08:00', 1)])) as { lastSeq: number }).lastSeq, 7)
  })
}

test.run()
