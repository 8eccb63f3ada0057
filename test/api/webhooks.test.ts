/**
 * The error answers of the alert, source and webhook routes. Deliveries are made by a dispatcher
 * ticked by hand against a receiver on a loopback port, so that every error code of a retry can
 * be reached.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { WebhookDispatcher } from '../../src/services/webhooks.js'
import { engines } from '../helpers/engines.js'
import { type Api, type ApiContext, expectOk, expectProblem, get, openApi, post, sale } from './harness.js'

/** 34 hours late at NOW, over the stores' SLA of one day: raises one DelayedEvent alert. */
const LATE = sale('late', '001', '2026-11-25T10:03:00+08:00', 12)

/** A receiver that answers 200 on /ok and 410 Gone on /gone. */
async function receiver(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    request.resume()
    response.statusCode = request.url === '/gone' ? 410 : 200
    response.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

async function subscribe(api: Api, url: string): Promise<string> {
  const res = await post(api.app, { url }, { url: '/v1/webhooks' })
  assert.is(res.statusCode, 201, res.body)
  const created = res.json() as { id: string; secret: string }
  assert.match(created.secret, /^whsec_/)
  return created.id
}

async function onlyDelivery(api: Api, hook: string): Promise<{ id: string; status: string }> {
  const { deliveries } = expectOk(await get(api.app, `/v1/webhooks/${hook}/deliveries`)) as { deliveries: Array<{ id: string; status: string }> }
  assert.is(deliveries.length, 1, JSON.stringify(deliveries))
  return deliveries[0] as { id: string; status: string }
}

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api webhooks and alerts (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory)
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  test('a webhook URL that is not http(s), not a URL or carries credentials is 400 LV_ERR_WEBHOOK_URL_INVALID', async ({ api }) => {
    for (const url of ['ftp://example.com/hook', 'not a url', 'https://user:secret@example.com/hook']) {
      expectProblem(await post(api.app, { url }, { url: '/v1/webhooks' }), 400, 'LV_ERR_WEBHOOK_URL_INVALID')
    }
    expectProblem(await post(api.app, { url: 'https://example.com/hook', kinds: ['Nope'] }, { url: '/v1/webhooks' }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await post(api.app, { kinds: ['DelayedEvent'] }, { url: '/v1/webhooks' }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await post(api.app, { url: 'https://example.com/hook', secret: 'mine' }, { url: '/v1/webhooks' }), 400, 'LV_ERR_BODY_INVALID')
    assert.equal(expectOk(await get(api.app, '/v1/webhooks')), { webhooks: [] })
  })

  test('an unknown or deleted webhook is 404 LV_ERR_WEBHOOK_NOT_FOUND on every webhook route', async ({ api }) => {
    const hook = await subscribe(api, 'https://example.com/hook')
    const del = await api.app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook}` })
    assert.is(del.statusCode, 204)
    for (const id of ['nope', hook]) {
      const problem = expectProblem(await get(api.app, `/v1/webhooks/${id}`), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      assert.is(problem.detail, `no webhook ${JSON.stringify(id)}`)
      expectProblem(await api.app.inject({ method: 'DELETE', url: `/v1/webhooks/${id}` }), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      expectProblem(await get(api.app, `/v1/webhooks/${id}/deliveries`), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      expectProblem(await post(api.app, {}, { url: `/v1/webhooks/${id}/deliveries/d1/retry` }), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
      expectProblem(await post(api.app, { overlap: 'PT1H' }, { url: `/v1/webhooks/${id}/rotate-secret` }), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
    }
  })

  test('retries: unknown delivery 404, delivered 409 LV_ERR_DELIVERY_DONE, disabled subscription 409 LV_ERR_WEBHOOK_DISABLED', async ({ api }) => {
    const { url, server } = await receiver()
    try {
      const ok = await subscribe(api, `${url}/ok`)
      const gone = await subscribe(api, `${url}/gone`)
      expectProblem(await post(api.app, {}, { url: `/v1/webhooks/${ok}/deliveries/nope/retry` }), 404, 'LV_ERR_DELIVERY_NOT_FOUND')
      const ingested = expectOk(await post(api.app, LATE)) as { accepted: number; alerts: Array<{ type: string }> }
      assert.equal(
        ingested.alerts.map((a) => a.type),
        ['DelayedEvent'],
      )
      const dispatcher = new WebhookDispatcher(api.engine, { backoff: [0, 60_000], timeoutMs: 5_000, clock: api.clock })
      assert.is(await dispatcher.tick(), 2)

      const delivered = await onlyDelivery(api, ok)
      assert.is(delivered.status, 'delivered')
      const done = expectProblem(await post(api.app, {}, { url: `/v1/webhooks/${ok}/deliveries/${delivered.id}/retry` }), 409, 'LV_ERR_DELIVERY_DONE')
      assert.is(done.detail, `delivery ${delivered.id} was already delivered`)

      const refused = await onlyDelivery(api, gone)
      assert.is((expectOk(await get(api.app, `/v1/webhooks/${gone}`)) as { status: string }).status, 'disabled')
      expectProblem(await post(api.app, {}, { url: `/v1/webhooks/${gone}/deliveries/${refused.id}/retry` }), 409, 'LV_ERR_WEBHOOK_DISABLED')
      // A delivery of one subscription is unknown to another.
      expectProblem(await post(api.app, {}, { url: `/v1/webhooks/${ok}/deliveries/${refused.id}/retry` }), 404, 'LV_ERR_DELIVERY_NOT_FOUND')
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  test('bad alert and source filters are 400 LV_ERR_QUERY_INVALID', async ({ api }) => {
    for (const query of ['since=yesterday', 'kind=Nope', 'status=open', 'limit=0', 'colour=red']) {
      expectProblem(await get(api.app, `/v1/alerts?${query}`), 400, 'LV_ERR_QUERY_INVALID')
    }
    const window = expectProblem(await get(api.app, '/v1/sources?window=week'), 400, 'LV_ERR_QUERY_INVALID')
    assert.is(window.detail, 'window="week" is not an ISO 8601 duration such as P7D')
    assert.equal(expectOk(await get(api.app, '/v1/alerts')), { alerts: [] })
  })

  test.run()
}
