import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../src/config.js'
import { ManualClock } from '../../src/domain/clock.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { at, sale, type RawEvent } from '../helpers/ingest-fixtures.js'
import { periodState } from '../helpers/lifecycle.js'
import { storeLocations } from '../helpers/store-locations.js'

const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url))
const REVENUE = 'daily_revenue'
/** Day D of the retail chain (Asia/Taipei, UTC+8). Flash 22:00 D, consolidation 03:00 D+1. */
const D = '2026-11-25'
const local = (time: string, day = D) => at(`${day}T${time}:00+08:00`)

const sold = (id: string, amount: number, occurred: string, over: Partial<RawEvent> & { store?: string; channel?: string } = {}): RawEvent =>
  sale(id, amount, { occurredAt: `${D}T${occurred}:00+08:00`, ...over })
const DAY_SALES = [sold('s1', 129.5, '10:00'), sold('s2', 80, '15:00', { source: 'store-002', store: '002' })]
const WEB_SALE = sold('w1', 45.25, '22:45', { source: 'online-1', channel: 'web' })
const UPLOAD = sold('s3', 200, '11:00', { source: 'store-003', store: '003' })

for (const location of await storeLocations()) {
  const test = suite(`lifecycle/catch-up (${location.name})`)

  /** Runs a body with a ManualClock and a starter of servers over one fresh store; closes whatever was started. */
  const fresh = (body: (start: () => Promise<RunningServer>, clock: ManualClock) => Promise<void>) => async () => {
    const config = loadConfig({
      LATEVIEW_DB: location.next(),
      LATEVIEW_VIEWS: VIEWS_DIR,
      PORT: '0',
      LATEVIEW_LOG_LEVEL: 'silent',
      LATEVIEW_SCHEDULER: 'on',
    })
    const clock = new ManualClock(local('20:00'))
    const servers: RunningServer[] = []
    try {
      await body(async () => {
        const server = await startServer(config, clock)
        servers.push(server)
        return server
      }, clock)
    } finally {
      for (const server of servers) await server.close()
    }
  }
  const history = async (server: RunningServer) => (await server.lateview.revisions(REVENUE, D)).revisions.map((r) => [r.revision, r.kind, r.trigger, r.cutoffSeq, r.computedAt])
  const consolidations = async (server: RunningServer) =>
    (await server.lateview.engine.db.kysely.selectFrom('job_runs').selectAll().where('job', '=', 'consolidate').orderBy('id').execute()).map((r) => [
      r.view,
      r.period,
      r.trigger,
      r.outcome,
      r.revision,
      new Date(r.now).toISOString(),
    ])

  test.after(async () => {
    await location.cleanup()
  })

  test(
    'killing the server before a nightly run and starting it later publishes the missed consolidation on start-up',
    fresh(async (start, clock) => {
      const first = await start()
      await first.lateview.ingest(DAY_SALES)
      // The flash at 22:00, as cron runs it.
      clock.set(local('22:00'))
      await first.lateview.jobs.run('flash', { now: clock.now(), trigger: 'cron' })
      clock.set(local('23:30'))
      await first.lateview.ingest([WEB_SALE])
      clock.set(local('01:00', '2026-11-26'))
      await first.lateview.ingest([UPLOAD])
      // Down from 02:30 until 09:00: the consolidation of 03:00 is missed.
      clock.set(local('02:30', '2026-11-26'))
      await first.close()

      clock.set(local('09:00', '2026-11-26'))
      const second = await start()
      assert.equal(await history(second), [
        [1, 'flash', 'cron', 2, '2026-11-25T14:00:00.000Z'],
        [2, 'consolidated', 'catch-up', 4, '2026-11-26T01:00:00.000Z'],
      ])
      assert.equal(await consolidations(second), [[REVENUE, D, 'catch-up', 'published', 2, '2026-11-26T01:00:00.000Z']])
      const report = await second.lateview.report(REVENUE, D)
      assert.equal(
        [report.status, report.eventCount, report.lateEventCount, report.completeness, report.totals],
        ['provisional', 4, 1, 0.375, { measures: { revenue: 454.75, orders: 4, largest: 200 }, eventCount: 4 }],
      )
      assert.equal(await periodState(second.lateview, REVENUE, D), { status: 'provisional', latestRevision: 2, dirtySinceSeq: null })
    }),
  )

  test(
    'a server down over both the flash and the consolidation publishes the consolidation only',
    fresh(async (start, clock) => {
      const first = await start()
      await first.lateview.ingest(DAY_SALES)
      clock.set(local('21:00'))
      await first.close()

      clock.set(local('09:00', '2026-11-26'))
      const second = await start()
      assert.equal(await history(second), [[1, 'consolidated', 'catch-up', 2, '2026-11-26T01:00:00.000Z']])
      assert.equal((await second.lateview.report(REVENUE, D)).totals, { measures: { revenue: 209.5, orders: 2, largest: 129.5 }, eventCount: 2 })
    }),
  )

  test(
    'a restart before the consolidation is due publishes nothing; one at 03:00 publishes it',
    fresh(async (start, clock) => {
      const first = await start()
      await first.lateview.ingest(DAY_SALES)
      clock.set(local('22:00'))
      await first.lateview.jobs.run('flash', { now: clock.now(), trigger: 'cron' })
      clock.set(local('22:30'))
      await first.close()

      clock.set(local('02:59', '2026-11-26'))
      const second = await start()
      assert.equal(await history(second), [[1, 'flash', 'cron', 2, '2026-11-25T14:00:00.000Z']])
      assert.equal(await consolidations(second), [])
      await second.lateview.ingest([UPLOAD])
      await second.close()

      clock.set(local('03:00', '2026-11-26'))
      const third = await start()
      assert.equal(await history(third), [
        [1, 'flash', 'cron', 2, '2026-11-25T14:00:00.000Z'],
        [2, 'consolidated', 'catch-up', 3, '2026-11-25T19:00:00.000Z'],
      ])
      assert.equal(await consolidations(third), [[REVENUE, D, 'catch-up', 'published', 2, '2026-11-25T19:00:00.000Z']])
      // A fourth start at the same instant finds nothing left to do.
      await third.close()
      const fourth = await start()
      assert.equal(await consolidations(fourth), [[REVENUE, D, 'catch-up', 'published', 2, '2026-11-25T19:00:00.000Z']])
      assert.is((await history(fourth)).length, 2)
    }),
  )

  test.run()
}
