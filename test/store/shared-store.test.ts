import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { ingest } from '../../src/services/ingest.js'
import { Lateview } from '../../src/services/lateview.js'
import { compileViews } from '../../src/services/view-files.js'
import { openEngine, type AppendedEvent, type Engine } from '../../src/store/engine.js'
import { getEvent, headSeq } from '../../src/store/events.js'
import { at, rejection, sale, shippedViews, type RawEvent } from '../helpers/ingest-fixtures.js'
import { storeLocations } from '../helpers/store-locations.js'

const T0 = at('2026-11-27T00:00:00Z')
const programs = compileViews(shippedViews())

function row(seq: number, id: string): AppendedEvent {
  const event = { source: 'store-001', id, type: 'sale', occurredAt: at('2026-11-25T10:00:00+08:00'), data: { store: '001', channel: 'pos', amount: 1 }, retracts: null }
  return { seq, receivedAt: T0, event, target: null }
}

/**
 * Two engines over one store, as two processes (a server and a CLI import) would hold it: what
 * one writes, the other recognises, whatever it remembered of the store before.
 */
for (const location of await storeLocations()) {
  const test = suite(`store shared by two engines (${location.name})`)

  const pair = (body: (a: Engine, b: Engine, clock: ManualClock) => Promise<void>) => async () => {
    const where = location.next()
    const a = await openEngine(where)
    const b = await openEngine(where)
    try {
      await body(a, b, new ManualClock(T0))
    } finally {
      await a.close()
      await b.close()
    }
  }
  const put = (engine: Engine, clock: ManualClock, events: RawEvent[]) => ingest(engine, programs, clock, events)

  test.after(async () => {
    await location.cleanup()
  })

  test(
    'an id the other engine stored above the newest this one saw is a duplicate here, or a conflict',
    pair(async (a, b, clock) => {
      assert.equal((await put(a, clock, [sale('e1', 1), sale('e2', 2)])).accepted, 2)
      assert.equal((await put(b, clock, [sale('e3', 3)])).accepted, 1)
      const again = await put(a, clock, [sale('e3', 3), sale('e4', 4)])
      assert.equal([again.accepted, again.duplicates, again.firstSeq, again.lastSeq], [1, 1, 4, 4])
      const error = await rejection(() => put(a, clock, [sale('e3', 30)]), 'LV_ERR_EVENT_CONFLICT')
      assert.equal(error.details, { source: 'store-001', id: 'e3', index: 0 })
      // And the other way round: b learns of a's e4.
      const back = await put(b, clock, [sale('e4', 4), sale('e5', 5)])
      assert.equal([back.accepted, back.duplicates, back.firstSeq], [1, 1, 5])
      assert.is(await headSeq(a.db), 5)
    }),
  )

  test(
    'a rolled back insert leaves nothing behind: the same id is new afterwards',
    pair(async (a, _b, clock) => {
      assert.equal((await put(a, clock, [sale('e1', 1)])).accepted, 1)
      let thrown: unknown = null
      try {
        await a.write(async (tx) => {
          await tx.insertEvents([row(2, 'e9')])
          throw new Error('abandoned')
        })
      } catch (error) {
        thrown = error
      }
      assert.instance(thrown, Error)
      assert.equal(await a.write((tx) => tx.findEvents([{ source: 'store-001', id: 'e9' }])), [])
      assert.is(await getEvent(a.db, 'store-001', 'e9'), null)
      const r = await put(a, clock, [sale('e9', 9), sale('e1', 1)])
      assert.equal([r.accepted, r.duplicates, r.firstSeq], [1, 1, 2])
    }),
  )

  test(
    "a latest report read by one engine shows the other's newer revision at once, and its batch resolves the other's MissingData",
    pair(async (a, b, clock) => {
      const la = await Lateview.fromEngine(a, shippedViews(), clock)
      const lb = await Lateview.fromEngine(b, shippedViews(), clock)
      const period = '2026-11-25'
      await la.ingest([sale('e1', 1)])
      await lb.restate('daily_revenue', period)
      const first = await la.report('daily_revenue', period)
      assert.equal([first.revision, first.eventCount, first.totals.measures.revenue], [1, 1, 1])
      // Read again: the same document, from memory after one read of the period's row.
      assert.is(await la.report('daily_revenue', period), first)
      await lb.ingest([sale('e2', 2)])
      await lb.restate('daily_revenue', period)
      const second = await la.report('daily_revenue', period)
      assert.equal([second.revision, second.eventCount, second.totals.measures.revenue], [2, 2, 3])
      // b's watch raises MissingData for the stores that did not report; a's batch from one of them resolves its alert.
      await lb.jobs.run('sla-watch', { view: 'daily_revenue', period, now: clock.now(), trigger: 'manual' })
      const firing = () => la.alerts({ kind: 'MissingData', status: 'firing', limit: 100 })
      assert.equal((await firing()).map((x) => x.source).sort(), ['store-002', 'store-003', 'store-004', 'store-005', 'store-006', 'store-007', 'store-008'])
      const resolved = await la.ingest([sale('e3', 3, { source: 'store-002', store: '002' })])
      assert.equal(
        resolved.alerts.filter((x) => x.type === 'MissingData').map((x) => [x.source, x.status]),
        [['store-002', 'resolved']],
      )
      assert.equal((await firing()).length, 6)
    }),
  )

  test(
    'a cached latest report and Realtime take one statement, no snapshot: exact at the head, seeing the other engine at once, minSeq held',
    pair(async (a, b, clock) => {
      const la = await Lateview.fromEngine(a, shippedViews(), clock)
      const lb = await Lateview.fromEngine(b, shippedViews(), clock)
      const period = '2026-11-25'
      let snapshots = 0
      const snapshot = a.snapshot.bind(a)
      a.snapshot = (fn) => {
        snapshots++
        return snapshot(fn)
      }
      const seen: Array<{ seq: number; from: string }> = []
      const read = (minSeq?: number) => ({ onRead: (r: { seq: number; from: string }) => seen.push(r), ...(minSeq === undefined ? {} : { minSeq }) })
      await la.ingest([sale('e1', 1)])
      await lb.restate('daily_revenue', period)
      // The first read fills the cache in a snapshot; the next ones are one statement each.
      const first = await la.report('daily_revenue', period, {}, read())
      assert.equal([first.revision, first.eventCount, snapshots], [1, 1, 1])
      assert.is(await la.report('daily_revenue', period, {}, read()), first)
      assert.is(snapshots, 1)
      // Events the other engine adds move the seq the unchanged revision is exact at.
      await lb.ingest([sale('e2', 2)])
      assert.is(await la.report('daily_revenue', period, {}, read(2)), first)
      assert.is(snapshots, 1)
      assert.equal(seen, [
        { seq: 1, from: 'primary' },
        { seq: 1, from: 'primary' },
        { seq: 2, from: 'primary' },
      ])
      assert.is(await headSeq(b.db), 2)
      // A seq the store does not hold: the snapshot path refuses it with both seqs.
      const early = await rejection(() => la.report('daily_revenue', period, {}, read(3)), 'LV_ERR_SEQ_NOT_YET')
      assert.equal(early.details, { minSeq: 3, seq: 2 })
      assert.is(snapshots, 2)
      // The other engine's new revision is served at the next read, never the cached one.
      await lb.restate('daily_revenue', period)
      const second = await la.report('daily_revenue', period, {}, read())
      assert.equal([second.revision, second.eventCount, second.totals.measures.revenue, second.status], [2, 2, 3, 'provisional'])
      assert.is(snapshots, 3)
      assert.is(await la.report('daily_revenue', period, {}, read()), second)
      assert.is(snapshots, 3)
      // Revision N read before is served the same way; one the store does not have is not.
      assert.is(await la.report('daily_revenue', period, { revision: 1 }, read()), first)
      assert.is(snapshots, 3)
      await rejection(() => la.report('daily_revenue', period, { revision: 3 }, read()), 'LV_ERR_REVISION_NOT_FOUND')
      assert.is(snapshots, 4)
      // Realtime: cells and seq from one statement, the other engine's events included.
      seen.length = 0
      const live = await la.realtime('daily_revenue', { from: period, to: period }, read())
      assert.equal([live.seq, live.cells.length, live.totals], [2, 1, { measures: { revenue: 3, orders: 2, largest: 2 }, eventCount: 2 }])
      await lb.ingest([sale('e3', 4, { store: '002' })])
      const later = await la.realtime('daily_revenue', { from: period, to: period, where: { store: '002' } }, read(3))
      assert.equal([later.seq, later.cells.map((c) => c.dims.store), later.totals], [3, ['002'], { measures: { revenue: 4, orders: 1, largest: 4 }, eventCount: 1 }])
      const none = await la.realtime('daily_revenue', { from: '2026-11-26' }, read())
      assert.equal([none.seq, none.cells, none.totals.eventCount], [3, [], 0])
      assert.is(snapshots, 4)
      assert.equal(seen, [
        { seq: 2, from: 'primary' },
        { seq: 3, from: 'primary' },
        { seq: 3, from: 'primary' },
      ])
      const ahead = await rejection(() => la.realtime('daily_revenue', {}, read(4)), 'LV_ERR_SEQ_NOT_YET')
      assert.equal(ahead.details, { minSeq: 4, seq: 3 })
      // A filter on something that is no dimension is answered in a snapshot, with its seq.
      await rejection(() => la.realtime('daily_revenue', { where: { colour: 'red' } }, read()), 'LV_ERR_QUERY_INVALID')
      assert.equal([snapshots, seen.at(-1)], [6, { seq: 3, from: 'primary' }])
    }),
  )

  test.run()
}
