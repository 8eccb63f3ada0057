import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { answer, type ApiContext, expectOk, expectProblem, get, NOW, openApi, post, sale } from './harness.js'

// Within the SLA of their sources at NOW: no ingest raises an alert.
const A = sale('a', '001', '2026-11-26T10:03:00+08:00', 129.5)
const B = sale('b', '001', '2026-11-26T12:00:00+08:00', 20)
const WEB = { ...sale('w', 'web', '2026-11-26T19:59:00+08:00', 5, 'web'), source: 'online-web' }

/** The lines of a Prometheus text exposition, without comments. */
const samples = (text: string): string[] => text.split('\n').filter((line) => line.length > 0 && !line.startsWith('#'))

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api ops (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory)
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  test('GET /healthz and /readyz', async ({ api }) => {
    assert.equal(expectOk(await get(api.app, '/healthz')), { status: 'ok' })
    assert.equal(expectOk(await get(api.app, '/readyz')), { status: 'ready', engine: factory.name, views: 2 })
  })

  test('GET /metrics counts ingest outcomes, lags by source kind and request durations', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, [A, B, WEB])), answer(3, 0, 1, 3))
    assert.equal(expectOk(await post(api.app, [A])), answer(0, 1, null, null))
    expectProblem(await post(api.app, [sale('n', '001', '2026-11-26T10:00:00+08:00', 1), { id: 'bad' }]), 400, 'LV_ERR_EVENTS_INVALID')
    expectProblem(await post(api.app, { ...A, data: { store: '001', channel: 'pos', amount: 1 } }), 409, 'LV_ERR_EVENT_CONFLICT')
    const res = await get(api.app, '/metrics')
    assert.is(res.statusCode, 200)
    assert.is(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
    const lines = samples(res.body)
    const has = (line: string) => assert.ok(lines.includes(line), `missing ${line} in\n${res.body}`)
    has('lateview_events_ingested_total{outcome="accepted"} 3')
    has('lateview_events_ingested_total{outcome="duplicate"} 1')
    has('lateview_events_ingested_total{outcome="rejected"} 2')
    has('lateview_events_ingested_total{outcome="conflict"} 1')
    has('lateview_event_lag_seconds_count{source_kind="store"} 2')
    has(`lateview_event_lag_seconds_sum{source_kind="store"} ${(2 * NOW - Date.parse('2026-11-26T02:03:00Z') - Date.parse('2026-11-26T04:00:00Z')) / 1000}`)
    has('lateview_event_lag_seconds_count{source_kind="online"} 1')
    has('lateview_event_lag_seconds_sum{source_kind="online"} 60')
    has('lateview_event_lag_seconds_bucket{le="30",source_kind="online"} 0')
    has('lateview_event_lag_seconds_bucket{le="60",source_kind="online"} 1')
    has('lateview_http_request_duration_seconds_count{method="POST",route="/v1/events",status="200"} 2')
    has('lateview_http_request_duration_seconds_count{method="POST",route="/v1/events",status="400"} 1')
    has('lateview_http_request_duration_seconds_count{method="POST",route="/v1/events",status="409"} 1')
  })

  test('GET /docs/json is an OpenAPI document of the routes', async ({ api }) => {
    const doc = expectOk(await get(api.app, '/docs/json')) as { openapi: string; info: { title: string }; paths: Record<string, Record<string, unknown>> }
    assert.match(doc.openapi, /^3\.\d+\.\d+$/)
    assert.is(doc.info.title, 'lateview')
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
    for (const route of ['POST /v1/events', 'GET /v1/events/{source}/{id}', 'GET /v1/views', 'GET /v1/views/{view}', 'GET /v1/views/{view}/realtime', 'GET /healthz', 'GET /readyz', 'GET /metrics']) {
      assert.ok(routes.includes(route), `${route} is not in ${routes.join(', ')}`)
    }
    const ui = await get(api.app, '/docs')
    assert.is(ui.statusCode, 200)
    assert.is(ui.headers['content-type'], 'text/html; charset=utf-8')
  })

  test('an unknown route is 404 LV_ERR_ROUTE_NOT_FOUND', async ({ api }) => {
    assert.equal(expectProblem(await get(api.app, '/nope?x=1'), 404, 'LV_ERR_ROUTE_NOT_FOUND'), {
      type: 'urn:lateview:problem:LV_ERR_ROUTE_NOT_FOUND',
      title: 'No such route',
      status: 404,
      detail: 'no route GET /nope',
      code: 'LV_ERR_ROUTE_NOT_FOUND',
      instance: '/nope?x=1',
    })
    const deep = expectProblem(await api.app.inject({ method: 'DELETE', url: '/v1/views/x/periods/2026-11-25/nope' }), 404, 'LV_ERR_ROUTE_NOT_FOUND')
    assert.is(deep.detail, 'no route DELETE /v1/views/x/periods/2026-11-25/nope')
  })

  test('a known path asked with another method is 405 LV_ERR_METHOD_NOT_ALLOWED with Allow', async ({ api }) => {
    const events = await api.app.inject({ method: 'DELETE', url: '/v1/events?x=1' })
    assert.is(events.headers.allow, 'POST')
    assert.equal(expectProblem(events, 405, 'LV_ERR_METHOD_NOT_ALLOWED'), {
      type: 'urn:lateview:problem:LV_ERR_METHOD_NOT_ALLOWED',
      title: 'The route does not take this method',
      status: 405,
      detail: '/v1/events takes POST, not DELETE',
      code: 'LV_ERR_METHOD_NOT_ALLOWED',
      instance: '/v1/events?x=1',
      allow: ['POST'],
    })
    // A path with parameters; GET brings HEAD along.
    const report = await api.app.inject({ method: 'POST', url: '/v1/views/daily_revenue/periods/2026-11-25' })
    expectProblem(report, 405, 'LV_ERR_METHOD_NOT_ALLOWED')
    assert.is(report.headers.allow, 'GET, HEAD')
    const hooks = await api.app.inject({ method: 'PUT', url: '/v1/webhooks' })
    expectProblem(hooks, 405, 'LV_ERR_METHOD_NOT_ALLOWED')
    assert.is(hooks.headers.allow, 'GET, HEAD, POST')
  })

  test('a store closed under the app: /readyz is 503 LV_ERR_STORE_UNAVAILABLE, other failures 500 LV_ERR_INTERNAL', async ({ api }) => {
    await api.engine.close()
    const busy = expectProblem(await get(api.app, '/readyz'), 503, 'LV_ERR_STORE_UNAVAILABLE')
    assert.ok(String(busy.detail).startsWith('the store does not answer: '), String(busy.detail))
    assert.equal(expectOk(await get(api.app, '/healthz')), { status: 'ok' })
    // The driver's message stays in the log: the client learns only that it was internal.
    assert.equal(expectProblem(await get(api.app, '/v1/events/store-001/a'), 500, 'LV_ERR_INTERNAL'), {
      type: 'urn:lateview:problem:LV_ERR_INTERNAL',
      title: 'Internal error',
      status: 500,
      detail: 'an internal error occurred; it has been logged',
      code: 'LV_ERR_INTERNAL',
      instance: '/v1/events/store-001/a',
    })
    expectProblem(await post(api.app, A), 500, 'LV_ERR_INTERNAL')
  })

  test.run()
}
