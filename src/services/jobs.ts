import type { ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { dueAt, type RevisionKind, type Trigger } from '../domain/lifecycle.js'
import { parseDurationMs, toIso } from '../domain/time.js'
import { LateviewError } from '../errors.js'
import { firingMissingData, raiseAlerts, resolveAlerts } from '../store/alerts.js'
import type { Engine, WriteTx } from '../store/engine.js'
import { firstReceivedAt, sourcesReporting } from '../store/events.js'
import type { ViewCatalog } from './definitions.js'
import { jobDone, knownPeriods, periodKnown, periodRow, periodsToRebuild, recordJobRun, type JobOutcome } from '../store/revisions.js'
import type { JobRunsTable } from '../store/schema.js'
import { alertDocument, type AlertDocument } from './alert-documents.js'
import { publishPeriod } from './publish.js'
import { rangeOrThrow } from './reports.js'

export type JobName = 'flash' | 'consolidate' | 'rebuild' | 'close' | 'sla-watch'
export const JOB_NAMES: readonly JobName[] = ['flash', 'consolidate', 'rebuild', 'close', 'sla-watch']

export interface JobOptions {
  /** One view, or every view. */
  view?: string
  /** One period (run even if not yet due, but not before it has begun), or every period due at `now`. */
  period?: string
  /**
   * A simulated now (replays, demos, tests): each publication covers what was received by then.
   * Without it the job runs live: due periods are found at the clock's now, and each publication
   * reads the clock again inside the write lock it publishes under, so that a publication
   * committed later never knows less than one committed before it.
   */
  now?: number
  trigger: Trigger
}

export interface JobRun {
  id: number
  job: string
  view: string
  period: string
  now: string
  trigger: string
  outcome: JobOutcome
  revision: number | null
  detail: string | null
  startedAt: string
  durationMs: number
}

export function jobRunOf(row: JobRunsTable): JobRun {
  return {
    id: row.id,
    job: row.job,
    view: row.view,
    period: row.period,
    now: toIso(row.now),
    trigger: row.trigger,
    outcome: row.outcome as JobOutcome,
    revision: row.revision,
    detail: row.detail,
    startedAt: toIso(row.started_at),
    durationMs: row.duration_ms,
  }
}

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name)
}

const DAY_MS = 86_400_000

/**
 * Runs the period jobs. Each (job, view, period) is handled in one write transaction that checks
 * whether it is still to do, publishes, and records the run: a job is idempotent, and two
 * processes (or a manual and a scheduled run) never both do the same period. Within a process,
 * runs of the same job and view also queue behind each other. A failure is recorded, logged
 * (`onLog`) and raised as a JobFailed alert (`onAlerts`); it never escapes to the scheduler.
 */
export class JobRunner {
  readonly #queues = new Map<string, Promise<unknown>>()

  #log: (message: string, fields?: Record<string, unknown>) => void = () => {}
  #notify: (alerts: AlertDocument[]) => void = () => {}

  constructor(
    private readonly engine: Engine,
    private readonly definitions: ViewCatalog,
    private readonly clock: Clock,
  ) {}

  /** Where failures are logged. */
  onLog(log: (message: string, fields?: Record<string, unknown>) => void): void {
    this.#log = log
  }

  /** Who hears of alerts raised by jobs, once they are committed. */
  onAlerts(notify: (alerts: AlertDocument[]) => void): void {
    this.#notify = notify
  }

  /**
   * Runs a job for one or every view; returns the runs recorded. A period asked for by name that
   * has not begun at now is refused (LV_ERR_PERIOD_NOT_BEGUN): there is nothing to report yet.
   */
  async run(job: JobName, options: JobOptions): Promise<JobRun[]> {
    const programs = options.view === undefined ? this.definitions.programs : [this.program(options.view)]
    if (options.period !== undefined) {
      const now = options.now ?? this.clock.now()
      for (const program of programs) {
        refuseUnbegun(program, options.period, now)
        // sla-watch is the one job about a period without data: it says which sources are missing.
        if (job !== 'sla-watch') await this.#refuseEmpty(program, options.period)
      }
    }
    const runs: JobRun[] = []
    for (const program of programs) {
      runs.push(...(await this.#serial(`${job}:${program.name}`, () => this.#runView(job, program, options))))
    }
    return runs
  }

  /** Runs every job that is due for every view, in life-cycle order: start-up catch-up (live, or at a simulated `now`). */
  async catchUp(now?: number): Promise<JobRun[]> {
    const runs: JobRun[] = []
    for (const job of ['flash', 'consolidate', 'rebuild', 'close', 'sla-watch'] as const) runs.push(...(await this.run(job, { ...(now === undefined ? {} : { now }), trigger: 'catch-up' })))
    return runs
  }

  /** A period asked for by name that has neither events nor a revision has nothing to report. */
  async #refuseEmpty(program: ViewProgram, period: string): Promise<void> {
    if (await periodKnown(this.engine.db, program.name, period)) return
    throw new LateviewError('LV_ERR_PERIOD_EMPTY', `period ${period} of view ${program.name} has neither events nor a revision`, { view: program.name, period })
  }

  program(name: string): ViewProgram {
    const program = this.definitions.current(name)
    if (!program) throw new LateviewError('LV_ERR_VIEW_NOT_FOUND', `no view named ${JSON.stringify(name)}`, { view: name })
    return program
  }

  async #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(key) ?? Promise.resolve()
    const next = before.then(fn, fn)
    const settled = next.catch(() => undefined)
    this.#queues.set(key, settled)
    try {
      return await next
    } finally {
      if (this.#queues.get(key) === settled) this.#queues.delete(key)
    }
  }

  async #runView(job: JobName, program: ViewProgram, options: JobOptions): Promise<JobRun[]> {
    const periods = options.period !== undefined ? [options.period] : await this.#duePeriods(job, program, options.now ?? this.clock.now())
    const runs: JobRun[] = []
    for (const period of periods) runs.push(await this.#runPeriod(job, program, period, options))
    return runs
  }

  /** Periods this job has to do at `now`. */
  async #duePeriods(job: JobName, program: ViewProgram, now: number): Promise<string[]> {
    const view = program.view
    if (job === 'sla-watch') {
      // Each period is watched once, past its deadline; its alerts resolve at ingest.
      const due: string[] = []
      const first = await firstReceivedAt(this.engine.db)
      // A store that has received nothing yet is not missing anything: watching starts with its first event.
      if (first === null) return []
      for (const period of this.#slaPeriods(program, now, first)) if (!(await jobDone(this.engine.db, 'sla-watch', program.name, period))) due.push(period)
      return due
    }
    if (job === 'rebuild') {
      const windowStart = now - view.rebuild.windowDays * DAY_MS
      const due: string[] = []
      for (const row of await periodsToRebuild(this.engine.db, program.name, view.version)) {
        const range = program.bucketer.rangeOf(row.period)
        if (!range) continue
        // Late events after close are restated (policy restate); a new definition republishes
        // provisional periods only: final figures stand until restated.
        if (row.status === 'final' ? row.dirty_since_seq !== null && view.close.lateAfterClose === 'restate' : range.end > windowStart) due.push(row.period)
      }
      return due
    }
    const due: string[] = []
    for (const period of await knownPeriods(this.engine.db, program.name)) {
      const range = program.bucketer.rangeOf(period)
      if (!range) continue
      const status = (await periodRow(this.engine.db, program.name, period))?.status ?? 'open'
      if (status === 'final') continue
      if (job === 'flash') {
        if (status === 'open' && dueAt(view, range, view.flash) <= now && now < dueAt(view, range, view.consolidate)) due.push(period)
      } else if (job === 'consolidate') {
        if (dueAt(view, range, view.consolidate) <= now && now < dueAt(view, range, view.close) && !(await jobDone(this.engine.db, 'consolidate', program.name, period))) due.push(period)
      } else if (dueAt(view, range, view.close) <= now) due.push(period)
    }
    return due
  }

  /**
   * Periods whose expected sources were due (end + expectedSources.by) within the rebuild window,
   * ending after `since` (the store's first event).
   */
  #slaPeriods(program: ViewProgram, now: number, since: number): string[] {
    const expected = program.view.expectedSources
    if (!expected) return []
    const by = parseDurationMs(expected.by) as number
    const oldest = Math.max(now - program.view.rebuild.windowDays * DAY_MS, since)
    const periods: string[] = []
    let range = program.bucketer.rangeOf(program.bucketer.keyOf(now - by))
    // The period containing now - by is not yet due; walk back from the one before it.
    for (range = range ? program.bucketer.rangeOf(program.bucketer.keyOf(range.start - 1)) : null; range && range.end > oldest; ) {
      periods.push(program.bucketer.keyOf(range.start))
      range = program.bucketer.rangeOf(program.bucketer.keyOf(range.start - 1))
    }
    return periods.reverse()
  }

  /** sla-watch on one period: MissingData for each expected source without an event, resolved once it reports. */
  async #watchPeriod(tx: WriteTx, program: ViewProgram, period: string, now: number): Promise<{ outcome: JobOutcome; detail: string; alerts: AlertDocument[] }> {
    const expected = program.view.expectedSources
    if (!expected) return { outcome: 'skipped', detail: 'the view expects no sources', alerts: [] }
    const range = program.bucketer.rangeOf(period)
    if (!range) return { outcome: 'skipped', detail: 'not a period', alerts: [] }
    const present = new Set(await sourcesReporting(tx.db, program.view.eventTypes, range, now))
    const missing = expected.sources.filter((s) => !present.has(s))
    const deadline = range.end + (parseDurationMs(expected.by) as number)
    const raised = await raiseAlerts(
      tx.db,
      missing.map((source) => ({
        kind: 'MissingData' as const,
        view: program.name,
        period,
        source,
        data: { expectedBy: toIso(deadline), periodStart: toIso(range.start), periodEnd: toIso(range.end) },
        // JSON, not NUL separators: PostgreSQL text cannot hold NUL.
        onceKey: JSON.stringify(['MissingData', program.name, period, source]),
      })),
      now,
    )
    const arrived = (await firingMissingData(tx.db, program.name)).filter((a) => a.period === period && a.source !== null && present.has(a.source))
    const resolved = await resolveAlerts(tx.db, arrived.map((a) => a.id), now)
    const alerts = [...raised, ...resolved].map(alertDocument)
    return {
      outcome: alerts.length > 0 ? 'published' : 'unchanged',
      detail: missing.length === 0 ? 'every expected source reported' : `missing: ${missing.join(', ')}`,
      alerts,
    }
  }

  async #runPeriod(job: JobName, program: ViewProgram, period: string, options: JobOptions): Promise<JobRun> {
    const started = performance.now()
    const startedAt = Date.now()
    // Live runs read the clock once they hold the write lock; until then, the clock's now.
    let now = options.now ?? this.clock.now()
    const record = async (db: Engine['db'], outcome: JobOutcome, revision: number | null, detail: string | null): Promise<JobRun> =>
      jobRunOf(
        await recordJobRun(db, {
          job,
          view: program.name,
          period,
          now,
          trigger: options.trigger,
          outcome,
          revision,
          detail,
          started_at: startedAt,
          duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        }),
      )
    const alerts: AlertDocument[] = []
    try {
      const run = await this.engine.write(async (tx) => {
        if (options.now === undefined) now = this.clock.now()
        await this.definitions.assertCurrent(tx.db)
        if (job === 'sla-watch') {
          if (options.period === undefined && (await jobDone(tx.db, 'sla-watch', program.name, period))) return record(tx.db, 'skipped', null, 'already watched')
          const watched = await this.#watchPeriod(tx, program, period, now)
          alerts.push(...watched.alerts)
          return record(tx.db, watched.outcome, null, watched.detail)
        }
        const state = await periodRow(tx.db, program.name, period)
        const status = state?.status ?? 'open'
        let kind: RevisionKind
        let trigger: Trigger = options.trigger
        let always = false
        switch (job) {
          case 'flash':
            if (status !== 'open') return record(tx.db, 'skipped', state?.latest_revision ?? null, `already ${status}`)
            kind = 'flash'
            break
          case 'consolidate':
            if (status === 'final') return record(tx.db, 'skipped', state?.latest_revision ?? null, 'already final')
            if (await jobDone(tx.db, 'consolidate', program.name, period)) return record(tx.db, 'skipped', state?.latest_revision ?? null, 'already consolidated')
            kind = 'consolidated'
            break
          case 'rebuild': {
            // A provisional period published under an older definition is republished under this one.
            const redefined = state !== null && status === 'provisional' && state.view_version !== null && state.view_version !== program.view.version
            if (!state || (state.dirty_since_seq === null && !redefined)) return record(tx.db, 'skipped', state?.latest_revision ?? null, 'not dirty')
            if (status === 'final') {
              if (program.view.close.lateAfterClose === 'hold') return record(tx.db, 'skipped', state.latest_revision, 'final; late events held (policy hold)')
              kind = 'restatement'
              trigger = 'restatement'
            } else {
              kind = 'revision'
              trigger = redefined ? 'definition' : options.trigger === 'manual' ? 'manual' : 'late-arrival'
            }
            break
          }
          case 'close':
            if (status === 'final') return record(tx.db, 'skipped', state?.latest_revision ?? null, 'already final')
            kind = 'final'
            always = true
            break
        }
        const result = await publishPeriod(tx, this.definitions, program, period, { kind, trigger, now, always })
        alerts.push(...result.alerts)
        return record(tx.db, result.outcome, result.revision, result.detail ?? `${kind} at cutoff seq ${result.cutoffSeq}`)
      })
      if (alerts.length > 0) this.#notify(alerts)
      return run
    } catch (error) {
      if (error instanceof LateviewError && error.code === 'LV_ERR_PERIOD_MALFORMED') throw error
      const message = (error as Error).message ?? String(error)
      this.#log('job failed', { job, view: program.name, period, error: message })
      const failed: AlertDocument[] = []
      const run = await this.engine.write(async (tx) => {
        const raised = await raiseAlerts(tx.db, [{ kind: 'JobFailed', view: program.name, period, source: null, data: { job, trigger: options.trigger, now: toIso(now), error: message } }], now)
        failed.push(...raised.map(alertDocument))
        return record(tx.db, 'failed', null, message)
      })
      this.#notify(failed)
      return run
    }
  }

  /**
   * Publishes a restatement now (an operator releasing held late events, or any manual
   * restatement). Now is read from the clock inside the write lock, as a live job does.
   */
  async restate(program: ViewProgram, period: string): Promise<JobRun> {
    const started = performance.now()
    const startedAt = Date.now()
    refuseUnbegun(program, period, this.clock.now())
    await this.#refuseEmpty(program, period)
    const alerts: AlertDocument[] = []
    const run = await this.engine.write(async (tx) => {
      const now = this.clock.now()
      await this.definitions.assertCurrent(tx.db)
      const state = await periodRow(tx.db, program.name, period)
      const kind: RevisionKind = state?.status === 'final' ? 'restatement' : 'manual'
      const result = await publishPeriod(tx, this.definitions, program, period, { kind, trigger: kind === 'restatement' ? 'restatement' : 'manual', now })
      alerts.push(...result.alerts)
      return jobRunOf(
        await recordJobRun(tx.db, {
          job: 'restate',
          view: program.name,
          period,
          now,
          trigger: 'manual',
          outcome: result.outcome,
          revision: result.revision,
          detail: result.detail ?? `${kind} at cutoff seq ${result.cutoffSeq}`,
          started_at: startedAt,
          duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        }),
      )
    })
    if (alerts.length > 0) this.#notify(alerts)
    return run
  }
}

/**
 * A period asked for by name must have begun at `now`: a report of a period nobody could have
 * seen yet (a `final` with no events, published months ahead) would be a figure about nothing.
 */
function refuseUnbegun(program: ViewProgram, period: string, now: number): void {
  const range = rangeOrThrow(program, period)
  if (range.start > now) {
    throw new LateviewError('LV_ERR_PERIOD_NOT_BEGUN', `period ${period} of view ${program.name} begins at ${toIso(range.start)}, after now (${toIso(now)})`, {
      view: program.name,
      period,
    })
  }
}
