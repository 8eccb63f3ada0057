import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { forEachEvent, type ScanRow } from '../../src/store/engine.js'
import { headSeq } from '../../src/store/events.js'
import { engines } from '../helpers/engines.js'
import { at, extremesView, retraction, sale, shippedViews, type RawEvent } from '../helpers/ingest-fixtures.js'

const T0 = at('2026-11-27T00:00:00Z')
const D = '2026-11-25'

const extremes = extremesView
const views = [...shippedViews(), extremes]

for (const factory of await engines()) {
  const test = suite(`services/recompute (${factory.name})`)

  const fresh = (body: (lv: Lateview) => Promise<void>) => async () => {
    const engine = await factory.open()
    try {
      await body(await Lateview.fromEngine(engine, views, new ManualClock(T0)))
    } finally {
      await engine.close()
    }
  }

  /**
   * Three revisions of one period: the largest sale is retracted between the first and the
   * second cutoff, another sale after the last one, a third counts from the second on, and a
   * new largest sale comes after the last cutoff.
   */
  const history = async (lv: Lateview): Promise<number[]> => {
    const cutoffs: number[] = []
    const publish = async () => {
      await lv.restate('daily_revenue', D)
      await lv.restate('extremes', D)
      cutoffs.push(await headSeq(lv.engine.db))
    }
    await lv.ingest([sale('a', 100.1), sale('b', 250.25), sale('c', 12.5, { store: '002', source: 'store-002' }), sale('w', 7, { channel: 'web', occurredAt: '2026-11-26T10:00:00+08:00' })])
    await publish()
    await lv.ingest([retraction('r-b', 'b'), sale('d', 99.99)])
    await publish()
    await lv.ingest([sale('e', 300)])
    await publish()
    await lv.ingest([sale('g', 400), retraction('r-a', 'a'), sale('f', 1.01, { occurredAt: '2026-11-24T10:00:00+08:00' })])
    return cutoffs
  }

  test(
    'verifyStore: every cell and revision holds after retractions between and after cutoffs',
    fresh(async (lv) => {
      await history(lv)
      const verified = await lv.verifyStore()
      assert.equal(verified.realtime.differences, [])
      assert.is(verified.realtime.seq, await headSeq(lv.engine.db))
      assert.is(verified.realtime.cells, (await lv.verify()).cells)
      assert.equal(verified.revisions, { revisions: 6, differences: [] })
      assert.equal(await lv.verifyRevisions(), verified.revisions)
      // The first revision still holds b, the largest sale, retracted before the second cutoff.
      assert.is((await lv.report('extremes', D, { revision: 1 })).rows[0]?.measures.largest, 250.25)
    }),
  )

  test(
    'verifyStore: a tampered revision cell and a tampered Realtime cell are reported',
    fresh(async (lv) => {
      const cutoffs = await history(lv)
      await lv.engine.db.kysely.updateTable('revision_cells').set({ m0: 1 }).where('view', '=', 'extremes').where('from_revision', '=', 2).execute()
      await lv.engine.db.kysely
        .updateTable('cells')
        .set((eb) => ({ event_count: eb('event_count', '+', 1) }))
        .where('view', '=', 'daily_revenue')
        .where('period', '=', '2026-11-26')
        .execute()
      const verified = await lv.verifyStore()
      assert.equal(verified.revisions.differences, [{ view: 'extremes', period: D, revision: 2, problem: `1 cells differ from a recomputation at seq ${cutoffs[1]}` }])
      assert.equal(
        verified.realtime.differences.map((d) => [d.view, d.period, d.dims, d.stored?.eventCount, d.recomputed?.eventCount]),
        [['daily_revenue', '2026-11-26', { store: '001', channel: 'web' }, 2, 1]],
      )
    }),
  )

  test(
    'forEachEvent: a parse scan gives the rows of a plain scan, in seq order, data parsed',
    fresh(async (lv) => {
      const odd: RawEvent[] = []
      for (let i = 0; i < 2300; i++) {
        odd.push(
          sale(`s-${i}`, i / 100, {
            source: i % 3 === 0 ? 'store-"quoted"\\n' : 'store-é',
            type: i % 7 === 0 ? 'refund' : 'sale',
            occurredAt: new Date(at('2026-11-24T10:00:00+08:00') + i * 97_001).toISOString(),
            data: { store: i % 2 === 0 ? '001' : 'ünï "x"', channel: i % 5 === 0 ? true : 'pos', amount: i / 100, nested: { a: [1, null, 'z'] }, big: 1e21 },
          }),
        )
      }
      await lv.ingest(odd)
      await lv.ingest([retraction('r-1', 's-1', { source: 'store-é' }), retraction('r-3', 's-3', { source: 'store-"quoted"\\n' })])
      // A retraction of a refund that names another type of its own: it counts under the refund's.
      await lv.ingest([retraction('r-7', 's-7', { source: 'store-é', type: 'other' })])
      const head = await headSeq(lv.engine.db)
      const types = new Set<string>()
      for (const scan of [
        { types: ['sale'], maxSeq: head },
        { types: ['sale'], maxSeq: head, afterSeq: 17, withIds: true },
        { types: ['sale'], maxSeq: head - 5, originalsOnly: true },
        { types: ['sale'], maxSeq: head, range: { start: at('2026-11-25T00:00:00+08:00'), end: at('2026-11-26T00:00:00+08:00') }, withIds: true },
        { types: ['refund', 'sale'], maxSeq: head, withIds: true },
        { types: ['refund', 'sale'], maxSeq: head, originalsOnly: true },
      ]) {
        const plain: ScanRow[] = []
        const parsed: ScanRow[] = []
        await forEachEvent(lv.engine.db, scan, (row) => plain.push(row))
        await forEachEvent(lv.engine.db, { ...scan, parse: true }, (row) => parsed.push(row))
        assert.ok(plain.length > 500)
        assert.equal(
          parsed,
          plain.map((r) => ({ ...r, data: '', parsed: JSON.parse(r.data) as unknown })),
        )
        assert.ok(parsed.every((r, i) => i === 0 || r.seq > (parsed[i - 1] as ScanRow).seq))
        for (const r of parsed) types.add(r.type)
      }
      assert.equal([...types].sort(), ['other', 'refund', 'sale'])
    }),
  )

  test(
    'forEachEvent: an unordered parse scan of a range gives the rows of a plain scan, across pages and equal instants',
    fresh(async (lv) => {
      const events: RawEvent[] = []
      // 2,600 events in one day, five to an instant, so pages end inside a run of equal instants.
      for (let i = 0; i < 2600; i++) {
        events.push(
          sale(`e-${i}`, i / 100, {
            source: i % 2 === 0 ? 'store-a' : 'store-"b"',
            type: i % 9 === 0 ? 'refund' : 'sale',
            occurredAt: new Date(at('2026-11-25T00:00:00+08:00') + Math.floor(i / 5) * 60_000).toISOString(),
            data: { store: i % 2 === 0 ? '001' : 'ü "q"', channel: 'pos', amount: i / 100, flag: i % 4 === 0 },
          }),
        )
      }
      // Some on the days around it, which the range leaves out.
      for (let i = 0; i < 30; i++) {
        events.push(
          sale(`out-${i}`, 1, {
            occurredAt: new Date(at('2026-11-25T00:00:00+08:00') + (i % 2 === 0 ? -1 : 1) * (i + 1) * 3_600_000 - (i % 2 === 0 ? 0 : 1) + (i % 2 === 0 ? 0 : 24 * 3_600_000)).toISOString(),
          }),
        )
      }
      await lv.ingest(events)
      // Retractions arrive later, one of them at another occurrence instant than its target's.
      await lv.ingest([retraction('r-2', 'e-2', { source: 'store-a' }), retraction('r-11', 'e-11', { source: 'store-"b"', occurredAt: '2026-11-20T00:00:00Z' })])
      const head = await headSeq(lv.engine.db)
      const range = { start: at('2026-11-25T00:00:00+08:00'), end: at('2026-11-26T00:00:00+08:00') }
      for (const scan of [
        { types: ['sale', 'refund'], maxSeq: head, range, unordered: true },
        { types: ['sale'], maxSeq: head - 1, range, unordered: true, withIds: true },
        { types: ['refund', 'sale'], maxSeq: head, range, unordered: true, originalsOnly: true },
      ]) {
        const plain: ScanRow[] = []
        const parsed: ScanRow[] = []
        await forEachEvent(lv.engine.db, scan, (row) => plain.push(row))
        await forEachEvent(lv.engine.db, { ...scan, parse: true }, (row) => parsed.push(row))
        assert.ok(plain.length > 2000)
        const bySeq = (a: ScanRow, b: ScanRow) => a.seq - b.seq
        assert.equal(
          parsed.sort(bySeq),
          plain.sort(bySeq).map((r) => ({ ...r, data: '', parsed: JSON.parse(r.data) as unknown })),
        )
        assert.is(new Set(parsed.map((r) => r.seq)).size, parsed.length)
      }
    }),
  )

  test.after(() => factory.cleanup())
  test.run()
}
