import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { canonicalJson } from '../../src/domain/event.js'
import { parseViewDefinition, toViewFile, type ViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import { syncViews } from '../../src/services/realtime.js'
import { compileViews } from '../../src/services/view-files.js'
import type { Engine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { at, refund, retraction, sale, shippedViews, type RawEvent } from '../helpers/ingest-fixtures.js'

const T0 = at('2026-11-27T00:00:00Z')
const shipped = shippedViews()
const byName = (name: string): ViewDefinition => {
  const view = shipped.find((v) => v.name === name)
  if (!view) throw new Error(`views/${name}.json is missing`)
  return view
}
const revenueV1 = byName('daily_revenue')
const tests = byName('daily_positive_tests')

/** daily_revenue as its file would read after an edit. */
function revenueEdited(edit: (file: Record<string, unknown>) => void): ViewDefinition {
  const file = JSON.parse(JSON.stringify(toViewFile(revenueV1))) as Record<string, unknown>
  edit(file)
  return parseViewDefinition(file, 'views/daily_revenue.json')
}

const lab = (id: string, positive: number, occurredAt = '2026-11-25T10:00:00+01:00', labName = 'berlin'): RawEvent => ({
  id,
  source: `lab-${labName}`,
  type: 'test_result',
  occurredAt,
  data: { lab: labName, region: 'north', positive },
})

/** The events every test starts from: sales, a refund, lab results and two retractions. */
const HISTORY: RawEvent[] = [
  sale('a', 100.1),
  sale('b', 250.25),
  refund('f', 30.05),
  sale('c', 12.5, { channel: 'web', occurredAt: '2026-11-25T16:30:00Z' }),
  lab('t1', 1),
  lab('t2', 0),
  lab('t3', 1, '2026-11-25T23:30:00Z'),
  lab('m1', 1, '2026-11-25T11:00:00+01:00', 'munich'),
  retraction('r-b', 'b'),
  retraction('r-t2', 't2', { source: 'lab-berlin' }),
]

const revenueCells = [
  { period: '2026-11-25', dims: { store: '001', channel: 'pos' }, measures: { revenue: 70.05, orders: 0, largest: 100.1 }, eventCount: 2 },
  { period: '2026-11-26', dims: { store: '001', channel: 'web' }, measures: { revenue: 12.5, orders: 1, largest: 12.5 }, eventCount: 1 },
]
const testCells = [
  { period: '2026-11-25', dims: { lab: 'berlin', region: 'north' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
  { period: '2026-11-25', dims: { lab: 'munich', region: 'north' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
  { period: '2026-11-26', dims: { lab: 'berlin', region: 'north' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
]

async function viewStates(engine: Engine): Promise<Array<{ view: string; version: number; updated_at: number; same: boolean }>> {
  const rows = await engine.db.kysely.selectFrom('view_state').selectAll().orderBy('view').execute()
  const current = new Map([...shipped, revenueV1].map((v) => [v.name, canonicalJson(v)]))
  return rows.map((r) => ({ view: r.view, version: r.version, updated_at: r.updated_at, same: current.get(r.view) === r.definition }))
}

for (const factory of await engines()) {
  const test = suite(`services/realtime syncViews (${factory.name})`)

  /** Runs a test body on a fresh store and closes it whatever happens. */
  const fresh = (body: (engine: Engine, clock: ManualClock) => Promise<void>) => async () => {
    const engine = await factory.open()
    try {
      await body(engine, new ManualClock(T0))
    } finally {
      await engine.close()
    }
  }

  test.after(async () => {
    await factory.cleanup()
  })

  test(
    'on an empty store every view is new: synced once, then never again while unchanged',
    fresh(async (engine, clock) => {
      assert.equal(await syncViews(engine, compileViews([tests, revenueV1]), clock), ['daily_positive_tests', 'daily_revenue'])
      assert.equal(await viewStates(engine), [
        { view: 'daily_positive_tests', version: 1, updated_at: T0, same: true },
        { view: 'daily_revenue', version: 1, updated_at: T0, same: true },
      ])
      clock.advance(60_000)
      assert.equal(await syncViews(engine, compileViews([tests, revenueV1]), clock), [])
      assert.equal(
        (await viewStates(engine)).map((s) => s.updated_at),
        [T0, T0],
      )
    }),
  )

  test(
    'a view added after events exist gets its cells computed from the store, then maintained by ingest',
    fresh(async (engine, clock) => {
      const first = await Lateview.fromEngine(engine, [revenueV1], clock)
      await first.ingest(HISTORY)
      assert.equal((await first.realtime('daily_revenue')).cells, revenueCells)
      assert.equal(await engine.db.kysely.selectFrom('cells').select('view').where('view', '=', 'daily_positive_tests').execute(), [])

      clock.advance(60_000)
      assert.equal(await syncViews(engine, compileViews([revenueV1, tests]), clock), ['daily_positive_tests'])
      assert.equal(await viewStates(engine), [
        { view: 'daily_positive_tests', version: 1, updated_at: T0 + 60_000, same: true },
        { view: 'daily_revenue', version: 1, updated_at: T0, same: true },
      ])
      const both = await Lateview.fromEngine(engine, [revenueV1, tests], clock)
      assert.equal((await both.realtime('daily_positive_tests')).cells, testCells)
      assert.equal((await both.realtime('daily_revenue')).cells, revenueCells)

      await both.ingest([lab('t4', 1), retraction('r-m1', 'm1', { source: 'lab-munich' })])
      assert.equal((await both.realtime('daily_positive_tests')).cells, [
        { period: '2026-11-25', dims: { lab: 'berlin', region: 'north' }, measures: { tests: 2, positives: 2 }, eventCount: 2 },
        { period: '2026-11-26', dims: { lab: 'berlin', region: 'north' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
      ])
      assert.equal((await both.verify()).differences, [])
    }),
  )

  test(
    'a changed definition (a new measure) rebuilds that view alone',
    fresh(async (engine, clock) => {
      const lv = await Lateview.fromEngine(engine, [revenueV1, tests], clock)
      await lv.ingest(HISTORY)
      const revenueV2 = revenueEdited((file) => {
        file.version = 2
        file.measures = { ...(file.measures as object), smallest: { min: 'amount', decimals: 2 } }
      })
      clock.advance(60_000)
      assert.equal(await syncViews(engine, compileViews([revenueV2, tests]), clock), ['daily_revenue'])
      const v2 = await Lateview.fromEngine(engine, [revenueV2, tests], clock)
      assert.equal((await v2.realtime('daily_revenue')).cells, [
        { period: '2026-11-25', dims: { store: '001', channel: 'pos' }, measures: { revenue: 70.05, orders: 0, largest: 100.1, smallest: -30.05 }, eventCount: 2 },
        { period: '2026-11-26', dims: { store: '001', channel: 'web' }, measures: { revenue: 12.5, orders: 1, largest: 12.5, smallest: 12.5 }, eventCount: 1 },
      ])
      assert.equal((await v2.realtime('daily_positive_tests')).cells, testCells)
      const states = await engine.db.kysely.selectFrom('view_state').select(['view', 'version', 'updated_at']).orderBy('view').execute()
      assert.equal(states, [
        { view: 'daily_positive_tests', version: 1, updated_at: T0 },
        { view: 'daily_revenue', version: 2, updated_at: T0 + 60_000 },
      ])
      // The new measure is maintained by ingest from now on, retractions included.
      await v2.ingest([sale('d', 5), retraction('r-f', 'f')])
      assert.equal((await v2.realtime('daily_revenue', { to: '2026-11-25' })).cells, [
        { period: '2026-11-25', dims: { store: '001', channel: 'pos' }, measures: { revenue: 105.1, orders: 2, largest: 100.1, smallest: 5 }, eventCount: 2 },
      ])
      assert.equal((await v2.verify()).differences, [])
    }),
  )

  test(
    'a changed time zone or measure order rebuilds the cells under the new rules',
    fresh(async (engine, clock) => {
      const lv = await Lateview.fromEngine(engine, [revenueV1], clock)
      await lv.ingest(HISTORY)
      const utc = revenueEdited((file) => {
        file.version = 2
        file.timezone = 'UTC'
      })
      assert.equal(await syncViews(engine, compileViews([utc]), clock), ['daily_revenue'])
      // 16:30Z on the 25th was the 26th in Taipei; in UTC it is the 25th.
      const inUtc = await Lateview.fromEngine(engine, [utc], clock)
      assert.equal((await inUtc.realtime('daily_revenue')).cells, [
        { period: '2026-11-25', dims: { store: '001', channel: 'pos' }, measures: { revenue: 70.05, orders: 0, largest: 100.1 }, eventCount: 2 },
        { period: '2026-11-25', dims: { store: '001', channel: 'web' }, measures: { revenue: 12.5, orders: 1, largest: 12.5 }, eventCount: 1 },
      ])

      const reordered = revenueEdited((file) => {
        file.version = 3
        file.timezone = 'UTC'
        const m = file.measures as Record<string, unknown>
        file.measures = { largest: m.largest, revenue: m.revenue, orders: m.orders }
      })
      assert.equal(await syncViews(engine, compileViews([reordered]), clock), ['daily_revenue'])
      const r = await Lateview.fromEngine(engine, [reordered], clock)
      assert.equal((await r.realtime('daily_revenue', { where: { channel: 'pos' } })).cells, [
        { period: '2026-11-25', dims: { store: '001', channel: 'pos' }, measures: { largest: 100.1, revenue: 70.05, orders: 0 }, eventCount: 2 },
      ])
      assert.equal((await r.verify()).differences, [])
    }),
  )

  test(
    'an unchanged definition is not rebuilt: the stored cells are left as they are',
    fresh(async (engine, clock) => {
      const lv = await Lateview.fromEngine(engine, [revenueV1, tests], clock)
      await lv.ingest(HISTORY)
      // Tamper with a cell: a rebuild would put the true figures back, a skipped one leaves it.
      await engine.db.kysely.updateTable('cells').set({ m0: 1 }).where('view', '=', 'daily_revenue').where('period', '=', '2026-11-26').execute()
      clock.advance(60_000)
      // The same definition written with its keys in another order is the same definition.
      const sameAgain = revenueEdited((file) => {
        const copy = { ...file }
        for (const key of Object.keys(file)) delete file[key]
        for (const key of Object.keys(copy).reverse()) file[key] = copy[key]
      })
      assert.equal(await syncViews(engine, compileViews([sameAgain, tests]), clock), [])
      assert.equal((await lv.realtime('daily_revenue', { from: '2026-11-26' })).cells, [
        { period: '2026-11-26', dims: { store: '001', channel: 'web' }, measures: { revenue: 0.01, orders: 1, largest: 12.5 }, eventCount: 1 },
      ])
      assert.equal(
        (await engine.db.kysely.selectFrom('view_state').select('updated_at').execute()).map((r) => r.updated_at),
        [T0, T0],
      )
      const verified = await lv.verify(['daily_revenue'])
      assert.equal(verified.differences.length, 1)

      // A changed definition does repair it.
      const v2 = revenueEdited((file) => {
        file.version = 2
      })
      assert.equal(await syncViews(engine, compileViews([v2, tests]), clock), ['daily_revenue'])
      assert.equal((await Lateview.fromEngine(engine, [v2, tests], clock).then((x) => x.realtime('daily_revenue'))).cells, revenueCells)
    }),
  )

  test.run()
}
