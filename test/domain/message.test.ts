import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { canonicalJson, NotJson, parseEvent } from '../../src/domain/event.js'
import { messageItem, type MessageHeaders } from '../../src/domain/message.js'

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
      const [a, b, c] = parsed.map((p) => (p.ok ? canonicalJson(p.event) : ''))
      assert.is(b, a)
      assert.is(c, a)
    }),
  )
})

test('what is not an event becomes an item validation refuses, never an exception', () => {
  assert.instance(messageItem('{"id": ', null).item, NotJson)
  const text = messageItem('hello', headers({ 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': 's', 'ce-type': 'sale', 'ce-time': '2026-01-01T00:00:00Z', 'content-type': 'text/plain' })).item
  assert.equal(text, { id: 'x', source: 's', type: 'sale', occurredAt: '2026-01-01T00:00:00Z', data: 'hello' })
  const badJson = messageItem('{', headers({ 'ce-specversion': '1.0', 'ce-id': 'x' })).item
  assert.instance(badJson, NotJson)
  // Unknown CloudEvents attributes are unknown fields, as over HTTP; a CloudEvent of another version keeps it.
  assert.equal(messageItem('{"specversion":"0.3","id":"a"}', null).item, { specversion: '0.3', id: 'a' })
  assert.equal(messageItem('', headers({ 'ce-specversion': '1.0', 'ce-id': 'a', 'ce-traceparent': 't' })).item, { traceparent: 't', id: 'a' })
  // Numbers a JS number cannot hold exactly are reported, as HTTP does.
  assert.is(messageItem('{"data":{"amount":0.1000000000000000055511151231257827}}', null).exact, false)
})

test.run()
