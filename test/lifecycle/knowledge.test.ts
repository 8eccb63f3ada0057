import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { toJson } from '../../src/domain/decimal.js'
import { cellsHash, totalsOf } from '../../src/domain/lifecycle.js'
import { computeReport, rangeOrThrow } from '../../src/services/reports.js'
import type { Engine } from '../../src/store/engine.js'
import { insertRevision, revisionCells } from '../../src/store/revisions.js'
import { engines } from '../helpers/engines.js'
import { at, rejection, sale, shippedViews, type RawEvent } from '../helpers/ingest-fixtures.js'
import { recordedRuns, summarise } from '../helpers/lifecycle.js'

const views = shippedViews()
const REVENUE = 'daily_revenue'
/** Day D of the retail chain (Asia/Taipei, UTC+8 all year). */
const D = '2026-11-25'
const tpe = (local: string) => at(`${local}+08:00`)

const sold = (id: string, amount: number, occurred: string, received: string, store = '001'): RawEvent =>
  sale(id, amount, { source: `store-${store}`, store, occurredAt: `${D}T${occurred}:00+08:00`, receivedAt: `${received}+08:00` })

for (const factory of await engines()) {
  const test = suite(`lifecycle/knowledge (${factory.name})`)

  const fresh = (body: (lv: Lateview, clock: ManualClock) => Promise<void>) => async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(tpe(`${D}T08:00:00`))
      await body(await Lateview.fromEngine(engine, views, clock), clock)
    } finally {
      await engine.close()
    }
  }
  const arrive = async (lv: Lateview, clock: ManualClock, events: RawEvent[]) => {
    clock.set(at(events[events.length - 1]?.receivedAt as string))
    return lv.ingest(events, { imported: true })
  }
  const cutoffs = async (lv: Lateview) => (await lv.revisions(REVENUE, D)).revisions.map((r) => [r.revision, r.kind, r.cutoffSeq])

  test.after(async () => {
    await factory.cleanup()
  })

  test(
    'a close whose now lies before a late event already published publishes nothing: knowledge never goes back',
    fresh(async (lv, clock) => {
      // Nine events on D, consolidated at cutoff 9; a late upload (seq 10) revised by the rebuilder.
      await arrive(
        lv,
        clock,
        Array.from({ length: 9 }, (_, i) => sold(`s${i + 1}`, 10 + i, `1${i}:00`, `${D}T1${i}:05:00`)),
      )
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: REVENUE, now: tpe('2026-11-26T03:00:00'), trigger: 'cron' })), [
        ['consolidate', REVENUE, D, 'published', 1, 'consolidated at cutoff seq 9'],
      ])
      await arrive(lv, clock, [sold('late', 100, '20:00', '2026-11-27T09:00:00', '002')])
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, now: tpe('2026-11-27T09:15:00'), trigger: 'cron' })), [['rebuild', REVENUE, D, 'published', 2, 'revision at cutoff seq 10']])

      // A close replayed at an instant before the late event arrived knows only seq 9.
      const before = tpe('2026-11-27T08:00:00')
      assert.equal(summarise(await lv.jobs.run('close', { view: REVENUE, period: D, now: before, trigger: 'manual' })), [
        ['close', REVENUE, D, 'skipped', 2, `knowledge never goes back: cutoff seq 9 at 2026-11-27T00:00:00.000Z is below revision 2's cutoff seq 10`],
      ])
      assert.equal(await cutoffs(lv), [
        [1, 'consolidated', 9],
        [2, 'revision', 10],
      ])
      assert.is((await lv.report(REVENUE, D)).status, 'provisional')

      // A later close publishes the final at the cutoff the period already had.
      assert.equal(summarise(await lv.jobs.run('close', { view: REVENUE, period: D, now: tpe('2026-11-28T03:30:00'), trigger: 'cron' })), [
        ['close', REVENUE, D, 'published', 3, 'final at cutoff seq 10'],
      ])
      const { realtime, revisions } = await lv.verifyStore()
      assert.equal([realtime.differences, revisions.differences], [[], []])
    }),
  )

  test(
    'a rebuild replayed at a now older than a restatement is skipped, and so is any job or restate below the latest cutoff',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, [sold('a', 10, '10:00', `${D}T10:01:00`), sold('b', 20, '11:00', `${D}T11:01:00`)])
      clock.set(tpe(`${D}T12:00:00`))
      const restated = await lv.restate(REVENUE, D)
      assert.equal([restated.outcome, restated.revision, restated.detail], ['published', 1, 'manual at cutoff seq 2'])
      // A late event arrives; a rebuild at a simulated now between the two events knows only seq 1.
      await arrive(lv, clock, [sold('c', 5, '12:00', `${D}T12:30:00`)])
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, now: tpe(`${D}T10:30:00`), trigger: 'manual' })), [
        ['rebuild', REVENUE, D, 'skipped', 1, `knowledge never goes back: cutoff seq 1 at 2026-11-25T02:30:00.000Z is below revision 1's cutoff seq 2`],
      ])
      // A live rebuild (no simulated now) reads the clock inside its lock: it sees seq 3.
      clock.set(tpe(`${D}T12:45:00`))
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, trigger: 'cron' })), [['rebuild', REVENUE, D, 'published', 2, 'revision at cutoff seq 3']])
      assert.equal(await cutoffs(lv), [
        [1, 'manual', 2],
        [2, 'revision', 3],
      ])
      assert.equal(await recordedRuns(lv, REVENUE, D), [
        ['restate', 'manual', 'published', 1],
        ['rebuild', 'manual', 'skipped', 1],
        ['rebuild', 'cron', 'published', 2],
      ])
    }),
  )

  test('a live job reads the clock inside its lock: a restatement committed while it waited cannot be undercut', async () => {
    const engine = await factory.open()
    try {
      // Whatever is set here runs right before the next write transaction starts (once).
      let meanwhile: (() => Promise<void>) | null = null
      const racing: Engine = {
        ...engine,
        async write(fn) {
          const first = meanwhile
          meanwhile = null
          if (first) await first()
          return engine.write(fn)
        },
      }
      const clock = new ManualClock(tpe(`${D}T12:00:00`))
      const lv = await Lateview.fromEngine(racing, views, clock)
      await arrive(lv, clock, [sold('a', 10, '10:00', `${D}T10:01:00`), sold('b', 20, '11:00', `${D}T11:01:00`)])
      clock.set(tpe(`${D}T12:00:00`))
      await lv.restate(REVENUE, D)
      await arrive(lv, clock, [sold('c', 5, '12:00', `${D}T12:30:00`)])
      // The rebuild finds D dirty at 12:30; before it holds the lock, another event and a restatement commit at 12:40.
      meanwhile = async () => {
        await arrive(lv, clock, [sold('d', 7, '12:10', `${D}T12:40:00`)])
        await lv.restate(REVENUE, D)
      }
      assert.equal(summarise(await lv.jobs.run('rebuild', { view: REVENUE, trigger: 'cron' })), [['rebuild', REVENUE, D, 'skipped', 2, 'not dirty']])
      assert.equal(await cutoffs(lv), [
        [1, 'manual', 2],
        [2, 'manual', 4],
      ])
    } finally {
      await engine.close()
    }
  })

  test(
    'jobs and restatements refuse a period that has not begun, and write nothing',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, [sold('a', 10, '10:00', `${D}T10:01:00`)])
      const now = tpe('2026-05-02T12:00:00')
      clock.set(tpe(`${D}T11:00:00`))
      for (const job of ['flash', 'consolidate', 'rebuild', 'close', 'sla-watch'] as const) {
        const error = await rejection(() => lv.jobs.run(job, { view: REVENUE, period: '2027-01-01', now, trigger: 'manual' }), 'LV_ERR_PERIOD_NOT_BEGUN')
        assert.equal(error.details, { view: REVENUE, period: '2027-01-01' })
      }
      // Live: the clock's now (D 11:00) is before D+1.
      await rejection(() => lv.jobs.run('close', { view: REVENUE, period: '2026-11-26', trigger: 'manual' }), 'LV_ERR_PERIOD_NOT_BEGUN')
      await rejection(() => lv.restate(REVENUE, '2026-11-26'), 'LV_ERR_PERIOD_NOT_BEGUN')
      // A period that has begun but not ended can be reported on (a flash is exactly that).
      assert.equal(summarise(await lv.jobs.run('flash', { view: REVENUE, period: D, trigger: 'manual' })), [['flash', REVENUE, D, 'published', 1, 'flash at cutoff seq 1']])
      const runs = await lv.engine.db.kysely.selectFrom('job_runs').select(['job', 'period']).execute()
      assert.equal(runs, [{ job: 'flash', period: D }])
      const revisions = await lv.engine.db.kysely.selectFrom('revisions').select(['period', 'revision']).execute()
      assert.equal(revisions, [{ period: D, revision: 1 }])
    }),
  )

  test(
    'verify reports a revision whose cutoff is below the one before it',
    fresh(async (lv, clock) => {
      await arrive(lv, clock, [sold('a', 10, '10:00', `${D}T10:01:00`), sold('b', 20, '11:00', `${D}T11:01:00`)])
      clock.set(tpe(`${D}T12:00:00`))
      await lv.restate(REVENUE, D)
      // Revision 2 written as a racing publisher of old would have: right for its own cutoff (1), below revision 1's (2).
      const program = lv.view(REVENUE)
      const rev1 = await lv.report(REVENUE, D, { revision: 1 })
      const asOf = await lv.report(REVENUE, D, { asOf: tpe(`${D}T10:30:00`) })
      await lv.engine.write(async (tx) => {
        const previous = await revisionCells(tx.db, REVENUE, D, 1, program.ops.length)
        const report = await computeReport(tx.db, program, rangeOrThrow(program, D), 1)
        await insertRevision(
          tx.db,
          {
            view: REVENUE,
            period: D,
            revision: 2,
            kind: 'revision',
            cutoff_seq: 1,
            cutoff_received_at: tpe(`${D}T10:01:00`),
            computed_at: tpe(`${D}T12:05:00`),
            trigger: 'late-arrival',
            event_count: report.eventCount,
            late_event_count: report.lateEventCount,
            completeness: report.completeness,
            hash: cellsHash(report.cells),
            view_version: program.view.version,
            totals: toJson(totalsOf(program, report.cells.values())),
          },
          report.cells,
          previous,
          program,
        )
      })
      assert.is(rev1.cutoffSeq, 2)
      assert.is(asOf.cutoffSeq, 1)
      const { revisions } = await lv.verifyStore()
      assert.equal(revisions.differences, [{ view: REVENUE, period: D, revision: 2, problem: "cutoff seq 1 is below revision 1's cutoff seq 2: knowledge went back" }])
    }),
  )

  test.run()
}
