import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import type { ReportDocument } from '../../src/services/reports.js'
import { engines } from '../helpers/engines.js'
import { at, refund, retraction, sale, shippedViews, type RawEvent } from '../helpers/ingest-fixtures.js'
import { figures, frozen, periodState, recordedRuns, summarise } from '../helpers/lifecycle.js'

const views = shippedViews()
const REVENUE = 'daily_revenue'
const LAB = 'daily_positive_tests'
/** Day D of the retail chain (Asia/Taipei, UTC+8 all year). */
const D = '2026-11-25'
const T0 = at('2026-11-25T08:00:00+08:00')

/** A sale received at `receivedAt` (Taipei local time), occurring on D at `occurredAt`. */
const sold = (id: string, amount: number, occurred: string, received: string, over: Partial<RawEvent> & { store?: string; channel?: string } = {}): RawEvent =>
  sale(id, amount, { occurredAt: `${D}T${occurred}:00+08:00`, receivedAt: `${received}+08:00`, ...over })

const row = (store: string, channel: string, revenue: number, orders: number, largest: number, eventCount: number) => ({
  dims: { store, channel },
  measures: { revenue, orders, largest },
  eventCount,
})
const totals = (revenue: number, orders: number, largest: number, eventCount: number) => ({ measures: { revenue, orders, largest }, eventCount })

/** A lab result for daily_positive_tests (Europe/Berlin, UTC+1 in November). */
const tested = (id: string, lab: string, region: string, positive: number, occurred: string, received: string): RawEvent => ({
  id,
  source: `lab-${lab}`,
  type: 'test_result',
  occurredAt: `${occurred}+01:00`,
  receivedAt: `${received}+01:00`,
  data: { lab, region, positive },
})
const labRow = (lab: string, region: string, tests: number, positives: number) => ({ dims: { lab, region }, measures: { tests, positives }, eventCount: tests })

// The retail day D, as it arrives.
const DAY_SALES = [
  sold('s1', 129.5, '10:00', `${D}T10:01:00`),
  sold('w1', 45.25, '12:00', `${D}T12:00:30`, { source: 'online-1', channel: 'web' }),
  sold('s2', 80, '15:00', `${D}T15:05:00`, { source: 'store-002', store: '002' }),
  refund('r1', 20, { occurredAt: `${D}T18:00:00+08:00`, receivedAt: `${D}T18:01:00+08:00` }),
]
const EVENING_SALE = sold('w2', 30, '22:30', `${D}T22:30:10`, { source: 'online-1', channel: 'web' })
const STORE_UPLOAD = [sold('s3', 200, '11:00', '2026-11-26T02:00:00', { source: 'store-003', store: '003' }), sold('s4', 30, '19:30', '2026-11-26T02:00:00', { source: 'store-002', store: '002' })]
const LATE_SALE = sold('s5', 55.55, '13:00', '2026-11-27T10:00:00', { source: 'store-004', store: '004' })
const VOID_AFTER_CLOSE = retraction('s2-void', 's2', { source: 'store-002', occurredAt: `${D}T15:00:00+08:00`, receivedAt: '2026-11-29T09:00:00+08:00' })

const FLASH_ROWS = [row('001', 'pos', 109.5, 0, 129.5, 2), row('001', 'web', 45.25, 1, 45.25, 1), row('002', 'pos', 80, 1, 80, 1)]
const CONSOLIDATED_ROWS = [row('001', 'pos', 109.5, 0, 129.5, 2), row('001', 'web', 75.25, 2, 45.25, 2), row('002', 'pos', 110, 2, 80, 2), row('003', 'pos', 200, 1, 200, 1)]
const REVISED_ROWS = [...CONSOLIDATED_ROWS, row('004', 'pos', 55.55, 1, 55.55, 1)]
const RESTATED_ROWS = [
  row('001', 'pos', 109.5, 0, 129.5, 2),
  row('001', 'web', 75.25, 2, 45.25, 2),
  row('002', 'pos', 30, 1, 30, 1),
  row('003', 'pos', 200, 1, 200, 1),
  row('004', 'pos', 55.55, 1, 55.55, 1),
]

for (const factory of await engines()) {
  const test = suite(`lifecycle/timeline (${factory.name})`)

  /** Runs a test body on a Lateview over a fresh store and closes it whatever happens. */
  const fresh = (body: (lv: Lateview, clock: ManualClock) => Promise<void>) => async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(T0)
      await body(await Lateview.fromEngine(engine, views, clock), clock)
    } finally {
      await engine.close()
    }
  }
  /** Imports events with their own receivedAt, the clock following. */
  const arrive = async (lv: Lateview, clock: ManualClock, events: RawEvent[]) => {
    clock.set(at(events[events.length - 1]?.receivedAt as string))
    return lv.ingest(events, { imported: true })
  }
  const count = async (lv: Lateview, period = D, view = REVENUE) => (await lv.revisions(view, period)).revisions.length

  test.after(async () => {
    await factory.cleanup()
  })

  test(
    'daily_revenue: flash, consolidated, revision, final, restatement, each with exact figures',
    fresh(async (lv, clock) => {
      const published = new Map<number, ReportDocument>()
      const keep = async (revision: number) => {
        const doc = await lv.report(REVENUE, D, { revision })
        published.set(revision, doc)
        return doc
      }

      // Day D: sales until the flash at 22:00 local.
      await arrive(lv, clock, DAY_SALES)
      assert.equal(await periodState(lv, REVENUE, D), { status: 'open' })
      const flashAt = at(`${D}T22:00:00+08:00`)
      clock.set(flashAt)
      assert.equal(summarise(await lv.jobs.run('flash', { now: flashAt, trigger: 'cron' })), [['flash', REVENUE, D, 'published', 1, 'flash at cutoff seq 4']])
      assert.equal(await keep(1), {
        view: REVENUE,
        period: D,
        status: 'provisional',
        revision: 1,
        kind: 'flash',
        cutoffSeq: 4,
        cutoffReceivedAt: '2026-11-25T10:01:00.000Z',
        computedAt: '2026-11-25T14:00:00.000Z',
        trigger: 'cron',
        completeness: 0.25,
        eventCount: 4,
        lateEventCount: 0,
        hash: (published.get(1) as ReportDocument).hash,
        viewVersion: 1,
        rows: FLASH_ROWS,
        totals: totals(234.75, 2, 129.5, 4),
      })
      assert.match((published.get(1) as ReportDocument).hash, /^[0-9a-f]{64}$/)
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 1, dirtySinceSeq: null })

      // An evening web sale (on time, after the flash), then the stores upload at 02:00 on D+1.
      await arrive(lv, clock, [EVENING_SALE])
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 1, dirtySinceSeq: 5 })
      await arrive(lv, clock, STORE_UPLOAD)
      const consolidateAt = at('2026-11-26T03:00:00+08:00')
      clock.set(consolidateAt)
      assert.equal(summarise(await lv.jobs.run('consolidate', { now: consolidateAt, trigger: 'cron' })), [['consolidate', REVENUE, D, 'published', 2, 'consolidated at cutoff seq 7']])
      const r2 = await keep(2)
      assert.equal(
        { kind: r2.kind, trigger: r2.trigger, cutoffSeq: r2.cutoffSeq, computedAt: r2.computedAt, eventCount: r2.eventCount, lateEventCount: r2.lateEventCount, completeness: r2.completeness },
        { kind: 'consolidated', trigger: 'cron', cutoffSeq: 7, computedAt: '2026-11-25T19:00:00.000Z', eventCount: 7, lateEventCount: 2, completeness: 0.375 },
      )
      assert.equal(r2.rows, CONSOLIDATED_ROWS)
      assert.equal(r2.totals, totals(494.75, 5, 200, 7))
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 2, dirtySinceSeq: null })

      // A late sale on D+2 makes the period dirty; the rebuilder publishes a revision.
      await arrive(lv, clock, [LATE_SALE])
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 2, dirtySinceSeq: 8 })
      const rebuildAt = at('2026-11-27T10:15:00+08:00')
      clock.set(rebuildAt)
      assert.equal(summarise(await lv.jobs.run('rebuild', { now: rebuildAt, trigger: 'cron' })), [['rebuild', REVENUE, D, 'published', 3, 'revision at cutoff seq 8']])
      const r3 = await keep(3)
      assert.equal(
        { kind: r3.kind, trigger: r3.trigger, cutoffSeq: r3.cutoffSeq, eventCount: r3.eventCount, lateEventCount: r3.lateEventCount, completeness: r3.completeness },
        { kind: 'revision', trigger: 'late-arrival', cutoffSeq: 8, eventCount: 8, lateEventCount: 3, completeness: 0.5 },
      )
      assert.equal(r3.rows, REVISED_ROWS)
      assert.equal(r3.totals, totals(550.3, 6, 200, 8))
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 3, dirtySinceSeq: null })
      // Nothing dirty any more: the next rebuild has nothing to do.
      assert.equal(await lv.jobs.run('rebuild', { now: at('2026-11-27T10:30:00+08:00'), trigger: 'cron' }), [])

      // Close at 03:30 on D+3: a final revision even though the figures did not change.
      const closeAt = at('2026-11-28T03:30:00+08:00')
      clock.set(closeAt)
      assert.equal(summarise(await lv.jobs.run('close', { now: closeAt, trigger: 'cron' })), [['close', REVENUE, D, 'published', 4, 'final at cutoff seq 8']])
      const r4 = await keep(4)
      assert.equal(
        { kind: r4.kind, status: r4.status, trigger: r4.trigger, cutoffSeq: r4.cutoffSeq, computedAt: r4.computedAt },
        { kind: 'final', status: 'final', trigger: 'cron', cutoffSeq: 8, computedAt: '2026-11-27T19:30:00.000Z' },
      )
      assert.equal(r4.rows, REVISED_ROWS)
      assert.is(r4.hash, r3.hash)
      assert.equal(await periodState(lv, REVENUE, D), { status: 'final', latestRevision: 4, dirtySinceSeq: null })

      // A retraction after close (policy restate): dirty, then a restatement by the next rebuild.
      await arrive(lv, clock, [VOID_AFTER_CLOSE])
      assert.equal(await periodState(lv, REVENUE, D), { status: 'final', latestRevision: 4, dirtySinceSeq: 9 })
      const restateAt = at('2026-11-29T09:15:00+08:00')
      clock.set(restateAt)
      assert.equal(summarise(await lv.jobs.run('rebuild', { now: restateAt, trigger: 'cron' })), [['rebuild', REVENUE, D, 'published', 5, 'restatement at cutoff seq 9']])
      const r5 = await keep(5)
      assert.equal(
        { kind: r5.kind, status: r5.status, trigger: r5.trigger, cutoffSeq: r5.cutoffSeq, eventCount: r5.eventCount, lateEventCount: r5.lateEventCount, completeness: r5.completeness },
        { kind: 'restatement', status: 'final', trigger: 'restatement', cutoffSeq: 9, eventCount: 7, lateEventCount: 3, completeness: 0.5 },
      )
      assert.equal(r5.rows, RESTATED_ROWS)
      assert.equal(r5.totals, totals(470.3, 5, 200, 7))
      assert.equal(await periodState(lv, REVENUE, D), { status: 'final', latestRevision: 5, dirtySinceSeq: null })

      // The history, oldest first, and every revision re-read unchanged after all that followed.
      const history = await lv.revisions(REVENUE, D)
      assert.equal(
        history.revisions.map((r) => [r.revision, r.kind, r.trigger, r.cutoffSeq, r.totals.measures.revenue]),
        [
          [1, 'flash', 'cron', 4, 234.75],
          [2, 'consolidated', 'cron', 7, 494.75],
          [3, 'revision', 'late-arrival', 8, 550.3],
          [4, 'final', 'cron', 8, 550.3],
          [5, 'restatement', 'restatement', 9, 470.3],
        ],
      )
      for (const [revision, doc] of published) {
        const again = await lv.report(REVENUE, D, { revision })
        assert.equal(frozen(again), frozen(doc), `revision ${revision} changed after publication`)
        assert.is(again.status, 'final')
      }
      assert.equal(frozen(await lv.report(REVENUE, D)), frozen(published.get(5) as ReportDocument))
      assert.equal((await lv.verifyRevisions()).differences, [])

      // As-of reads between publications equal the revision published at that time.
      const asOf = async (iso: string) => figures(await lv.report(REVENUE, D, { asOf: at(iso) }))
      const rev = (n: number) => figures(published.get(n) as ReportDocument)
      assert.equal(await asOf(`${D}T22:00:00+08:00`), rev(1))
      assert.equal(await asOf(`${D}T22:15:00+08:00`), rev(1))
      assert.equal(await asOf('2026-11-26T03:00:00+08:00'), rev(2))
      assert.equal(await asOf('2026-11-27T00:00:00+08:00'), rev(2))
      assert.equal(await asOf('2026-11-27T10:15:00+08:00'), rev(3))
      assert.equal(await asOf('2026-11-28T12:00:00+08:00'), rev(4))
      assert.equal(await asOf('2026-11-30T00:00:00+08:00'), rev(5))
      // …and between the evening sale and the upload, what was known then, which no revision shows.
      const evening = await lv.report(REVENUE, D, { asOf: at('2026-11-25T23:00:00+08:00') })
      assert.equal({ revision: evening.revision, kind: evening.kind, cutoffSeq: evening.cutoffSeq, eventCount: evening.eventCount }, { revision: null, kind: 'as-of', cutoffSeq: 5, eventCount: 5 })
      assert.equal(evening.rows, [row('001', 'pos', 109.5, 0, 129.5, 2), row('001', 'web', 75.25, 2, 45.25, 2), row('002', 'pos', 80, 1, 80, 1)])
    }),
  )

  test(
    'daily_positive_tests (policy hold): a late result after close is held, listed, and released by restate',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, [
        tested('t1', 'berlin', 'BE', 1, `${D}T09:00:00`, `${D}T09:30:00`),
        tested('t2', 'berlin', 'BE', 0, `${D}T10:00:00`, `${D}T11:00:00`),
        tested('t3', 'hamburg', 'HH', 1, `${D}T12:00:00`, `${D}T14:00:00`),
      ])
      const flashAt = at(`${D}T20:00:00+01:00`)
      assert.equal(summarise(await lv.jobs.run('flash', { view: LAB, now: flashAt, trigger: 'cron' })), [['flash', LAB, D, 'published', 1, 'flash at cutoff seq 3']])
      const r1 = await lv.report(LAB, D)
      assert.equal(
        { kind: r1.kind, computedAt: r1.computedAt, eventCount: r1.eventCount, lateEventCount: r1.lateEventCount, completeness: r1.completeness, rows: r1.rows },
        { kind: 'flash', computedAt: '2026-11-25T19:00:00.000Z', eventCount: 3, lateEventCount: 0, completeness: 0.5, rows: [labRow('berlin', 'BE', 2, 1), labRow('hamburg', 'HH', 1, 1)] },
      )

      await arrive(lv, clock, [tested('t4', 'munich', 'BY', 0, `${D}T16:00:00`, '2026-11-26T05:00:00')])
      const consolidateAt = at('2026-11-26T06:00:00+01:00')
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: LAB, now: consolidateAt, trigger: 'cron' })), [['consolidate', LAB, D, 'published', 2, 'consolidated at cutoff seq 4']])
      const r2 = await lv.report(LAB, D)
      assert.equal(
        { kind: r2.kind, eventCount: r2.eventCount, lateEventCount: r2.lateEventCount, completeness: r2.completeness, rows: r2.rows, totals: r2.totals },
        {
          kind: 'consolidated',
          eventCount: 4,
          lateEventCount: 1,
          completeness: 0.75,
          rows: [labRow('berlin', 'BE', 2, 1), labRow('hamburg', 'HH', 1, 1), labRow('munich', 'BY', 1, 0)],
          totals: { measures: { tests: 4, positives: 2 }, eventCount: 4 },
        },
      )

      // Not closed before D+7 07:00; closed at that instant.
      assert.equal(await lv.jobs.run('close', { view: LAB, now: at('2026-12-02T06:59:00+01:00'), trigger: 'cron' }), [])
      const closeAt = at('2026-12-02T07:00:00+01:00')
      assert.equal(summarise(await lv.jobs.run('close', { view: LAB, now: closeAt, trigger: 'cron' })), [['close', LAB, D, 'published', 3, 'final at cutoff seq 4']])
      assert.equal(await periodState(lv, LAB, D), { status: 'final', latestRevision: 3, dirtySinceSeq: null })
      const final = await lv.report(LAB, D)
      assert.is(final.kind, 'final')
      assert.equal(final.rows, r2.rows)
      assert.equal((await lv.exceptions(LAB, D)).events, [])

      // A late result after close: stored and marked, but held.
      await arrive(lv, clock, [tested('t5', 'cologne', 'NW', 1, `${D}T18:00:00`, '2026-12-03T08:00:00')])
      assert.equal(await periodState(lv, LAB, D), { status: 'final', latestRevision: 3, dirtySinceSeq: 5 })
      const rebuildAt = at('2026-12-03T08:30:00+01:00')
      assert.equal(await lv.jobs.run('rebuild', { view: LAB, now: rebuildAt, trigger: 'cron' }), [], 'a held period is not due for the rebuilder')
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: LAB, period: D, now: rebuildAt, trigger: 'manual' })), [['rebuild', LAB, D, 'skipped', 3, 'final; late events held (policy hold)']])
      assert.is(await count(lv, D, LAB), 3)
      assert.equal(frozen(await lv.report(LAB, D)), frozen(final))
      assert.equal(await lv.exceptions(LAB, D), {
        view: LAB,
        period: D,
        status: 'final',
        policy: 'hold',
        events: [
          {
            id: 't5',
            source: 'lab-cologne',
            type: 'test_result',
            seq: 5,
            occurredAt: '2026-11-25T17:00:00.000Z',
            receivedAt: '2026-12-03T07:00:00.000Z',
            data: { lab: 'cologne', region: 'NW', positive: 1 },
          },
        ],
      })

      // An operator restates: a restatement revision, nothing held any more.
      clock.set(at('2026-12-03T09:00:00+01:00'))
      const run = await lv.restate(LAB, D)
      assert.equal([run.job, run.view, run.period, run.trigger, run.outcome, run.revision, run.now], ['restate', LAB, D, 'manual', 'published', 4, '2026-12-03T08:00:00.000Z'])
      const r4 = await lv.report(LAB, D)
      assert.equal(
        {
          revision: r4.revision,
          kind: r4.kind,
          trigger: r4.trigger,
          status: r4.status,
          computedAt: r4.computedAt,
          cutoffSeq: r4.cutoffSeq,
          eventCount: r4.eventCount,
          lateEventCount: r4.lateEventCount,
          completeness: r4.completeness,
        },
        { revision: 4, kind: 'restatement', trigger: 'restatement', status: 'final', computedAt: '2026-12-03T08:00:00.000Z', cutoffSeq: 5, eventCount: 5, lateEventCount: 2, completeness: 1 },
      )
      assert.equal(r4.rows, [labRow('berlin', 'BE', 2, 1), labRow('cologne', 'NW', 1, 1), labRow('hamburg', 'HH', 1, 1), labRow('munich', 'BY', 1, 0)])
      assert.equal((await lv.exceptions(LAB, D)).events, [])
      assert.equal(await periodState(lv, LAB, D), { status: 'final', latestRevision: 4, dirtySinceSeq: null })
      assert.equal(frozen(await lv.report(LAB, D, { revision: 3 })), frozen(final))
    }),
  )

  test(
    'running the same job twice at the same now publishes once',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, DAY_SALES)
      const flashAt = at(`${D}T22:00:00+08:00`)
      assert.equal(summarise(await lv.jobs.run('flash', { view: REVENUE, now: flashAt, trigger: 'cron' })), [['flash', REVENUE, D, 'published', 1, 'flash at cutoff seq 4']])
      // Without a period nothing is due any more; with one, the run is recorded as skipped.
      assert.equal(await lv.jobs.run('flash', { view: REVENUE, now: flashAt, trigger: 'cron' }), [])
      assert.equal(summarise(await lv.jobs.run('flash', { view: REVENUE, period: D, now: flashAt, trigger: 'manual' })), [['flash', REVENUE, D, 'skipped', 1, 'already provisional']])
      assert.is(await count(lv), 1)

      await arrive(lv, clock, STORE_UPLOAD)
      const consolidateAt = at('2026-11-26T03:00:00+08:00')
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: REVENUE, now: consolidateAt, trigger: 'cron' })), [['consolidate', REVENUE, D, 'published', 2, 'consolidated at cutoff seq 6']])
      assert.equal(await lv.jobs.run('consolidate', { view: REVENUE, now: consolidateAt, trigger: 'cron' }), [])
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: REVENUE, period: D, now: consolidateAt, trigger: 'manual' })), [
        ['consolidate', REVENUE, D, 'skipped', 2, 'already consolidated'],
      ])
      assert.is(await count(lv), 2)

      await arrive(lv, clock, [LATE_SALE])
      const rebuildAt = at('2026-11-27T10:15:00+08:00')
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, now: rebuildAt, trigger: 'cron' })), [['rebuild', REVENUE, D, 'published', 3, 'revision at cutoff seq 7']])
      assert.equal(await lv.jobs.run('rebuild', { view: REVENUE, now: rebuildAt, trigger: 'cron' }), [])
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, period: D, now: rebuildAt, trigger: 'manual' })), [['rebuild', REVENUE, D, 'skipped', 3, 'not dirty']])
      assert.is(await count(lv), 3)

      const closeAt = at('2026-11-28T03:30:00+08:00')
      assert.equal(summarise(await lv.jobs.run('close', { view: REVENUE, now: closeAt, trigger: 'cron' })), [['close', REVENUE, D, 'published', 4, 'final at cutoff seq 7']])
      assert.equal(await lv.jobs.run('close', { view: REVENUE, now: closeAt, trigger: 'cron' }), [])
      assert.equal(summarise(await lv.jobs.run('close', { view: REVENUE, period: D, now: closeAt, trigger: 'manual' })), [['close', REVENUE, D, 'skipped', 4, 'already final']])
      assert.is(await count(lv), 4)

      assert.equal(await recordedRuns(lv, REVENUE, D), [
        ['flash', 'cron', 'published', 1],
        ['flash', 'manual', 'skipped', 1],
        ['consolidate', 'cron', 'published', 2],
        ['consolidate', 'manual', 'skipped', 2],
        ['rebuild', 'cron', 'published', 3],
        ['rebuild', 'manual', 'skipped', 3],
        ['close', 'cron', 'published', 4],
        ['close', 'manual', 'skipped', 4],
      ])
    }),
  )

  test(
    'a consolidation with the flash figures records `unchanged` and writes no revision',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, DAY_SALES)
      await lv.jobs.run('flash', { view: REVENUE, now: at(`${D}T22:00:00+08:00`), trigger: 'cron' })
      const flash = await lv.report(REVENUE, D)
      const consolidateAt = at('2026-11-26T03:00:00+08:00')
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: REVENUE, now: consolidateAt, trigger: 'cron' })), [['consolidate', REVENUE, D, 'unchanged', 1, 'consolidated at cutoff seq 4']])
      assert.is(await count(lv), 1)
      assert.equal(frozen(await lv.report(REVENUE, D)), frozen(flash))
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 1, dirtySinceSeq: null })
      // The unchanged run counts as done: the consolidation is not attempted again.
      assert.equal(await lv.jobs.run('consolidate', { view: REVENUE, now: consolidateAt + 60_000, trigger: 'cron' }), [])
      // Events that cancel out (a sale and its retraction) leave the figures as they were.
      await arrive(lv, clock, [sold('x1', 999, '20:00', '2026-11-26T09:00:00'), retraction('x1-void', 'x1', { occurredAt: `${D}T20:00:00+08:00`, receivedAt: '2026-11-26T09:05:00+08:00' })])
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 1, dirtySinceSeq: 5 })
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, now: at('2026-11-26T09:15:00+08:00'), trigger: 'cron' })), [
        ['rebuild', REVENUE, D, 'unchanged', 1, 'revision at cutoff seq 6'],
      ])
      assert.is(await count(lv), 1)
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 1, dirtySinceSeq: null })
      assert.equal(await recordedRuns(lv, REVENUE, D), [
        ['flash', 'cron', 'published', 1],
        ['consolidate', 'cron', 'unchanged', 1],
        ['rebuild', 'cron', 'unchanged', 1],
      ])
    }),
  )

  test(
    'the rebuilder leaves a dirty period that ended more than windowDays (7) ago to the close',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, DAY_SALES)
      await lv.jobs.run('flash', { view: REVENUE, now: at(`${D}T22:00:00+08:00`), trigger: 'cron' })
      // D ended at 2026-11-26 00:00 local: the window holds it until 2026-12-03 00:00 local.
      await arrive(lv, clock, [sold('a', 10, '09:00', '2026-12-02T20:00:00', { source: 'store-005', store: '005' })])
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, now: at('2026-12-02T23:45:00+08:00'), trigger: 'cron' })), [
        ['rebuild', REVENUE, D, 'published', 2, 'revision at cutoff seq 5'],
      ])
      await arrive(lv, clock, [sold('b', 5, '09:30', '2026-12-03T00:00:00', { source: 'store-006', store: '006' })])
      assert.equal(await lv.jobs.run('rebuild', { view: REVENUE, now: at('2026-12-03T00:00:00+08:00'), trigger: 'cron' }), [])
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 2, dirtySinceSeq: 6 })
      // The close (long overdue) takes everything.
      assert.equal(summarise(await lv.jobs.run('close', { view: REVENUE, now: at('2026-12-03T03:30:00+08:00'), trigger: 'cron' })), [['close', REVENUE, D, 'published', 3, 'final at cutoff seq 6']])
      assert.equal(
        (await lv.revisions(REVENUE, D)).revisions.map((r) => [r.revision, r.kind, r.totals.measures.revenue, r.eventCount]),
        [
          [1, 'flash', 234.75, 4],
          [2, 'revision', 244.75, 5],
          [3, 'final', 249.75, 6],
        ],
      )
      assert.equal(await periodState(lv, REVENUE, D), { status: 'final', latestRevision: 3, dirtySinceSeq: null })
    }),
  )

  test(
    'a job run at `now` publishes what was received by then, even when the store knows more',
    fresh(async (lv, clock) => {
      // A replay: everything up to the upload is already stored when the flash of 22:00 runs.
      await arrive(lv, clock, [...DAY_SALES, EVENING_SALE, ...STORE_UPLOAD])
      const flashAt = at(`${D}T22:00:00+08:00`)
      assert.equal(summarise(await lv.jobs.run('flash', { view: REVENUE, now: flashAt, trigger: 'cron' })), [['flash', REVENUE, D, 'published', 1, 'flash at cutoff seq 4']])
      const r1 = await lv.report(REVENUE, D)
      assert.equal([r1.cutoffSeq, r1.cutoffReceivedAt, r1.eventCount, r1.rows], [4, '2026-11-25T10:01:00.000Z', 4, FLASH_ROWS])
      // What came later is pending: the period is dirty from the first event after the cutoff.
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 1, dirtySinceSeq: 5 })
      // A now between two arrivals with equal receivedAt takes both (02:00 upload: seqs 6 and 7).
      const consolidateAt = at('2026-11-26T03:00:00+08:00')
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: REVENUE, now: consolidateAt, trigger: 'cron' })), [['consolidate', REVENUE, D, 'published', 2, 'consolidated at cutoff seq 7']])
      assert.equal((await lv.report(REVENUE, D)).rows, CONSOLIDATED_ROWS)
      assert.equal(await periodState(lv, REVENUE, D), { status: 'provisional', latestRevision: 2, dirtySinceSeq: null })
    }),
  )

  test.run()
}
