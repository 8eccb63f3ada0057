import fc from 'fast-check'
import { sql } from 'kysely'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { ingest } from '../../src/services/ingest.js'
import { compileViews } from '../../src/services/view-files.js'
import { putViewState, readCells } from '../../src/store/cells.js'
import type { AppendedEvent, Engine } from '../../src/store/engine.js'
import { migrations } from '../../src/store/migrations.js'
import { allRetractions, eventsBySeq, firstReceivedAt, firstSeqAfter, getEvent, hasEvents, headSeq, periodEvents, retractedAmong, retractionOf, sourcesReporting } from '../../src/store/events.js'
import { cutoffAt } from '../../src/store/revisions.js'
import { engines } from '../helpers/engines.js'
import { at, retraction, sale, shippedViews, type RawEvent } from '../helpers/ingest-fixtures.js'

const T0 = at('2026-11-27T00:00:00Z')
const programs = compileViews(shippedViews())
const revenue = programs.find((p) => p.name === 'daily_revenue')
if (!revenue) throw new Error('views/daily_revenue.json is missing')
const extremes = compileViews([
  parseViewDefinition(
    {
      name: 'extremes',
      eventTypes: ['sale'],
      timezone: 'UTC',
      granularity: 'day',
      dimensions: ['store'],
      measures: { smallest: { min: 'amount', decimals: 2 }, total: { sum: 'amount', decimals: 2 } },
    },
    'extremes.json',
  ),
])[0]
if (!extremes) throw new Error('no extremes view')

async function count(engine: Engine, table: 'events' | 'cells' | 'view_state'): Promise<number> {
  const row = await engine.db.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Every migration the code ships, in the order they apply. */
const ALL_MIGRATIONS = Object.keys(await migrations('sqlite').getMigrations()).sort()

async function migrationNames(engine: Engine): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(engine.db.kysely)
  return rows.map((r) => r.name)
}

async function seqsAndTimes(engine: Engine): Promise<Array<[number, string, number]>> {
  const rows = await engine.db.kysely.selectFrom('events').select(['seq', 'id', 'received_at']).orderBy('seq').execute()
  return rows.map((r) => [r.seq, r.id, r.received_at])
}

/** A sale appended as ingest would append it, received at T0 unless `receivedAt` says otherwise. */
function row(seq: number, source: string, id: string, receivedAt = T0): AppendedEvent {
  const event = { source, id, type: 'sale', occurredAt: at('2026-11-25T10:00:00+08:00'), data: { store: '001', channel: 'pos', amount: 1 }, retracts: null }
  return { seq, receivedAt, event, target: null }
}

for (const factory of await engines()) {
  const test = suite(`store contract (${factory.name})`)

  /** Runs a test body on a fresh, migrated store and closes it whatever happens. */
  const fresh = (body: (engine: Engine, clock: ManualClock) => Promise<void>) => async () => {
    const engine = await factory.open()
    try {
      await body(engine, new ManualClock(T0))
    } finally {
      await engine.close()
    }
  }
  const put = (engine: Engine, clock: ManualClock, events: RawEvent[]) => ingest(engine, programs, clock, events)

  test.after(async () => {
    await factory.cleanup()
  })

  test(
    'findEvents finds exactly the stored keys among those asked, whatever their order and alphabet',
    fresh(async (engine) => {
      const text = fc.oneof(fc.constantFrom('a', 'b', 'a1', 'b9', 'z', '\u00e9', '\ue000', '\ud83d\ude00', 'a\ud83d\ude00'), fc.string({ unit: 'grapheme', maxLength: 4 }))
      const key = fc.record({ source: fc.constantFrom('s1', 's2', '\ud83d\ude00'), id: text.filter((t) => t.length > 0) })
      const name = (k: { source: string; id: string }) => JSON.stringify([k.source, k.id])
      let round = 0
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(key, { selector: name, maxLength: 12 }), fc.array(key, { maxLength: 12 }), async (stored, asked) => {
          round++
          const prefix = `r${round}-`
          const keep = stored.map((k) => ({ source: prefix + k.source, id: k.id }))
          const ask = [...asked, ...stored.slice(0, 3)].map((k) => ({ source: prefix + k.source, id: k.id }))
          const insert = (rows: typeof keep) =>
            engine.write(async (tx) => {
              const head = await tx.head()
              await tx.insertEvents(rows.map((k, i) => row(head.seq + i + 1, k.source, k.id)))
            })
          const expected = (stored: typeof keep) => new Set(stored.filter((k) => ask.some((a) => a.source === k.source && a.id === k.id)).map(name))
          // In two transactions, asked after each: what the store remembers of the first
          // (its newest id per source) must not hide what the second added.
          const half = Math.ceil(keep.length / 2)
          await insert(keep.slice(0, half))
          assert.equal(new Set((await engine.write((tx) => tx.findEvents(ask))).map(name)), expected(keep.slice(0, half)))
          await insert(keep.slice(half))
          assert.equal(new Set((await engine.write((tx) => tx.findEvents(ask))).map(name)), expected(keep))
        }),
        { numRuns: 60 },
      )
    }),
  )

  test(
    'the cutoff of an instant is the last seq received by it',
    fresh(async (engine) => {
      const times = [T0, T0, T0 + 5, T0 + 9, T0 + 9, T0 + 20]
      await engine.write((tx) => tx.insertEvents(times.map((t, i) => row(i + 1, 's', `e${i}`, t))))
      const cut = async (t: number) => cutoffAt(engine.db, t)
      assert.equal(await cut(T0 - 1), { seq: 0, receivedAt: null })
      assert.equal(await cut(T0), { seq: 2, receivedAt: T0 })
      assert.equal(await cut(T0 + 4), { seq: 2, receivedAt: T0 })
      assert.equal(await cut(T0 + 5), { seq: 3, receivedAt: T0 + 5 })
      assert.equal(await cut(T0 + 19), { seq: 5, receivedAt: T0 + 9 })
      assert.equal(await cut(T0 + 20), { seq: 6, receivedAt: T0 + 20 })
      assert.equal(await cut(T0 + 99), { seq: 6, receivedAt: T0 + 20 })
      for (let t = T0 - 2; t <= T0 + 22; t++) {
        const expected = times.filter((r) => r <= t).length
        assert.is((await cut(t)).seq, expected, `at +${t - T0}`)
      }
    }),
  )

  test(
    'migrations create an empty store: head seq 0, no rows, every migration applied',
    fresh(async (engine) => {
      assert.is(engine.kind, factory.name)
      assert.ok(ALL_MIGRATIONS.includes('0001_events_and_cells'))
      assert.is(await headSeq(engine.db), 0)
      assert.equal(await engine.write((tx) => tx.head()), { seq: 0, receivedAt: 0 })
      assert.is(await count(engine, 'events'), 0)
      assert.is(await count(engine, 'cells'), 0)
      assert.is(await count(engine, 'view_state'), 0)
      assert.equal(await migrationNames(engine), ALL_MIGRATIONS)
    }),
  )

  test(
    'a second migrate is a no-op: data and migration history are kept',
    fresh(async (engine, clock) => {
      await put(engine, clock, [sale('a', 10), sale('b', 20)])
      const before = await getEvent(engine.db, 'store-001', 'b')
      await engine.migrate()
      assert.equal(await migrationNames(engine), ALL_MIGRATIONS)
      assert.is(await headSeq(engine.db), 2)
      assert.is(await count(engine, 'events'), 2)
      assert.equal(await getEvent(engine.db, 'store-001', 'b'), before)
      assert.is(before?.seq, 2)
    }),
  )

  test(
    'seqs strictly increase across batches, with no gap for a batch of duplicates',
    fresh(async (engine, clock) => {
      const r1 = await put(engine, clock, [sale('a', 1), sale('b', 2), sale('c', 3)])
      const r2 = await put(engine, clock, [sale('d', 4)])
      const r3 = await put(engine, clock, [sale('a', 1), sale('b', 2)])
      const r4 = await put(engine, clock, [sale('e', 5), sale('f', 6)])
      assert.equal([r1.firstSeq, r1.lastSeq, r2.firstSeq, r2.lastSeq], [1, 3, 4, 4])
      assert.equal([r3.accepted, r3.duplicates, r3.firstSeq, r3.lastSeq], [0, 2, null, null])
      assert.equal([r4.firstSeq, r4.lastSeq], [5, 6])
      assert.equal(
        (await seqsAndTimes(engine)).map(([seq, id]) => [seq, id]),
        [
          [1, 'a'],
          [2, 'b'],
          [3, 'c'],
          [4, 'd'],
          [5, 'e'],
          [6, 'f'],
        ],
      )
      assert.is(await headSeq(engine.db), 6)
    }),
  )

  test(
    'receivedAt is non-decreasing in seq order even when the clock goes backwards',
    fresh(async (engine, clock) => {
      const r1 = await put(engine, clock, [sale('a', 1)])
      clock.set(T0 - 3_600_000)
      const r2 = await put(engine, clock, [sale('b', 1), sale('c', 1)])
      clock.set(T0 + 5_000)
      const r3 = await put(engine, clock, [sale('d', 1)])
      clock.set(T0 + 4_000)
      const r4 = await put(engine, clock, [sale('e', 1)])
      assert.equal([r1.receivedAt, r2.receivedAt, r3.receivedAt, r4.receivedAt], ['2026-11-27T00:00:00.000Z', '2026-11-27T00:00:00.000Z', '2026-11-27T00:00:05.000Z', '2026-11-27T00:00:05.000Z'])
      assert.equal(await seqsAndTimes(engine), [
        [1, 'a', T0],
        [2, 'b', T0],
        [3, 'c', T0],
        [4, 'd', T0 + 5_000],
        [5, 'e', T0 + 5_000],
      ])
      assert.equal(await engine.write((tx) => tx.head()), { seq: 5, receivedAt: T0 + 5_000 })
    }),
  )

  test(
    '(source, id) is unique: the same id from another source is another event; a second row is refused',
    fresh(async (engine, clock) => {
      const r = await put(engine, clock, [sale('x', 1), sale('x', 2, { source: 'store-002' })])
      assert.equal([r.accepted, r.duplicates, r.firstSeq, r.lastSeq], [2, 0, 1, 2])
      assert.is((await getEvent(engine.db, 'store-001', 'x'))?.seq, 1)
      assert.is((await getEvent(engine.db, 'store-002', 'x'))?.seq, 2)
      let refused = false
      try {
        await engine.write((tx) => tx.insertEvents([row(3, 'store-001', 'y'), row(4, 'store-001', 'x')]))
      } catch {
        refused = true
      }
      assert.ok(refused, 'a second (store-001, x) row must be refused')
      assert.is(await headSeq(engine.db), 2)
      assert.is(await getEvent(engine.db, 'store-001', 'y'), null)
      assert.equal((await getEvent(engine.db, 'store-001', 'x'))?.data, { store: '001', channel: 'pos', amount: 1 })
    }),
  )

  test(
    'getEvent returns the stored event with seq and receivedAt; null for an unknown key',
    fresh(async (engine, clock) => {
      await put(engine, clock, [{ id: 'sale-1', source: 'store-042', type: 'sale', occurredAt: '2026-11-25T10:03:00+08:00', data: { store: '042', channel: 'pos', amount: 129.5, tags: ['a'] } }])
      clock.advance(1_000)
      await put(engine, clock, [{ id: 'void-1', source: 'store-042', type: 'void', occurredAt: '2026-11-26T09:00:00Z', retracts: 'sale-1' }])
      assert.equal(await getEvent(engine.db, 'store-042', 'sale-1'), {
        seq: 1,
        id: 'sale-1',
        source: 'store-042',
        type: 'sale',
        occurredAt: at('2026-11-25T02:03:00Z'),
        receivedAt: T0,
        data: { store: '042', channel: 'pos', amount: 129.5, tags: ['a'] },
        retracts: null,
        targetSeq: null,
      })
      assert.equal(await getEvent(engine.db, 'store-042', 'void-1'), {
        seq: 2,
        id: 'void-1',
        source: 'store-042',
        type: 'void',
        occurredAt: at('2026-11-26T09:00:00Z'),
        receivedAt: T0 + 1_000,
        data: {},
        retracts: 'sale-1',
        targetSeq: 1,
      })
      assert.is(await getEvent(engine.db, 'store-042', 'sale-2'), null)
      assert.is(await getEvent(engine.db, 'store-001', 'sale-1'), null)
      assert.is((await retractionOf(engine.db, { seq: 1, occurredAt: at('2026-11-25T02:03:00Z') }))?.id, 'void-1')
      assert.is(await retractionOf(engine.db, { seq: 2, occurredAt: at('2026-11-26T09:00:00Z') }), null)
    }),
  )

  test(
    'periodEvents returns exactly the non-retracted events of a period at a given maxSeq',
    fresh(async (engine, clock) => {
      const range = revenue.bucketer.rangeOf('2026-11-25')
      assert.equal(range, { start: at('2026-11-25T00:00:00+08:00'), end: at('2026-11-26T00:00:00+08:00') })
      if (!range) return
      await put(engine, clock, [
        sale('a', 10, { occurredAt: '2026-11-25T00:00:00+08:00' }), // 1: first instant of the period
        { ...sale('b', 3), type: 'refund' }, // 2
        sale('c', 7, { occurredAt: '2026-11-26T00:00:00+08:00' }), // 3: first instant of the next period
        { id: 'd', source: 'store-001', type: 'visit', occurredAt: '2026-11-25T11:00:00+08:00', data: {} }, // 4: a type not asked for
      ])
      // 5: voids a; its own occurredAt lies outside the period, yet it counts where a counted.
      await put(engine, clock, [retraction('void-a', 'a', { occurredAt: '2026-11-26T20:00:00+08:00' })])
      await put(engine, clock, [sale('e', 5, { occurredAt: '2026-11-25T23:59:59.999+08:00' })]) // 6
      const ids = async (maxSeq: number) => (await periodEvents(engine.db, ['sale', 'refund'], range, maxSeq)).map((e) => e.id)
      assert.equal(await ids(0), [])
      assert.equal(await ids(1), ['a'])
      assert.equal(await ids(4), ['a', 'b'])
      assert.equal(await ids(5), ['b'])
      assert.equal(await ids(6), ['b', 'e'])
      assert.equal(
        (await periodEvents(engine.db, ['visit'], range, 6)).map((e) => e.id),
        ['d'],
      )
      const [b] = await periodEvents(engine.db, ['refund'], range, 6)
      assert.equal(b, {
        seq: 2,
        id: 'b',
        source: 'store-001',
        type: 'refund',
        occurredAt: at('2026-11-25T10:00:00+08:00'),
        receivedAt: T0,
        data: { store: '001', channel: 'pos', amount: 3 },
        retracts: null,
        targetSeq: null,
      })
      assert.equal([...(await retractedAmong(engine.db, [1, 2, 3]))], [1])
    }),
  )

  test(
    'the event reads of jobs, publication, verification and diffs answer from what is stored',
    fresh(async (engine, clock) => {
      const range = revenue.bucketer.rangeOf('2026-11-25')
      if (!range) throw new Error('no range')
      assert.is(await hasEvents(engine.db), false)
      assert.is(await firstReceivedAt(engine.db), null)
      await put(engine, clock, [sale('a', 1), sale('b', 2, { source: 'store-002' }), sale('c', 3, { source: 'store-003', occurredAt: '2026-11-26T10:00:00+08:00' })]) // 1-3
      clock.advance(1000)
      await put(engine, clock, [retraction('void-b', 'b', { source: 'store-002' })]) // 4
      clock.advance(1000)
      await put(engine, clock, [sale('d', 4, { source: 'store-004' })]) // 5
      assert.is(await hasEvents(engine.db), true)
      assert.is(await firstReceivedAt(engine.db), T0)
      const reporting = async (types: string[], now: number) => (await sourcesReporting(engine.db, types, range, now)).sort()
      assert.equal(await reporting(['sale'], T0), ['store-001', 'store-002'])
      assert.equal(await reporting(['sale'], T0 + 2000), ['store-001', 'store-002', 'store-004'])
      assert.equal(await reporting(['refund'], T0 + 2000), [])
      // A retraction dirties the period its target counts in.
      const firsts = await Promise.all([0, 1, 2, 4, 5].map((after) => firstSeqAfter(engine.db, ['sale'], range, after)))
      assert.equal(firsts, [1, 2, 4, 5, null])
      assert.equal(await allRetractions(engine.db), [{ target_seq: 2, seq: 4 }])
      // Seq 3 counts on the 26th (Taipei), outside the range: absent like an unknown seq.
      const bySeq = await eventsBySeq(engine.db, [2, 3, 4, 99], range)
      assert.equal([...bySeq.keys()].sort(), [2, 4])
      assert.equal([bySeq.get(2)?.id, bySeq.get(4)?.retracts], ['b', 'b'])
    }),
  )

  test(
    'engine.write rolls back events, cells and view state when the callback throws',
    fresh(async (engine) => {
      const boom = new Error('boom')
      let thrown: unknown
      try {
        await engine.write(async (tx) => {
          await tx.insertEvents([row(1, 'store-001', 'a'), row(2, 'store-001', 'b')])
          await tx.addToCells(revenue, [{ period: '2026-11-25', dimsKey: '["001","pos"]', state: { eventCount: 2, slots: [200, 2, 100] } }])
          await putViewState(tx.db, 'daily_revenue', 1, '{}', T0)
          assert.is((await tx.head()).seq, 2)
          throw boom
        })
      } catch (error) {
        thrown = error
      }
      assert.is(thrown, boom)
      assert.is(await headSeq(engine.db), 0)
      assert.is(await count(engine, 'events'), 0)
      assert.is(await count(engine, 'cells'), 0)
      assert.is(await count(engine, 'view_state'), 0)
      // The engine is usable afterwards: the failed transaction left nothing open.
      await engine.write((tx) => tx.insertEvents([row(1, 'store-001', 'a')]))
      assert.is(await headSeq(engine.db), 1)
    }),
  )

  test(
    'addToCells adds sums and counts, keeps the extreme of min and max, and creates missing cells',
    fresh(async (engine) => {
      await engine.write(async (tx) => {
        await tx.addToCells(revenue, [
          { period: '2026-11-25', dimsKey: '["001","pos"]', state: { eventCount: 1, slots: [1050, 1, 1050] } },
          { period: '2026-11-25', dimsKey: '["002","web"]', state: { eventCount: 1, slots: [-300, -1, -300] } },
        ])
        await tx.addToCells(extremes, [{ period: '2026-11-25', dimsKey: '["001"]', state: { eventCount: 2, slots: [500, 1700] } }])
      })
      await engine.write(async (tx) => {
        await tx.addToCells(revenue, [
          { period: '2026-11-25', dimsKey: '["001","pos"]', state: { eventCount: 2, slots: [3000, 2, 2500] } },
          { period: '2026-11-25', dimsKey: '["002","web"]', state: { eventCount: 1, slots: [-100, -1, -100] } },
        ])
        await tx.addToCells(extremes, [{ period: '2026-11-25', dimsKey: '["001"]', state: { eventCount: 1, slots: [700, 700] } }])
        await tx.addToCells(extremes, [{ period: '2026-11-25', dimsKey: '["001"]', state: { eventCount: 1, slots: [200, 200] } }])
        await tx.addToCells(extremes, [{ period: '2026-11-25', dimsKey: '["001"]', state: { eventCount: 0, slots: [null, 0] } }])
      })
      assert.equal(await readCells(engine.db, revenue), [
        { period: '2026-11-25', dimsKey: '["001","pos"]', state: { eventCount: 3, slots: [4050, 3, 2500] } },
        { period: '2026-11-25', dimsKey: '["002","web"]', state: { eventCount: 2, slots: [-400, -2, -100] } },
      ])
      assert.equal(await readCells(engine.db, extremes), [{ period: '2026-11-25', dimsKey: '["001"]', state: { eventCount: 4, slots: [200, 2600] } }])
      assert.equal(await readCells(engine.db, revenue, '2026-11-26'), [])
    }),
  )

  test.run()
}
