/**
 * Alerts raised in the transaction of the change that raises them: DelayedEvent and
 * LateAfterClose by ingest, MissingData by sla-watch (resolved by ingest), ReportRevised by
 * publication, JobFailed by a failing job; and GET /v1/alerts with its filters.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parseViewDefinition } from '../../src/domain/view.js'
import { LateviewError } from '../../src/errors.js'
import type { AlertDocument } from '../../src/services/alert-documents.js'
import type { JobRun } from '../../src/services/jobs.js'
import { createWebhook } from '../../src/services/webhooks.js'
import { at, expectProblem, getJson, iso, openRig, rowCount, sale, VIEWS_DIR, type Rig, type SaleEvent } from '../helpers/alert-fixtures.js'
import { engines } from '../helpers/engines.js'

const REVENUE = 'daily_revenue'
const LAB = 'daily_positive_tests'
/** Day D of the retail chain: Asia/Taipei, UTC+8 all year, so D is [2026-11-24T16:00Z, 2026-11-25T16:00Z). */
const D = '2026-11-25'
const tpe = (local: string): string => `${local}+08:00`
/** The end of D plus expectedSources.by (PT26H): when sla-watch starts looking for D's stores. */
const D_DEADLINE = at('2026-11-26T18:00:00Z')

function delayed(
  id: number,
  createdAt: number,
  view: string,
  period: string,
  source: string,
  data: { count: number; maxLagMs: number; maxLag: string; sla: string; eventIds: string[] },
): AlertDocument {
  return { id: String(id), type: 'DelayedEvent', status: 'firing', createdAt: iso(createdAt), resolvedAt: null, view, period, source, data }
}

function missing(id: number, createdAt: number, source: string, resolvedAt: number | null = null): AlertDocument {
  return {
    id: String(id),
    type: 'MissingData',
    status: resolvedAt === null ? 'firing' : 'resolved',
    createdAt: iso(createdAt),
    resolvedAt: resolvedAt === null ? null : iso(resolvedAt),
    view: REVENUE,
    period: D,
    source,
    data: { expectedBy: '2026-11-26T18:00:00.000Z', periodStart: '2026-11-24T16:00:00.000Z', periodEnd: '2026-11-25T16:00:00.000Z' },
  }
}

/** A job run reduced to [period, outcome, revision, detail]. */
const runsOf = (runs: JobRun[]) => runs.map((r) => [r.period, r.outcome, r.revision, r.detail])

const ids = (body: { alerts: AlertDocument[] }): string[] => body.alerts.map((a) => a.id)

/** A daily_revenue variant with its own SLA rules. */
function revenueVariant(name: string, sla: { maxDelay: string; bySource: Record<string, string> }) {
  const base = JSON.parse(readFileSync(join(VIEWS_DIR, 'daily_revenue.json'), 'utf8')) as Record<string, unknown>
  return parseViewDefinition({ ...base, name, sla }, `${name}.json`)
}

interface Context {
  rig: Rig
  /** Every alert the services announced after commit, in order. */
  heard: AlertDocument[]
}

for (const factory of await engines()) {
  const test = suite<Context>(`alerts (${factory.name})`, {} as Context)
  test.before.each(async (ctx) => {
    ctx.rig = await openRig(factory, at(tpe('2026-11-25T08:00:00')))
    ctx.heard = []
    ctx.rig.lateview.onAlerts((alerts) => ctx.heard.push(...alerts))
  })
  test.after.each(async (ctx) => {
    await ctx.rig.close()
  })
  test.after(() => factory.cleanup())

  test('DelayedEvent: one alert per view, source and period of a batch, when the lag is over the SLA for the source', async ({ rig, heard }) => {
    const now = at(tpe('2026-11-25T12:10:00'))
    rig.clock.set(now)
    const result = await rig.lateview.ingest([
      sale('w-ontime', 'online-1', tpe('2026-11-25T12:05:00'), 10), // lag PT5M: at the online-* SLA, not over it
      sale('w-late1', 'online-1', tpe('2026-11-25T12:04:59.999'), 11),
      sale('s-ontime', 'store-001', tpe('2026-11-24T12:10:00'), 12), // lag P1D exactly (store-*)
      sale('s-late', 'store-001', tpe('2026-11-24T12:09:00'), 13),
      sale('w-late2', 'online-1', tpe('2026-11-25T11:00:00'), 14),
      sale('k-ontime', 'kiosk-7', tpe('2026-11-25T06:10:00'), 15), // no glob matches: maxDelay PT6H exactly
      sale('k-late', 'kiosk-7', tpe('2026-11-25T06:00:00'), 16),
    ])
    const expected = [
      delayed(1, now, REVENUE, D, 'online-1', { count: 2, maxLagMs: 4_200_000, maxLag: 'PT1H10M', sla: 'PT5M', eventIds: ['w-late1', 'w-late2'] }),
      delayed(2, now, REVENUE, '2026-11-24', 'store-001', { count: 1, maxLagMs: 86_460_000, maxLag: 'PT24H1M', sla: 'P1D', eventIds: ['s-late'] }),
      delayed(3, now, REVENUE, D, 'kiosk-7', { count: 1, maxLagMs: 22_200_000, maxLag: 'PT6H10M', sla: 'PT6H', eventIds: ['k-late'] }),
    ]
    assert.is(result.accepted, 7)
    assert.equal(result.alerts, expected)
    assert.equal(heard, expected)
    assert.equal(await getJson(rig.app, '/v1/alerts'), { alerts: [...expected].reverse() })
    // The same SLA breach in a later batch is a new group, hence a new alert.
    rig.clock.set(now + 60_000)
    const again = await rig.lateview.ingest([sale('w-late3', 'online-1', tpe('2026-11-25T12:00:00'), 1)])
    assert.equal(again.alerts, [delayed(4, now + 60_000, REVENUE, D, 'online-1', { count: 1, maxLagMs: 660_000, maxLag: 'PT11M', sla: 'PT5M', eventIds: ['w-late3'] })])
  })

  test('DelayedEvent: the first sla.bySource glob in file order decides, else sla.maxDelay', async ({ rig }) => {
    await rig.close()
    const vipFirst = revenueVariant('vip_first', { maxDelay: 'PT6H', bySource: { 'online-vip-*': 'PT1H', 'online-*': 'PT5M' } })
    const vipLast = revenueVariant('vip_last', { maxDelay: 'PT6H', bySource: { 'online-*': 'PT5M', 'online-vip-*': 'PT1H' } })
    const own = await openRig(factory, at(tpe('2026-11-25T12:00:00')), [vipFirst, vipLast])
    try {
      const now = own.clock.now()
      const result = await own.lateview.ingest([
        sale('v', 'online-vip-1', tpe('2026-11-25T11:30:00'), 1), // 30 min: within PT1H, over PT5M
        sale('x', 'xonline-1', tpe('2026-11-25T05:00:00'), 1), // 7 h; globs are anchored, so maxDelay PT6H
        sale('y', 'xonline-2', tpe('2026-11-25T06:00:00'), 1), // 6 h: at maxDelay
      ])
      assert.equal(result.alerts, [
        delayed(1, now, 'vip_first', D, 'xonline-1', { count: 1, maxLagMs: 25_200_000, maxLag: 'PT7H', sla: 'PT6H', eventIds: ['x'] }),
        delayed(2, now, 'vip_last', D, 'online-vip-1', { count: 1, maxLagMs: 1_800_000, maxLag: 'PT30M', sla: 'PT5M', eventIds: ['v'] }),
        delayed(3, now, 'vip_last', D, 'xonline-1', { count: 1, maxLagMs: 25_200_000, maxLag: 'PT7H', sla: 'PT6H', eventIds: ['x'] }),
      ])
    } finally {
      await own.close()
    }
  })

  test('an on-time batch raises no alert; a refused batch raises none and queues no delivery', async ({ rig }) => {
    await createWebhook(rig.engine, { url: 'http://127.0.0.1:9/never-called' }, { hosts: [], port: null }, rig.clock.now())
    rig.clock.set(at(tpe('2026-11-25T12:00:00')))
    const ok = await rig.lateview.ingest([sale('a', 'online-1', tpe('2026-11-25T11:59:00'), 5), sale('b', 'store-001', tpe('2026-11-25T09:00:00'), 7)])
    assert.equal([ok.accepted, ok.alerts], [2, []])
    // Late events, refused with the batch: one invalid item, or a conflict found in the store.
    const late = sale('late', 'online-1', tpe('2026-11-24T10:00:00'), 1)
    let error: unknown = null
    try {
      await rig.lateview.ingest([late, { ...sale('bad', 'online-1', tpe('2026-11-24T10:00:00'), 1), type: undefined }])
    } catch (e) {
      error = e
    }
    assert.ok(error instanceof LateviewError && error.code === 'LV_ERR_EVENTS_INVALID', String(error))
    error = null
    try {
      await rig.lateview.ingest([late, { ...sale('a', 'online-1', tpe('2026-11-25T11:59:00'), 6) }])
    } catch (e) {
      error = e
    }
    assert.ok(error instanceof LateviewError && error.code === 'LV_ERR_EVENT_CONFLICT', String(error))
    assert.equal([await rowCount(rig.engine, 'events'), await rowCount(rig.engine, 'alerts'), await rowCount(rig.engine, 'deliveries')], [2, 0, 0])
    assert.equal(await getJson(rig.app, '/v1/alerts'), { alerts: [] })
  })

  test('DelayedEvent: a batch of 50,000 late events from two sources over two periods raises exactly four alerts', async ({ rig }) => {
    const now = at(tpe('2026-11-28T12:00:00'))
    rig.clock.set(now)
    const periods = ['2026-11-24', D]
    const batch: SaleEvent[] = []
    for (let i = 0; i < 50_000; i++) {
      const source = i % 2 === 0 ? 'online-1' : 'store-001'
      const day = periods[Math.floor(i / 2) % 2] as string
      // Seconds after 10:00 local; 0 for the first event of every group, the one with the largest lag.
      const s = Math.floor(i / 4) % 3600
      const occurred = at(tpe(`${day}T10:00:00`)) + s * 1000
      batch.push(sale(`e${i}`, source, iso(occurred), (i % 97) + 0.5))
    }
    const started = performance.now()
    const result = await rig.lateview.ingest(batch)
    const ms = performance.now() - started
    const firstIds = (group: number) => Array.from({ length: 100 }, (_, k) => `e${group + 4 * k}`)
    const lag24 = now - at(tpe('2026-11-24T10:00:00'))
    const lag25 = now - at(tpe('2026-11-25T10:00:00'))
    assert.equal([lag24, lag25], [352_800_000, 266_400_000])
    const expected = [
      delayed(1, now, REVENUE, '2026-11-24', 'online-1', { count: 12_500, maxLagMs: lag24, maxLag: 'PT98H', sla: 'PT5M', eventIds: firstIds(0) }),
      delayed(2, now, REVENUE, '2026-11-24', 'store-001', { count: 12_500, maxLagMs: lag24, maxLag: 'PT98H', sla: 'P1D', eventIds: firstIds(1) }),
      delayed(3, now, REVENUE, D, 'online-1', { count: 12_500, maxLagMs: lag25, maxLag: 'PT74H', sla: 'PT5M', eventIds: firstIds(2) }),
      delayed(4, now, REVENUE, D, 'store-001', { count: 12_500, maxLagMs: lag25, maxLag: 'PT74H', sla: 'P1D', eventIds: firstIds(3) }),
    ]
    assert.is(result.accepted, 50_000)
    assert.equal(result.alerts, expected)
    assert.equal(await getJson(rig.app, '/v1/alerts?kind=DelayedEvent'), { alerts: [...expected].reverse() })
    assert.is(await rowCount(rig.engine, 'alerts'), 4)
    assert.ok(ms < 20_000, `ingest of 50,000 events took ${Math.round(ms)} ms`)
    if (process.env.LATEVIEW_TEST_VERBOSE) console.log(`  50,000-event ingest on ${factory.name}: ${Math.round(ms)} ms`)
  })

  test('MissingData: sla-watch raises one per missing expected source once the deadline passed, never twice; an arriving event resolves it', async ({ rig, heard }) => {
    rig.clock.set(at(tpe('2026-11-25T10:01:00')))
    const reported = ['001', '002', '003', '004', '005', '006'].map((n) => sale(`d-${n}`, `store-${n}`, tpe('2026-11-25T10:00:00'), 10))
    assert.equal((await rig.lateview.ingest(reported)).alerts, [])
    // A millisecond before D's deadline nothing is due: the days before it ended before the store's
    // first event, and a store is not missing data from before it received any.
    const runs1 = await rig.lateview.jobs.run('sla-watch', { view: REVENUE, now: D_DEADLINE - 1, trigger: 'manual' })
    assert.equal(runsOf(runs1), [])
    assert.is(heard.length, 0)

    // At the deadline D is due: stores 007 and 008 never reported. The days watched before are not watched again.
    heard.length = 0
    const runs2 = await rig.lateview.jobs.run('sla-watch', { view: REVENUE, now: D_DEADLINE, trigger: 'manual' })
    assert.equal(runsOf(runs2), [[D, 'published', null, 'missing: store-007, store-008']])
    assert.equal(heard, [missing(1, D_DEADLINE, 'store-007'), missing(2, D_DEADLINE, 'store-008')])
    // Watching D again, on schedule or on demand, raises no alert already firing a second time.
    heard.length = 0
    assert.equal(runsOf(await rig.lateview.jobs.run('sla-watch', { view: REVENUE, now: D_DEADLINE + 300_000, trigger: 'manual' })), [])
    const runs3 = await rig.lateview.jobs.run('sla-watch', { view: REVENUE, period: D, now: D_DEADLINE + 300_000, trigger: 'manual' })
    assert.equal(runsOf(runs3), [[D, 'unchanged', null, 'missing: store-007, store-008']])
    assert.equal(heard, [])
    assert.is(await rowCount(rig.engine, 'alerts'), 2)

    // store-007 reports for D (imported, so each event keeps its own receivedAt): resolved in the same
    // transaction, at the receivedAt of that event, not of the batch's last one.
    const r1 = at('2026-11-26T18:30:00Z')
    const r2 = r1 + 60_000
    const result = await rig.lateview.ingest([sale('d-007', 'store-007', tpe('2026-11-25T20:00:00'), 10, iso(r1)), sale('e-001', 'store-001', tpe('2026-11-26T10:00:00'), 10, iso(r2))], {
      imported: true,
    })
    const lag = r1 - at(tpe('2026-11-25T20:00:00'))
    assert.is(lag, 109_800_000)
    assert.equal(result.alerts, [delayed(3, r2, REVENUE, D, 'store-007', { count: 1, maxLagMs: lag, maxLag: 'PT30H30M', sla: 'P1D', eventIds: ['d-007'] }), missing(1, D_DEADLINE, 'store-007', r1)])
    assert.equal(await getJson(rig.app, '/v1/alerts?kind=MissingData&status=resolved'), { alerts: [missing(1, D_DEADLINE, 'store-007', r1)] })
    assert.equal((await getJson<{ alerts: AlertDocument[] }>(rig.app, `/v1/alerts?kind=MissingData&status=firing&limit=1000`)).alerts.length, 1)

    // The next watch finds only store-008 missing and raises nothing new.
    heard.length = 0
    const runs4 = await rig.lateview.jobs.run('sla-watch', { view: REVENUE, period: D, now: r2 + 300_000, trigger: 'manual' })
    assert.equal(runsOf(runs4), [[D, 'unchanged', null, 'missing: store-008']])
    assert.equal(heard, [])
    assert.is(await rowCount(rig.engine, 'alerts'), 3)
  })

  test('LateAfterClose: an event landing in a final period (policy restate), then ReportRevised by the restatement', async ({ rig, heard }) => {
    rig.clock.set(at(tpe('2026-11-25T10:01:00')))
    await rig.lateview.ingest([sale('s1', 'store-001', tpe('2026-11-25T10:00:00'), 100)])
    const closeRuns = await rig.lateview.jobs.run('close', { view: REVENUE, period: D, now: at(tpe('2026-11-28T03:30:00')), trigger: 'manual' })
    assert.equal(runsOf(closeRuns), [[D, 'published', 1, 'final at cutoff seq 1']])
    assert.equal(heard, [])

    const t1 = at(tpe('2026-11-29T09:00:00'))
    rig.clock.set(t1)
    const late = await rig.lateview.ingest([sale('s2', 'store-002', tpe('2026-11-25T15:00:00'), 50)])
    const lateAfterClose = (id: number, createdAt: number, eventIds: string[]): AlertDocument => ({
      id: String(id),
      type: 'LateAfterClose',
      status: 'firing',
      createdAt: iso(createdAt),
      resolvedAt: null,
      view: REVENUE,
      period: D,
      source: null,
      data: { count: eventIds.length, eventIds, policy: 'restate' },
    })
    assert.equal(late.alerts, [delayed(1, t1, REVENUE, D, 'store-002', { count: 1, maxLagMs: 324_000_000, maxLag: 'PT90H', sla: 'P1D', eventIds: ['s2'] }), lateAfterClose(2, t1, ['s2'])])
    // A retraction is late too, but it is no delayed event of its own.
    const t2 = t1 + 3_600_000
    rig.clock.set(t2)
    const voided = await rig.lateview.ingest([{ id: 's1-void', source: 'store-001', type: 'sale', occurredAt: tpe('2026-11-29T09:59:00'), retracts: 's1' }])
    assert.equal(voided.alerts, [lateAfterClose(3, t2, ['s1-void'])])

    heard.length = 0
    const rebuild = await rig.lateview.jobs.run('rebuild', { view: REVENUE, period: D, now: t2, trigger: 'manual' })
    assert.equal(runsOf(rebuild), [[D, 'published', 2, 'restatement at cutoff seq 3']])
    const revised: AlertDocument = {
      id: '4',
      type: 'ReportRevised',
      status: 'firing',
      createdAt: iso(t2),
      resolvedAt: null,
      view: REVENUE,
      period: D,
      source: null,
      data: {
        revision: 2,
        previousRevision: 1,
        kind: 'restatement',
        trigger: 'restatement',
        cutoffSeq: 3,
        viewVersion: 1,
        previousViewVersion: 1,
        definitionChanged: false,
        totalsBefore: { measures: { revenue: 100, orders: 1, largest: 100 }, eventCount: 1 },
        totalsAfter: { measures: { revenue: 50, orders: 1, largest: 50 }, eventCount: 1 },
        changedCells: 2,
        changes: [
          { dims: { store: '001', channel: 'pos' }, delta: { revenue: -100, orders: -1, largest: null } },
          { dims: { store: '002', channel: 'pos' }, delta: { revenue: 50, orders: 1, largest: null } },
        ],
      },
    }
    assert.equal(heard, [revised])
    assert.equal(ids(await getJson(rig.app, '/v1/alerts?kind=LateAfterClose')), ['3', '2'])
    assert.equal(await getJson(rig.app, '/v1/alerts?kind=ReportRevised'), { alerts: [revised] })
  })

  test('LateAfterClose: policy hold names the policy, and the held period raises no ReportRevised', async ({ rig, heard }) => {
    const berlin = (local: string) => `${local}+01:00`
    const result = (id: string, lab: string, occurredAt: string) => ({ id, source: `lab-${lab}`, type: 'test_result', occurredAt, data: { lab, region: 'north', positive: 1 } })
    rig.clock.set(at(berlin('2026-11-20T12:00:00')))
    await rig.lateview.ingest([result('t1', 'berlin', berlin('2026-11-20T10:00:00'))])
    assert.equal(runsOf(await rig.lateview.jobs.run('close', { view: LAB, period: '2026-11-20', now: at(berlin('2026-11-27T07:00:00')), trigger: 'manual' })), [
      ['2026-11-20', 'published', 1, 'final at cutoff seq 1'],
    ])
    const t1 = at(berlin('2026-11-28T12:00:00'))
    rig.clock.set(t1)
    const late = await rig.lateview.ingest([result('t2', 'hamburg', berlin('2026-11-20T10:00:00'))])
    assert.equal(late.alerts, [
      delayed(1, t1, LAB, '2026-11-20', 'lab-hamburg', { count: 1, maxLagMs: 698_400_000, maxLag: 'PT194H', sla: 'P2D', eventIds: ['t2'] }),
      { id: '2', type: 'LateAfterClose', status: 'firing', createdAt: iso(t1), resolvedAt: null, view: LAB, period: '2026-11-20', source: null, data: { count: 1, eventIds: ['t2'], policy: 'hold' } },
    ])
    heard.length = 0
    const rebuild = await rig.lateview.jobs.run('rebuild', { view: LAB, period: '2026-11-20', now: t1, trigger: 'manual' })
    assert.equal(runsOf(rebuild), [['2026-11-20', 'skipped', 1, 'final; late events held (policy hold)']])
    assert.equal(heard, [])
    assert.is(await rowCount(rig.engine, 'alerts'), 2)
  })

  test('ReportRevised: a published period whose figures change gets one, with the diff summary; same figures raise none', async ({ rig, heard }) => {
    rig.clock.set(at(tpe('2026-11-25T10:01:00')))
    await rig.lateview.ingest([sale('s1', 'store-001', tpe('2026-11-25T10:00:00'), 100), sale('s2', 'store-002', tpe('2026-11-25T10:00:00'), 50)])
    const flashAt = at(tpe('2026-11-25T22:00:00'))
    assert.equal(runsOf(await rig.lateview.jobs.run('flash', { view: REVENUE, period: D, now: flashAt, trigger: 'manual' })), [[D, 'published', 1, 'flash at cutoff seq 2']])
    assert.equal(heard, [])

    const t1 = at(tpe('2026-11-25T23:00:00'))
    rig.clock.set(t1)
    assert.equal((await rig.lateview.ingest([sale('s3', 'store-001', tpe('2026-11-25T21:00:00'), 30.25)])).alerts, [])
    assert.equal(runsOf(await rig.lateview.jobs.run('rebuild', { view: REVENUE, period: D, now: t1, trigger: 'manual' })), [[D, 'published', 2, 'revision at cutoff seq 3']])
    const revised: AlertDocument = {
      id: '1',
      type: 'ReportRevised',
      status: 'firing',
      createdAt: iso(t1),
      resolvedAt: null,
      view: REVENUE,
      period: D,
      source: null,
      data: {
        revision: 2,
        previousRevision: 1,
        kind: 'revision',
        trigger: 'manual',
        cutoffSeq: 3,
        viewVersion: 1,
        previousViewVersion: 1,
        definitionChanged: false,
        totalsBefore: { measures: { revenue: 150, orders: 2, largest: 100 }, eventCount: 2 },
        totalsAfter: { measures: { revenue: 180.25, orders: 3, largest: 100 }, eventCount: 3 },
        changedCells: 1,
        changes: [{ dims: { store: '001', channel: 'pos' }, delta: { revenue: 30.25, orders: 1, largest: 0 } }],
      },
    }
    assert.equal(heard, [revised])
    assert.equal(await getJson(rig.app, `/v1/alerts?kind=ReportRevised&view=${REVENUE}`), { alerts: [revised] })

    // Nothing changed since: the rebuild skips, and the close publishes `final` with the same figures.
    heard.length = 0
    assert.equal(runsOf(await rig.lateview.jobs.run('rebuild', { view: REVENUE, period: D, now: t1, trigger: 'manual' })), [[D, 'skipped', 2, 'not dirty']])
    assert.equal(runsOf(await rig.lateview.jobs.run('close', { view: REVENUE, period: D, now: at(tpe('2026-11-28T03:30:00')), trigger: 'manual' })), [[D, 'published', 3, 'final at cutoff seq 3']])
    assert.equal(heard, [])
    assert.is(await rowCount(rig.engine, 'alerts'), 1)
  })

  test('JobFailed: a job whose transaction fails is rolled back, recorded as failed and alerted', async ({ rig, heard }) => {
    rig.clock.set(at(tpe('2026-11-25T10:01:00')))
    await rig.lateview.ingest([sale('s1', 'store-001', tpe('2026-11-25T10:00:00'), 100)])
    // The store loses a table the publication writes to: a real failure, mid-transaction.
    await sql`alter table revision_cells rename to revision_cells_away`.execute(rig.engine.db.kysely)
    const now = at(tpe('2026-11-25T22:00:00'))
    const error = factory.name === 'sqlite' ? 'no such table: revision_cells' : 'relation "revision_cells" does not exist'
    const runs = await rig.lateview.jobs.run('flash', { view: REVENUE, period: D, now, trigger: 'manual' })
    assert.equal(runsOf(runs), [[D, 'failed', null, error]])
    const failed: AlertDocument = {
      id: '1',
      type: 'JobFailed',
      status: 'firing',
      createdAt: iso(now),
      resolvedAt: null,
      view: REVENUE,
      period: D,
      source: null,
      data: { job: 'flash', trigger: 'manual', now: iso(now), error },
    }
    assert.equal(heard, [failed])
    assert.equal(await getJson(rig.app, '/v1/alerts?kind=JobFailed'), { alerts: [failed] })
    // The revision row written before the failure was rolled back with it.
    assert.equal([await rowCount(rig.engine, 'revisions'), await rowCount(rig.engine, 'periods')], [0, 0])
    await sql`alter table revision_cells_away rename to revision_cells`.execute(rig.engine.db.kysely)
    assert.equal(runsOf(await rig.lateview.jobs.run('flash', { view: REVENUE, period: D, now, trigger: 'manual' })), [[D, 'published', 1, 'flash at cutoff seq 1']])
    assert.equal(heard, [failed])
  })

  test('GET /v1/alerts filters by kind, status, since and view, newest first', async ({ rig }) => {
    const t1 = at(tpe('2026-11-25T12:10:00'))
    rig.clock.set(t1)
    await rig.lateview.ingest([sale('w', 'online-1', tpe('2026-11-25T11:00:00'), 1)]) // #1 DelayedEvent
    const t2 = at(tpe('2026-11-25T12:20:00'))
    rig.clock.set(t2)
    await rig.lateview.ingest([{ id: 't', source: 'lab-berlin', type: 'test_result', occurredAt: '2026-11-22T10:00:00+01:00', data: { lab: 'berlin', region: 'north', positive: 1 } }]) // #2
    await rig.lateview.jobs.run('sla-watch', { view: REVENUE, period: D, now: D_DEADLINE, trigger: 'manual' }) // #3..#10: store-001..008
    rig.clock.set(D_DEADLINE + 60_000)
    await rig.lateview.ingest([sale('s3', 'store-003', tpe('2026-11-25T23:00:00'), 1)]) // #11 DelayedEvent; resolves #5
    const list = async (query: string) => ids(await getJson(rig.app, `/v1/alerts${query}`))
    assert.equal(await list(''), ['11', '10', '9', '8', '7', '6', '5', '4', '3', '2', '1'])
    assert.equal(await list('?kind=DelayedEvent'), ['11', '2', '1'])
    assert.equal(await list('?kind=MissingData'), ['10', '9', '8', '7', '6', '5', '4', '3'])
    assert.equal(await list('?kind=JobFailed'), [])
    assert.equal(await list('?status=resolved'), ['5'])
    assert.equal(await list('?status=firing&kind=MissingData'), ['10', '9', '8', '7', '6', '4', '3'])
    assert.equal(await list(`?view=${LAB}`), ['2'])
    assert.equal(await list('?view=nope'), [])
    assert.equal(await list(`?since=${iso(t2)}&kind=DelayedEvent`), ['11', '2'])
    assert.equal(await list(`?since=${encodeURIComponent(tpe('2026-11-25T12:20:00.001'))}&kind=DelayedEvent`), ['11'])
    assert.equal(await list(`?since=${iso(D_DEADLINE)}&view=${REVENUE}&status=firing&limit=3`), ['11', '10', '9'])
    expectProblem(await rig.app.inject({ method: 'GET', url: '/v1/alerts?since=yesterday' }), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await rig.app.inject({ method: 'GET', url: '/v1/alerts?since=2026-11-25T12:00:00' }), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await rig.app.inject({ method: 'GET', url: '/v1/alerts?kind=Late' }), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await rig.app.inject({ method: 'GET', url: '/v1/alerts?status=open' }), 400, 'LV_ERR_QUERY_INVALID')
  })

  test.run()
}
