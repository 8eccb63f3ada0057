import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition, ViewDefinitionError, type ViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import type { Engine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { at, retraction, sale, type RawEvent } from '../helpers/ingest-fixtures.js'
import { periodState, recordedRuns, summarise } from '../helpers/lifecycle.js'

/**
 * `rebuild.minChange`: the rebuilder publishes a late revision only once a measure's total moved
 * past the threshold against the latest revision; flash, consolidate, close, restatements and a
 * new definition publish as always. Day D of a shop in Asia/Taipei (UTC+8), flash at 22:00,
 * consolidation at 03:00 on D+1, close at 03:30 on D+3.
 */
const VIEW = 'trickle'
const D = '2026-11-25'

function trickle(over: Record<string, unknown> = {}): ViewDefinition {
  return parseViewDefinition(
    {
      name: VIEW,
      eventTypes: ['sale', 'refund'],
      timezone: 'Asia/Taipei',
      granularity: 'day',
      dimensions: ['store'],
      measures: { revenue: { sum: 'amount', decimals: 2 }, largest: { max: 'amount', decimals: 2 } },
      sign: { refund: -1 },
      rebuild: { every: '*/15 * * * *', windowDays: 7, minChange: { relative: 0.001 } },
      ...over,
    },
    `${VIEW}.json`,
  )
}

/** A sale on D at `occurred` (local), received at `received` (local ISO without offset), from store-<store>. */
const sold = (id: string, amount: number, store: string, occurred: string, received: string): RawEvent =>
  sale(id, amount, { source: `store-${store}`, store, occurredAt: `${D}T${occurred}:00+08:00`, receivedAt: `${received}+08:00` })
const local = (iso: string) => at(`${iso}+08:00`)

const DAY = [sold('s1', 1000, '001', '10:00', `${D}T10:05:00`), sold('s2', 2000, '002', '15:00', `${D}T15:05:00`)]
// Each of these moves revenue by less than 0.1 % of revision 2's 3000.5 (3.0005); together they move it by 3.25.
const T1 = sold('t1', 0.5, '003', '21:30', `${D}T23:00:00`)
const T2 = sold('t2', 1.25, '003', '12:00', '2026-11-26T04:00:00')
const T3 = sold('t3', 1.5, '004', '13:00', '2026-11-26T05:00:00')
const T4 = sold('t4', 0.5, '004', '14:00', '2026-11-26T06:00:00')

for (const factory of await engines()) {
  const test = suite(`lifecycle/min-change (${factory.name})`)

  const fresh =
    (body: (lv: Lateview, clock: ManualClock, engine: Engine) => Promise<void>, views: ViewDefinition[] = [trickle()]) =>
    async () => {
      const engine = await factory.open()
      try {
        const clock = new ManualClock(local(`${D}T08:00:00`))
        await body(await Lateview.fromEngine(engine, views, clock), clock, engine)
      } finally {
        await engine.close()
      }
    }
  const arrive = async (lv: Lateview, clock: ManualClock, events: RawEvent[]) => {
    clock.set(at(events[events.length - 1]?.receivedAt as string))
    return lv.ingest(events, { imported: true })
  }
  const run = async (lv: Lateview, clock: ManualClock, job: 'flash' | 'consolidate' | 'rebuild' | 'close', when: string) => {
    clock.set(local(when))
    return summarise(await lv.jobs.run(job, { view: VIEW, now: local(when), trigger: 'cron' }))
  }
  const history = async (lv: Lateview) =>
    (await lv.revisions(VIEW, D)).revisions.map((r) => [r.revision, r.kind, r.trigger, r.cutoffSeq, r.eventCount, r.totals.measures.revenue, r.totals.measures.largest])
  const dirty = async (lv: Lateview) => (await lv.status(VIEW)).dirty

  test.after(async () => {
    await factory.cleanup()
  })

  test(
    'small late moves publish nothing until together they cross the threshold; consolidate, close and restatements publish as always',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, DAY)
      assert.equal(await run(lv, clock, 'flash', `${D}T22:00`), [['flash', VIEW, D, 'published', 1, 'flash at cutoff seq 2']])

      // 0.5 more before the consolidation: far below the threshold, and consolidated all the same.
      await arrive(lv, clock, [T1])
      assert.equal(await run(lv, clock, 'consolidate', '2026-11-26T03:00'), [['consolidate', VIEW, D, 'published', 2, 'consolidated at cutoff seq 3']])

      // +1.25: below 0.1 % of 3000.5 on revenue, the largest sale unchanged. Nothing published; still dirty.
      await arrive(lv, clock, [T2])
      const below = (revenue: string) => `below rebuild.minChange against revision 2: revenue +${revenue} (threshold 3.0005), largest 0 (threshold 2); the period stays dirty`
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-26T04:15'), [['rebuild', VIEW, D, 'below-threshold', 2, below('1.25')]])
      assert.equal(await periodState(lv, VIEW, D), { status: 'provisional', latestRevision: 2, dirtySinceSeq: 4 })
      assert.equal(await dirty(lv), [
        { period: D, status: 'provisional', latestRevision: 2, dirtySinceSeq: 4, pending: { eventCount: 1, measures: { revenue: 1.25, largest: 0 }, belowMinChange: true } },
      ])
      // The next rebuild looks again, against revision 2 still.
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-26T04:30'), [['rebuild', VIEW, D, 'below-threshold', 2, below('1.25')]])

      // +1.5 more: 2.75 in all, still below. The Realtime view and the latest report stay exact.
      await arrive(lv, clock, [T3])
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-26T05:15'), [['rebuild', VIEW, D, 'below-threshold', 2, below('2.75')]])
      assert.equal(await dirty(lv), [
        { period: D, status: 'provisional', latestRevision: 2, dirtySinceSeq: 4, pending: { eventCount: 2, measures: { revenue: 2.75, largest: 0 }, belowMinChange: true } },
      ])
      assert.equal(
        (await lv.realtime(VIEW, { from: D, to: D })).cells.map((c) => [c.dims.store, c.measures.revenue, c.eventCount]),
        [
          ['001', 1000, 1],
          ['002', 2000, 1],
          ['003', 1.75, 2],
          ['004', 1.5, 1],
        ],
      )
      const r2 = await lv.report(VIEW, D)
      assert.equal([r2.revision, r2.kind, r2.totals], [2, 'consolidated', { measures: { revenue: 3000.5, largest: 2000 }, eventCount: 3 }])

      // +0.5 more: 3.25 > 3.0005 since revision 2. Revision 3 takes all three.
      await arrive(lv, clock, [T4])
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-26T06:15'), [['rebuild', VIEW, D, 'published', 3, 'revision at cutoff seq 6']])
      assert.equal(await periodState(lv, VIEW, D), { status: 'provisional', latestRevision: 3, dirtySinceSeq: null })
      assert.equal(await dirty(lv), [])
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-26T06:30'), [])

      // t4 voided (−0.5, below 0.1 % of 3003.75): held back, then published by the close, which always publishes.
      await arrive(lv, clock, [retraction('t4-void', 't4', { source: 'store-004', occurredAt: `${D}T14:00:00+08:00`, receivedAt: '2026-11-27T09:00:00+08:00' })])
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-27T09:15'), [
        ['rebuild', VIEW, D, 'below-threshold', 3, 'below rebuild.minChange against revision 3: revenue -0.5 (threshold 3.00375), largest 0 (threshold 2); the period stays dirty'],
      ])
      assert.equal(await dirty(lv), [
        { period: D, status: 'provisional', latestRevision: 3, dirtySinceSeq: 7, pending: { eventCount: -1, measures: { revenue: -0.5, largest: 0 }, belowMinChange: true } },
      ])
      assert.equal(await run(lv, clock, 'close', '2026-11-28T03:30'), [['close', VIEW, D, 'published', 4, 'final at cutoff seq 7']])
      assert.equal(await dirty(lv), [])

      // A cent after close: a restatement, whatever the threshold.
      await arrive(lv, clock, [sold('late', 0.01, '005', '09:00', '2026-11-29T10:00:00')])
      assert.equal(await dirty(lv), [{ period: D, status: 'final', latestRevision: 4, dirtySinceSeq: 8, pending: { eventCount: 1, measures: { revenue: 0.01, largest: 0 }, belowMinChange: false } }])
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-29T10:15'), [['rebuild', VIEW, D, 'published', 5, 'restatement at cutoff seq 8']])

      assert.equal(await history(lv), [
        [1, 'flash', 'cron', 2, 2, 3000, 2000],
        [2, 'consolidated', 'cron', 3, 3, 3000.5, 2000],
        [3, 'revision', 'late-arrival', 6, 6, 3003.75, 2000],
        [4, 'final', 'cron', 7, 5, 3003.25, 2000],
        [5, 'restatement', 'restatement', 8, 6, 3003.26, 2000],
      ])
      assert.equal(await recordedRuns(lv, VIEW, D), [
        ['flash', 'cron', 'published', 1],
        ['consolidate', 'cron', 'published', 2],
        ['rebuild', 'cron', 'below-threshold', 2],
        ['rebuild', 'cron', 'below-threshold', 2],
        ['rebuild', 'cron', 'below-threshold', 2],
        ['rebuild', 'cron', 'published', 3],
        ['rebuild', 'cron', 'below-threshold', 3],
        ['close', 'cron', 'published', 4],
        ['rebuild', 'cron', 'published', 5],
      ])
      assert.equal((await lv.verifyStore()).revisions.differences, [])
      assert.equal((await lv.verify()).differences, [])
    }),
  )

  test(
    'a rebuild run by hand follows the threshold; restate publishes whatever moved; a figure cancelled out is unchanged',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, [...DAY, T1])
      await run(lv, clock, 'consolidate', '2026-11-26T03:00')
      await arrive(lv, clock, [T2])
      clock.set(local('2026-11-26T04:10'))
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: VIEW, period: D, now: local('2026-11-26T04:10'), trigger: 'manual' })), [
        ['rebuild', VIEW, D, 'below-threshold', 1, 'below rebuild.minChange against revision 1: revenue +1.25 (threshold 3.0005), largest 0 (threshold 2); the period stays dirty'],
      ])
      const restated = await lv.restate(VIEW, D)
      assert.equal([restated.job, restated.outcome, restated.revision, restated.detail], ['restate', 'published', 2, 'manual at cutoff seq 4'])
      assert.equal(await periodState(lv, VIEW, D), { status: 'provisional', latestRevision: 2, dirtySinceSeq: null })

      // A sale and its retraction: the period is dirty, the figures are those of revision 2: `unchanged`, and clean.
      await arrive(lv, clock, [
        sold('x', 999, '006', '11:00', '2026-11-26T05:00:00'),
        retraction('x-void', 'x', { source: 'store-006', occurredAt: `${D}T11:00:00+08:00`, receivedAt: '2026-11-26T05:01:00+08:00' }),
      ])
      assert.equal(await dirty(lv), [{ period: D, status: 'provisional', latestRevision: 2, dirtySinceSeq: 5, pending: { eventCount: 0, measures: { revenue: 0, largest: 0 }, belowMinChange: true } }])
      assert.equal(await run(lv, clock, 'rebuild', '2026-11-26T05:15'), [['rebuild', VIEW, D, 'unchanged', 2, 'revision at cutoff seq 6']])
      assert.equal(await dirty(lv), [])
    }),
  )

  test('a new definition republishes whatever moved; minChange is part of the definition, so changing it needs a new version', async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(local(`${D}T08:00:00`))
      const v1 = await Lateview.fromEngine(engine, [trickle()], clock)
      await arrive(v1, clock, [...DAY, T1])
      await run(v1, clock, 'consolidate', '2026-11-26T03:00')
      await arrive(v1, clock, [T2])

      // The same version with minChange changed is refused at start-up.
      const changed = trickle({ rebuild: { every: '*/15 * * * *', windowDays: 7, minChange: { relative: 0.01 } } })
      try {
        await Lateview.fromEngine(engine, [changed], clock)
        assert.unreachable('a changed definition under the same version must be refused')
      } catch (error) {
        assert.instance(error, ViewDefinitionError)
        assert.match((error as Error).message, /^view trickle: version: the definition differs from version 1 recorded in the store/)
      }

      // Version 2 drops the store dimension: the totals are the same, the rows are not. Republished under
      // the new rules (trigger definition) although no total moved, together with the pending +1.25.
      const v2 = await Lateview.fromEngine(engine, [trickle({ version: 2, dimensions: [] })], clock)
      assert.equal(await run(v2, clock, 'rebuild', '2026-11-26T04:15'), [['rebuild', VIEW, D, 'published', 2, 'revision at cutoff seq 4']])
      const r2 = await v2.report(VIEW, D)
      assert.equal([r2.kind, r2.trigger, r2.viewVersion, r2.rows], ['revision', 'definition', 2, [{ dims: {}, measures: { revenue: 3001.75, largest: 2000 }, eventCount: 4 }]])
      assert.equal(
        (await v2.versions(VIEW)).map((v) => [v.version, v.definition.rebuild]),
        [
          [1, { every: '*/15 * * * *', windowDays: 7, minChange: { relative: 0.001 } }],
          [2, { every: '*/15 * * * *', windowDays: 7, minChange: { relative: 0.001 } }],
        ],
      )
    } finally {
      await engine.close()
    }
  })

  test(
    'a view without minChange publishes every change (the shipped behaviour)',
    fresh(
      async (lv, clock) => {
        await arrive(lv, clock, [...DAY, T1])
        await run(lv, clock, 'consolidate', '2026-11-26T03:00')
        await arrive(lv, clock, [T2])
        assert.equal(await run(lv, clock, 'rebuild', '2026-11-26T04:15'), [['rebuild', VIEW, D, 'published', 2, 'revision at cutoff seq 4']])
      },
      [trickle({ rebuild: { every: '*/15 * * * *', windowDays: 7 } })],
    ),
  )

  test.run()
}
