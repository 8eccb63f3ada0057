import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { answer, type ApiContext, expectOk, expectProblem, get, NOW, NOW_ISO, openApi, post, sale } from './harness.js'

// Within the stores' SLA (P1D) at NOW, so that no ingest raises a DelayedEvent alert.
const A = sale('a', '001', '2026-11-26T10:03:00+08:00', 129.5)
const B = sale('b', '001', '2026-11-26T12:00:00+08:00', 20)
const C = sale('c', '002', '2026-11-26T09:00:00+08:00', 50)

/** GET /v1/events/store-001/a right after it was ingested at NOW. */
const STORED_A = {
  seq: 1,
  id: 'a',
  source: 'store-001',
  type: 'sale',
  occurredAt: '2026-11-26T02:03:00.000Z',
  receivedAt: NOW_ISO,
  lagMs: NOW - Date.parse('2026-11-26T02:03:00Z'),
  data: { store: '001', channel: 'pos', amount: 129.5 },
}

const EMPTY_REVENUE = { view: 'daily_revenue', seq: 0, cells: [], totals: { measures: { revenue: 0, orders: 0, largest: null }, eventCount: 0 } }

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api events (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory)
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  // ------------------------------------------------------------------ accepted shapes

  test('one object: accepted with seq 1 and the server receivedAt; GET returns it exactly', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, A)), answer(1, 0, 1, 1))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/a')), STORED_A)
  })

  test('an array: seqs in order; a retry of the batch counts duplicates and writes nothing', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, [A, B, C])), answer(3, 0, 1, 3))
    api.clock.advance(1000)
    assert.equal(expectOk(await post(api.app, [A, B, C])), answer(0, 3, null, null, '2026-11-26T12:00:01.000Z'))
    // The same body with its data keys in another order is the same event.
    const reordered = { ...B, data: { amount: 20, channel: 'pos', store: '001' } }
    assert.equal(expectOk(await post(api.app, [reordered, sale('d', '001', '2026-11-26T13:00:00+08:00', 1)])), answer(1, 1, 4, 4, '2026-11-26T12:00:01.000Z'))
    const realtime = expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')) as { seq: number; cells: unknown[] }
    assert.is(realtime.seq, 4)
  })

  test('the same event twice in one batch is accepted once and counted as a duplicate', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, [A, A, B])), answer(2, 1, 1, 2))
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), {
      view: 'daily_revenue',
      seq: 2,
      cells: [{ period: '2026-11-26', dims: { store: '001', channel: 'pos' }, measures: { revenue: 149.5, orders: 2, largest: 129.5 }, eventCount: 2 }],
      totals: { measures: { revenue: 149.5, orders: 2, largest: 129.5 }, eventCount: 2 },
    })
  })

  test('receivedAt in the body of an ordinary ingest is ignored: the server sets it', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, { ...A, receivedAt: '2020-01-01T00:00:00Z' })), answer(1, 0, 1, 1))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/a')), STORED_A)
  })

  test('NDJSON: one event a line, blank lines skipped', async ({ api }) => {
    const body = `${JSON.stringify(A)}\n\n${JSON.stringify(B)}\n`
    assert.equal(expectOk(await post(api.app, body, { contentType: 'application/x-ndjson' })), answer(2, 0, 1, 2))
    assert.equal((expectOk(await get(api.app, '/v1/events/store-001/b')) as { seq: number }).seq, 2)
  })

  test('NDJSON: a line that is not JSON rejects the batch with its index and line; nothing written', async ({ api }) => {
    const noType = { ...C, id: 'e4' } as Record<string, unknown>
    delete noType.type
    const body = `${JSON.stringify(A)}\n\n{"id": "x",\n${JSON.stringify(noType)}\n`
    const problem = expectProblem(await post(api.app, body, { contentType: 'application/x-ndjson' }), 400, 'LV_ERR_EVENTS_INVALID')
    assert.is(problem.detail, '2 events of the batch are not valid; nothing was written')
    const errors = problem.errors as Array<Record<string, unknown>>
    assert.is(errors.length, 2)
    const [notJson, missing] = errors as [Record<string, unknown>, Record<string, unknown>]
    assert.ok(String(notJson.message).startsWith('line 3 is not JSON: '), String(notJson.message))
    assert.equal({ ...notJson, message: null }, { index: 1, line: 3, code: 'LV_EVENT_NOT_JSON', message: null })
    assert.equal(missing, { index: 2, id: 'e4', code: 'LV_EVENT_FIELD_MISSING', field: 'type', message: 'type is required' })
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), EMPTY_REVENUE)
    expectProblem(await get(api.app, '/v1/events/store-001/a'), 404, 'LV_ERR_EVENT_NOT_FOUND')
  })

  test('CloudEvents structured: time becomes occurredAt; datacontenttype is kept as an attribute', async ({ api }) => {
    const cloudEvent = {
      specversion: '1.0',
      id: 'ce1',
      source: 'store-003',
      type: 'sale',
      time: '2026-11-26T11:00:00+08:00',
      datacontenttype: 'application/json',
      data: { store: '003', channel: 'web', amount: 12.5 },
    }
    assert.equal(expectOk(await post(api.app, cloudEvent, { contentType: 'application/cloudevents+json' })), answer(1, 0, 1, 1))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-003/ce1')), {
      seq: 1,
      id: 'ce1',
      source: 'store-003',
      type: 'sale',
      occurredAt: '2026-11-26T03:00:00.000Z',
      receivedAt: NOW_ISO,
      lagMs: NOW - Date.parse('2026-11-26T03:00:00Z'),
      data: { store: '003', channel: 'web', amount: 12.5 },
      attributes: { datacontenttype: 'application/json' },
    })
  })

  test('CloudEvents batch: an array of events; anything else is LV_ERR_BODY_INVALID', async ({ api }) => {
    const ce = (id: string, time: string, amount: number) => ({ specversion: '1.0', id, source: 'online-web', type: 'sale', time, data: { store: 'web', channel: 'web', amount } })
    const batch = [ce('w1', '2026-11-26T19:56:00+08:00', 30), ce('w2', '2026-11-26T19:58:00+08:00', 45)]
    assert.equal(expectOk(await post(api.app, batch, { contentType: 'application/cloudevents-batch+json' })), answer(2, 0, 1, 2))
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), {
      view: 'daily_revenue',
      seq: 2,
      cells: [{ period: '2026-11-26', dims: { store: 'web', channel: 'web' }, measures: { revenue: 75, orders: 2, largest: 45 }, eventCount: 2 }],
      totals: { measures: { revenue: 75, orders: 2, largest: 45 }, eventCount: 2 },
    })
    const problem = expectProblem(await post(api.app, ce('w3', '2026-11-26T11:00:00+08:00', 1), { contentType: 'application/cloudevents-batch+json' }), 400, 'LV_ERR_BODY_INVALID')
    assert.is(problem.detail, 'a CloudEvents batch must be a JSON array')
    assert.is(problem.instance, '/v1/events')
    const malformed = expectProblem(await post(api.app, '[{"id":', { contentType: 'application/cloudevents-batch+json' }), 400, 'LV_ERR_BODY_INVALID')
    assert.ok(String(malformed.detail).startsWith('body is not valid JSON: '), String(malformed.detail))
    expectProblem(await post(api.app, '{"id":', { contentType: 'application/cloudevents+json' }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await get(api.app, '/v1/events/online-web/w3'), 404, 'LV_ERR_EVENT_NOT_FOUND')
  })

  test('a number with more digits than a JSON number holds is refused, in every body, not rounded by the parser; nothing written', async ({ api }) => {
    // 90071992547409.91 has 16 significant digits: JSON.parse reads it as 90071992547409.9.
    const text = (id: string, amount: string) =>
      `{"id":"${id}","source":"store-001","type":"sale","occurredAt":"2026-11-26T10:03:00+08:00","data":{"store":"001","channel":"pos","amount":${amount},"ref":12345678901234567890}}`
    const message = (t: string, read: string) =>
      `${t} has more significant digits than a JSON number holds exactly (a JSON parser reads it as ${read}): send at most 15 significant digits, or the value as a string`
    const refused = expectProblem(await post(api.app, `[${text('x1', '10')},${text('x2', '90071992547409.91')}]`), 400, 'LV_ERR_EVENTS_INVALID')
    assert.equal(refused.errors, [
      { index: 0, id: 'x1', code: 'LV_EVENT_FIELD_INVALID', field: 'data.ref', message: message('12345678901234567890', '12345678901234567000') },
      { index: 1, id: 'x2', code: 'LV_EVENT_FIELD_INVALID', field: 'data.amount', message: message('90071992547409.91', '90071992547409.9') },
      { index: 1, id: 'x2', code: 'LV_EVENT_FIELD_INVALID', field: 'data.ref', message: message('12345678901234567890', '12345678901234567000') },
    ])
    const ndjson = expectProblem(await post(api.app, `${text('x3', '90071992547409.91')}\n`, { contentType: 'application/x-ndjson' }), 400, 'LV_ERR_EVENTS_INVALID')
    assert.equal(
      (ndjson.errors as Array<{ field: string }>).map((e) => e.field),
      ['data.amount', 'data.ref'],
    )
    const ce = `{"specversion":"1.0","id":"x4","source":"online-web","type":"sale","time":"2026-11-26T19:56:00+08:00","data":{"store":"web","channel":"web","amount":1.0000000000000001}}`
    assert.equal(
      (expectProblem(await post(api.app, ce, { contentType: 'application/cloudevents+json' }), 400, 'LV_ERR_EVENTS_INVALID').errors as Array<{ field: string }>).map((e) => e.field),
      ['data.amount'],
    )
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), EMPTY_REVENUE)
    // Fifteen significant digits (or a shortest form a JSON number gives back) pass, and are kept exactly.
    assert.equal(expectOk(await post(api.app, text('x5', '9007199254740.99').replace(',"ref":12345678901234567890', ''))), answer(1, 0, 1, 1))
    assert.match((await get(api.app, '/v1/views/daily_revenue/realtime')).body, '"revenue":9007199254740.99')
    // A body naming __proto__ is still refused by fastify's guarded parser.
    expectProblem(await post(api.app, '{"__proto__":{"x":1}}'), 400, 'LV_ERR_BODY_INVALID')
  })

  // ------------------------------------------------------------------ atomic rejection

  test('a batch with invalid events among valid ones lists every bad item by index and reason; nothing written', async ({ api }) => {
    const missing = { ...sale('m1', '001', '2026-11-26T10:00:00+08:00', 1) } as Record<string, unknown>
    delete missing.occurredAt
    const batch = [
      sale('ok0', '001', '2026-11-26T10:00:00+08:00', 10),
      missing,
      sale('i2', '001', '2026-11-26T10:00:00', 1),
      { ...sale('u3', '001', '2026-11-26T10:00:00+08:00', 1), colour: 'red' },
      sale('f4', '001', '2026-11-26T12:05:01Z', 1),
      sale('edge5', '001', '2026-11-26T12:05:00Z', 1),
      42,
      { ...sale('a7', '001', '2026-11-26T10:00:00+08:00', 1), data: { store: '001', channel: 'pos', amount: 'lots' } },
      { ...sale('', '001', '2026-11-26T10:00:00+08:00', 1) },
      { ...sale('d9', '001', '2026-11-26T10:00:00+08:00', 1), data: [1, 2] },
    ]
    const problem = expectProblem(await post(api.app, batch), 400, 'LV_ERR_EVENTS_INVALID')
    assert.equal(problem, {
      type: 'urn:lateview:problem:LV_ERR_EVENTS_INVALID',
      title: 'Some events in the batch are not valid; nothing was written',
      status: 400,
      detail: '8 events of the batch are not valid; nothing was written',
      code: 'LV_ERR_EVENTS_INVALID',
      instance: '/v1/events',
      errors: [
        { index: 1, id: 'm1', code: 'LV_EVENT_FIELD_MISSING', field: 'occurredAt', message: 'occurredAt is required' },
        { index: 2, id: 'i2', code: 'LV_EVENT_FIELD_INVALID', field: 'occurredAt', message: 'occurredAt must be an ISO 8601 instant with an offset or Z, in the years 1900 to 2999' },
        { index: 3, id: 'u3', code: 'LV_EVENT_FIELD_UNKNOWN', field: 'colour', message: 'unknown field colour' },
        {
          index: 4,
          id: 'f4',
          code: 'LV_EVENT_IN_FUTURE',
          field: 'occurredAt',
          message: 'occurredAt 2026-11-26T12:05:01.000Z is more than 5 minutes after receivedAt 2026-11-26T12:00:00.000Z',
        },
        { index: 6, code: 'LV_EVENT_NOT_JSON', message: 'the item is not a JSON object' },
        { index: 7, id: 'a7', code: 'LV_EVENT_FIELD_INVALID', field: 'data.amount', message: 'measure revenue of view daily_revenue needs a finite number' },
        { index: 8, id: '', code: 'LV_EVENT_FIELD_INVALID', field: 'id', message: 'id must be a string of 1 to 200 characters' },
        { index: 9, id: 'd9', code: 'LV_EVENT_FIELD_INVALID', field: 'data', message: 'data must be a JSON object' },
      ],
    })
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), EMPTY_REVENUE)
    expectProblem(await get(api.app, '/v1/events/store-001/ok0'), 404, 'LV_ERR_EVENT_NOT_FOUND')
    expectProblem(await get(api.app, '/v1/events/store-001/edge5'), 404, 'LV_ERR_EVENT_NOT_FOUND')
    // The same batch without its bad items goes through, from seq 1: the rejection used no seq.
    assert.equal(expectOk(await post(api.app, [batch[0], batch[5]])), answer(2, 0, 1, 2))
  })

  test('retractions that cannot apply reject the whole batch, each with its reason', async ({ api }) => {
    const retraction = (id: string, retracts: string, source = 'store-001') => ({ id, source, type: 'sale', occurredAt: '2026-11-26T10:03:00+08:00', retracts })
    assert.equal(expectOk(await post(api.app, [A, B, retraction('r1', 'a')])), answer(3, 0, 1, 3))
    const problem = expectProblem(
      await post(api.app, [retraction('r2', 'ghost'), retraction('r3', 'r1'), retraction('r4', 'a'), retraction('r5', 'b', 'store-002'), retraction('r6', 'r6'), C]),
      400,
      'LV_ERR_EVENTS_INVALID',
    )
    assert.equal(problem.errors, [{ index: 4, id: 'r6', code: 'LV_EVENT_FIELD_INVALID', field: 'retracts', message: 'an event cannot retract itself' }])
    const staged = expectProblem(await post(api.app, [retraction('r2', 'ghost'), retraction('r3', 'r1'), retraction('r4', 'a'), retraction('r5', 'b', 'store-002'), C]), 400, 'LV_ERR_EVENTS_INVALID')
    assert.is(staged.detail, '4 events of the batch are not valid; nothing was written')
    assert.equal(staged.errors, [
      { index: 0, id: 'r2', code: 'LV_EVENT_RETRACTS_UNKNOWN', field: 'retracts', message: 'no event "ghost" from source "store-001" precedes this retraction' },
      { index: 1, id: 'r3', code: 'LV_EVENT_RETRACTS_RETRACTION', field: 'retracts', message: '"r1" is itself a retraction' },
      { index: 2, id: 'r4', code: 'LV_EVENT_ALREADY_RETRACTED', field: 'retracts', message: '"a" is already retracted' },
      { index: 3, id: 'r5', code: 'LV_EVENT_RETRACTS_UNKNOWN', field: 'retracts', message: 'no event "b" from source "store-002" precedes this retraction' },
    ])
    // A second retraction of the same event within one batch is refused too.
    const twice = expectProblem(await post(api.app, [retraction('r7', 'b'), retraction('r8', 'b')]), 400, 'LV_ERR_EVENTS_INVALID')
    assert.equal(twice.errors, [{ index: 1, id: 'r8', code: 'LV_EVENT_ALREADY_RETRACTED', field: 'retracts', message: '"b" is already retracted' }])
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), {
      view: 'daily_revenue',
      seq: 3,
      cells: [{ period: '2026-11-26', dims: { store: '001', channel: 'pos' }, measures: { revenue: 20, orders: 1, largest: 20 }, eventCount: 1 }],
      totals: { measures: { revenue: 20, orders: 1, largest: 20 }, eventCount: 1 },
    })
    expectProblem(await get(api.app, '/v1/events/store-002/c'), 404, 'LV_ERR_EVENT_NOT_FOUND')
  })

  test('conflict: the same id with another body is 409 naming the id, and nothing of the batch is written', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, A)), answer(1, 0, 1, 1))
    const changed = { ...A, data: { store: '001', channel: 'pos', amount: 130 } }
    const problem = expectProblem(await post(api.app, [B, changed]), 409, 'LV_ERR_EVENT_CONFLICT')
    assert.equal(problem, {
      type: 'urn:lateview:problem:LV_ERR_EVENT_CONFLICT',
      title: 'An event with this source and id exists with a different body',
      status: 409,
      detail: 'event "a" from source "store-001" already exists with a different body; nothing was written',
      code: 'LV_ERR_EVENT_CONFLICT',
      instance: '/v1/events',
      source: 'store-001',
      id: 'a',
      index: 1,
    })
    expectProblem(await get(api.app, '/v1/events/store-001/b'), 404, 'LV_ERR_EVENT_NOT_FOUND')
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/a')), STORED_A)
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), {
      view: 'daily_revenue',
      seq: 1,
      cells: [{ period: '2026-11-26', dims: { store: '001', channel: 'pos' }, measures: { revenue: 129.5, orders: 1, largest: 129.5 }, eventCount: 1 }],
      totals: { measures: { revenue: 129.5, orders: 1, largest: 129.5 }, eventCount: 1 },
    })
    // Within one batch too.
    const inBatch = expectProblem(await post(api.app, [C, { ...C, occurredAt: '2026-11-26T09:00:01+08:00' }]), 409, 'LV_ERR_EVENT_CONFLICT')
    assert.equal([inBatch.source, inBatch.id, inBatch.index], ['store-002', 'c', 1])
    expectProblem(await get(api.app, '/v1/events/store-002/c'), 404, 'LV_ERR_EVENT_NOT_FOUND')
  })

  // ------------------------------------------------------------------ retraction and import

  test('GET of a retracted event shows retractedBy; the retraction shows retracts; realtime follows', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, [A, B])), answer(2, 0, 1, 2))
    api.clock.advance(60_000)
    const r1 = { id: 'r1', source: 'store-001', type: 'sale', occurredAt: '2026-11-26T10:03:00+08:00', retracts: 'a' }
    assert.equal(expectOk(await post(api.app, r1)), answer(1, 0, 3, 3, '2026-11-26T12:01:00.000Z'))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/a')), { ...STORED_A, retractedBy: { id: 'r1', seq: 3, receivedAt: '2026-11-26T12:01:00.000Z' } })
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/r1')), {
      seq: 3,
      id: 'r1',
      source: 'store-001',
      type: 'sale',
      occurredAt: '2026-11-26T02:03:00.000Z',
      receivedAt: '2026-11-26T12:01:00.000Z',
      lagMs: NOW + 60_000 - Date.parse('2026-11-26T02:03:00Z'),
      data: {},
      retracts: 'a',
    })
    // The largest amount left the cell with its event: max is recomputed, not kept.
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), {
      view: 'daily_revenue',
      seq: 3,
      cells: [{ period: '2026-11-26', dims: { store: '001', channel: 'pos' }, measures: { revenue: 20, orders: 1, largest: 20 }, eventCount: 1 }],
      totals: { measures: { revenue: 20, orders: 1, largest: 20 }, eventCount: 1 },
    })
    // An event and its retraction in one batch leave nothing behind.
    const x = sale('x', '002', '2026-11-26T09:00:00+08:00', 7)
    assert.equal(expectOk(await post(api.app, [x, { ...r1, id: 'rx', source: 'store-002', retracts: 'x' }, { ...r1, id: 'r2', retracts: 'b' }])), answer(3, 0, 4, 6, '2026-11-26T12:01:00.000Z'))
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), { ...EMPTY_REVENUE, seq: 6 })
  })

  test('?import=true keeps each receivedAt, refuses an earlier one, and needs receivedAt on every event', async ({ api }) => {
    const h1 = { ...sale('h1', '001', '2026-11-20T10:00:00+08:00', 5), receivedAt: '2026-11-21T00:00:00Z' }
    const h2 = { ...sale('h2', '001', '2026-11-20T11:00:00+08:00', 6), receivedAt: '2026-11-21T09:00:00+08:00' }
    assert.equal(expectOk(await post(api.app, [h1, h2], { url: '/v1/events?import=true' })), answer(2, 0, 1, 2, '2026-11-21T01:00:00.000Z'))
    assert.equal(expectOk(await get(api.app, '/v1/events/store-001/h1')), {
      seq: 1,
      id: 'h1',
      source: 'store-001',
      type: 'sale',
      occurredAt: '2026-11-20T02:00:00.000Z',
      receivedAt: '2026-11-21T00:00:00.000Z',
      lagMs: 22 * 3600_000,
      data: { store: '001', channel: 'pos', amount: 5 },
    })
    const early = { ...sale('h3', '001', '2026-11-20T12:00:00+08:00', 7), receivedAt: '2026-11-20T12:00:00Z' }
    const order = expectProblem(await post(api.app, [early], { url: '/v1/events?import=true' }), 400, 'LV_ERR_EVENTS_INVALID')
    assert.equal(order.errors, [
      {
        index: 0,
        id: 'h3',
        code: 'LV_EVENT_RECEIVED_AT_ORDER',
        field: 'receivedAt',
        message: 'receivedAt 2026-11-20T12:00:00.000Z is earlier than 2026-11-21T01:00:00.000Z, already in the store or earlier in the batch',
      },
    ])
    const missing = expectProblem(await post(api.app, [sale('h4', '001', '2026-11-20T12:00:00+08:00', 7)], { url: '/v1/events?import=true' }), 400, 'LV_ERR_EVENTS_INVALID')
    assert.equal(missing.errors, [{ index: 0, id: 'h4', code: 'LV_EVENT_FIELD_MISSING', field: 'receivedAt', message: 'an import needs receivedAt on every event' }])
    // After the import, ordinary ingest takes the server clock again.
    assert.equal(expectOk(await post(api.app, A, { url: '/v1/events?import=false' })), answer(1, 0, 3, 3))
  })

  // ------------------------------------------------------------------ bad requests

  test('malformed or empty JSON is 400 LV_ERR_BODY_INVALID', async ({ api }) => {
    const malformed = expectProblem(await post(api.app, '{"id": "a",'), 400, 'LV_ERR_BODY_INVALID')
    assert.is(malformed.instance, '/v1/events')
    expectProblem(await post(api.app, ''), 400, 'LV_ERR_BODY_INVALID')
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), EMPTY_REVENUE)
  })

  test('text/plain and other content types are 415 LV_ERR_BODY_UNSUPPORTED_TYPE', async ({ api }) => {
    const problem = expectProblem(await post(api.app, JSON.stringify(A), { contentType: 'text/plain' }), 415, 'LV_ERR_BODY_UNSUPPORTED_TYPE')
    assert.equal(problem, {
      type: 'urn:lateview:problem:LV_ERR_BODY_UNSUPPORTED_TYPE',
      title: 'Unsupported content type',
      status: 415,
      detail: 'send application/json, application/x-ndjson, application/cloudevents+json or application/cloudevents-batch+json',
      code: 'LV_ERR_BODY_UNSUPPORTED_TYPE',
      instance: '/v1/events',
    })
    expectProblem(await post(api.app, '<event/>', { contentType: 'application/xml' }), 415, 'LV_ERR_BODY_UNSUPPORTED_TYPE')
    expectProblem(await post(api.app, 'id=a', { contentType: 'application/x-www-form-urlencoded' }), 415, 'LV_ERR_BODY_UNSUPPORTED_TYPE')
    expectProblem(await api.app.inject({ method: 'POST', url: '/v1/events', payload: JSON.stringify(A) }), 415, 'LV_ERR_BODY_UNSUPPORTED_TYPE')
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), EMPTY_REVENUE)
  })

  test('a batch of more than 100,000 events is 413 LV_ERR_BODY_TOO_LARGE', async ({ api }) => {
    const problem = expectProblem(await post(api.app, `[${new Array(100_001).fill('{}').join(',')}]`), 413, 'LV_ERR_BODY_TOO_LARGE')
    assert.is(problem.detail, 'a batch holds at most 100000 events; this one has 100001')
  })

  test('?import=maybe and unknown parameters are 400 LV_ERR_QUERY_INVALID', async ({ api }) => {
    const problem = expectProblem(await post(api.app, A, { url: '/v1/events?import=maybe' }), 400, 'LV_ERR_QUERY_INVALID')
    assert.is(problem.instance, '/v1/events?import=maybe')
    assert.ok(String(problem.detail).includes('import'), String(problem.detail))
    // An unknown parameter is refused, not dropped: ?imprt=true must not ingest as live data.
    const typo = expectProblem(await post(api.app, A, { url: '/v1/events?imprt=true' }), 400, 'LV_ERR_QUERY_INVALID')
    assert.is(typo.instance, '/v1/events?imprt=true')
    expectProblem(await get(api.app, '/v1/events/store-001/a'), 404, 'LV_ERR_EVENT_NOT_FOUND')
  })

  test('GET of an unknown event is 404 LV_ERR_EVENT_NOT_FOUND', async ({ api }) => {
    assert.equal(expectOk(await post(api.app, A)), answer(1, 0, 1, 1))
    assert.equal(expectProblem(await get(api.app, '/v1/events/store-001/nope'), 404, 'LV_ERR_EVENT_NOT_FOUND'), {
      type: 'urn:lateview:problem:LV_ERR_EVENT_NOT_FOUND',
      title: 'No such event',
      status: 404,
      detail: 'no event "nope" from source "store-001"',
      code: 'LV_ERR_EVENT_NOT_FOUND',
      instance: '/v1/events/store-001/nope',
    })
    // The id is unique per source only.
    expectProblem(await get(api.app, '/v1/events/store-002/a'), 404, 'LV_ERR_EVENT_NOT_FOUND')
  })

  test.run()
}
