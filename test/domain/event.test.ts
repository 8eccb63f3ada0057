import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import type { EventProblem } from '../../src/errors.js'
import { CloudEventItem, fromCloudEvent, MAX_ATTRIBUTES_BYTES } from '../../src/domain/cloudevent.js'
import { canonicalBody, canonicalJson, EventKeyMap, NotJson, parseEvent, sourceKind, type NewEvent } from '../../src/domain/event.js'

const OCCURRED = Date.UTC(2026, 10, 25, 2, 3) // 2026-11-25T10:03:00+08:00

function valid(): Record<string, unknown> {
  return {
    id: 'sale-000123',
    source: 'store-042',
    type: 'sale',
    occurredAt: '2026-11-25T10:03:00+08:00',
    data: { store: '042', channel: 'pos', amount: 129.5 },
  }
}

function accepted(raw: unknown, imported = false): NewEvent {
  const parsed = parseEvent(raw, 0, imported)
  if (!parsed.ok) throw new Error(`rejected: ${JSON.stringify(parsed.problems)}`)
  return parsed.event
}

/** The problems without their messages, which are for people, not for callers. */
function problems(raw: unknown, index = 3, imported = false): Array<Omit<EventProblem, 'message'>> {
  const parsed = parseEvent(raw, index, imported)
  if (parsed.ok) throw new Error(`accepted: ${JSON.stringify(parsed.event)}`)
  for (const p of parsed.problems) assert.type(p.message, 'string')
  return parsed.problems.map(({ message: _message, ...rest }) => rest)
}

// ---------------------------------------------------------------------------------------------
const parse = suite('event: parseEvent')

parse('a valid event is normalised', () => {
  assert.equal(accepted(valid()), {
    id: 'sale-000123',
    source: 'store-042',
    type: 'sale',
    occurredAt: OCCURRED,
    data: { store: '042', channel: 'pos', amount: 129.5 },
    retracts: null,
    receivedAt: null,
  })
})

parse('data is optional; retracts is kept; retracts null means none', () => {
  const { data: _data, ...noData } = valid()
  assert.equal(accepted(noData).data, {})
  assert.is(accepted({ ...valid(), id: 'sale-000124', retracts: 'sale-000099' }).retracts, 'sale-000099')
  assert.is(accepted({ ...valid(), retracts: null }).retracts, null)
})

parse('each missing required field is LV_EVENT_FIELD_MISSING with its name', () => {
  for (const field of ['source', 'type', 'occurredAt']) {
    const raw = valid()
    delete raw[field]
    assert.equal(problems(raw), [{ index: 3, id: 'sale-000123', code: 'LV_EVENT_FIELD_MISSING', field }], field)
  }
  const { id: _id, ...noId } = valid()
  assert.equal(problems(noId), [{ index: 3, code: 'LV_EVENT_FIELD_MISSING', field: 'id' }])
})

parse('every problem of one event is listed, in field order', () => {
  assert.equal(problems({}, 0), [
    { index: 0, code: 'LV_EVENT_FIELD_MISSING', field: 'id' },
    { index: 0, code: 'LV_EVENT_FIELD_MISSING', field: 'source' },
    { index: 0, code: 'LV_EVENT_FIELD_MISSING', field: 'type' },
    { index: 0, code: 'LV_EVENT_FIELD_MISSING', field: 'occurredAt' },
  ])
})

parse('invalid fields are LV_EVENT_FIELD_INVALID', () => {
  const cases: Array<[string, unknown]> = [
    ['id', ''],
    ['id', 'x'.repeat(201)],
    ['source', 42],
    ['source', ''],
    ['type', 'x'.repeat(101)],
    ['occurredAt', '2026-11-25T10:03:00'],
    ['occurredAt', '2026-11-25'],
    ['occurredAt', 1795572180000],
    ['occurredAt', 'yesterday'],
    ['data', [1, 2]],
    ['data', 'amount=1'],
    ['data', null],
    ['retracts', 42],
    ['retracts', ''],
    ['retracts', 'sale-000123'], // itself
  ]
  for (const [field, value] of cases) {
    const got = problems({ ...valid(), [field]: value })
    const id = field === 'id' && typeof value === 'string' ? { id: value } : field === 'id' ? {} : { id: 'sale-000123' }
    assert.equal(got, [{ index: 3, ...id, code: 'LV_EVENT_FIELD_INVALID', field }], `${field}=${JSON.stringify(value)}`)
  }
  assert.ok(accepted({ ...valid(), id: 'x'.repeat(200) }))
})

parse('unknown fields are LV_EVENT_FIELD_UNKNOWN, each by name', () => {
  assert.equal(problems({ ...valid(), amount: 5, Source: 'x' }), [
    { index: 3, id: 'sale-000123', code: 'LV_EVENT_FIELD_UNKNOWN', field: 'amount' },
    { index: 3, id: 'sale-000123', code: 'LV_EVENT_FIELD_UNKNOWN', field: 'Source' },
  ])
})

parse('items that are not JSON objects are LV_EVENT_NOT_JSON', () => {
  for (const raw of [null, 42, 'sale', [valid()], undefined]) {
    assert.equal(problems(raw, 7), [{ index: 7, code: 'LV_EVENT_NOT_JSON' }], JSON.stringify(raw))
  }
  const parsed = parseEvent(new NotJson('Unexpected token } in JSON at position 12', 5), 4, false)
  assert.equal(parsed, { ok: false, problems: [{ index: 4, line: 5, code: 'LV_EVENT_NOT_JSON', message: 'Unexpected token } in JSON at position 12' }] })
})

parse('imported=true requires receivedAt; it is ignored otherwise', () => {
  const received = '2026-11-26T01:00:00Z'
  assert.is(accepted({ ...valid(), receivedAt: received }, true).receivedAt, Date.UTC(2026, 10, 26, 1))
  assert.equal(problems(valid(), 2, true), [{ index: 2, id: 'sale-000123', code: 'LV_EVENT_FIELD_MISSING', field: 'receivedAt' }])
  assert.equal(problems({ ...valid(), receivedAt: '2026-11-26 01:00' }, 2, true), [{ index: 2, id: 'sale-000123', code: 'LV_EVENT_FIELD_INVALID', field: 'receivedAt' }])
  assert.is(accepted({ ...valid(), receivedAt: received }, false).receivedAt, null)
  assert.is(accepted({ ...valid(), receivedAt: 'not even a date' }, false).receivedAt, null)
})

parse.run()

// ---------------------------------------------------------------------------------------------
const cloud = suite('event: CloudEvents')

cloud('fromCloudEvent maps time to occurredAt, keeps retracts, and keeps subject and datacontenttype as attributes', () => {
  const ce = {
    specversion: '1.0',
    id: 'sale-000124',
    source: 'store-042',
    type: 'sale',
    time: '2026-11-25T02:03:00Z',
    datacontenttype: 'application/json',
    subject: 'till-3',
    data: { store: '042', channel: 'pos', amount: -10 },
    retracts: 'sale-000123',
  }
  const item = fromCloudEvent(ce)
  assert.instance(item, CloudEventItem)
  assert.equal(
    { ...(item as CloudEventItem) },
    {
      fields: { id: 'sale-000124', source: 'store-042', type: 'sale', occurredAt: '2026-11-25T02:03:00Z', retracts: 'sale-000123', data: { store: '042', channel: 'pos', amount: -10 } },
      attributes: { datacontenttype: 'application/json', subject: 'till-3' },
      problems: [],
      exact: true,
    },
  )
  assert.equal(accepted(item), {
    id: 'sale-000124',
    source: 'store-042',
    type: 'sale',
    occurredAt: OCCURRED,
    data: { store: '042', channel: 'pos', amount: -10 },
    retracts: 'sale-000123',
    receivedAt: null,
    attributes: { datacontenttype: 'application/json', subject: 'till-3' },
  })
  // Without attributes the event has no key for them, as a lateview event.
  assert.equal(Object.keys(accepted(fromCloudEvent({ specversion: '1.0', id: 'a', source: 's', type: 't', time: '2026-11-25T02:03:00Z' }))), [
    'id',
    'source',
    'type',
    'occurredAt',
    'data',
    'retracts',
    'receivedAt',
  ])
})

cloud('extensions are kept as sent: strings, booleans, 32-bit integers; null is absent', () => {
  const ce = {
    specversion: '1.0',
    id: 'a',
    source: 's',
    type: 't',
    time: '2026-11-25T02:03:00Z',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    partitionkey: 'store-042',
    sampled: true,
    priority: -2147483648,
    dataschema: 'https://example.com/sale.json',
    gone: null,
  }
  assert.equal(accepted(fromCloudEvent(ce)).attributes, {
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    partitionkey: 'store-042',
    sampled: true,
    priority: -2147483648,
    dataschema: 'https://example.com/sale.json',
  })
})

cloud('a CloudEvent without time misses occurredAt; specversion missing or not 1.0, bad attribute names and values are reported', () => {
  const base = { specversion: '1.0', id: 'a', source: 's', type: 't', time: '2026-11-25T02:03:00Z' }
  assert.equal(problems(fromCloudEvent({ specversion: '1.0', id: 'a', source: 's', type: 't' }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_FIELD_MISSING', field: 'occurredAt' }])
  const { specversion: _v, ...noVersion } = base
  assert.equal(parseEvent(fromCloudEvent(noVersion), 0, false), {
    ok: false,
    problems: [{ index: 0, id: 'a', code: 'LV_EVENT_FIELD_MISSING', field: 'specversion', message: 'specversion is required' }],
  })
  assert.equal(parseEvent(fromCloudEvent({ ...base, specversion: '0.3' }), 0, false), {
    ok: false,
    problems: [{ index: 0, id: 'a', code: 'LV_EVENT_SPECVERSION_UNSUPPORTED', field: 'specversion', message: 'specversion "0.3" is not supported: lateview takes CloudEvents 1.0 only' }],
  })
  assert.equal(problems(fromCloudEvent({ ...base, specversion: 1 }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_SPECVERSION_UNSUPPORTED', field: 'specversion' }])
  // A lateview field name is no attribute name; its CloudEvents attribute is then missing.
  const { time: _t, ...noTime } = base
  assert.equal(problems(fromCloudEvent({ ...noTime, occurredAt: '2026-11-25T02:03:00Z' }), 0), [
    { index: 0, id: 'a', code: 'LV_EVENT_ATTRIBUTE_NAME_INVALID', field: 'occurredAt' },
    { index: 0, id: 'a', code: 'LV_EVENT_FIELD_MISSING', field: 'occurredAt' },
  ])
  assert.equal(problems(fromCloudEvent({ ...base, trace_parent: 'x', abcdefghijklmnopqrstu: 'x', abcdefghijklmnopqrst: 'x' }), 0), [
    { index: 0, id: 'a', code: 'LV_EVENT_ATTRIBUTE_NAME_INVALID', field: 'trace_parent' },
    { index: 0, id: 'a', code: 'LV_EVENT_ATTRIBUTE_NAME_INVALID', field: 'abcdefghijklmnopqrstu' },
  ])
  assert.equal(problems(fromCloudEvent({ ...base, ratio: 0.5, big: 2147483648, list: ['x'], obj: {}, subject: '', dataschema: 3, note: 'a\u0000b' }), 0), [
    { index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'ratio' },
    { index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'big' },
    { index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'list' },
    { index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'obj' },
    { index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'subject' },
    { index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'dataschema' },
    { index: 0, id: 'a', code: 'LV_EVENT_TEXT_INVALID', field: 'note' },
  ])
  assert.is(fromCloudEvent('not an object'), 'not an object')
})

cloud(`attributes take at most ${MAX_ATTRIBUTES_BYTES} bytes as JSON`, () => {
  const base = { specversion: '1.0', id: 'a', source: 's', type: 't', time: '2026-11-25T02:03:00Z' }
  // {"note":"…"} is 11 bytes around the value.
  assert.equal(accepted(fromCloudEvent({ ...base, note: 'x'.repeat(MAX_ATTRIBUTES_BYTES - 11) })).attributes, { note: 'x'.repeat(MAX_ATTRIBUTES_BYTES - 11) })
  assert.equal(parseEvent(fromCloudEvent({ ...base, note: 'é'.repeat(2043) }), 0, false), {
    ok: false,
    problems: [
      {
        index: 0,
        id: 'a',
        code: 'LV_EVENT_TOO_LARGE',
        field: 'attributes',
        message: 'the attributes kept with the event (subject, dataschema, datacontenttype and extensions) take more than 4096 bytes as JSON',
      },
    ],
  })
})

cloud('data_base64 holding JSON is the data, read losslessly; anything else is refused', () => {
  const base = { specversion: '1.0', id: 'a', source: 's', type: 't', time: '2026-11-25T02:03:00Z' }
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')
  assert.equal(accepted(fromCloudEvent({ ...base, data_base64: b64('{"store":"042","amount":12.5,"note":"café"}') })).data, { store: '042', amount: 12.5, note: 'café' })
  const inexact = fromCloudEvent({ ...base, data_base64: b64('{"amount":90071992547409.91}') }) as CloudEventItem
  assert.is(inexact.exact, false)
  assert.equal(problems(fromCloudEvent({ ...base, data: {}, data_base64: b64('{}') }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'data_base64' }])
  assert.equal(problems(fromCloudEvent({ ...base, data_base64: 'not base64!' }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'data_base64' }])
  assert.equal(problems(fromCloudEvent({ ...base, data_base64: 42 }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'data_base64' }])
  assert.equal(problems(fromCloudEvent({ ...base, data_base64: b64('hello') }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data_base64' }])
  assert.equal(problems(fromCloudEvent({ ...base, data_base64: Buffer.from([0xff, 0xfe]).toString('base64') }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data_base64' }])
  assert.equal(problems(fromCloudEvent({ ...base, datacontenttype: 'image/png', data_base64: b64('{}') }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data' }])
  assert.equal(problems(fromCloudEvent({ ...base, datacontenttype: 'text/plain', data: 'hello' }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data' }])
  // JSON that is not an object is lateview's rule, as for any event.
  assert.equal(problems(fromCloudEvent({ ...base, data_base64: b64('[1]') }), 0), [{ index: 0, id: 'a', code: 'LV_EVENT_FIELD_INVALID', field: 'data' }])
  // A null data_base64 is absent.
  assert.equal(accepted(fromCloudEvent({ ...base, data_base64: null })).data, {})
})

cloud('an imported CloudEvent carries receivedat', () => {
  const ce = { specversion: '1.0', id: 'a', source: 's', type: 't', time: '2026-11-25T02:03:00Z', receivedat: '2026-11-25T03:00:00Z' }
  assert.is(accepted(fromCloudEvent(ce), true).receivedAt, Date.UTC(2026, 10, 25, 3))
})

cloud.run()

// ---------------------------------------------------------------------------------------------
const body = suite('event: canonicalBody, sourceKind, EventKeyMap')

body('canonicalBody ignores key order and distinguishes a changed amount', () => {
  const a = { type: 'sale', occurredAt: OCCURRED, data: { store: '042', channel: 'pos', amount: 129.5, meta: { a: 1, b: [1, { y: 2, x: 1 }] } }, retracts: null }
  const b = { retracts: null, data: { meta: { b: [1, { x: 1, y: 2 }], a: 1 }, amount: 129.5, channel: 'pos', store: '042' }, occurredAt: OCCURRED, type: 'sale' }
  assert.is(canonicalBody(a), canonicalBody(b))
  assert.is(canonicalBody(a), '{"data":{"amount":129.5,"channel":"pos","meta":{"a":1,"b":[1,{"x":1,"y":2}]},"store":"042"},"occurredAt":1795572180000,"retracts":null,"type":"sale"}')
  assert.is.not(canonicalBody({ ...a, data: { ...a.data, amount: 129.6 } }), canonicalBody(a))
  assert.is.not(canonicalBody({ ...a, occurredAt: OCCURRED + 1 }), canonicalBody(a))
  assert.is.not(canonicalBody({ ...a, retracts: 'sale-1' }), canonicalBody(a))
  assert.is.not(canonicalBody({ ...a, data: { ...a.data, meta: { a: 1, b: [{ x: 1, y: 2 }, 1] } } }), canonicalBody(a))
})

body('canonicalJson drops undefined keys', () => {
  assert.is(canonicalJson({ b: undefined, a: 1 }), '{"a":1}')
  assert.is(canonicalJson([undefined]), '[null]')
})

body('sourceKind and EventKeyMap', () => {
  assert.is(sourceKind('store-042'), 'store')
  assert.is(sourceKind('Online-EU'), 'online')
  assert.is(sourceKind('lab_berlin'), 'lab')
  assert.is(sourceKind('042-store'), 'other')
  const keys = new EventKeyMap<number>()
  keys.set('a-b', 'c', 1)
  keys.set('a', 'b-c', 2)
  keys.set('a', 'b-c', 3)
  assert.is(keys.size, 2)
  assert.is(keys.get('a-b', 'c'), 1)
  assert.is(keys.get('a', 'b-c'), 3)
  assert.is(keys.has('a', 'b'), false)
  assert.is(keys.get('x', 'c'), undefined)
  assert.equal([...keys.values()].sort(), [1, 3])
})

body('EventKeyMap.claim keeps the first value of each (source, id), ascending ids or not', () => {
  const keys = new EventKeyMap<number>()
  assert.is(keys.claim('s', 'a1', 1), undefined)
  assert.is(keys.claim('s', 'a2', 2), undefined)
  assert.is(keys.claim('s', 'a2', 3), 2)
  assert.is(keys.claim('s', 'a1', 4), 1)
  assert.is(keys.claim('t', 'a1', 5), undefined)
  assert.is(keys.claim('s', 'a0', 6), undefined)
  assert.is(keys.get('s', 'a0'), 6)
  assert.is(keys.size, 4)
  // Against a plain map keyed by the pair, with lookups between claims.
  const key = fc.tuple(fc.constantFrom('s', 't', 'u-v'), fc.stringMatching(/^(?:[a-c\u00e9]|\u{1f600}){0,3}$/u))
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('claim', 'get', 'has', 'set'), key), { maxLength: 60 }), (ops) => {
      const keys = new EventKeyMap<number>()
      const plain = new Map<string, number>()
      ops.forEach(([op, [source, id]], n) => {
        const k = JSON.stringify([source, id])
        if (op === 'claim') {
          assert.is(keys.claim(source, id, n), plain.get(k))
          if (!plain.has(k)) plain.set(k, n)
        } else if (op === 'set') {
          keys.set(source, id, n)
          plain.set(k, n)
        } else if (op === 'get') assert.is(keys.get(source, id), plain.get(k))
        else assert.is(keys.has(source, id), plain.has(k))
        assert.is(keys.size, plain.size)
      })
      assert.equal(
        [...keys.values()].sort((a, b) => a - b),
        [...plain.values()].sort((a, b) => a - b),
      )
    }),
    { numRuns: 1000 },
  )
})

body.run()
