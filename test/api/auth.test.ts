import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Scope } from '../../src/config.js'
import { engines } from '../helpers/engines.js'
import { answer, type ApiContext, expectOk, expectProblem, get, openApi, post, sale } from './harness.js'

const INGEST = 'ingest-token-00000001'
const READ = 'read-token-000000001'
const ADMIN = 'admin-token-00000001'
const TOKENS: ReadonlyMap<string, ReadonlySet<Scope>> = new Map([
  [INGEST, new Set<Scope>(['ingest'])],
  [READ, new Set<Scope>(['read'])],
  [ADMIN, new Set<Scope>(['admin'])],
])

// Within the stores' SLA at NOW: no ingest raises an alert.
const A = sale('a', '001', '2026-11-26T10:03:00+08:00', 129.5)
const HISTORIC = { ...sale('h', '001', '2026-11-20T10:00:00+08:00', 5), receivedAt: '2026-11-21T00:00:00Z' }

/** Every read route, with a token or without. */
const READS = ['/v1/views', '/v1/views/daily_revenue', '/v1/views/daily_revenue/realtime', '/v1/events/store-001/a', '/metrics']

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api auth (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory, { tokens: TOKENS })
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  const seq = async (app: ApiContext['api']['app']) => (expectOk(await get(app, '/v1/views/daily_revenue/realtime', ADMIN)) as { seq: number }).seq

  test('no Authorization header is 401 LV_ERR_AUTH_REQUIRED, before the body is even read', async ({ api }) => {
    assert.equal(expectProblem(await post(api.app, A), 401, 'LV_ERR_AUTH_REQUIRED'), {
      type: 'urn:lateview:problem:LV_ERR_AUTH_REQUIRED',
      title: 'A bearer token is required',
      status: 401,
      detail: 'send Authorization: Bearer <token>',
      code: 'LV_ERR_AUTH_REQUIRED',
      instance: '/v1/events',
    })
    for (const url of READS) expectProblem(await get(api.app, url), 401, 'LV_ERR_AUTH_REQUIRED')
    expectProblem(await post(api.app, '{not json'), 401, 'LV_ERR_AUTH_REQUIRED')
    expectProblem(await post(api.app, 'text', { contentType: 'text/plain' }), 401, 'LV_ERR_AUTH_REQUIRED')
    const basic = expectProblem(await api.app.inject({ method: 'GET', url: '/v1/views', headers: { authorization: `Basic ${ADMIN}` } }), 401, 'LV_ERR_AUTH_REQUIRED')
    assert.is(basic.detail, 'the Authorization header must be "Bearer <token>"')
    // The challenge of RFC 6750: the scheme a client must use.
    const bare = await get(api.app, '/v1/views')
    assert.is(bare.headers['www-authenticate'], 'Bearer realm="lateview"')
    assert.is((await post(api.app, A)).headers['www-authenticate'], 'Bearer realm="lateview"')
    assert.is(await seq(api.app), 0)
  })

  test('an unknown token is 401 LV_ERR_AUTH_INVALID', async ({ api }) => {
    assert.equal(expectProblem(await get(api.app, '/v1/views', 'not-a-known-token-at-all'), 401, 'LV_ERR_AUTH_INVALID'), {
      type: 'urn:lateview:problem:LV_ERR_AUTH_INVALID',
      title: 'The bearer token is not known',
      status: 401,
      detail: 'The bearer token is not known',
      code: 'LV_ERR_AUTH_INVALID',
      instance: '/v1/views',
    })
    assert.is((await get(api.app, '/v1/views', 'not-a-known-token-at-all')).headers['www-authenticate'], 'Bearer realm="lateview", error="invalid_token"')
    // Near misses of a real token are unknown too.
    for (const token of [ADMIN.slice(0, -1), `${ADMIN}x`, ADMIN.toUpperCase()]) {
      expectProblem(await post(api.app, A, { token }), 401, 'LV_ERR_AUTH_INVALID')
    }
    assert.is(await seq(api.app), 0)
  })

  test('a read token cannot ingest: 403 LV_ERR_AUTH_FORBIDDEN naming the scope; nothing written', async ({ api }) => {
    assert.equal(expectProblem(await post(api.app, A, { token: READ }), 403, 'LV_ERR_AUTH_FORBIDDEN'), {
      type: 'urn:lateview:problem:LV_ERR_AUTH_FORBIDDEN',
      title: 'The token lacks the scope this request needs',
      status: 403,
      detail: 'this request needs the ingest scope',
      code: 'LV_ERR_AUTH_FORBIDDEN',
      instance: '/v1/events',
      scope: 'ingest',
    })
    assert.is((await post(api.app, A, { token: READ })).headers['www-authenticate'], 'Bearer realm="lateview", error="insufficient_scope", scope="ingest"')
    assert.is(await seq(api.app), 0)
    expectProblem(await get(api.app, '/v1/events/store-001/a', ADMIN), 404, 'LV_ERR_EVENT_NOT_FOUND')
  })

  test('an ingest token can ingest but not read: 403 on every read route', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, A, { token: INGEST })), answer(1, 0, 1, 1))
    for (const url of READS) {
      const problem = expectProblem(await get(api.app, url, INGEST), 403, 'LV_ERR_AUTH_FORBIDDEN')
      assert.is(problem.scope, 'read', url)
    }
  })

  test('an ingest token cannot import: ?import=true needs admin; nothing written', async ({ api }) => {
    const problem = expectProblem(await post(api.app, [HISTORIC], { url: '/v1/events?import=true', token: INGEST }), 403, 'LV_ERR_AUTH_FORBIDDEN')
    assert.is(problem.detail, 'this request needs the admin scope')
    assert.is(problem.scope, 'admin')
    assert.is(await seq(api.app), 0)
    expectProblem(await post(api.app, [HISTORIC], { url: '/v1/events?import=true', token: READ }), 403, 'LV_ERR_AUTH_FORBIDDEN')
    assert.is(await seq(api.app), 0)
  })

  test('a read token reads every read route', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, A, { token: INGEST })), answer(1, 0, 1, 1))
    for (const url of READS) assert.is((await get(api.app, url, READ)).statusCode, 200, url)
    assert.is((expectOk(await get(api.app, '/v1/events/store-001/a', READ)) as { seq: number }).seq, 1)
  })

  test('an admin token does everything, import included', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, [HISTORIC], { url: '/v1/events?import=true', token: ADMIN })), answer(1, 0, 1, 1, '2026-11-21T00:00:00.000Z'))
    assert.equal(expectOk(await post(api.app, A, { token: ADMIN })), answer(1, 0, 2, 2))
    for (const url of READS) assert.is((await get(api.app, url, ADMIN)).statusCode, 200, url)
    assert.is((expectOk(await get(api.app, '/v1/events/store-001/h', ADMIN)) as { receivedAt: string }).receivedAt, '2026-11-21T00:00:00.000Z')
    // The scheme name is case-insensitive (RFC 9110).
    const lower = await api.app.inject({ method: 'GET', url: '/v1/views', headers: { authorization: `bearer ${ADMIN}` } })
    assert.is(lower.statusCode, 200)
  })

  test('operations and documentation are open without a token; unknown routes are 404, not 401', async ({ api }) => {
    assert.equal(expectOk(await get(api.app, '/healthz')), { status: 'ok' })
    assert.equal(expectOk(await get(api.app, '/readyz')), { status: 'ready', engine: factory.name, views: 2 })
    assert.is((await get(api.app, '/docs/json')).statusCode, 200)
    expectProblem(await get(api.app, '/nope'), 404, 'LV_ERR_ROUTE_NOT_FOUND')
    // /metrics is not among them: it reveals traffic.
    expectProblem(await get(api.app, '/metrics'), 401, 'LV_ERR_AUTH_REQUIRED')
  })

  test.run()
}
