import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CloudEventItem } from '../../src/domain/cloudevent.js'
import { canonicalJson, NotJson, parseEvent } from '../../src/domain/event.js'
import { binaryCloudEvent, decodeHeaderValue, messageItem, type MessageHeaders } from '../../src/domain/message.js'

const headers = (h: Record<string, string>): MessageHeaders => new Map(Object.entries(h).map(([k, v]) => [k, [v]]))

/** A valid event in lateview's JSON. */
const anEvent = fc.record({
  id: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
  source: fc.stringMatching(/^[a-z]{1,8}-[0-9]{3}$/),
  type: fc.constantFrom('sale', 'refund'),
  occurredAt: fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2026-01-01T00:00:00Z') }).map((ms) => new Date(ms).toISOString()),
  data: fc.record({ store: fc.stringMatching(/^[0-9]{3}$/), channel: fc.constantFrom('pos', 'online'), amount: fc.integer({ min: -1_000_000, max: 1_000_000 }).map((c) => c / 100) }),
})

test('an event as lateview JSON, as a structured CloudEvent and as a binary one is the same event', () => {
  fc.assert(
    fc.property(anEvent, (e) => {
      const plain = messageItem(JSON.stringify(e), null)
      const structured = messageItem(JSON.stringify({ specversion: '1.0', id: e.id, source: e.source, type: e.type, time: e.occurredAt, datacontenttype: 'application/json', data: e.data }), null)
      const binary = messageItem(
        JSON.stringify(e.data),
        headers({ 'ce-specversion': '1.0', 'ce-id': e.id, 'ce-source': e.source, 'ce-type': e.type, 'ce-time': e.occurredAt, 'content-type': 'application/json' }),
      )
      const parsed = [plain, structured, binary].map((m) => parseEvent(m.item, 0, false))
      for (const p of parsed) assert.ok(p.ok)
      const [a, b, c] = parsed.map((p) => (p.ok ? canonicalJson({ ...p.event, attributes: undefined }) : ''))
      assert.is(b, a)
      assert.is(c, a)
      // Both CloudEvents keep their data's content type with the event; the lateview event has none.
      assert.equal(
        parsed.map((p) => (p.ok ? p.event.attributes : null)),
        [undefined, { datacontenttype: 'application/json' }, { datacontenttype: 'application/json' }],
      )
    }),
  )
})

test('what is not an event becomes an item validation refuses, never an exception', () => {
  assert.instance(messageItem('{"id": ', null).item, NotJson)
  const ce = { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': 's', 'ce-type': 'sale', 'ce-time': '2026-01-01T00:00:00Z' }
  assert.equal(parseEvent(messageItem('hello', headers({ ...ce, 'content-type': 'text/plain' })).item, 0, false), {
    ok: false,
    problems: [{ index: 0, id: 'x', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data', message: 'the data is text/plain, not JSON: lateview keeps a JSON object as data' }],
  })
  assert.equal(parseEvent(messageItem('{', headers(ce)).item, 0, false), {
    ok: false,
    problems: [
      {
        index: 0,
        id: 'x',
        code: 'LV_EVENT_DATA_NOT_JSON',
        field: 'data',
        message: `the body of the binary-mode CloudEvent is not JSON: ${(() => {
          try {
            JSON.parse('{')
          } catch (error) {
            return (error as Error).message
          }
        })()}`,
      },
    ],
  })
  // A CloudEvent of another version is refused as such, in either mode.
  const structured = messageItem('{"specversion":"0.3","id":"a"}', null).item
  assert.instance(structured, CloudEventItem)
  assert.equal((structured as CloudEventItem).problems, [
    { code: 'LV_EVENT_SPECVERSION_UNSUPPORTED', field: 'specversion', message: 'specversion "0.3" is not supported: lateview takes CloudEvents 1.0 only' },
  ])
  assert.equal(
    (messageItem('', headers({ 'ce-specversion': '0.3', 'ce-id': 'a' })).item as CloudEventItem).problems.map((p) => p.code),
    ['LV_EVENT_SPECVERSION_UNSUPPORTED'],
  )
  // Numbers a JS number cannot hold exactly are reported, as HTTP does.
  assert.is(messageItem('{"data":{"amount":0.1000000000000000055511151231257827}}', null).exact, false)
  assert.is(messageItem('{"amount":0.1000000000000000055511151231257827}', headers(ce)).exact, false)
})

test('binary mode keeps extensions, subject, dataschema and the content type as attributes, header values as they are', () => {
  const item = messageItem(
    '{"store":"042","amount":12.5}',
    headers({
      'ce-specversion': '1.0',
      'ce-id': 'sale-1',
      'ce-source': 'store-042',
      'ce-type': 'sale',
      'ce-time': '2026-01-01T10:00:00+08:00',
      'ce-subject': 'till 3',
      'ce-dataschema': 'https://example.com/sale.json',
      'ce-traceparent': '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'ce-partitionkey': 'store%2D042',
      'content-type': 'application/json; charset=utf-8',
      'nats-msg-id': 'store-042:sale-1',
    }),
  ).item
  assert.equal(parseEvent(item, 0, false), {
    ok: true,
    event: {
      id: 'sale-1',
      source: 'store-042',
      type: 'sale',
      occurredAt: Date.parse('2026-01-01T02:00:00Z'),
      data: { store: '042', amount: 12.5 },
      retracts: null,
      receivedAt: null,
      attributes: {
        subject: 'till 3',
        dataschema: 'https://example.com/sale.json',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        // NATS headers are not percent-encoded: taken as they are.
        partitionkey: 'store%2D042',
        datacontenttype: 'application/json; charset=utf-8',
      },
    },
  })
  // The same headers as HTTP's binary mode sends them are percent-decoded.
  const http = binaryCloudEvent('', headers({ 'ce-specversion': '1.0', 'ce-id': 'a', 'ce-source': 's', 'ce-type': 't', 'ce-time': '2026-01-01T00:00:00Z', 'ce-partitionkey': 'store%2D042' }), {
    percentEncoded: true,
  }).item as CloudEventItem
  assert.equal(http.attributes, { partitionkey: 'store-042' })
  // Bad names and a ce-data header are refused, by name.
  const bad = binaryCloudEvent('', headers({ 'ce-specversion': '1.0', 'ce-id': 'a', 'ce-trace_id': 'x', 'ce-data': '{}', 'ce-note': '%C0%A0' }), { percentEncoded: true }).item as CloudEventItem
  assert.equal(
    bad.problems.map((p) => [p.code, p.field]),
    [
      ['LV_EVENT_FIELD_INVALID', 'note'],
      ['LV_EVENT_ATTRIBUTE_NAME_INVALID', 'trace_id'],
      ['LV_EVENT_ATTRIBUTE_NAME_INVALID', 'data'],
    ],
  )
})

test('HTTP header values: quoted strings unquoted, one round of percent-decoding, invalid UTF-8 refused', () => {
  assert.is(decodeHeaderValue('plain-value'), 'plain-value')
  assert.is(decodeHeaderValue('Euro%20%E2%82%AC%20%F0%9F%98%80'), 'Euro € 😀')
  assert.is(decodeHeaderValue('lower%e2%82%ac'), 'lower€')
  assert.is(decodeHeaderValue('%2541'), '%41')
  assert.is(decodeHeaderValue('"quoted \\"value\\" here"'), 'quoted "value" here')
  assert.is(decodeHeaderValue('"a%20b"'), 'a b')
  assert.is(decodeHeaderValue('50%'), null)
  assert.is(decodeHeaderValue('%zz'), null)
  assert.is(decodeHeaderValue('%C0%A0'), null)
  assert.is(decodeHeaderValue('%FF'), null)
  // Raw UTF-8 bytes (read by Node as Latin-1) are UTF-8 text.
  assert.is(decodeHeaderValue(Buffer.from('café', 'utf8').toString('latin1')), 'café')
})

test.run()
