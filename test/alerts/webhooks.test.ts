/**
 * Webhook subscriptions and their delivery: the /v1/webhooks API, the Standard Webhooks
 * signature (checked by an independent implementation), retries with backoff, Retry-After,
 * 410 Gone, timeouts, dead letters retried by hand, and a restart that delivers what was pending.
 * Receivers are real HTTP servers on 127.0.0.1; the dispatcher runs on the real clock.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../src/config.js'
import { systemClock } from '../../src/domain/clock.js'
import { startServer } from '../../src/server.js'
import type { AlertDocument } from '../../src/services/alert-documents.js'
import { newSecret, signingSecrets, WebhookDispatcher, type DeliveryDocument, type DispatcherOptions, type WebhookDocument } from '../../src/services/webhooks.js'
import { at, expectProblem, getJson, iso, openRig, rowCount, sale, samples, shippedViews, VIEWS_DIR, type Rig } from '../helpers/alert-fixtures.js'
import { engines } from '../helpers/engines.js'
import { serverDatabase } from '../helpers/server-db.js'
import { sleep, until, verifyStandardWebhook, WebhookReceiver, type ReceivedRequest } from '../helpers/webhook-receiver.js'

/** The lateview clock of these suites (20:00 in Taipei); deliveries run on the real clock. */
const NOW = at('2026-11-26T12:00:00Z')

interface Hooked {
  rig: Rig
  dispatcher: WebhookDispatcher
  close(): Promise<void>
}

/** A store with the shipped views, its app, and a dispatcher woken by alerts and by the app. */
async function openHooked(factory: Parameters<typeof openRig>[0], options: Partial<DispatcherOptions> = {}): Promise<Hooked> {
  let dispatcher: WebhookDispatcher | null = null
  const rig = await openRig(factory, NOW, shippedViews(), { dispatcher: { wake: () => dispatcher?.wake() } })
  const d = new WebhookDispatcher(rig.engine, {
    backoff: [0, 50, 50],
    timeoutMs: 1000,
    clock: systemClock,
    random: () => 0.5,
    onAttempt: (outcome) => rig.metrics.deliveryAttempt(outcome),
    ...options,
  })
  dispatcher = d
  rig.lateview.onAlerts(() => d.wake())
  d.start()
  return {
    rig,
    dispatcher: d,
    async close() {
      try {
        await d.stop()
      } finally {
        await rig.close()
      }
    },
  }
}

type Created = WebhookDocument & { secret: string }

async function subscribe(rig: Rig, url: string, kinds?: string[]): Promise<Created> {
  const res = await rig.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url, ...(kinds ? { kinds } : {}) } })
  assert.is(res.statusCode, 201, res.body)
  return res.json() as Created
}

async function deliveriesOf(rig: Rig, hookId: string): Promise<DeliveryDocument[]> {
  return (await getJson<{ deliveries: DeliveryDocument[] }>(rig.app, `/v1/webhooks/${hookId}/deliveries`)).deliveries
}

/** Waits until the subscription has one delivery that satisfies `done`, and returns it. */
async function settled(rig: Rig, hookId: string, done: (d: DeliveryDocument) => boolean, timeoutMs = 10_000): Promise<DeliveryDocument> {
  let last: DeliveryDocument[] = []
  try {
    return await until(
      `a settled delivery of ${hookId}`,
      async () => {
        last = await deliveriesOf(rig, hookId)
        const [first, ...rest] = last
        return first && rest.length === 0 && done(first) ? first : undefined
      },
      timeoutMs,
    )
  } catch (error) {
    throw new Error(`${(error as Error).message}; deliveries: ${JSON.stringify(last)}`)
  }
}

/** Ingests an online sale an hour late (over online-*'s PT5M): one DelayedEvent. */
async function raiseDelayed(rig: Rig, id: string): Promise<AlertDocument> {
  const result = await rig.lateview.ingest([sale(id, 'online-1', iso(rig.clock.now() - 3_600_000), 1)])
  assert.is(result.alerts.length, 1)
  return result.alerts[0] as AlertDocument
}

/** What a receiver using the official `standardwebhooks` package gets from a request signed with `secret` (it throws when the request is not). */
function verified(secret: string, request: ReceivedRequest): unknown {
  const headers = {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  }
  return new Webhook(secret).verify(request.body, headers)
}

function refused(secret: string, request: ReceivedRequest): void {
  assert.throws(
    () => verified(secret, request),
    (e: unknown) => e instanceof WebhookVerificationError && e.message === 'No matching signature found',
  )
}

/** A delivery's log without its times. */
const logOf = (d: DeliveryDocument) => d.log.map((l) => [l.attempt, l.statusCode, l.error])
const attemptTimes = (d: DeliveryDocument) => d.log.map((l) => Date.parse(l.at))

function assertSigned(request: ReceivedRequest, secret: string, deliveryId: string): void {
  assert.is(request.method, 'POST')
  assert.is(request.headers['content-type'], 'application/json')
  assert.is(request.headers['webhook-id'], deliveryId)
  assert.ok(verifyStandardWebhook(secret, request.headers, request.body, request.at), `bad signature ${String(request.headers['webhook-signature'])}`)
  assert.equal(verified(secret, request), JSON.parse(request.body))
  // The send time in whole seconds: at most a second or two before the body arrived.
  const sentBy = Math.floor(request.at / 1000) - Number(request.headers['webhook-timestamp'])
  assert.ok(sentBy >= 0 && sentBy <= 2, `webhook-timestamp ${String(request.headers['webhook-timestamp'])} for a request at ${request.at}`)
}

for (const factory of await engines()) {
  const test = suite(`alerts/webhooks (${factory.name})`)
  test.after(() => factory.cleanup())

  test('POST, GET and DELETE /v1/webhooks: the secret is shown once, on creation', async () => {
    const h = await openHooked(factory)
    try {
      const a = await subscribe(h.rig, 'http://127.0.0.1:8081/a', ['ReportRevised', 'DelayedEvent', 'ReportRevised'])
      h.rig.clock.advance(1000)
      const b = await subscribe(h.rig, 'http://127.0.0.1:8082/b')
      assert.match(a.id, /^wh_[A-Za-z0-9_-]{16}$/)
      assert.match(a.secret, /^whsec_[A-Za-z0-9+/]{32}$/)
      assert.is(Buffer.from(a.secret.slice(6), 'base64').length, 24)
      assert.is.not(a.secret, b.secret)
      const docA = { id: a.id, url: 'http://127.0.0.1:8081/a', kinds: ['ReportRevised', 'DelayedEvent'], createdAt: iso(NOW), status: 'active', disabledAt: null, disabledReason: null }
      const docB = { id: b.id, url: 'http://127.0.0.1:8082/b', kinds: null, createdAt: iso(NOW + 1000), status: 'active', disabledAt: null, disabledReason: null }
      assert.equal(a, { ...docA, secret: a.secret })
      assert.equal(b, { ...docB, secret: b.secret })
      const list = await h.rig.app.inject({ method: 'GET', url: '/v1/webhooks' })
      assert.equal(list.json(), { webhooks: [docA, docB] })
      assert.not.ok(list.body.includes('whsec_'), list.body)
      assert.equal(await getJson(h.rig.app, `/v1/webhooks/${a.id}`), docA)
      assert.equal(await getJson(h.rig.app, `/v1/webhooks/${a.id}/deliveries`), { deliveries: [] })

      const del = await h.rig.app.inject({ method: 'DELETE', url: `/v1/webhooks/${a.id}` })
      assert.equal([del.statusCode, del.body], [204, ''])
      assert.equal(await getJson(h.rig.app, '/v1/webhooks'), { webhooks: [docB] })
      expectProblem(await h.rig.app.inject({ method: 'GET', url: `/v1/webhooks/${a.id}` }), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      expectProblem(await h.rig.app.inject({ method: 'DELETE', url: `/v1/webhooks/${a.id}` }), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      expectProblem(await h.rig.app.inject({ method: 'GET', url: `/v1/webhooks/${a.id}/deliveries` }), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
    } finally {
      await h.close()
    }
  })

  test('target URL rules: http(s) only, no credentials, never the server itself; kinds must be alert kinds', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.start()
    try {
      await h.rig.app.listen({ host: '127.0.0.1', port: 0 })
      const address = h.rig.app.server.address()
      const own = typeof address === 'object' && address ? address.port : 0
      assert.ok(own > 0)
      const post = (payload: unknown) => h.rig.app.inject({ method: 'POST', url: '/v1/webhooks', payload: payload as Record<string, unknown> })
      for (const url of [
        `ftp://127.0.0.1:${receiver.port}/hook`,
        `file:///etc/passwd`,
        `http://user:secret@127.0.0.1:${receiver.port}/hook`,
        `http://user@127.0.0.1:${receiver.port}/hook`,
        'not a url',
        `http://127.0.0.1:${own}/v1/events`,
        `http://localhost:${own}/hook`,
        `http://[::1]:${own}/hook`,
        `http://127.0.0.2:${own}/hook`,
        `http://0.0.0.0:${own}/hook`,
      ]) {
        expectProblem(await post({ url }), 400, 'LV_ERR_WEBHOOK_URL_INVALID')
      }
      expectProblem(await post({ url: receiver.url(), kinds: ['DelayedEvent', 'Delayed'] }), 400, 'LV_ERR_BODY_INVALID')
      expectProblem(await post({ url: receiver.url(), kinds: [] }), 400, 'LV_ERR_BODY_INVALID')
      expectProblem(await post({ url: receiver.url(), kinds: [3] }), 400, 'LV_ERR_BODY_INVALID')
      expectProblem(await post({ kinds: ['DelayedEvent'] }), 400, 'LV_ERR_BODY_INVALID')
      expectProblem(await post({ url: receiver.url(), secret: 'whsec_mine' }), 400, 'LV_ERR_BODY_INVALID')
      assert.equal(await getJson(h.rig.app, '/v1/webhooks'), { webhooks: [] })
      // The same host on another port is someone else.
      const ok = await post({ url: receiver.url(), kinds: ['MissingData'] })
      assert.is(ok.statusCode, 201, ok.body)
      assert.is((await getJson<{ webhooks: unknown[] }>(h.rig.app, '/v1/webhooks')).webhooks.length, 1)
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('a delivery is signed per Standard Webhooks and reaches only the subscriptions that want its kind', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.start()
    try {
      const all = await subscribe(h.rig, receiver.url('/all'))
      const revised = await subscribe(h.rig, receiver.url('/revised'), ['ReportRevised'])
      const alert = await raiseDelayed(h.rig, 'w1')
      const delivered = await settled(h.rig, all.id, (d) => d.status !== 'pending')
      const [request, ...more] = receiver.on('/all')
      assert.ok(request)
      assert.is(more.length, 0)
      assertSigned(request, all.secret, delivered.id)
      // The Standard Webhooks envelope, as the receiver's library hands it over.
      assert.equal(verified(all.secret, request), {
        type: 'alert.delayed_event',
        timestamp: '2026-11-26T12:00:00.000Z',
        data: {
          id: '1',
          kind: 'DelayedEvent',
          status: 'firing',
          createdAt: '2026-11-26T12:00:00.000Z',
          resolvedAt: null,
          view: 'daily_revenue',
          period: '2026-11-26',
          source: 'online-1',
          count: 1,
          maxLagMs: 3600000,
          maxLag: 'PT1H',
          sla: 'PT5M',
          eventIds: ['w1'],
        },
      })
      assert.is(alert.id, '1')
      assert.equal(
        { ...delivered, log: logOf(delivered) },
        {
          id: delivered.id,
          webhookId: all.id,
          alertId: alert.id,
          event: 'raised',
          status: 'delivered',
          attempts: 1,
          nextAttemptAt: null,
          createdAt: iso(NOW),
          deliveredAt: delivered.log[0]?.at ?? null,
          lastStatusCode: 204,
          lastError: null,
          log: [[1, 204, null]],
        },
      )
      // The independent verifier does reject what it should.
      assert.not.ok(verifyStandardWebhook(revised.secret, request.headers, request.body, request.at))
      assert.not.ok(verifyStandardWebhook(all.secret, request.headers, `${request.body} `, request.at))
      assert.not.ok(verifyStandardWebhook(all.secret, { ...request.headers, 'webhook-id': 'msg_other' }, request.body, request.at))
      assert.not.ok(verifyStandardWebhook(all.secret, request.headers, request.body, request.at + 6000))
      // The ReportRevised subscription heard nothing of a DelayedEvent.
      assert.equal(await deliveriesOf(h.rig, revised.id), [])

      // A revised report: flash, a later sale, rebuild.
      const period = '2026-11-26'
      h.rig.clock.advance(1000)
      // Fifty trillion and a cent, then fifty trillion: with the web sale of 1, the day's revenue
      // 100000000000001.01 is a figure no double holds (it would print as …001.02).
      await h.rig.lateview.ingest([sale('s1', 'store-001', '2026-11-26T19:00:00+08:00', 50000000000000.01)])
      await h.rig.lateview.jobs.run('flash', { view: 'daily_revenue', period, now: h.rig.clock.now(), trigger: 'manual' })
      h.rig.clock.advance(1000)
      await h.rig.lateview.ingest([sale('s2', 'store-001', '2026-11-26T19:30:00+08:00', 50000000000000)])
      await h.rig.lateview.jobs.run('rebuild', { view: 'daily_revenue', period, now: h.rig.clock.now(), trigger: 'manual' })
      const revision = await settled(h.rig, revised.id, (d) => d.status !== 'pending')
      const [got, ...others] = receiver.on('/revised')
      assert.ok(got)
      assert.is(others.length, 0)
      assertSigned(got, revised.secret, revision.id)
      const body = JSON.parse(got.body) as { type: string; timestamp: string; data: { id: string; kind: string; period: string; revisionKind: string; revision: number; previousRevision: number } }
      assert.equal(
        [body.type, body.timestamp, body.data.id, body.data.kind, body.data.period, body.data.revisionKind, body.data.revision, body.data.previousRevision],
        ['alert.report_revised', iso(NOW + 2000), '2', 'ReportRevised', period, 'revision', 2, 1],
      )
      // The signed body carries every digit: the totals, and the change of the cell.
      assert.match(got.body, '"totalsBefore":{"measures":{"revenue":50000000000001.01,"orders":2,"largest":50000000000000.01},"eventCount":2}')
      assert.match(got.body, '"totalsAfter":{"measures":{"revenue":100000000000001.01,"orders":3,"largest":50000000000000.01},"eventCount":3}')
      assert.match(got.body, '"delta":{"revenue":50000000000000,"orders":1,"largest":0}')
      await until('both deliveries to the catch-all subscription', async () =>
        (await deliveriesOf(h.rig, all.id)).every((d) => d.status !== 'pending') && receiver.on('/all').length === 2 ? true : undefined,
      )
      assert.equal(
        receiver.on('/all').map((r) => (JSON.parse(r.body) as { type: string }).type),
        ['alert.delayed_event', 'alert.report_revised'],
      )
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('a receiver failing twice then answering 2xx: one delivery, three attempts logged under one webhook-id', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.scripted([{ status: 500 }, { status: 500 }])
    try {
      const hook = await subscribe(h.rig, receiver.url())
      const alert = await raiseDelayed(h.rig, 'w1')
      const d = await settled(h.rig, hook.id, (x) => x.status !== 'pending')
      assert.equal(
        [d.status, d.attempts, d.lastStatusCode, d.lastError, d.deliveredAt, d.alertId, logOf(d)],
        [
          'delivered',
          3,
          204,
          null,
          d.log[2]?.at,
          alert.id,
          [
            [1, 500, 'HTTP 500'],
            [2, 500, 'HTTP 500'],
            [3, 204, null],
          ],
        ],
      )
      // backoff [0, 50, 50] with the jitter at its middle: exactly 50 ms between attempts, at least.
      const [t1, t2, t3] = attemptTimes(d) as [number, number, number]
      assert.ok(t2 - t1 >= 50 && t3 - t2 >= 50, `attempts at ${t1}, ${t2}, ${t3}`)
      await sleep(150)
      assert.equal(
        receiver.requests.map((r) => r.headers['webhook-id']),
        [d.id, d.id, d.id],
      )
      assert.equal(new Set(receiver.requests.map((r) => r.body)).size, 1)
      for (const r of receiver.requests) assertSigned(r, hook.secret, d.id)
      const metrics = samples((await h.rig.app.inject({ method: 'GET', url: '/metrics' })).body)
      // Three attempts, one delivery.
      assert.equal(
        metrics.filter((line) => line.startsWith('lateview_webhook_')),
        [
          'lateview_webhook_deliveries_total{outcome="delivered"} 1',
          'lateview_webhook_delivery_attempts_total{outcome="retry"} 2',
          'lateview_webhook_delivery_attempts_total{outcome="delivered"} 1',
          'lateview_webhook_deliveries_pending 0',
        ],
      )
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('a receiver down for the whole schedule leaves a dead delivery; a retry by hand delivers it once it is back', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.start()
    await receiver.down()
    try {
      const hook = await subscribe(h.rig, receiver.url())
      await raiseDelayed(h.rig, 'w1')
      const dead = await settled(h.rig, hook.id, (x) => x.status !== 'pending')
      assert.equal(
        [dead.status, dead.attempts, dead.nextAttemptAt, dead.deliveredAt, dead.lastStatusCode, dead.lastError, logOf(dead)],
        [
          'dead',
          3,
          null,
          null,
          null,
          'ECONNREFUSED',
          [
            [1, null, 'ECONNREFUSED'],
            [2, null, 'ECONNREFUSED'],
            [3, null, 'ECONNREFUSED'],
          ],
        ],
      )
      await sleep(150)
      assert.is((await deliveriesOf(h.rig, hook.id))[0]?.attempts, 3)

      await receiver.up()
      const retry = await h.rig.app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/deliveries/${dead.id}/retry` })
      assert.equal([retry.statusCode, retry.json()], [202, { id: dead.id, status: 'pending' }])
      const delivered = await settled(h.rig, hook.id, (x) => x.status !== 'pending')
      assert.equal(
        [delivered.id, delivered.attempts, delivered.lastStatusCode, delivered.lastError, logOf(delivered)],
        [
          dead.id,
          4,
          204,
          null,
          [
            [1, null, 'ECONNREFUSED'],
            [2, null, 'ECONNREFUSED'],
            [3, null, 'ECONNREFUSED'],
            [4, 204, null],
          ],
        ],
      )
      assert.is(receiver.requests.length, 1)
      assertSigned(receiver.requests[0] as ReceivedRequest, hook.secret, dead.id)
      expectProblem(await h.rig.app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/deliveries/${dead.id}/retry` }), 409, 'LV_ERR_DELIVERY_DONE')
      expectProblem(await h.rig.app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/deliveries/msg_nope/retry` }), 404, 'LV_ERR_DELIVERY_NOT_FOUND')
      expectProblem(await h.rig.app.inject({ method: 'POST', url: `/v1/webhooks/wh_nope/deliveries/${dead.id}/retry` }), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('429 with Retry-After: 1 holds the next attempt back by a second', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.scripted([{ status: 429, headers: { 'retry-after': '1' } }])
    try {
      const hook = await subscribe(h.rig, receiver.url())
      await raiseDelayed(h.rig, 'w1')
      const d = await settled(h.rig, hook.id, (x) => x.status !== 'pending')
      assert.equal(
        [d.attempts, logOf(d)],
        [
          2,
          [
            [1, 429, 'HTTP 429'],
            [2, 204, null],
          ],
        ],
      )
      const [t1, t2] = attemptTimes(d) as [number, number]
      assert.ok(t2 - t1 >= 1000 && t2 - t1 < 2500, `second attempt ${t2 - t1} ms after the first`)
      assert.is(receiver.requests.length, 2)
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('410 Gone disables the subscription; its delivery is not retried and it gets no new ones', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.scripted([{ status: 410 }])
    try {
      const hook = await subscribe(h.rig, receiver.url())
      await raiseDelayed(h.rig, 'w1')
      const doc = await until('the subscription to be disabled', async () => {
        const w = await getJson<WebhookDocument>(h.rig.app, `/v1/webhooks/${hook.id}`)
        return w.status === 'disabled' ? w : undefined
      })
      const [d, ...none] = await deliveriesOf(h.rig, hook.id)
      assert.ok(d)
      assert.is(none.length, 0)
      assert.equal(
        [d.status, d.attempts, d.nextAttemptAt, d.lastStatusCode, d.lastError, logOf(d)],
        ['dead', 1, null, 410, 'receiver answered 410 Gone: subscription disabled', [[1, 410, 'receiver answered 410 Gone: subscription disabled']]],
      )
      assert.equal(doc, { id: hook.id, url: receiver.url(), kinds: null, createdAt: iso(NOW), status: 'disabled', disabledAt: d.log[0]?.at ?? null, disabledReason: 'receiver answered 410 Gone' })
      await raiseDelayed(h.rig, 'w2')
      await sleep(200)
      assert.is(receiver.requests.length, 1)
      assert.is((await deliveriesOf(h.rig, hook.id)).length, 1)
      assert.is(await rowCount(h.rig.engine, 'alerts'), 2)
      expectProblem(await h.rig.app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/deliveries/${d.id}/retry` }), 409, 'LV_ERR_WEBHOOK_DISABLED')
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('an attempt that gets no answer in time is logged as a timeout', async () => {
    const h = await openHooked(factory, { timeoutMs: 200, backoff: [0, 50] })
    const receiver = await WebhookReceiver.start(() => 'hang')
    try {
      const hook = await subscribe(h.rig, receiver.url())
      await raiseDelayed(h.rig, 'w1')
      const d = await settled(h.rig, hook.id, (x) => x.status !== 'pending')
      assert.equal(
        [d.status, d.attempts, d.lastStatusCode, d.lastError, logOf(d)],
        [
          'dead',
          2,
          null,
          'timed out after 200 ms',
          [
            [1, null, 'timed out after 200 ms'],
            [2, null, 'timed out after 200 ms'],
          ],
        ],
      )
      for (const { durationMs } of d.log) assert.ok(durationMs >= 195 && durationMs < 2000, `a timed-out attempt took ${durationMs} ms`)
      assert.is(receiver.requests.length, 2)
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('a wake-up while a pass is running does not stall the queue', async () => {
    // The retry falls due after the pass that timed out has ended: only a timer can bring it.
    const h = await openHooked(factory, { timeoutMs: 500, backoff: [0, 600] })
    const receiver = await WebhookReceiver.scripted(['hang'])
    try {
      const hook = await subscribe(h.rig, receiver.url())
      await raiseDelayed(h.rig, 'w1')
      await until('the first attempt to reach the receiver', () => (receiver.requests.length === 1 ? true : undefined))
      // The pass is waiting for the receiver: alerts raised or subscriptions changed now wake the dispatcher.
      h.dispatcher.wake()
      const d = await settled(h.rig, hook.id, (x) => x.status !== 'pending', 4000)
      assert.equal(
        [d.status, d.attempts, logOf(d)],
        [
          'delivered',
          2,
          [
            [1, null, 'timed out after 500 ms'],
            [2, 204, null],
          ],
        ],
      )
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('a resolved MissingData alert is delivered as its own message, with status resolved', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.start()
    try {
      const hook = await subscribe(h.rig, receiver.url(), ['MissingData'])
      const deadline = at('2026-11-26T18:00:00Z')
      await h.rig.lateview.jobs.run('sla-watch', { view: 'daily_revenue', period: '2026-11-25', now: deadline, trigger: 'manual' })
      h.rig.clock.set(deadline + 60_000)
      const result = await h.rig.lateview.ingest([sale('s8', 'store-008', '2026-11-25T23:00:00+08:00', 1)])
      const resolved = result.alerts.find((a) => a.type === 'MissingData')
      assert.ok(resolved)
      assert.equal([resolved.id, resolved.source, resolved.status, resolved.resolvedAt], ['8', 'store-008', 'resolved', iso(deadline + 60_000)])
      await until('nine deliveries', async () => {
        const all = await deliveriesOf(h.rig, hook.id)
        return all.length === 9 && all.every((d) => d.status !== 'pending') ? true : undefined
      })
      const bodies = receiver.requests.map((r) => verified(hook.secret, r) as { type: string; data: { id: string } })
      assert.is(bodies.length, 9)
      const missing = {
        id: '8',
        kind: 'MissingData',
        createdAt: '2026-11-26T18:00:00.000Z',
        view: 'daily_revenue',
        period: '2026-11-25',
        source: 'store-008',
        expectedBy: '2026-11-26T18:00:00.000Z',
        periodStart: '2026-11-24T16:00:00.000Z',
        periodEnd: '2026-11-25T16:00:00.000Z',
      }
      const own = ({ id, kind, createdAt, view, period, source }: typeof missing) => ({ id, kind, createdAt, view, period, source })
      const specific = ({ expectedBy, periodStart, periodEnd }: typeof missing) => ({ expectedBy, periodStart, periodEnd })
      // The alert raised, then resolved: two messages, each stamped with its own event's time.
      assert.equal(
        bodies.filter((b) => b.data.id === '8').sort((a, b) => a.type.localeCompare(b.type)),
        [
          { type: 'alert.missing_data', timestamp: '2026-11-26T18:00:00.000Z', data: { ...own(missing), status: 'firing', resolvedAt: null, ...specific(missing) } },
          {
            type: 'alert.missing_data.resolved',
            timestamp: '2026-11-26T18:01:00.000Z',
            data: { ...own(missing), status: 'resolved', resolvedAt: '2026-11-26T18:01:00.000Z', ...specific(missing) },
          },
        ],
      )
      assert.equal(bodies.map((b) => b.type).sort(), [...Array(8).fill('alert.missing_data'), 'alert.missing_data.resolved'])
      assert.equal(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size, 9)
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('rotate-secret: during the overlap both secrets sign, so receivers holding either verify; after it only the new one', async () => {
    const h = await openHooked(factory)
    const receiver = await WebhookReceiver.start()
    try {
      const hook = await subscribe(h.rig, receiver.url())
      const before = Date.now()
      const res = await h.rig.app.inject({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret`, payload: { overlap: 'PT2S' } })
      const after = Date.now()
      assert.is(res.statusCode, 200, res.body)
      const rotated = res.json() as { id: string; secret: string; rotatedAt: string; previousSecretExpiresAt: string }
      assert.equal(Object.keys(rotated), ['id', 'secret', 'rotatedAt', 'previousSecretExpiresAt'])
      assert.is(rotated.id, hook.id)
      assert.match(rotated.secret, /^whsec_[A-Za-z0-9+/]{32}$/)
      assert.is.not(rotated.secret, hook.secret)
      // On the real clock, as deliveries are, and exactly the overlap later.
      const rotatedAt = Date.parse(rotated.rotatedAt)
      assert.ok(rotatedAt >= before && rotatedAt <= after, `rotated at ${rotated.rotatedAt}`)
      assert.is(Date.parse(rotated.previousSecretExpiresAt), rotatedAt + 2000)
      // Never shown again.
      for (const url of ['/v1/webhooks', `/v1/webhooks/${hook.id}`]) {
        const shown = await h.rig.app.inject({ method: 'GET', url })
        assert.not.ok(shown.body.includes('whsec_'), shown.body)
      }

      await raiseDelayed(h.rig, 'w1')
      const during = await settled(h.rig, hook.id, (d) => d.status === 'delivered')
      const [first] = receiver.requests as [ReceivedRequest]
      assert.ok(first.at < rotatedAt + 2000, 'the first delivery came after the overlap: the test machine is too slow')
      assert.is(String(first.headers['webhook-signature']).split(' ').length, 2)
      assert.match(String(first.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=$/)
      assertSigned(first, hook.secret, during.id)
      assertSigned(first, rotated.secret, during.id)
      refused(newSecret(), first)

      await until('the end of the overlap', () => (Date.now() > rotatedAt + 2000 ? true : undefined), 5000)
      await raiseDelayed(h.rig, 'w2')
      await until('the second delivery', () => (receiver.requests.length === 2 ? true : undefined))
      const second = receiver.requests[1] as ReceivedRequest
      assert.match(String(second.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/)
      assert.equal((verified(rotated.secret, second) as { data: { eventIds: string[] } }).data.eventIds, ['w2'])
      refused(hook.secret, second)
    } finally {
      await receiver.close()
      await h.close()
    }
  })

  test('rotate-secret: an unknown or deleted webhook is 404, a bad overlap 400 (neither writes anything); the default overlap is a day', async () => {
    const h = await openHooked(factory)
    try {
      const hook = await subscribe(h.rig, 'http://127.0.0.1:8081/a')
      const rotate = (id: string, payload?: Record<string, unknown>) => h.rig.app.inject({ method: 'POST', url: `/v1/webhooks/${id}/rotate-secret`, ...(payload ? { payload } : {}) })
      for (const overlap of ['P8D', '-PT1H', 'PT', 'a day', 5, null]) {
        const problem = expectProblem(await rotate(hook.id, { overlap }), 400, 'LV_ERR_BODY_INVALID')
        if (typeof overlap === 'string') assert.is(problem.detail, `overlap must be an ISO 8601 duration from PT0S to P7D such as PT24H, not ${JSON.stringify(overlap)}`)
      }
      expectProblem(await rotate(hook.id, { overlap: 'PT1H', secret: 'whsec_mine' }), 400, 'LV_ERR_BODY_INVALID')
      assert.is(await rowCount(h.rig.engine, 'webhook_secrets'), 0)
      // A bare POST rotates with the default overlap of a day.
      const rotated = (await rotate(hook.id)).json() as { rotatedAt: string; previousSecretExpiresAt: string }
      assert.is(Date.parse(rotated.previousSecretExpiresAt) - Date.parse(rotated.rotatedAt), 86_400_000)
      const unknown = expectProblem(await rotate('wh_nope'), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      assert.is(unknown.detail, 'no webhook "wh_nope"')
      await h.rig.app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` })
      expectProblem(await rotate(hook.id), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      assert.is(await rowCount(h.rig.engine, 'webhook_secrets'), 1)
    } finally {
      await h.close()
    }
  })

  test('a server restarted over the same store delivers what the previous one left pending', async () => {
    const db = serverDatabase(factory.name)
    const receiver = await WebhookReceiver.start()
    await receiver.down()
    const env = (backoff: string) =>
      loadConfig({ LATEVIEW_DB: db.location, LATEVIEW_VIEWS: VIEWS_DIR, PORT: '0', LATEVIEW_LOG_LEVEL: 'silent', LATEVIEW_SCHEDULER: 'off', LATEVIEW_WEBHOOK_BACKOFF: backoff })
    try {
      let hook: Created
      let pending: DeliveryDocument
      const first = await startServer(env('0,2s'))
      try {
        // The running server refuses to call itself.
        const self = await first.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: `${first.address}/v1/events` } })
        expectProblem(self, 400, 'LV_ERR_WEBHOOK_URL_INVALID')
        const created = await first.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url() } })
        assert.is(created.statusCode, 201, created.body)
        hook = created.json() as Created
        const late = sale('s1', 'store-001', iso(Date.now() - 2 * 86_400_000), 10)
        const ingested = await first.app.inject({ method: 'POST', url: '/v1/events', payload: [late] })
        assert.equal(
          (ingested.json() as { alerts: AlertDocument[] }).alerts.map((a) => a.type),
          ['DelayedEvent'],
        )
        pending = await until('the first failed attempt', async () => {
          const [d] = (await first.app.inject({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries` })).json().deliveries as DeliveryDocument[]
          return d && d.attempts === 1 ? d : undefined
        })
      } finally {
        await first.close()
      }
      assert.equal([pending.status, logOf(pending)], ['pending', [[1, null, 'ECONNREFUSED']]])

      await receiver.up()
      const second = await startServer(env('0,50ms'))
      try {
        const delivered = await until(
          'the delivery by the second server',
          async () => {
            const [d] = (await second.app.inject({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries` })).json().deliveries as DeliveryDocument[]
            return d && d.status === 'delivered' ? d : undefined
          },
          8000,
        )
        assert.equal(
          [delivered.id, delivered.attempts, logOf(delivered)],
          [
            pending.id,
            2,
            [
              [1, null, 'ECONNREFUSED'],
              [2, 204, null],
            ],
          ],
        )
        // Due when the first server said (2 s ± 10 % jitter), not at once.
        const [t1, t2] = attemptTimes(delivered) as [number, number]
        assert.ok(t2 - t1 >= 1800, `second attempt ${t2 - t1} ms after the first`)
        await sleep(150)
        assert.is(receiver.requests.length, 1)
        assertSigned(receiver.requests[0] as ReceivedRequest, hook.secret, pending.id)
      } finally {
        await second.close()
      }
    } finally {
      await receiver.close()
      await db.cleanup()
    }
  })

  test.run()
}

const secrets = suite('alerts/webhooks signingSecrets')

secrets('the newest secret always signs; a rotation keeps every older one until its own end, and a later one may cut them short', () => {
  const rotation = (version: number, secret: string, created: number, until: number) => ({ webhook_id: 'wh_1', version, secret, created_at: created, previous_until: until })
  assert.equal(signingSecrets('s0', [], 0), ['s0'])
  const one = [rotation(1, 's1', 100, 200)]
  assert.equal(signingSecrets('s0', one, 150), ['s1', 's0'])
  assert.equal(signingSecrets('s0', one, 199), ['s1', 's0'])
  assert.equal(signingSecrets('s0', one, 200), ['s1'])
  // A second rotation within the first one's overlap: s0 still ends at 200, s1 at 400.
  const two = [...one, rotation(2, 's2', 150, 400)]
  assert.equal(signingSecrets('s0', two, 160), ['s2', 's1', 's0'])
  assert.equal(signingSecrets('s0', two, 300), ['s2', 's1'])
  assert.equal(signingSecrets('s0', two, 400), ['s2'])
  // A rotation without overlap (a leaked secret) ends every older secret at once.
  const cut = [...two, rotation(3, 's3', 170, 170)]
  assert.equal(signingSecrets('s0', cut, 170), ['s3'])
  assert.equal(signingSecrets('s0', cut, 169), ['s3', 's2', 's1', 's0'])
})

secrets.run()
