/**
 * The hostile requests that used to get a 500, a framework answer or obedience, one by one, on
 * both engines: each is now a 4xx problem document with its code, and writes nothing.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { type ApiContext, expectOk, expectProblem, get, NOW, openApi, post, sale } from './harness.js'

const EVENT = sale('a', '001', '2026-11-26T10:00:00+08:00', 10)

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api hostile input (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory, { simulatedClock: true })
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  const stored = async (ctx: ApiContext) => (await ctx.api.engine.db.kysely.selectFrom('events').select('id').execute()).length

  test('a limit that is not 1 to 1000 in plain digits is 400 LV_ERR_QUERY_INVALID on every list', async ({ api }) => {
    const created = await post(api.app, { url: 'http://127.0.0.1:9/hook' }, { url: '/v1/webhooks' })
    assert.is(created.statusCode, 201, created.body)
    const hook = created.json() as { id: string }
    for (const path of ['/v1/alerts', '/v1/jobs/runs', `/v1/webhooks/${hook.id}/deliveries`]) {
      for (const limit of ['Infinity', '1e400', '0x10', '1e3', '0', '1001', '-1', ' 5', '1.0', ''])
        expectProblem(await get(api.app, `${path}?limit=${encodeURIComponent(limit)}`), 400, 'LV_ERR_QUERY_INVALID')
      expectOk(await get(api.app, `${path}?limit=1000`))
    }
  })

  test('events nested thousands deep, with a NUL or a control character in a name, or a lone surrogate anywhere: 400 with a reason', async (ctx) => {
    const { api } = ctx
    const deep = (n: number) => `{"id":"d","source":"store-001","type":"sale","occurredAt":"2026-11-26T10:00:00+08:00","data":{"x":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}}`
    for (const n of [33, 5_000, 10_000]) {
      assert.equal((expectProblem(await post(api.app, deep(n)), 400, 'LV_ERR_EVENTS_INVALID').errors as unknown[])[0], {
        index: 0,
        id: 'd',
        code: 'LV_EVENT_TOO_DEEP',
        field: 'data',
        message: 'data nests deeper than 32 levels',
      })
    }
    const reason = async (event: Record<string, unknown>) =>
      (expectProblem(await post(api.app, event), 400, 'LV_ERR_EVENTS_INVALID').errors as Array<{ code: string; field: string }>)[0] ?? { code: '', field: '' }
    assert.equal(await reason({ ...EVENT, id: 'nul\u0000id' }), {
      index: 0,
      id: 'nul\u0000id',
      code: 'LV_EVENT_TEXT_INVALID',
      field: 'id',
      message: 'id must be printable text: no control character, no lone surrogate',
    })
    assert.equal((await reason({ ...EVENT, source: 'line\nbreak' })).field, 'source')
    assert.equal((await reason({ ...EVENT, id: 'lone\ud800' })).code, 'LV_EVENT_TEXT_INVALID')
    assert.equal((await reason({ ...EVENT, data: { store: '001', note: 'lone\udc00' } })).code, 'LV_EVENT_TEXT_INVALID')
    assert.equal((await reason({ ...EVENT, data: { store: 'nul\u0000' } })).code, 'LV_EVENT_TEXT_INVALID')
    // The same lone-surrogate id again: the same refusal, never a 500.
    assert.equal((await reason({ ...EVENT, id: 'lone\ud800' })).code, 'LV_EVENT_TEXT_INVALID')
    assert.is(await stored(ctx), 0)
  })

  test('an event of 60 MiB is refused as too large (LV_EVENT_TOO_LARGE), and writes nothing', async (ctx) => {
    const body = `{"id":"big","source":"store-001","type":"sale","occurredAt":"2026-11-26T10:00:00+08:00","data":{"note":"${'x'.repeat(60 * 1024 * 1024)}"}}`
    const problem = expectProblem(await post(ctx.api.app, body), 400, 'LV_ERR_EVENTS_INVALID')
    assert.equal(problem.errors, [{ index: 0, id: 'big', code: 'LV_EVENT_TOO_LARGE', field: 'data', message: 'data takes more than 262144 bytes as JSON' }])
    assert.is(await stored(ctx), 0)
  })

  test('framework refusals of a body are problem documents with LV_ERR_ codes, and write nothing', async (ctx) => {
    const { api } = ctx
    const send = (payload: string, headers: Record<string, string>) => api.app.inject({ method: 'POST', url: '/v1/events', headers, payload })
    const body = JSON.stringify([EVENT])
    // A content-length the body does not match, either way.
    for (const length of ['5', '500']) expectProblem(await send(body, { 'content-type': 'application/json', 'content-length': length }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await send(body, { 'content-type': 'application/xml' }), 415, 'LV_ERR_BODY_UNSUPPORTED_TYPE')
    expectProblem(await send('[{"id": ', { 'content-type': 'application/json' }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await send('', { 'content-type': 'application/json' }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await send(`[${' '.repeat(64 * 1024 * 1024)}]`, { 'content-type': 'application/json' }), 413, 'LV_ERR_BODY_TOO_LARGE')
    assert.is(await stored(ctx), 0)
  })

  test('a malformed percent-encoding or a NUL in the path is 400 LV_ERR_URL_INVALID, a problem document', async ({ api }) => {
    assert.equal(expectProblem(await get(api.app, '/v1/views/%ZZ/realtime'), 400, 'LV_ERR_URL_INVALID').detail, '"/v1/views/%ZZ/realtime" is not a valid URL: a percent-encoding is malformed')
    expectProblem(await get(api.app, '/v1/events/%00/x'), 400, 'LV_ERR_URL_INVALID')
    expectProblem(await get(api.app, '/v1/webhooks/%00'), 400, 'LV_ERR_URL_INVALID')
    expectProblem(await get(api.app, '/v1/alerts?view=%00'), 400, 'LV_ERR_QUERY_INVALID')
  })

  test('periods outside 1900 to 2999 are malformed everywhere; restate takes no body; jobs and restate refuse a period without data', async (ctx) => {
    const { api } = ctx
    const P = '/v1/views/daily_revenue/periods'
    for (const period of ['0000-01-01', '1899-12-31', '3000-01-01', '9999-12-31']) {
      expectProblem(await get(api.app, `${P}/${period}`), 400, 'LV_ERR_PERIOD_MALFORMED')
      expectProblem(await get(api.app, `${P}/${period}?asOf=2026-11-26T00:00:00Z`), 400, 'LV_ERR_PERIOD_MALFORMED')
      expectProblem(await post(api.app, {}, { url: `${P}/${period}/restate` }), 400, 'LV_ERR_PERIOD_MALFORMED')
      expectProblem(await post(api.app, { view: 'daily_revenue', period, now: '2026-11-26T12:00:00Z' }, { url: '/v1/jobs/close' }), 400, 'LV_ERR_PERIOD_MALFORMED')
    }
    expectProblem(await post(api.app, { ...EVENT, occurredAt: '0001-01-01T00:00:00Z' }), 400, 'LV_ERR_EVENTS_INVALID')
    expectProblem(await get(api.app, `${P}/2026-11-26?asOf=0001-01-01T00:00:00Z`), 400, 'LV_ERR_QUERY_INVALID')
    // A period without events or revision: nothing to report.
    assert.equal(
      expectProblem(await post(api.app, {}, { url: `${P}/2026-11-20/restate` }), 409, 'LV_ERR_PERIOD_EMPTY').detail,
      'period 2026-11-20 of view daily_revenue has neither events nor a revision',
    )
    expectProblem(await post(api.app, { view: 'daily_revenue', period: '2026-11-20', now: '2026-11-26T12:00:00Z' }, { url: '/v1/jobs/close' }), 409, 'LV_ERR_PERIOD_EMPTY')
    // sla-watch is the job about periods without data: it runs.
    expectOk(await post(api.app, { view: 'daily_revenue', period: '2026-11-20', now: '2026-11-26T12:00:00Z' }, { url: '/v1/jobs/sla-watch' }))
    // Restate takes no body: an unparseable one, NDJSON, or any field is refused and publishes nothing.
    expectOk(await post(api.app, EVENT))
    for (const [payload, contentType] of [
      ['{not json', 'application/json'],
      ['{"x":1}\n', 'application/x-ndjson'],
      ['{"now":"2026-11-26T12:00:00Z"}', 'application/json'],
    ] as const) {
      expectProblem(await post(api.app, payload, { url: `${P}/2026-11-26/restate`, contentType }), 400, 'LV_ERR_BODY_INVALID')
    }
    const revisions = await api.engine.db.kysely.selectFrom('revisions').select('revision').execute()
    assert.equal(revisions, [])
    assert.is((expectOk(await post(api.app, {}, { url: `${P}/2026-11-26/restate` })) as { outcome: string }).outcome, 'published')
    assert.ok(NOW > 0)
  })

  test.run()
}
