/**
 * GET /v1/sources (lateness per source over the whole UTC hours a window overlaps: exact count,
 * max and last arrival; nearest-rank p50 and p99 as the upper end of their lag bucket) and the
 * alert and delivery metrics of GET /metrics.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { SourceLateness } from '../../src/services/sources.js'
import { at, expectProblem, getJson, iso, openRig, rowCount, sale, samples, type Rig } from '../helpers/alert-fixtures.js'
import { engines } from '../helpers/engines.js'
import { WebhookReceiver } from '../helpers/webhook-receiver.js'

/** The server's clock: 2026-11-26 20:00 in Taipei. */
const NOW = at('2026-11-26T12:00:00Z')
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

interface Imported {
  id: string
  source: string
  type: string
  occurredAt: string
  receivedAt: string
  data?: Record<string, unknown>
  retracts?: string
}

/** An event received at `received` with lag `lag` (ms). */
function lagged(id: string, source: string, received: number, lag: number): Imported {
  const e = sale(id, source, iso(received - lag), 1, iso(received))
  return e as Imported
}

/** Every event of the lateness fixture, in receivedAt order (as an import requires). */
function fixture(): Imported[] {
  const events: Imported[] = [
    lagged('old', 'store-002', NOW - 7 * DAY - 1, 99 * HOUR), // one ms before the default window
    lagged('edge', 'store-002', NOW - 7 * DAY, 3 * HOUR), // exactly at its start: counted
    lagged('two-days', 'store-002', NOW - 2 * DAY, 26 * HOUR),
    {
      id: 'lab-1',
      source: 'lab-berlin',
      type: 'test_result',
      occurredAt: iso(NOW - DAY - 30 * HOUR),
      receivedAt: iso(NOW - DAY),
      data: { lab: 'berlin', region: 'north', positive: 0 },
    },
  ]
  // store-001: lags 1..101 s, received together an hour ago, in no particular order.
  for (let k = 0; k < 101; k++) {
    const s = ((k * 37) % 101) + 1
    events.push(lagged(`s${s}`, 'store-001', NOW - HOUR, s * 1000))
  }
  // online-1: lags 1..10 min, received ten minutes ago; and a retraction, which is no arrival of data.
  for (let m = 10; m >= 1; m--) events.push(lagged(`w${m}`, 'online-1', NOW - 10 * MIN, m * MIN))
  events.push({ id: 'w-void', source: 'online-1', type: 'sale', occurredAt: iso(NOW - 5 * MIN), receivedAt: iso(NOW - 5 * MIN), retracts: 'w3' })
  // Received in the hour after the server's now (a replayed history): not yet known at now.
  events.push(lagged('later', 'online-1', NOW + HOUR, 99 * MIN))
  return events
}

function lateness(source: string, count: number, p50: [number, string], p99: [number, string], max: [number, string], lastReceivedAt: number): SourceLateness {
  return { source, count, p50LagMs: p50[0], p99LagMs: p99[0], maxLagMs: max[0], p50Lag: p50[1], p99Lag: p99[1], maxLag: max[1], lastReceivedAt: iso(lastReceivedAt) }
}

// A percentile is the upper end of the lag bucket holding the nearest-rank lag, never above the
// max: buckets are 2^(e-7) ms wide over [2^e, 2^(e+1)). A lone lag is its own p50 and p99.
const LAB = lateness('lab-berlin', 1, [30 * HOUR, 'PT30H'], [30 * HOUR, 'PT30H'], [30 * HOUR, 'PT30H'], NOW - DAY)
// Nearest rank of 10 lags: p50 the 5th (300,000 in [299,008, 301,055]), p99 the 10th, the max.
const ONLINE = lateness('online-1', 10, [301_055, 'PT5M1.055S'], [10 * MIN, 'PT10M'], [10 * MIN, 'PT10M'], NOW - 10 * MIN)
// Of 101 lags: p50 the 51st (51,000 in [50,944, 51,199]), p99 the 100th (100,000 in [99,840, 100,351]), max the 101st.
const STORE_1 = lateness('store-001', 101, [51_199, 'PT51.199S'], [100_351, 'PT1M40.351S'], [101_000, 'PT1M41S'], NOW - HOUR)
// p50 the 1st (3 h = 10,800,000 in [10,747,904, 10,813,439]), p99 the 2nd, the max.
const STORE_2 = lateness('store-002', 2, [10_813_439, 'PT3H13.439S'], [26 * HOUR, 'PT26H'], [26 * HOUR, 'PT26H'], NOW - 2 * DAY)

interface Context {
  rig: Rig
}

for (const factory of await engines()) {
  const test = suite<Context>(`alerts/sources (${factory.name})`, {} as Context)
  test.before.each(async (ctx) => {
    ctx.rig = await openRig(factory, NOW)
  })
  test.after.each(async (ctx) => {
    await ctx.rig.close()
  })
  test.after(() => factory.cleanup())

  test('GET /v1/sources: exact count, max and last arrival, p50 and p99 within 1/128 above the nearest rank, per source over the last 7 days', async ({ rig }) => {
    const report = (sources: SourceLateness[]) => ({ window: 'P7D', now: iso(NOW), from: iso(NOW - 7 * DAY), to: iso(NOW + HOUR), sources })
    assert.equal(await getJson(rig.app, '/v1/sources'), report([]))
    const events = fixture()
    assert.is((await rig.lateview.ingest(events, { imported: true })).accepted, events.length)
    assert.equal(await getJson(rig.app, '/v1/sources'), report([LAB, ONLINE, STORE_1, STORE_2]))
    assert.equal(await getJson(rig.app, '/v1/sources?window=P7D'), report([LAB, ONLINE, STORE_1, STORE_2]))
    // Once the clock reaches the replayed arrival's hour, it counts: p50 the 6th of 11 (360,000 in [358,400, 360,447]).
    rig.clock.set(NOW + HOUR)
    const online = (await getJson<{ sources: SourceLateness[] }>(rig.app, '/v1/sources')).sources.find((s) => s.source === 'online-1')
    assert.equal(online, lateness('online-1', 11, [360_447, 'PT6M0.447S'], [99 * MIN, 'PT1H39M'], [99 * MIN, 'PT1H39M'], NOW + HOUR))
  })

  test('GET /v1/sources?window=: the window is rounded out to the whole UTC hours of receivedAt it overlaps', async ({ rig }) => {
    await rig.lateview.ingest(fixture(), { imported: true })
    const sources = async (window: string) => getJson<{ window: string; now: string; from: string; to: string; sources: SourceLateness[] }>(rig.app, `/v1/sources?window=${window}`)
    assert.equal(await sources('PT1H'), { window: 'PT1H', now: iso(NOW), from: iso(NOW - HOUR), to: iso(NOW + HOUR), sources: [ONLINE, STORE_1] })
    // A window reaching a millisecond into an hour takes all of it: store-001 arrived at its first instant.
    for (const window of ['PT59M59.999S', 'PT10M', 'PT1S']) assert.equal((await sources(window)).sources, [ONLINE, STORE_1], window)
    assert.equal((await sources('P2D')).sources, [LAB, ONLINE, STORE_1, lateness('store-002', 1, [26 * HOUR, 'PT26H'], [26 * HOUR, 'PT26H'], [26 * HOUR, 'PT26H'], NOW - 2 * DAY)])
    // 'old' arrived a millisecond before the 7 days: in the hour before them. Of 3 lags, p50 the
    // 2nd (26 h = 93,600,000 in [93,323,264, 93,847,551]).
    const all = lateness('store-002', 3, [93_847_551, 'PT26H4M7.551S'], [99 * HOUR, 'PT99H'], [99 * HOUR, 'PT99H'], NOW - 2 * DAY)
    assert.equal((await sources('P7DT1H')).sources, [LAB, ONLINE, STORE_1, all])
    assert.equal((await sources('P30D')).sources, [LAB, ONLINE, STORE_1, all])
    // Half an hour on: the current hour alone holds nothing until the window reaches back into 11:00.
    rig.clock.set(NOW + 30 * MIN)
    assert.equal(await sources('PT30M'), { window: 'PT30M', now: iso(NOW + 30 * MIN), from: iso(NOW), to: iso(NOW + HOUR), sources: [] })
    assert.equal(await sources('PT30M0.001S'), { window: 'PT30M0.001S', now: iso(NOW + 30 * MIN), from: iso(NOW - HOUR), to: iso(NOW + HOUR), sources: [ONLINE, STORE_1] })
    for (const bad of ['7d', 'P0D', 'PT-1H', '', 'P', 'soon']) {
      const body = expectProblem(await rig.app.inject({ method: 'GET', url: `/v1/sources?window=${encodeURIComponent(bad)}` }), 400, 'LV_ERR_QUERY_INVALID')
      assert.is(body.detail, `window=${JSON.stringify(bad)} is not an ISO 8601 duration such as P7D`)
    }
    expectProblem(await rig.app.inject({ method: 'GET', url: '/v1/sources?windows=P1D' }), 400, 'LV_ERR_QUERY_INVALID')
  })

  test('GET /v1/sources: an import received after now, within its hour, counts (the hour is read whole)', async ({ rig }) => {
    await rig.lateview.ingest([lagged('a', 'online-1', NOW - 30 * MIN, MIN), lagged('b', 'online-1', NOW + 59 * MIN + 59_999, 2 * MIN), lagged('c', 'online-1', NOW + HOUR, 3 * MIN)], {
      imported: true,
    })
    const online = (await getJson<{ sources: SourceLateness[] }>(rig.app, '/v1/sources?window=PT1H')).sources
    // p50 the 1st (60,000 in [59,904, 60,159]).
    assert.equal(online, [lateness('online-1', 2, [60_159, 'PT1M0.159S'], [2 * MIN, 'PT2M'], [2 * MIN, 'PT2M'], NOW + 59 * MIN + 59_999)])
  })

  test('GET /v1/sources: a retraction is no arrival and takes nothing away: its target did arrive with its lag', async ({ rig }) => {
    const get = async () => (await getJson<{ sources: SourceLateness[] }>(rig.app, '/v1/sources?window=P1D')).sources
    const retract = (id: string, target: string, received: number) => ({ ...lagged(id, 'online-1', received, 0), retracts: target })
    // Lags below 256 ms: each has a bucket of its own, so the percentiles are exact.
    await rig.lateview.ingest([lagged('a', 'online-1', NOW - 3 * HOUR, 100), lagged('b', 'online-1', NOW - 3 * HOUR, 200)], { imported: true })
    const before = [lateness('online-1', 2, [100, 'PT0.1S'], [200, 'PT0.2S'], [200, 'PT0.2S'], NOW - 3 * HOUR)]
    assert.equal(await get(), before)
    // The max retracted in a later batch and in another hour; then an event and its retraction in one batch.
    await rig.lateview.ingest([retract('b-void', 'b', NOW - 2 * HOUR)], { imported: true })
    assert.equal(await get(), before)
    await rig.lateview.ingest([lagged('c', 'online-1', NOW - HOUR, 250), retract('c-void', 'c', NOW - HOUR)], { imported: true })
    assert.equal(await get(), [lateness('online-1', 3, [200, 'PT0.2S'], [250, 'PT0.25S'], [250, 'PT0.25S'], NOW - HOUR)])
  })

  test('GET /metrics: alerts raised and resolved by kind, and webhook deliveries pending', async ({ rig }) => {
    const receiver = await WebhookReceiver.start()
    try {
      const subscribe = async (payload: Record<string, unknown>) => {
        const res = await rig.app.inject({ method: 'POST', url: '/v1/webhooks', payload })
        assert.is(res.statusCode, 201, res.body)
        return (res.json() as { id: string }).id
      }
      await subscribe({ url: receiver.url('/all') })
      const missingOnly = await subscribe({ url: receiver.url('/missing'), kinds: ['MissingData'] })
      const post = async (events: unknown[]) => {
        const res = await rig.app.inject({ method: 'POST', url: '/v1/events', payload: events as Record<string, unknown>[] })
        assert.is(res.statusCode, 200, res.body)
        return (res.json() as { alerts: Array<{ type: string; status: string }> }).alerts.map((a) => `${a.type}:${a.status}`)
      }
      const metric = async (): Promise<string[]> =>
        samples((await rig.app.inject({ method: 'GET', url: '/metrics' })).body).filter((l) => /^lateview_(alerts_total|webhook_deliveries_pending)/.test(l))

      assert.equal(await metric(), ['lateview_webhook_deliveries_pending 0'])
      // Two late sources in one batch (two alerts), then one more.
      assert.equal(await post([lagged('w1', 'online-1', NOW, HOUR), lagged('s1', 'store-001', NOW, 2 * DAY)]), ['DelayedEvent:firing', 'DelayedEvent:firing'])
      assert.equal(await post([lagged('w2', 'online-2', NOW, 10 * MIN), lagged('w3', 'online-2', NOW, 5 * MIN)]), ['DelayedEvent:firing'])
      // Eight stores missing for 2026-11-25, then one of them reports (on time: lag P1D exactly).
      await rig.lateview.jobs.run('sla-watch', { view: 'daily_revenue', period: '2026-11-25', now: NOW, trigger: 'manual' })
      assert.equal(await post([lagged('s3', 'store-003', NOW, DAY)]), ['MissingData:resolved'])
      assert.equal(await metric(), [
        'lateview_alerts_total{kind="DelayedEvent",event="raised"} 3',
        'lateview_alerts_total{kind="MissingData",event="raised"} 8',
        'lateview_alerts_total{kind="MissingData",event="resolved"} 1',
        // Every alert and resolution to /all (3 + 8 + 1), the MissingData ones to /missing (8 + 1).
        'lateview_webhook_deliveries_pending 21',
      ])
      assert.is(await rowCount(rig.engine, 'deliveries'), 21)
      const removed = await rig.app.inject({ method: 'DELETE', url: `/v1/webhooks/${missingOnly}` })
      assert.is(removed.statusCode, 204)
      assert.ok((await metric()).includes('lateview_webhook_deliveries_pending 12'))
      assert.is(receiver.requests.length, 0)
    } finally {
      await receiver.close()
    }
  })

  test.run()
}
