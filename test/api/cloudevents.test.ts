/**
 * The CloudEvents HTTP protocol binding, driven with the official SDK (`cloudevents`) against a
 * listening server: binary mode (the SDK's default), structured mode and batch mode, each event
 * read back exactly; extensions kept as attributes; data_base64; what is refused, and that a
 * refused request writes nothing.
 */
import type { AddressInfo } from 'node:net'
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { answer, type Api, expectOk, expectProblem, get, NOW, NOW_ISO, openApi } from './harness.js'

interface Context {
  api: Api
  /** POST /v1/events of the listening server. */
  url: string
}

/** A sale of store 001 as the SDK takes it; 10:03 in Taipei is 02:03Z, within the store's SLA at NOW. */
const saleOf = (id: string, amount: number, extra: Record<string, unknown> = {}) => ({
  id,
  source: 'store-001',
  type: 'sale',
  time: '2026-11-26T10:03:00+08:00',
  data: { store: '001', channel: 'pos', amount },
  ...extra,
})

/** GET /v1/events/store-001/<id> of an event stored with `seq` at NOW. */
const stored = (seq: number, id: string, amount: number, attributes?: Record<string, unknown>) => ({
  seq,
  id,
  source: 'store-001',
  type: 'sale',
  occurredAt: '2026-11-26T02:03:00.000Z',
  receivedAt: NOW_ISO,
  lagMs: NOW - Date.parse('2026-11-26T02:03:00Z'),
  data: { store: '001', channel: 'pos', amount },
  ...(attributes ? { attributes } : {}),
})

const EMPTY_REVENUE = { view: 'daily_revenue', seq: 0, cells: [], totals: { measures: { revenue: 0, orders: 0, largest: null }, eventCount: 0 } }

/** The SDK's answer (it resolves whatever the status): the body as JSON. */
const body = (response: unknown): unknown => JSON.parse((response as { body: string }).body)

/** The problem document of a refused request, its `errors` only. */
const eventErrors = (response: unknown): unknown => {
  const problem = body(response) as { status: number; code: string; errors: unknown }
  assert.is(problem.status, 400)
  assert.is(problem.code, 'LV_ERR_EVENTS_INVALID')
  return problem.errors
}

/** A request built by hand, through the SDK's transport (what another SDK or curl would send). */
const send = (url: string, headers: Record<string, string>, payload: string) => httpTransport(url)({ headers, body: payload })

for (const factory of await engines()) {
  const test = suite<Context>(`api CloudEvents (${factory.name})`, {} as Context)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory)
    await ctx.api.app.listen({ host: '127.0.0.1', port: 0 })
    ctx.url = `http://127.0.0.1:${(ctx.api.app.server.address() as AddressInfo).port}/v1/events`
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  test('binary mode, the SDK default: attributes from ce-* headers, the body is the data, content-type its datacontenttype', async ({ api, url }) => {
    const emit = emitterFor(httpTransport(url))
    assert.equal(body(await emit(new CloudEvent(saleOf('a', 129.5)))), answer(1, 0, 1, 1))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/a')), stored(1, 'a', 129.5, { datacontenttype: 'application/json; charset=utf-8' }))
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), {
      view: 'daily_revenue',
      seq: 1,
      cells: [{ period: '2026-11-26', dims: { store: '001', channel: 'pos' }, measures: { revenue: 129.5, orders: 1, largest: 129.5 }, eventCount: 1 }],
      totals: { measures: { revenue: 129.5, orders: 1, largest: 129.5 }, eventCount: 1 },
    })
  })

  test('binary mode keeps extensions, subject and dataschema (header values are strings); percent-encoded values are decoded', async ({ api, url }) => {
    const emit = emitterFor(httpTransport(url))
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const event = new CloudEvent(saleOf('b', 20, { subject: 'till-3', dataschema: 'https://example.com/schemas/sale.json', traceparent, partitionkey: 'store-001', sampled: true, priority: 7 }))
    assert.equal(body(await emit(event)), answer(1, 0, 1, 1))
    assert.equal(
      expectOk(await get(api.app, '/v1/events/store-001/b')),
      stored(1, 'b', 20, {
        subject: 'till-3',
        dataschema: 'https://example.com/schemas/sale.json',
        traceparent,
        partitionkey: 'store-001',
        sampled: 'true',
        priority: '7',
        datacontenttype: 'application/json; charset=utf-8',
      }),
    )
    // The HTTP binding percent-encodes header values (the SDK sends them as they are).
    const headers = {
      'ce-specversion': '1.0',
      'ce-id': 'c',
      'ce-source': 'store-001',
      'ce-type': 'sale',
      'ce-time': '2026-11-26T10:03:00%2B08:00',
      'ce-subject': 'Euro%20%E2%82%AC%20%F0%9F%98%80',
      'content-type': 'application/json',
    }
    assert.equal(body(await send(url, headers, JSON.stringify({ store: '001', channel: 'pos', amount: 5 }))), answer(1, 0, 2, 2))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/c')), stored(2, 'c', 5, { subject: 'Euro € 😀', datacontenttype: 'application/json' }))
    assert.equal(eventErrors(await send(url, { ...headers, 'ce-id': 'd', 'ce-subject': 'overlong%C0%A0' }, '{}')), [
      { index: 0, id: 'd', code: 'LV_EVENT_FIELD_INVALID', field: 'subject', message: 'the ce-subject header is not percent-encoded UTF-8' },
    ])
  })

  test('structured mode: typed extensions kept as sent; without datacontenttype none is kept', async ({ api, url }) => {
    const emit = emitterFor(httpTransport(url), { mode: Mode.STRUCTURED })
    const event = new CloudEvent(saleOf('s1', 12.5, { traceparent: 'tp-1', sampled: true, priority: 7, subject: 'till-3' }))
    assert.equal(body(await emit(event)), answer(1, 0, 1, 1))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/s1')), stored(1, 's1', 12.5, { subject: 'till-3', traceparent: 'tp-1', sampled: true, priority: 7 }))
    // An event with no attribute at all has no `attributes` in its answer.
    assert.equal(body(await emit(new CloudEvent(saleOf('s2', 1)))), answer(1, 0, 2, 2))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/s2')), stored(2, 's2', 1))
    // ce-* headers beside a structured body do not make it binary: the body is the event.
    const headers = { 'content-type': 'application/cloudevents+json; charset=utf-8', 'ce-specversion': '1.0', 'ce-id': 'other' }
    assert.equal(body(await send(url, headers, JSON.stringify({ specversion: '1.0', ...saleOf('s3', 2) }))), answer(1, 0, 3, 3))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/s3')), stored(3, 's3', 2))
  })

  test('batch mode: an array of structured events, each with its own attributes', async ({ api, url }) => {
    // Events with attributes and one without, written together.
    const batch = [new CloudEvent(saleOf('w1', 30, { traceparent: 'tp-w1' })), new CloudEvent(saleOf('w2', 45)), new CloudEvent(saleOf('w3', 5, { datacontenttype: 'application/json' }))]
    const response = await send(url, { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' }, JSON.stringify(batch))
    assert.equal(body(response), answer(3, 0, 1, 3))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/w1')), stored(1, 'w1', 30, { traceparent: 'tp-w1' }))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/w2')), stored(2, 'w2', 45))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/w3')), stored(3, 'w3', 5, { datacontenttype: 'application/json' }))
    // In lateview's own JSON the same events again are duplicates: attributes are no part of what an event is.
    const plain = batch.map((e) => ({ id: e.id, source: e.source, type: e.type, occurredAt: e.time, data: e.data }))
    assert.equal(body(await send(url, { 'content-type': 'application/json' }, JSON.stringify(plain))), answer(0, 3, null, null))
  })

  test('structured mode with data_base64: JSON data decoded and read losslessly; not JSON, or both data and data_base64, refused', async ({ api, url }) => {
    const emit = emitterFor(httpTransport(url), { mode: Mode.STRUCTURED })
    // The SDK sends binary data as data_base64.
    const bytes = new TextEncoder().encode(JSON.stringify({ store: '001', channel: 'pos', amount: 7.25 }))
    assert.equal(body(await emit(new CloudEvent(saleOf('b64', 0, { data: bytes })))), answer(1, 0, 1, 1))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/b64')), stored(1, 'b64', 7.25))
    const structured = { 'content-type': 'application/cloudevents+json' }
    const base = { specversion: '1.0', id: 'x', source: 'store-001', type: 'sale', time: '2026-11-26T10:03:00+08:00' }
    const b64 = (text: string) => Buffer.from(text).toString('base64')
    assert.equal(eventErrors(await send(url, structured, JSON.stringify({ ...base, data_base64: b64('hello') }))), [
      { index: 0, id: 'x', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data_base64', message: `data_base64 does not decode to JSON: ${jsonError('hello')}` },
    ])
    assert.equal(eventErrors(await send(url, structured, JSON.stringify({ ...base, data: { store: '001' }, data_base64: b64('{}') }))), [
      { index: 0, id: 'x', code: 'LV_EVENT_FIELD_INVALID', field: 'data_base64', message: 'a CloudEvent holds data or data_base64, not both' },
    ])
    // A number no JS number holds exactly is refused inside data_base64 too, not rounded.
    assert.equal(eventErrors(await send(url, structured, JSON.stringify({ ...base, data_base64: b64('{"store":"001","channel":"pos","amount":90071992547409.91}') }))), [
      {
        index: 0,
        id: 'x',
        code: 'LV_EVENT_FIELD_INVALID',
        field: 'data.amount',
        message:
          '90071992547409.91 has more significant digits than a JSON number holds exactly (a JSON parser reads it as 90071992547409.9): send at most 15 significant digits, or the value as a string',
      },
    ])
    assert.equal((expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')) as { seq: number }).seq, 1)
  })

  test('specversion: missing in a structured event is required; 0.3 is refused in structured and binary mode', async ({ api, url }) => {
    const { specversion: _v, ...noVersion } = JSON.parse(JSON.stringify(new CloudEvent(saleOf('v0', 1)))) as Record<string, unknown>
    assert.equal(eventErrors(await send(url, { 'content-type': 'application/cloudevents+json' }, JSON.stringify(noVersion))), [
      { index: 0, id: 'v0', code: 'LV_EVENT_FIELD_MISSING', field: 'specversion', message: 'specversion is required' },
    ])
    assert.equal(eventErrors(await send(url, { 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify([{ specversion: '1.0', ...saleOf('v1', 1) }, noVersion]))), [
      { index: 1, id: 'v0', code: 'LV_EVENT_FIELD_MISSING', field: 'specversion', message: 'specversion is required' },
    ])
    const old = new CloudEvent({ ...saleOf('v3', 1), specversion: '0.3' })
    const unsupported = [{ index: 0, id: 'v3', code: 'LV_EVENT_SPECVERSION_UNSUPPORTED', field: 'specversion', message: 'specversion "0.3" is not supported: lateview takes CloudEvents 1.0 only' }]
    assert.equal(eventErrors(await emitterFor(httpTransport(url), { mode: Mode.STRUCTURED })(old)), unsupported)
    assert.equal(eventErrors(await emitterFor(httpTransport(url))(old)), unsupported)
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), EMPTY_REVENUE)
  })

  test('a re-sent event with another traceparent is a duplicate: the first attributes stay', async ({ api, url }) => {
    const emit = emitterFor(httpTransport(url))
    assert.equal(body(await emit(new CloudEvent(saleOf('r', 10, { traceparent: 'first' })))), answer(1, 0, 1, 1))
    api.clock.advance(1000)
    assert.equal(body(await emit(new CloudEvent(saleOf('r', 10, { traceparent: 'second', partitionkey: 'p' })))), answer(0, 1, null, null, '2026-11-26T12:00:01.000Z'))
    // In structured mode too, and in a batch: the same event, whatever its attributes.
    const structured = emitterFor(httpTransport(url), { mode: Mode.STRUCTURED })
    assert.equal(body(await structured(new CloudEvent(saleOf('r', 10)))), answer(0, 1, null, null, '2026-11-26T12:00:01.000Z'))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/r')), stored(1, 'r', 10, { traceparent: 'first', datacontenttype: 'application/json; charset=utf-8' }))
    // The same id with other data is still a conflict.
    const conflict = body(await emit(new CloudEvent(saleOf('r', 11, { traceparent: 'first' })))) as { status: number; code: string }
    assert.equal([conflict.status, conflict.code], [409, 'LV_ERR_EVENT_CONFLICT'])
  })

  test('a bad extension name is refused and nothing is written', async ({ api, url }) => {
    // The SDK checks names unless told not to (strict false), as another producer might not.
    const loose = new CloudEvent(saleOf('n1', 1, { Trace_Id: 'x' }), false)
    assert.equal(eventErrors(await emitterFor(httpTransport(url), { mode: Mode.STRUCTURED })(loose)), [
      { index: 0, id: 'n1', code: 'LV_EVENT_ATTRIBUTE_NAME_INVALID', field: 'Trace_Id', message: '"Trace_Id" is not a CloudEvents attribute name: 1 to 20 lower-case letters a-z and digits 0-9' },
    ])
    // HTTP header names are case-insensitive: in binary mode the name arrives in lower case.
    assert.equal(eventErrors(await emitterFor(httpTransport(url))(loose)), [
      { index: 0, id: 'n1', code: 'LV_EVENT_ATTRIBUTE_NAME_INVALID', field: 'trace_id', message: '"trace_id" is not a CloudEvents attribute name: 1 to 20 lower-case letters a-z and digits 0-9' },
    ])
    // The SDK lets a name longer than 20 characters through (a SHOULD of the specification); lateview does not.
    const long = new CloudEvent(saleOf('n2', 1, { averyveryverylongextensionname: 'x' }))
    assert.equal(
      (eventErrors(await emitterFor(httpTransport(url))(long)) as Array<{ code: string; field: string }>).map((e) => [e.code, e.field]),
      [['LV_EVENT_ATTRIBUTE_NAME_INVALID', 'averyveryverylongextensionname']],
    )
    // One bad item refuses the whole batch.
    const batch = JSON.stringify([new CloudEvent(saleOf('n3', 1)), { specversion: '1.0', ...saleOf('n4', 1), 'bad-name': 1 }])
    assert.equal(
      (eventErrors(await send(url, { 'content-type': 'application/cloudevents-batch+json' }, batch)) as Array<{ index: number; field: string }>).map((e) => [e.index, e.field]),
      [[1, 'bad-name']],
    )
    for (const id of ['n1', 'n2', 'n3', 'n4']) expectProblem(await get(api.app, `/v1/events/store-001/${id}`), 404, 'LV_ERR_EVENT_NOT_FOUND')
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), EMPTY_REVENUE)
  })

  test('binary mode: data that is not JSON is a 400 naming the data, not a 415; attributes past 4 KiB are refused', async ({ api, url }) => {
    const headers = { 'ce-specversion': '1.0', 'ce-id': 't1', 'ce-source': 'store-001', 'ce-type': 'sale', 'ce-time': '2026-11-26T02:03:00Z' }
    assert.equal(eventErrors(await send(url, { ...headers, 'content-type': 'text/plain' }, 'hello')), [
      { index: 0, id: 't1', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data', message: 'the data is text/plain, not JSON: lateview keeps a JSON object as data' },
    ])
    assert.equal(eventErrors(await send(url, { ...headers, 'content-type': 'application/json' }, '{"store":')), [
      { index: 0, id: 't1', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data', message: `the body of the binary-mode CloudEvent is not JSON: ${jsonError('{"store":')}` },
    ])
    // Without ce-specversion a text/plain body stays what it was: a type lateview does not take.
    const refused = body(await send(url, { 'content-type': 'text/plain' }, 'hello')) as { status: number; code: string }
    assert.equal([refused.status, refused.code], [415, 'LV_ERR_BODY_UNSUPPORTED_TYPE'])
    assert.equal(eventErrors(await emitterFor(httpTransport(url))(new CloudEvent(saleOf('t2', 1, { note: 'x'.repeat(4100) })))), [
      {
        index: 0,
        id: 't2',
        code: 'LV_EVENT_TOO_LARGE',
        field: 'attributes',
        message: 'the attributes kept with the event (subject, dataschema, datacontenttype and extensions) take more than 4096 bytes as JSON',
      },
    ])
    // No data at all is an event without data ({}), as in lateview's JSON.
    assert.equal(body(await send(url, { ...headers, 'ce-id': 't3' }, '')), answer(1, 0, 1, 1))
    assert.equal((expectOk(await get(api.app, '/v1/events/store-001/t3')) as { data: unknown; attributes?: unknown }).data, {})
  })

  test('an admin import in binary mode takes receivedat; retracts works as an extension', async ({ api, url }) => {
    const emit = emitterFor(httpTransport(`${url}?import=true`))
    assert.equal(body(await emit(new CloudEvent(saleOf('i1', 8, { receivedat: '2026-11-26T03:00:00Z' })))), answer(1, 0, 1, 1, '2026-11-26T03:00:00.000Z'))
    const imported = expectOk(await get(api.app, '/v1/events/store-001/i1')) as { receivedAt: string; attributes: unknown }
    assert.equal([imported.receivedAt, imported.attributes], ['2026-11-26T03:00:00.000Z', { datacontenttype: 'application/json; charset=utf-8' }])
    assert.equal(body(await emitterFor(httpTransport(url))(new CloudEvent(saleOf('i2', 8, { retracts: 'i1' })))), answer(1, 0, 2, 2))
    assert.equal((expectOk(await get(api.app, '/v1/events/store-001/i2')) as { retracts: string }).retracts, 'i1')
    assert.equal((expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')) as { cells: unknown[] }).cells, [])
  })

  test.run()
}

/** What JSON.parse says of this text. */
function jsonError(text: string): string {
  try {
    JSON.parse(text)
    return ''
  } catch (error) {
    return (error as Error).message
  }
}
