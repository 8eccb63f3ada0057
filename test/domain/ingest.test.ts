/**
 * The decisions of ingest, without a store: a batch's validation and repeats, which items are
 * new, the verdict on each retraction, the cell deltas of a batch and the alerts it raises.
 */
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregate, cellId, sameCell, ViewProgram, type CellState, type EventFacts, type SlotOp } from '../../src/domain/aggregate.js'
import { DEFAULT_EVENT_LIMITS } from '../../src/domain/content.js'
import { addScaled } from '../../src/domain/decimal.js'
import { EventKeyMap, type NewEvent, type StoredEvent } from '../../src/domain/event.js'
import {
  admit,
  batchAlerts,
  cellChanges,
  cellsToRepair,
  checkBatch,
  firstSeqs,
  freshItems,
  missingDataResolutions,
  retractionVerdict,
  storedTargetSeqs,
  storeLookups,
  viewDelta,
  type AdmittedEvent,
  type BatchItem,
  type BatchRules,
} from '../../src/domain/ingest.js'
import { parseInstant } from '../../src/domain/time.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { LateviewError } from '../../src/errors.js'

function at(iso: string): number {
  const ms = parseInstant(iso)
  if (ms === null) throw new Error(`bad instant ${iso}`)
  return ms
}

const NOW = at('2026-11-27T00:00:00Z')
const HOUR = 3_600_000

/** Sales and refunds per UTC day and store, with every kind of measure. */
const shop = parseViewDefinition(
  {
    name: 'shop',
    eventTypes: ['sale', 'refund'],
    timezone: 'UTC',
    granularity: 'day',
    dimensions: ['store'],
    measures: {
      total: { sum: 'amount', decimals: 2 },
      n: { count: true },
      low: { min: 'amount', decimals: 2 },
      high: { max: 'amount', decimals: 2 },
      mean: { avg: 'amount', decimals: 2 },
    },
    sign: { refund: -1 },
    close: { afterDays: 3, at: '03:30', lateAfterClose: 'hold' },
    sla: { maxDelay: 'PT6H', bySource: { 'online-*': 'PT5M' } },
  },
  'shop.json',
)
/** Sales per UTC day without dimensions, sums only. */
const plain = parseViewDefinition({ name: 'plain', eventTypes: ['sale'], timezone: 'UTC', granularity: 'day', dimensions: [], measures: { total: { sum: 'amount', decimals: 2 } } }, 'plain.json')

const rules: BatchRules = { imported: false, limits: DEFAULT_EVENT_LIMITS, inexactNumbers: false, now: NOW }

const raw = (id: string, amount: number, over: Record<string, unknown> = {}) => ({
  id,
  source: 'store-1',
  type: 'sale',
  occurredAt: '2026-11-26T10:00:00Z',
  data: { store: 'a', amount },
  ...over,
})

const event = (id: string, amount: number, over: Partial<NewEvent> = {}): NewEvent => ({
  id,
  source: 'store-1',
  type: 'sale',
  occurredAt: at('2026-11-26T10:00:00Z'),
  data: { store: 'a', amount },
  retracts: null,
  receivedAt: null,
  ...over,
})

const storedEvent = (seq: number, e: NewEvent, receivedAt = NOW - HOUR): StoredEvent => ({ ...e, seq, receivedAt, targetSeq: null })

function keyMap<T extends { source: string; id: string }>(values: T[]): EventKeyMap<T> {
  const map = new EventKeyMap<T>()
  for (const v of values) map.set(v.source, v.id, v)
  return map
}

/** Calls `run` and returns the LateviewError it throws with `code`. */
function thrown(run: () => unknown, code: string): LateviewError {
  try {
    run()
  } catch (error) {
    if (!(error instanceof LateviewError)) throw error
    assert.is(error.code, code, error.message)
    return error
  }
  assert.unreachable(`expected ${code}`)
  throw new Error('unreachable')
}

const admitted = (seq: number, e: NewEvent, over: Partial<AdmittedEvent> = {}): AdmittedEvent => ({ event: e, index: seq - 1, seq, receivedAt: NOW, target: null, ...over })

// ---------------------------------------------------------------------------------------------
const batch = suite('domain/ingest: checkBatch')

batch('keeps the first item of each key in order and counts same-body repeats, setting dataJson', () => {
  const checked = checkBatch([new ViewProgram(shop)], [raw('e1', 1), raw('e2', 2), { ...raw('e1', 1), data: { amount: 1, store: 'a' } }, raw('e3', 3)], rules)
  assert.equal(
    checked.items.map((i) => [i.index, i.event.id, i.event.dataJson]),
    [
      [0, 'e1', '{"store":"a","amount":1}'],
      [1, 'e2', '{"store":"a","amount":2}'],
      [3, 'e3', '{"store":"a","amount":3}'],
    ],
  )
  assert.is(checked.duplicates, 1)
  assert.is(checked.byKey.get('store-1', 'e3'), checked.items[2])
})

batch('reports every invalid item at once, in item order, whatever the repeats', () => {
  const error = thrown(
    () => checkBatch([new ViewProgram(shop)], [raw('e1', 1), raw('e2', 'ten' as unknown as number), raw('e1', 5), raw('e3', 1, { occurredAt: '2026-11-27T00:06:00Z' }), 'x'], rules),
    'LV_ERR_EVENTS_INVALID',
  )
  assert.is(error.message, '3 events of the batch are not valid; nothing was written')
  assert.equal(
    (error.details.errors as Array<{ index: number; code: string; field?: string; message: string }>).map((p) => [p.index, p.code, p.field ?? null, p.message]),
    [
      [1, 'LV_EVENT_FIELD_INVALID', 'data.amount', 'measure total of view shop needs a finite number'],
      [3, 'LV_EVENT_IN_FUTURE', 'occurredAt', 'occurredAt 2026-11-27T00:06:00.000Z is more than 5 minutes after receivedAt 2026-11-27T00:00:00.000Z'],
      [4, 'LV_EVENT_NOT_JSON', null, 'the item is not a JSON object'],
    ],
  )
})

batch('a repeat with another body is a conflict, named by its own index', () => {
  const error = thrown(() => checkBatch([], [raw('e1', 1), raw('e2', 2), raw('e1', 9)], rules), 'LV_ERR_EVENT_CONFLICT')
  assert.is(error.message, 'event "e1" from source "store-1" already exists with a different body; nothing was written')
  assert.equal(error.details, { source: 'store-1', id: 'e1', index: 2 })
})

batch('a retraction is not checked against the views it counts in', () => {
  const checked = checkBatch([new ViewProgram(shop)], [raw('r1', 0, { data: { amount: 'x' }, retracts: 'e0' })], rules)
  assert.equal(checked.items[0]?.event.retracts, 'e0')
})

// ---------------------------------------------------------------------------------------------
const admission = suite('domain/ingest: stored events and admission')

admission('asks the store for every key and the targets outside the batch', () => {
  const checked = checkBatch([], [raw('e2', 2), raw('r1', 0, { retracts: 'e1' }), raw('r2', 0, { retracts: 'e2' })], rules)
  // The events themselves stand for their keys: no object is made per event.
  assert.equal(
    storeLookups(checked).map(({ source, id }) => ({ source, id })),
    [
      { source: 'store-1', id: 'e2' },
      { source: 'store-1', id: 'r1' },
      { source: 'store-1', id: 'e1' },
      { source: 'store-1', id: 'r2' },
    ],
  )
})

admission('sets apart stored events: the same body is a duplicate, another a conflict', () => {
  const items: BatchItem[] = [
    { event: event('e1', 1), index: 0 },
    { event: event('e2', 2), index: 1 },
  ]
  const same = freshItems(items, keyMap([storedEvent(7, event('e1', 1))]))
  assert.equal([same.items.map((i) => i.event.id), same.duplicates], [['e2'], 1])
  const error = thrown(() => freshItems(items, keyMap([storedEvent(8, event('e2', 3))])), 'LV_ERR_EVENT_CONFLICT')
  assert.equal(error.details, { source: 'store-1', id: 'e2', index: 1 })
})

admission('seqs follow the head; a retraction resolves an earlier batch event, else a stored one', () => {
  const e1 = storedEvent(4, event('e1', 1))
  const fresh: BatchItem[] = [
    { event: event('e5', 5), index: 0 },
    { event: event('r1', 0, { retracts: 'e1', data: {} }), index: 2 },
    { event: event('r5', 0, { retracts: 'e5', data: {} }), index: 3 },
  ]
  const result = admit(fresh, {
    batch: keyMap(fresh.map((f) => ({ ...f, source: f.event.source, id: f.event.id }))),
    stored: keyMap([e1]),
    alreadyVoided: new Set(),
    head: { seq: 9, receivedAt: NOW - HOUR },
    receivedAt: NOW,
  })
  assert.equal(
    result.map((a) => [a.event.id, a.index, a.seq, a.receivedAt, a.target]),
    [
      ['e5', 0, 10, NOW, null],
      ['r1', 2, 11, NOW, { seq: 4, type: 'sale', occurredAt: e1.occurredAt, data: { store: 'a', amount: 1 } }],
      ['r5', 3, 12, NOW, { seq: 10, type: 'sale', occurredAt: e1.occurredAt, data: { store: 'a', amount: 5 } }],
    ],
  )
  assert.not.ok('target' in (fresh[1] as object), 'the items are left as they were')
})

admission('refuses each retraction that cannot void its target, and an import going back in time', () => {
  const fresh: BatchItem[] = [
    { event: event('r0', 0, { retracts: 'e9', receivedAt: NOW }), index: 0 },
    { event: event('r1', 0, { retracts: 'e1', receivedAt: NOW }), index: 1 },
    { event: event('r2', 0, { retracts: 'e1', receivedAt: NOW }), index: 2 },
    { event: event('r3', 0, { retracts: 'r1', receivedAt: NOW - 1 }), index: 3 },
    { event: event('r4', 0, { retracts: 'e2', receivedAt: NOW }), index: 4 },
  ]
  const stored = keyMap([storedEvent(1, event('e1', 1)), storedEvent(2, event('e2', 2))])
  assert.equal(storedTargetSeqs(fresh, stored), [1, 1, 2])
  const error = thrown(() => admit(fresh, { batch: new EventKeyMap(), stored, alreadyVoided: new Set([2]), head: { seq: 2, receivedAt: NOW - HOUR }, receivedAt: null }), 'LV_ERR_EVENTS_INVALID')
  assert.equal(
    (error.details.errors as Array<{ index: number; code: string; message: string }>).map((p) => [p.index, p.code, p.message]),
    [
      [0, 'LV_EVENT_RETRACTS_UNKNOWN', 'no event "e9" from source "store-1" precedes this retraction'],
      [2, 'LV_EVENT_ALREADY_RETRACTED', '"e1" is already retracted'],
      [3, 'LV_EVENT_RECEIVED_AT_ORDER', 'receivedAt 2026-11-26T23:59:59.999Z is earlier than 2026-11-27T00:00:00.000Z, already in the store or earlier in the batch'],
      [3, 'LV_EVENT_RETRACTS_UNKNOWN', 'no event "r1" from source "store-1" precedes this retraction'],
      [4, 'LV_EVENT_ALREADY_RETRACTED', '"e2" is already retracted'],
    ],
  )
})

admission('retractionVerdict answers without changing what it is given', () => {
  const r = event('r1', 0, { retracts: 'e1', data: {} })
  const stored = keyMap([storedEvent(3, event('e1', 1)), storedEvent(4, event('x1', 0, { retracts: 'e0' }))])
  const voided = new Set<number>()
  assert.equal(retractionVerdict(r, undefined, { stored, alreadyVoided: new Set() }, voided), {
    target: { seq: 3, type: 'sale', occurredAt: at('2026-11-26T10:00:00Z'), data: { store: 'a', amount: 1 } },
  })
  assert.equal(voided.size, 0)
  assert.equal(retractionVerdict(r, undefined, { stored, alreadyVoided: new Set() }, new Set([3])), { code: 'LV_EVENT_ALREADY_RETRACTED', message: '"e1" is already retracted' })
  assert.equal(retractionVerdict(event('r2', 0, { retracts: 'x1' }), undefined, { stored, alreadyVoided: new Set() }, voided), {
    code: 'LV_EVENT_RETRACTS_RETRACTION',
    message: '"x1" is itself a retraction',
  })
  // An event admitted earlier in the batch comes first.
  assert.equal(retractionVerdict(r, admitted(9, event('e1', 7)), { stored, alreadyVoided: new Set([3]) }, voided), {
    target: { seq: 9, type: 'sale', occurredAt: at('2026-11-26T10:00:00Z'), data: { store: 'a', amount: 7 } },
  })
})

// ---------------------------------------------------------------------------------------------
const deltas = suite('domain/ingest: view deltas')

const day = (d: number, h = 10) => at(`2026-11-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00Z`)

deltas('sums per cell, subtracts a retracted target, and places every counted event', () => {
  const program = new ViewProgram(shop)
  const target = { seq: 2, type: 'sale', occurredAt: day(25), data: { store: 'a', amount: 4.5 } }
  const batch = [
    admitted(5, event('e1', 12.5, { occurredAt: day(26) })),
    admitted(6, event('e2', 3, { occurredAt: day(26, 20), data: { store: 'b', amount: 3 } })),
    admitted(7, event('e3', 2, { type: 'refund', occurredAt: day(26, 11) })),
    admitted(8, event('other', 1, { type: 'visit' })),
    admitted(9, event('r1', 0, { retracts: 'e0', data: {} }), { target }),
  ]
  const delta = viewDelta(program, batch)
  const cells = [...delta.periods].map(([period, p]) => [period, p.firstSeq, [...p.cells].map(([k, c]) => [k, c.eventCount, c.slots])])
  assert.equal(cells, [
    [
      '2026-11-26',
      5,
      [
        ['["a"]', 2, [1050, 0, -200, 1250, 1050, 2]],
        ['["b"]', 1, [300, 1, 300, 300, 300, 1]],
      ],
    ],
    ['2026-11-25', 9, [['["a"]', -1, [-450, -1, null, null, -450, -1]]]],
  ])
  assert.equal(
    delta.placements.map((p) => [p.admitted.seq, p.period]),
    [
      [5, '2026-11-26'],
      [6, '2026-11-26'],
      [7, '2026-11-26'],
      [9, '2026-11-25'],
    ],
  )
  assert.equal([...delta.emptied], ['2026-11-25'])
  assert.equal([...delta.removed], [[cellId('2026-11-25', '["a"]'), [[450, 1, 450, 450, 450, 1]]]])
  assert.equal(
    [...firstSeqs(delta)],
    [
      ['2026-11-26', 5],
      ['2026-11-25', 9],
    ],
  )
})

deltas('a cell is recomputed only where a removed value is its stored or batch extreme', () => {
  const program = new ViewProgram(shop)
  const target = (amount: number, store: string) => ({ seq: 1, type: 'sale', occurredAt: day(25), data: { store, amount } })
  const delta = viewDelta(program, [
    admitted(5, event('r1', 0, { retracts: 'e1', data: {} }), { target: target(2, 'a') }),
    admitted(6, event('r2', 0, { retracts: 'e2', data: {} }), { target: target(5, 'b') }),
    admitted(7, event('r3', 0, { retracts: 'e3', data: {} }), { target: target(6, 'c') }),
  ])
  // Scaled by 100: the measures keep two decimals.
  const stored = (low: number, high: number): CellState => ({ eventCount: 3, slots: [0, 3, low * 100, high * 100, 0, 3] })
  const a = cellId('2026-11-25', '["a"]')
  const b = cellId('2026-11-25', '["b"]')
  const c = cellId('2026-11-25', '["c"]')
  const repair = cellsToRepair(
    delta,
    new Map([
      [a, stored(1, 9)],
      [b, stored(5, 8)],
      [c, null],
    ]),
  )
  assert.equal([...repair], [b])
  assert.equal(
    cellChanges(delta, repair).map((w) => w.dimsKey),
    ['["a"]', '["c"]'],
  )
  // A view without extremes never repairs.
  assert.equal(viewDelta(new ViewProgram(plain), [admitted(5, event('r1', 0, { retracts: 'e1' }), { target: target(2, 'a') })]).removed.size, 0)
})

/** A cell of the store after adding a change, as the store's upsert combines them. */
function combine(ops: SlotOp[], stored: CellState | undefined, change: CellState): CellState {
  if (!stored) return { eventCount: change.eventCount, slots: [...change.slots] }
  const slots = ops.map((op, i) => {
    const s = stored.slots[i] ?? null
    const c = change.slots[i] ?? null
    if (op === 'add') return s === null && c === null ? null : addScaled(s ?? 0, c ?? 0)
    if (s === null || c === null) return s ?? c
    return (op === 'min' ? c < s : c > s) ? c : s
  })
  return { eventCount: stored.eventCount + change.eventCount, slots }
}

deltas('property: stored cells plus a batch’s deltas (recomputing the repaired cells) are the aggregation of what remains', () => {
  const program = new ViewProgram(shop)
  const facts = fc.record({
    type: fc.constantFrom('sale', 'refund', 'visit'),
    day: fc.integer({ min: 24, max: 26 }),
    store: fc.constantFrom('a', 'b'),
    amount: fc.option(
      fc.integer({ min: -500, max: 500 }).map((n) => n / 4),
      { nil: undefined },
    ),
  })
  // Each batch entry: a new event, or a retraction of a stored event or of an earlier batch event.
  const entry = fc.oneof(
    facts.map((f) => ({ add: f })),
    fc.nat(40).map((n) => ({ retract: n })),
  )
  fc.assert(
    fc.property(fc.array(facts, { maxLength: 25 }), fc.array(entry, { maxLength: 25 }), (storedFacts, entries) => {
      const toFacts = (f: (typeof storedFacts)[number]): EventFacts => ({
        type: f.type,
        occurredAt: day(f.day),
        data: f.amount === undefined ? { store: f.store } : { store: f.store, amount: f.amount },
      })
      const live = storedFacts.map((f, i) => ({ seq: i + 1, ...toFacts(f) }))
      const storedCells = aggregate(program, live)
      const batch: AdmittedEvent[] = []
      const voided = new Set<number>()
      for (const e of entries) {
        const seq = live.length + batch.length + 1
        if ('add' in e) {
          const f = toFacts(e.add)
          batch.push(admitted(seq, event(`e${seq}`, 0, { type: f.type, occurredAt: f.occurredAt, data: f.data })))
          live.push({ seq, ...f })
          continue
        }
        const candidates = live.filter((l) => !voided.has(l.seq))
        const t = candidates[e.retract % Math.max(1, candidates.length)]
        if (!t) continue
        voided.add(t.seq)
        batch.push(admitted(seq, event(`r${seq}`, 0, { retracts: `e${t.seq}`, data: {} }), { target: { seq: t.seq, type: t.type, occurredAt: t.occurredAt, data: t.data } }))
      }
      const delta = viewDelta(program, batch)
      const repair = cellsToRepair(delta, new Map([...delta.removed.keys()].map((id) => [id, storedCells.get(id) ?? null])))
      const remaining = live.filter((l) => !voided.has(l.seq))
      const expected = aggregate(program, remaining)
      const result = new Map(storedCells)
      for (const w of cellChanges(delta, repair)) {
        const id = cellId(w.period, w.dimsKey)
        result.set(id, combine(program.ops, result.get(id), w.state))
      }
      for (const id of repair) {
        const cell = expected.get(id)
        if (cell) result.set(id, cell)
        else result.delete(id)
      }
      for (const [id, cell] of result) if (cell.eventCount === 0 && delta.emptied.has(id.slice(0, id.indexOf('\u0000')))) result.delete(id)
      assert.equal([...result.keys()].sort(), [...expected.keys()].sort())
      for (const [id, cell] of expected) assert.ok(sameCell(result.get(id) as CellState, cell), `${id}: ${JSON.stringify(result.get(id))} ≠ ${JSON.stringify(cell)}`)
    }),
    { numRuns: 300 },
  )
})

deltas('property: without retractions, a batch’s deltas are the aggregation of its events', () => {
  const program = new ViewProgram(shop)
  const sale = fc.record({
    type: fc.constantFrom('sale', 'refund'),
    day: fc.integer({ min: 20, max: 27 }),
    store: fc.string({ maxLength: 2 }),
    amount: fc.integer({ min: -10_000, max: 10_000 }).map((n) => n / 100),
  })
  fc.assert(
    fc.property(fc.array(sale, { maxLength: 60 }), (sales) => {
      const batch = sales.map((s, i) => admitted(i + 1, event(`e${i}`, s.amount, { type: s.type, occurredAt: day(s.day, 12), data: { store: s.store, amount: s.amount } })))
      const expected = aggregate(
        program,
        batch.map((a) => a.event),
      )
      const found = new Map<string, CellState>()
      for (const w of cellChanges(viewDelta(program, batch), new Set())) found.set(cellId(w.period, w.dimsKey), w.state)
      assert.equal([...found.keys()].sort(), [...expected.keys()].sort())
      for (const [id, cell] of expected) assert.ok(sameCell(found.get(id) as CellState, cell), id)
    }),
    { numRuns: 200 },
  )
})

// ---------------------------------------------------------------------------------------------
const alerts = suite('domain/ingest: alerts')

alerts('DelayedEvent per (view, source, period) over the SLA, then LateAfterClose per closed period', () => {
  const program = new ViewProgram(shop)
  const batch = [
    admitted(1, event('s1', 1, { occurredAt: NOW - 7 * HOUR })),
    admitted(2, event('o1', 1, { source: 'online-3', occurredAt: NOW - 10 * 60_000 })),
    admitted(3, event('s2', 1, { occurredAt: NOW - 8.5 * HOUR })),
    admitted(4, event('s3', 1, { occurredAt: NOW - HOUR })),
    admitted(5, event('r1', 0, { retracts: 'x', data: {} }), { target: { seq: 1, type: 'sale', occurredAt: at('2026-11-20T10:00:00Z'), data: { store: 'a', amount: 1 } } }),
  ]
  const delta = viewDelta(program, batch)
  const raised = batchAlerts([
    { delta, closed: new Set(['2026-11-20']) },
    { delta: viewDelta(new ViewProgram(plain), batch), closed: new Set() },
  ])
  assert.equal(raised, [
    { kind: 'DelayedEvent', view: 'shop', period: '2026-11-26', source: 'store-1', data: { count: 2, maxLagMs: 8.5 * HOUR, maxLag: 'PT8H30M', sla: 'PT6H', eventIds: ['s1', 's2'] } },
    { kind: 'DelayedEvent', view: 'shop', period: '2026-11-26', source: 'online-3', data: { count: 1, maxLagMs: 600_000, maxLag: 'PT10M', sla: 'PT5M', eventIds: ['o1'] } },
    { kind: 'LateAfterClose', view: 'shop', period: '2026-11-20', source: null, data: { count: 1, eventIds: ['r1'], policy: 'hold' } },
  ])
})

alerts('a MissingData alert is resolved by its source’s first event counting in its period, not by a retraction', () => {
  const program = new ViewProgram(shop)
  const batch = [
    admitted(1, event('r1', 0, { retracts: 'x', data: {} }), { receivedAt: NOW - 3, target: { seq: 1, type: 'sale', occurredAt: day(26), data: { store: 'a', amount: 1 } } }),
    admitted(2, event('e1', 1), { receivedAt: NOW - 2 }),
    admitted(3, event('e2', 1), { receivedAt: NOW - 1 }),
    admitted(4, event('o1', 1, { source: 'online-1', occurredAt: day(25) }), { receivedAt: NOW - 1 }),
  ]
  const firing = [
    { id: 10, view: 'shop', period: '2026-11-26', source: 'store-1' },
    { id: 11, view: 'shop', period: '2026-11-25', source: 'store-1' },
    { id: 12, view: 'shop', period: '2026-11-25', source: 'online-1' },
    { id: 13, view: 'other', period: '2026-11-26', source: 'store-1' },
    { id: 14, view: null, period: null, source: 'store-1' },
  ]
  assert.equal(missingDataResolutions(firing, [viewDelta(program, batch)]), [
    { at: NOW - 2, ids: [10] },
    { at: NOW - 1, ids: [12] },
  ])
})

batch.run()
admission.run()
deltas.run()
alerts.run()
