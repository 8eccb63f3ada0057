/**
 * The OpenAPI document (app.swagger(), served at /docs/json) against what lateview answers:
 * - the document itself: an operationId and tags on every operation, real status codes and
 *   schemas (no "Default Response" left), problems as application/problem+json, `security: []`
 *   exactly on the routes open to all;
 * - every route driven with real data (events in every format, jobs, revisions, a webhook and
 *   its deliveries, problems of many codes): each answer validates against the schema documented
 *   for its status and content type (ajv, strict mode), each problem's code is one the document
 *   lists for its status, and each JSON answer is the text toJson writes of what the route
 *   returned (figures past 2^53 units included), whichever serializer wrote it;
 * - fast-json-stringify writes what toJson writes for any value of a fixed-shape schema;
 * - a client: types generated with openapi-typescript, a small openapi-fetch client that
 *   compiles with no diagnostic (and wrong uses that do not), run against the listening app.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import fc from 'fast-check'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import openapiTS, { astToString } from 'openapi-typescript'
import ts from 'typescript'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type JsonSchema, SHARED_SCHEMAS } from '../../src/api/schemas.js'
import { isFixedShape, serializerCompiler } from '../../src/api/serialization.js'
import type { Scope } from '../../src/config.js'
import { parseJsonExact, toJson } from '../../src/domain/decimal.js'
import { WebhookDispatcher } from '../../src/services/webhooks.js'
import { engines } from '../helpers/engines.js'
import { type Api, NOW_ISO, openApi } from './harness.js'

const ROOT = join(import.meta.dirname, '..', '..')

type Schema = Record<string, unknown>
interface Response {
  description: string
  content?: Record<string, { schema: Schema }>
}
interface Operation {
  operationId?: string
  tags?: string[]
  security?: unknown[]
  responses: Record<string, Response>
}
interface Document {
  openapi: string
  security: unknown[]
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Schema> }
}

/** Every operation of the document, as [METHOD path, operation]. */
function operations(doc: Document): Array<[string, Operation]> {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation]))
}

// ---------------------------------------------------------------------------------------------
// Answers, as served and as returned by their route

/** One request and its answer: the route it reached, and the value the route returned (undefined: none, or a text). */
interface Exchange {
  operation: string
  response: LightMyRequestResponse
  returned: unknown
}

/** The value a route returned, before any serializer ran; `NONE` until one does. */
const NONE = Symbol('none')

/** Records what each request's route returned and which route it was. */
function recorder(api: Api) {
  let returned: unknown = NONE
  let route = ''
  api.app.addHook('preSerialization', async (_request, _reply, payload) => {
    returned = payload
    return payload
  })
  api.app.addHook('onResponse', async (request) => {
    route = `${request.method} ${(request.routeOptions.url ?? '(no route)').replace(/:(\w+)/g, '{$1}')}`
  })
  const exchanges: Exchange[] = []
  return {
    exchanges,
    async call(options: InjectOptions): Promise<LightMyRequestResponse> {
      returned = NONE
      const response = await api.app.inject(options)
      exchanges.push({ operation: route, response, returned })
      return response
    },
  }
}

type Call = (options: InjectOptions) => Promise<LightMyRequestResponse>

const json = (response: LightMyRequestResponse) => JSON.parse(response.body) as Record<string, unknown>

function expect(response: LightMyRequestResponse, status: number, code?: string): Record<string, unknown> | string {
  assert.is(response.statusCode, status, response.body)
  if (code !== undefined) assert.is(json(response).code, code, response.body)
  return (response.headers['content-type'] ?? '').toString().includes('json') ? json(response) : response.body
}

const post = (call: Call, url: string, payload: unknown, headers: Record<string, string> = {}) =>
  call({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } })

/** A daily_revenue event (Asia/Taipei) as an admin imports it. */
function retail(id: string, store: string, occurredAt: string, amount: number, receivedAt: string): Record<string, unknown> {
  const web = store === 'web'
  return { id, source: web ? 'online-web' : `store-${store}`, type: 'sale', occurredAt, receivedAt, data: { store, channel: web ? 'web' : 'pos', amount } }
}

/** 90071992547409.9 at 2 decimals is 9007199254740990 units, just under 2^53: two of them sum past it. */
const BIG = 90071992547409.9

/** A receiver that answers 503: a delivery to it stays pending with one attempt logged. */
async function receiver(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    request.resume()
    response.statusCode = 503
    response.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server }
}

const P = '/v1/views/daily_revenue/periods/2026-11-02'
const V = '/v1/views/daily_revenue'

/** Drives every route of the app with real data; returns nothing, the recorder keeps the exchanges. */
async function driveEveryRoute(api: Api, call: Call): Promise<void> {
  const get = (url: string) => call({ method: 'GET', url })
  expect(await get('/healthz'), 200)
  expect(await get('/readyz'), 200)
  expect(await get('/'), 200)
  expect(await get('/v1/views'), 200)

  // History: a flash, then late events (two past 2^53 units together) and a retraction, a
  // consolidation and the close; then a sale after the close.
  expect(
    await post(call, '/v1/events?import=true', [
      retail('p0', '001', '2026-11-01T12:00:00+08:00', 12, '2026-11-01T05:00:00Z'),
      retail('s1', '001', '2026-11-02T10:00:00+08:00', 100, '2026-11-02T02:00:05Z'),
      retail('w1', 'web', '2026-11-02T12:00:00+08:00', 50.5, '2026-11-02T04:00:10Z'),
      retail('b1', '002', '2026-11-02T15:00:00+08:00', BIG, '2026-11-02T07:00:00Z'),
    ]),
    200,
  )
  expect(await post(call, '/v1/jobs/flash', { view: 'daily_revenue', period: '2026-11-02', now: '2026-11-02T22:00:00+08:00' }), 200)
  expect(
    await post(call, '/v1/events?import=true', [
      retail('b2', '002', '2026-11-02T16:00:00+08:00', BIG, '2026-11-02T18:00:00Z'),
      { id: 's1-void', source: 'store-001', type: 'sale', occurredAt: '2026-11-02T10:00:00+08:00', receivedAt: '2026-11-02T18:30:00Z', retracts: 's1' },
    ]),
    200,
  )
  expect(await post(call, '/v1/jobs/consolidate', { view: 'daily_revenue', period: '2026-11-02', now: '2026-11-03T03:00:00+08:00' }), 200)
  expect(await post(call, '/v1/jobs/close', { view: 'daily_revenue', now: '2026-11-06T03:30:00+08:00' }), 200)

  // A webhook before the late sale: its alerts are delivered to a receiver that answers 503.
  const { url, server } = await receiver()
  try {
    const hook = (expect(await post(call, '/v1/webhooks', { url, kinds: ['DelayedEvent', 'LateAfterClose'] }), 201) as { id: string }).id
    expect(await post(call, '/v1/events?import=true', [retail('late1', '003', '2026-11-02T11:00:00+08:00', 7.25, '2026-11-07T18:00:00Z')]), 200)
    const dispatcher = new WebhookDispatcher(api.engine, { backoff: [0, 60_000], timeoutMs: 5_000, clock: api.clock })
    assert.is(await dispatcher.tick(), 2)
    expect(await get('/v1/webhooks'), 200)
    expect(await get(`/v1/webhooks/${hook}`), 200)
    const deliveries = (expect(await get(`/v1/webhooks/${hook}/deliveries?limit=10`), 200) as { deliveries: Array<{ id: string; log: unknown[] }> }).deliveries
    assert.is(deliveries.length, 2)
    assert.is(deliveries[0]?.log.length, 1)
    expect(await post(call, `/v1/webhooks/${hook}/deliveries/${deliveries[0]?.id}/retry`, {}), 202)
    expect(await post(call, `/v1/webhooks/${hook}/deliveries/msg_nope/retry`, {}), 404, 'LV_ERR_DELIVERY_NOT_FOUND')
    expect(await post(call, `/v1/webhooks/${hook}/rotate-secret`, { overlap: 'PT1H' }), 200)
    expect(await post(call, `/v1/webhooks/${hook}/rotate-secret`, { overlap: 'P30D' }), 400, 'LV_ERR_BODY_INVALID')
    expect(await call({ method: 'DELETE', url: `/v1/webhooks/${hook}` }), 204)
    expect(await get(`/v1/webhooks/${hook}`), 404, 'LV_ERR_WEBHOOK_NOT_FOUND')
    expect(await post(call, '/v1/webhooks', { url: 'ftp://example.com/hook' }), 400, 'LV_ERR_WEBHOOK_URL_INVALID')
  } finally {
    server.close()
  }

  // Live events at NOW in every format: NDJSON, CloudEvents structured, batch and binary.
  const live = (id: string, store: string, amount: number) => ({ id, source: `store-${store}`, type: 'sale', occurredAt: '2026-11-26T19:00:00+08:00', data: { store, channel: 'pos', amount } })
  expect(await post(call, '/v1/events', `${JSON.stringify(live('n1', '005', 1.5))}\n${JSON.stringify(live('n2', '006', 2))}\n`, { 'content-type': 'application/x-ndjson' }), 200)
  const ce = (id: string, store: string, amount: number, extra: Record<string, unknown> = {}) => ({
    specversion: '1.0',
    id,
    source: `store-${store}`,
    type: 'sale',
    time: '2026-11-26T19:00:00+08:00',
    data: { store, channel: 'pos', amount },
    ...extra,
  })
  expect(await post(call, '/v1/events', ce('c1', '005', 3, { subject: 'till-4', traceid: 'abc', priority: 3, urgent: true }), { 'content-type': 'application/cloudevents+json' }), 200)
  expect(await post(call, '/v1/events', [ce('c2', '005', 4), ce('c3', '006', 5)], { 'content-type': 'application/cloudevents-batch+json' }), 200)
  expect(
    await post(
      call,
      '/v1/events',
      { store: '007', channel: 'pos', amount: 6 },
      { 'ce-specversion': '1.0', 'ce-id': 'c4', 'ce-source': 'store-007', 'ce-type': 'sale', 'ce-time': '2026-11-26T19:00:00+08:00', 'ce-region': 'north' },
    ),
    200,
  )
  const again = expect(await post(call, '/v1/events', [live('n1', '005', 1.5)]), 200) as Record<string, unknown>
  assert.equal([again.accepted, again.duplicates], [0, 1])
  // Refused ingests.
  const invalid = expect(await post(call, '/v1/events', [{ id: 'x' }, 'y']), 400, 'LV_ERR_EVENTS_INVALID') as { errors: unknown[] }
  assert.is(invalid.errors.length, 4)
  expect(await post(call, '/v1/events', '{"id":'), 400, 'LV_ERR_BODY_INVALID')
  expect(await post(call, '/v1/events?import=maybe', []), 400, 'LV_ERR_QUERY_INVALID')
  expect(await post(call, '/v1/events', [live('n1', '005', 99)]), 409, 'LV_ERR_EVENT_CONFLICT')
  expect(await post(call, '/v1/events', 'hello', { 'content-type': 'text/plain' }), 415, 'LV_ERR_BODY_UNSUPPORTED_TYPE')

  // Events.
  expect(await get('/v1/events/store-001/s1'), 200)
  expect(await get('/v1/events/store-001/s1-void'), 200)
  expect(await get('/v1/events/store-005/c1'), 200)
  expect(await get('/v1/events/store-001/nope'), 404, 'LV_ERR_EVENT_NOT_FOUND')

  // Views and live figures.
  expect(await get(V), 200)
  expect(await get(`${V}/versions`), 200)
  expect(await get('/v1/views/nope'), 404, 'LV_ERR_VIEW_NOT_FOUND')
  expect(await get(`${V}/realtime?from=2026-11-02&to=2026-11-02&store=002&minSeq=3`), 200)
  expect(await get(`${V}/realtime?from=2026-11-26`), 200)
  expect(await get(`${V}/realtime?from=yesterday`), 400, 'LV_ERR_PERIOD_MALFORMED')
  expect(await get(`${V}/realtime?minSeq=999`), 409, 'LV_ERR_SEQ_NOT_YET')

  // Reports.
  expect(await get(P), 200)
  expect(await get(`${P}?revision=1`), 200)
  expect(await get(`${P}?asOf=2026-11-02T23:00:00%2B08:00`), 200)
  expect(await get(`${P}?format=csv`), 200)
  expect(await get(`${P}?revision=9`), 404, 'LV_ERR_REVISION_NOT_FOUND')
  expect(await get(`${P}?revision=x`), 400, 'LV_ERR_QUERY_INVALID')
  expect(await get(`${V}/periods/2026-11-20`), 404, 'LV_ERR_PERIOD_NOT_FOUND')
  expect(await get(`${P}/revisions`), 200)
  expect(await get(`${P}/diff?from=1&to=2`), 200)
  expect(await get(`${P}/diff?from=1&to=asOf:2026-11-08T00:00:00Z&format=csv`), 200)
  expect(await get(`${P}/diff?from=1&to=9`), 404, 'LV_ERR_REVISION_NOT_FOUND')
  expect(await get(`${P}/exceptions`), 200)
  expect(await post(call, `${P}/restate`, {}), 200)
  expect(await post(call, `${V}/periods/2026-11-20/restate`, {}), 409, 'LV_ERR_PERIOD_EMPTY')
  expect(await post(call, `${P}/restate`, { reason: 'x' }), 400, 'LV_ERR_BODY_INVALID')

  // Revision analysis, one with a dimension filter.
  expect(await get(`${V}/accuracy?from=2026-11-01&to=2026-11-03`), 200)
  expect(await get(`${V}/vintages?from=2026-11-01&to=2026-11-03&store=002`), 200)
  expect(await get(`${V}/vintages?from=2026-11-01&to=2026-11-03&format=csv`), 200)
  expect(await get(`${V}/completeness?from=2026-11-01&to=2026-11-03`), 200)
  expect(await get(`${V}/close-advice?from=2026-11-01&to=2026-11-03`), 200)
  expect(await get(`${V}/accuracy?region=north`), 400, 'LV_ERR_QUERY_INVALID')

  // Alerts, sources, jobs, metrics.
  expect(await get('/v1/alerts?limit=50'), 200)
  expect(await get('/v1/alerts?since=yesterday'), 400, 'LV_ERR_QUERY_INVALID')
  expect(await get('/v1/sources?window=P30D'), 200)
  expect(await get('/v1/sources?window=week'), 400, 'LV_ERR_QUERY_INVALID')
  expect(await get('/v1/jobs/runs?view=daily_revenue&limit=3'), 200)
  expect(await post(call, '/v1/jobs/nope', {}), 404, 'LV_ERR_JOB_NOT_FOUND')
  expect(await post(call, '/v1/jobs/flash', { period: '2026-11-02' }), 400, 'LV_ERR_BODY_INVALID')
  expect(await get('/metrics'), 200)
  // Not an operation: answered with the Problem schema all the same.
  expect(await call({ method: 'PUT', url: '/v1/alerts' }), 405, 'LV_ERR_METHOD_NOT_ALLOWED')
}

// ---------------------------------------------------------------------------------------------
// Validation against the document

/** An ajv in strict mode holding the document's shared schemas, by name. */
function validatorOf(doc: Document): (schema: Schema) => ValidateFunction {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true })
  addFormats.default(ajv)
  // #/components/schemas/X is the schema X.
  const local = (schema: unknown): unknown => {
    if (Array.isArray(schema)) return schema.map(local)
    if (typeof schema !== 'object' || schema === null) return schema
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', 'lateview:') : local(v)]))
  }
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema({ ...(local(schema) as Schema), $id: `lateview:${name}` })
  const compiled = new Map<Schema, ValidateFunction>()
  return (schema) => {
    let validate = compiled.get(schema)
    if (!validate) compiled.set(schema, (validate = ajv.compile(local(schema) as Schema)))
    return validate
  }
}

/** The codes a documented problem answer lists ("…: LV_ERR_A, LV_ERR_B"). */
const listedCodes = (response: Response) => (/: (LV_ERR_[A-Z_]+(?:, LV_ERR_[A-Z_]+)*)$/.exec(response.description)?.[1] ?? '').split(', ')

function checkExchange(doc: Document, validator: (schema: Schema) => ValidateFunction, { operation: key, response, returned }: Exchange): void {
  const [method, path] = key.split(' ') as [string, string]
  const where = `${key} → ${response.statusCode}`
  const status = String(response.statusCode)
  const type = String(response.headers['content-type'] ?? '').split(';')[0] as string
  const operation = doc.paths[path]?.[method.toLowerCase()]
  let documented: Response | undefined
  if (operation) documented = operation.responses[status] ?? operation.responses.default
  else documented = { description: 'not an operation', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }
  assert.ok(documented, `${where}: no such response documented`)
  if (response.statusCode === 204) {
    assert.is(documented.content, undefined, where)
    assert.is(response.body, '', where)
    return
  }
  const schema = documented.content?.[type]?.schema
  assert.ok(schema, `${where}: ${type} is not documented (${Object.keys(documented.content ?? {}).join(', ')})`)
  const isJson = type.endsWith('json')
  const value = isJson ? JSON.parse(response.body) : response.body
  const validate = validator(schema)
  assert.ok(validate(value), `${where}: ${JSON.stringify(validate.errors)}\n${response.body.slice(0, 500)}`)
  if (type === 'application/problem+json' && operation && operation.responses[status]) {
    const { code } = value as { code: string }
    assert.ok(listedCodes(documented).includes(code), `${where}: ${code} is not among the codes documented for ${status} (${documented.description})`)
  }
  if (!isJson) return
  // The text is toJson's: what the route returned, written by toJson, or (a text the route made
  // itself, e.g. a revision's cached JSON) already in toJson's form.
  if (returned !== NONE) assert.is(response.body, toJson(returned), where)
  assert.is(toJson(parseJsonExact(response.body).value), response.body, where)
}

// ---------------------------------------------------------------------------------------------
// A typed client

const CLIENT = `import createClient from 'openapi-fetch'
import type { components, paths } from './schema.js'

type Problem = components['schemas']['Problem']

/** What the client saw, for the test to compare. */
export async function run(baseUrl: string) {
  // Answers typed from their JSON forms (a report is also served as text/csv); filters are form fields.
  const client = createClient<paths, 'application/json' | 'application/problem+json'>({ baseUrl, querySerializer: { object: { style: 'form', explode: true } } })
  const ingested = await client.POST('/v1/events', {
    body: [{ id: 'k1', source: 'store-005', type: 'sale', occurredAt: '2026-11-26T19:00:00+08:00', data: { store: '005', channel: 'pos', amount: 10.25 } }],
  })
  const lastSeq: number | null | undefined = ingested.data?.lastSeq
  const ndjson = await client.POST('/v1/events', {
    body: '{"id":"k2","source":"store-005","type":"sale","occurredAt":"2026-11-26T19:30:00+08:00","data":{"store":"005","channel":"pos","amount":2}}\\n',
    bodySerializer: (body) => body as string,
    headers: { 'content-type': 'application/x-ndjson' },
  })
  const cloudEvent = await client.POST('/v1/events', {
    body: { specversion: '1.0', id: 'k3', source: 'store-006', type: 'sale', time: '2026-11-26T19:45:00+08:00', subject: 'till-2', data: { store: '006', channel: 'pos', amount: 4 } },
    bodySerializer: (body) => JSON.stringify(body),
    headers: { 'content-type': 'application/cloudevents+json' },
  })
  const event = await client.GET('/v1/events/{source}/{id}', { params: { path: { source: 'store-006', id: 'k3' } } })
  const attributes: Record<string, string | number | boolean> | undefined = event.data?.attributes
  const realtime = await client.GET('/v1/views/{view}/realtime', {
    params: { path: { view: 'daily_revenue' }, query: { from: '2026-11-26', to: '2026-11-26', minSeq: String(lastSeq), filters: { store: '005' } } },
  })
  const job = await client.POST('/v1/jobs/{job}', { params: { path: { job: 'flash' } }, body: { view: 'daily_revenue', period: '2026-11-26', now: '2026-11-26T22:00:00+08:00' } })
  const report = await client.GET('/v1/views/{view}/periods/{period}', { params: { path: { view: 'daily_revenue', period: '2026-11-26' } } })
  const revenue: number | null | undefined = report.data?.totals.measures.revenue
  const hook = await client.POST('/v1/webhooks', { body: { url: 'https://example.com/lateview', kinds: ['DelayedEvent'] } })
  const secret: string | undefined = hook.data?.secret
  const hooks = await client.GET('/v1/webhooks')
  const removed = await client.DELETE('/v1/webhooks/{id}', { params: { path: { id: hook.data?.id ?? '' } } })
  const missing = await client.GET('/v1/views/{view}', { params: { path: { view: 'nope' } } })
  const problem: Problem | undefined = missing.error
  const conflict = await client.POST('/v1/events', {
    body: { id: 'k1', source: 'store-005', type: 'sale', occurredAt: '2026-11-26T19:00:00+08:00', data: { store: '005', channel: 'pos', amount: 99 } },
  })
  return {
    ingested: { status: ingested.response.status, data: ingested.data },
    ndjson: ndjson.data?.accepted,
    cloudEvent: cloudEvent.data?.firstSeq,
    attributes,
    realtime: realtime.data?.cells.map((c) => [c.period, c.dims.store, c.measures.revenue, c.eventCount]),
    realtimeSeq: realtime.response.headers.get('lateview-seq'),
    job: job.data?.runs.map((r) => [r.job, r.period, r.outcome, r.revision]),
    report: { revision: report.data?.revision, kind: report.data?.kind, revenue, rows: report.data?.rows.length },
    hook: { status: hook.response.status, kinds: hook.data?.kinds, secret: typeof secret === 'string' && secret.startsWith('whsec_') },
    hooks: hooks.data?.webhooks.map((w) => [w.url, w.status]),
    removed: removed.response.status,
    problem: { status: missing.response.status, code: problem?.code, view: problem?.view, type: missing.response.headers.get('content-type') },
    conflict: { status: conflict.response.status, code: conflict.error?.code, id: conflict.error?.id },
  }
}
`

/** Uses the client gets wrong; each must be a compile error. */
const WRONG_USES: Record<string, string> = {
  'a misspelt event field': `await client.POST('/v1/events', { body: { id: 'x', source: 'store-001', type: 'sale', occuredAt: '2026-11-26T19:00:00+08:00' } })`,
  'a path with no operation': `await client.GET('/v1/view/{view}', { params: { path: { view: 'daily_revenue' } } })`,
  'a figure read as a string': `const r = await client.GET('/v1/views/{view}/realtime', { params: { path: { view: 'daily_revenue' } } }); const s: string | undefined = r.data?.totals.measures.revenue; void s`,
  'a job that does not exist': `await client.POST('/v1/jobs/{job}', { params: { path: { job: 'publish' } } })`,
  'a problem code that does not exist': `const r = await client.GET('/v1/views/{view}', { params: { path: { view: 'x' } } }); if (r.error?.code === 'LV_ERR_NO_SUCH_CODE') throw new Error()`,
}

const wrong = (use: string) => `import createClient from 'openapi-fetch'
import type { paths } from './schema.js'

export async function wrong() {
  const client = createClient<paths, 'application/json' | 'application/problem+json'>({ baseUrl: 'http://127.0.0.1' })
  ${use}
}
`

/** The generated types and the client, type-checked: the diagnostics of each file. */
interface Compiled {
  dir: string
  diagnostics: Map<string, string[]>
}

let compiled: Promise<Compiled> | undefined
/** The temporary directory of the client, removed when the process exits. */
let clientDir: string | undefined

function compileClient(doc: Document): Promise<Compiled> {
  compiled ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lateview-openapi-'))
    clientDir = dir
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
    writeFileSync(join(dir, 'schema.ts'), astToString(await openapiTS(doc as never)))
    writeFileSync(join(dir, 'client.ts'), CLIENT)
    const files = [join(dir, 'client.ts')]
    for (const [i, use] of Object.values(WRONG_USES).entries()) {
      files.push(join(dir, `wrong-${i}.ts`))
      writeFileSync(join(dir, `wrong-${i}.ts`), wrong(use))
    }
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: [],
      skipLibCheck: true,
    })
    const diagnostics = new Map<string, string[]>(files.map((f) => [f, []]))
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const file = d.file?.fileName ?? '(global)'
      const list = diagnostics.get(file) ?? []
      list.push(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
      diagnostics.set(file, list)
    }
    return { dir, diagnostics }
  })()
  return compiled
}

// ---------------------------------------------------------------------------------------------

/** The shared schemas fast-json-stringify writes: the fixed shapes, nothing with a figure or free-form data. */
const FIXED = ['EventProblem', 'BrokerStatus', 'DiffSide', 'Webhook', 'CreatedWebhook', 'Webhooks', 'RotatedSecret', 'QueuedDelivery', 'Health', 'Readiness']

/** Values a schema accepts, for the fixed shapes (closed objects, arrays, strings, integers, booleans, null). */
function arbitraryOf(schema: JsonSchema): fc.Arbitrary<unknown> {
  if (typeof schema.$ref === 'string') return arbitraryOf(SHARED_SCHEMAS[schema.$ref.replace(/#$/, '')] as JsonSchema)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum)
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[]
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case 'string':
          return fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.constantFrom('', '"', '\\', '\u0000', '\u2028', '\ud800', '2026-11-26T12:00:00.000Z'))
        case 'integer':
          return fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -0))
        case 'boolean':
          return fc.boolean()
        case 'null':
          return fc.constant(null)
        case 'array':
          return fc.array(arbitraryOf(schema.items as JsonSchema), { maxLength: 4 })
        default: {
          const properties = (schema.properties ?? {}) as Record<string, JsonSchema>
          const required = (schema.required ?? []) as string[]
          // fast-json-stringify writes the required members first, then the others, each in the
          // schema's order; an answer is built in that order (the route test holds it to it).
          const order = [...Object.keys(properties).filter((k) => required.includes(k)), ...Object.keys(properties).filter((k) => !required.includes(k))]
          return fc
            .record(Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, arbitraryOf(v)])), { requiredKeys: required })
            .map((value) => Object.fromEntries(order.filter((k) => k in value).map((k) => [k, (value as Record<string, unknown>)[k]])))
        }
      }
    }),
  )
}

const factories = await engines()
let firstDocument: string | undefined

for (const factory of factories) {
  const test = suite<{ api: Api; record: ReturnType<typeof recorder> }>(`api OpenAPI (${factory.name})`, {} as { api: Api; record: ReturnType<typeof recorder> })
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory, { simulatedClock: true })
    ctx.record = recorder(ctx.api)
    await ctx.api.app.ready()
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(async () => {
    await factory.cleanup()
  })

  test('every operation has an operationId, tags and its real answers; open routes need no token, the others a bearer token', ({ api }) => {
    const doc = api.app.swagger() as unknown as Document
    assert.is(doc.openapi, '3.1.0')
    assert.equal(doc.security, [{ bearer: [] }])
    const ids = new Set<string>()
    const open: string[] = []
    for (const [key, op] of operations(doc)) {
      assert.match(op.operationId ?? '', /^[a-z][a-zA-Z]+$/, key)
      assert.not.ok(ids.has(op.operationId as string), `${key}: operationId ${op.operationId} twice`)
      ids.add(op.operationId as string)
      assert.ok((op.tags ?? []).length > 0, key)
      for (const [status, response] of Object.entries(op.responses)) {
        assert.is.not(response.description, 'Default Response', `${key} ${status}`)
        if (status.startsWith('2')) continue
        assert.equal(response.content, { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }, `${key} ${status}`)
      }
      assert.ok(
        Object.keys(op.responses).some((s) => s.startsWith('2')),
        `${key}: no success answer`,
      )
      if (op.security !== undefined) {
        assert.equal(op.security, [], key)
        open.push(key)
      } else {
        assert.ok(op.responses['401'] && op.responses['403'], `${key}: 401 and 403 documented`)
      }
    }
    assert.is(ids.size, 30)
    assert.equal(open.sort(), ['GET /', 'GET /healthz', 'GET /readyz'])
    // The same document on every engine.
    firstDocument ??= JSON.stringify(doc)
    assert.is(JSON.stringify(doc), firstDocument)
  })

  test('every answer of every route validates against its documented schema and is the text toJson writes', async ({ api, record }) => {
    const doc = api.app.swagger() as unknown as Document
    await driveEveryRoute(api, record.call)
    const validator = validatorOf(doc)
    for (const exchange of record.exchanges) checkExchange(doc, validator, exchange)
    // Every operation answered at least once with success, and every documented success status was seen.
    const seen = new Set(record.exchanges.map((e) => `${e.operation} ${e.response.statusCode}`))
    for (const [key, op] of operations(doc)) {
      for (const status of Object.keys(op.responses).filter((s) => s.startsWith('2'))) assert.ok(seen.has(`${key} ${status}`), `${key} ${status} not driven`)
    }
    const problems = record.exchanges.filter((e) => e.response.statusCode >= 400)
    assert.is(problems.length, 25)
    // Figures past 2^53 units keep every digit: 2 × 90071992547409.9, and the totals with it.
    const realtime = record.exchanges.find((e) => e.response.statusCode === 200 && e.operation === 'GET /v1/views/{view}/realtime')?.response.body ?? ''
    assert.ok(realtime.includes('"measures":{"revenue":180143985094819.8,"orders":2,"largest":90071992547409.9}'), realtime)
    const report = record.exchanges.find((e) => e.operation === 'GET /v1/views/{view}/periods/{period}' && e.response.statusCode === 200)?.response.body ?? ''
    assert.ok(report.includes('"totals":{"measures":{"revenue":180143985094870.3,"orders":3,"largest":90071992547409.9},"eventCount":3}'), report)
  })

  test('fast-json-stringify writes only the fixed shapes, each exactly as toJson does', () => {
    const compile = serializerCompiler(SHARED_SCHEMAS)
    const fixed = Object.keys(SHARED_SCHEMAS).filter((id) => isFixedShape(SHARED_SCHEMAS[id], SHARED_SCHEMAS))
    assert.equal(fixed, FIXED)
    for (const id of Object.keys(SHARED_SCHEMAS)) {
      const serialize = compile({ schema: { $ref: `${id}#` }, method: 'GET', url: '/', httpStatus: '200' })
      assert.is(serialize === toJson, !FIXED.includes(id), id)
    }
    for (const id of FIXED) {
      const serialize = compile({ schema: { $ref: `${id}#` }, method: 'GET', url: '/', httpStatus: '200' })
      fc.assert(
        fc.property(arbitraryOf({ $ref: `${id}#` }), (value) => serialize(value) === toJson(value)),
        { numRuns: 300 },
      )
    }
  })

  test('a client typed by openapi-typescript and openapi-fetch compiles, its wrong uses do not, and it runs against the server', async ({ api }) => {
    const doc = api.app.swagger() as unknown as Document
    const { dir, diagnostics } = await compileClient(doc)
    assert.equal(diagnostics.get(join(dir, 'client.ts')), [])
    assert.equal(diagnostics.get('(global)') ?? [], [])
    assert.equal(diagnostics.get(join(dir, 'schema.ts')) ?? [], [])
    for (const [i, name] of Object.keys(WRONG_USES).entries()) assert.ok((diagnostics.get(join(dir, `wrong-${i}.ts`)) ?? []).length > 0, `${name}: no diagnostic`)
    assert.match((diagnostics.get(join(dir, 'wrong-0.ts')) ?? []).join('\n'), 'occuredAt')

    await api.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = api.app.server.address() as AddressInfo
    const client = (await import(pathToFileURL(join(dir, 'client.ts')).href)) as { run(baseUrl: string): Promise<unknown> }
    assert.equal(await client.run(`http://127.0.0.1:${port}`), {
      ingested: { status: 200, data: { accepted: 1, duplicates: 0, firstSeq: 1, lastSeq: 1, receivedAt: NOW_ISO, alerts: [] } },
      ndjson: 1,
      cloudEvent: 3,
      attributes: { subject: 'till-2' },
      realtime: [['2026-11-26', '005', 12.25, 2]],
      realtimeSeq: '3',
      job: [['flash', '2026-11-26', 'published', 1]],
      report: { revision: 1, kind: 'flash', revenue: 16.25, rows: 2 },
      hook: { status: 201, kinds: ['DelayedEvent'], secret: true },
      hooks: [['https://example.com/lateview', 'active']],
      removed: 204,
      problem: { status: 404, code: 'LV_ERR_VIEW_NOT_FOUND', view: 'nope', type: 'application/problem+json; charset=utf-8' },
      conflict: { status: 409, code: 'LV_ERR_EVENT_CONFLICT', id: 'k1' },
    })
  })

  test.run()
}

for (const factory of factories) {
  const test = suite(`api OpenAPI: problems of authentication (${factory.name})`)
  test('401 and 403 answers are the documented problems', async () => {
    const tokens = new Map<string, ReadonlySet<Scope>>([['reader', new Set<Scope>(['read'])]])
    const api = await openApi(factory, { tokens })
    try {
      const record = recorder(api)
      await api.app.ready()
      expect(await record.call({ method: 'GET', url: '/v1/views' }), 401, 'LV_ERR_AUTH_REQUIRED')
      expect(await record.call({ method: 'GET', url: '/v1/views', headers: { authorization: 'Bearer nope' } }), 401, 'LV_ERR_AUTH_INVALID')
      expect(await record.call({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://example.com/x' }, headers: { authorization: 'Bearer reader' } }), 403, 'LV_ERR_AUTH_FORBIDDEN')
      expect(await record.call({ method: 'GET', url: '/healthz' }), 200)
      const doc = api.app.swagger() as unknown as Document
      const validator = validatorOf(doc)
      for (const exchange of record.exchanges) checkExchange(doc, validator, exchange)
    } finally {
      await api.close()
      await factory.cleanup()
    }
  })
  test.run()
}

process.on('exit', () => {
  if (clientDir !== undefined) rmSync(clientDir, { recursive: true, force: true })
})
