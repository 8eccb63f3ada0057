import type { ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { JOB_NAMES, jobSpec, type JobFacts, type JobName, type Verdict } from '../domain/jobs.js'
import type { Trigger } from '../domain/lifecycle.js'
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

/** The job table declares the names; the API and the CLI that run jobs find them here too. */
export { isJobName, JOB_NAMES, type JobName } from '../domain/jobs.js'

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

/** What one run did to its period, recorded as it is, with the alerts to announce once committed. */
interface Done {
  outcome: JobOutcome
  revision: number | null
  detail: string | null
  alerts: AlertDocument[]
}

/** Who a run is recorded as, and the simulated now it runs at (undefined: live, read under the write lock). */
interface RunOf {
  job: string
  program: ViewProgram
  period: string
  trigger: Trigger
  now: number | undefined
  /** Whether a failure is recorded and raised as a JobFailed alert, rather than thrown to the caller. */
  recordFailure: boolean
}

/** When a run began, by wall clock (recorded) and by monotonic clock (its duration). */
interface Stopwatch {
  startedAt: number
  started: number
}

function stopwatch(): Stopwatch {
  return { startedAt: Date.now(), started: performance.now() }
}

function elapsedMs(watch: Stopwatch): number {
  return Math.round((performance.now() - watch.started) * 1000) / 1000
}

/** What the job table's rules ask of one view, answered from `db`. */
function factsOf(db: Engine['db'], view: string, version: number): JobFacts {
  return {
    knownPeriods: () => knownPeriods(db, view),
    state: (period) => periodRow(db, view, period),
    done: (job, period) => jobDone(db, job, view, period),
    toRebuild: () => periodsToRebuild(db, view, version),
    firstReceivedAt: () => firstReceivedAt(db),
  }
}

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
  readonly #runListeners: Array<(run: JobRun) => void> = []

  constructor(
    private readonly engine: Engine,
    private readonly definitions: ViewCatalog,
    private readonly clock: Clock,
  ) {}

  /** Where failures are logged. */
  onLog(log: (message: string, fields?: Record<string, unknown>) => void): void {
    this.#log = log
  }

  /** Hears of every run this process records (failed ones too), once it is committed. */
  onRun(listener: (run: JobRun) => void): void {
    this.#runListeners.push(listener)
  }

  #ran(run: JobRun): JobRun {
    for (const listener of this.#runListeners) listener(run)
    return run
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
        // A watching job is about a period without data: it says which sources are missing.
        if (jobSpec(job).kind === 'publish') await this.#refuseEmpty(program, options.period)
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
    for (const job of JOB_NAMES) runs.push(...(await this.run(job, { ...(now === undefined ? {} : { now }), trigger: 'catch-up' })))
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
  #duePeriods(job: JobName, program: ViewProgram, now: number): Promise<string[]> {
    return jobSpec(job).due(program, now, factsOf(this.engine.db, program.name, program.view.version))
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
    const resolved = await resolveAlerts(
      tx.db,
      arrived.map((a) => a.id),
      now,
    )
    const alerts = [...raised, ...resolved].map(alertDocument)
    return {
      outcome: alerts.length > 0 ? 'published' : 'unchanged',
      detail: missing.length === 0 ? 'every expected source reported' : `missing: ${missing.join(', ')}`,
      alerts,
    }
  }

  #runPeriod(job: JobName, program: ViewProgram, period: string, options: JobOptions): Promise<JobRun> {
    const run: RunOf = { job, program, period, trigger: options.trigger, now: options.now, recordFailure: true }
    return this.#bookkept(run, stopwatch(), async (tx, now) => {
      const verdict = await jobSpec(job).guard({
        program,
        period,
        state: await periodRow(tx.db, program.name, period),
        trigger: options.trigger,
        named: options.period !== undefined,
        facts: factsOf(tx.db, program.name, program.view.version),
      })
      return this.#carryOut(tx, program, period, verdict, now)
    })
  }

  /** Does what a guard decided for one period. */
  async #carryOut(tx: WriteTx, program: ViewProgram, period: string, verdict: Verdict, now: number): Promise<Done> {
    if (verdict.action === 'skip') return { outcome: 'skipped', revision: verdict.revision, detail: verdict.detail, alerts: [] }
    if (verdict.action === 'watch') {
      const watched = await this.#watchPeriod(tx, program, period, now)
      return { ...watched, revision: null }
    }
    const { kind, trigger, always, minChange } = verdict
    const result = await publishPeriod(tx, this.definitions, program, period, { kind, trigger, now, always, ...(minChange ? { minChange } : {}) })
    return { outcome: result.outcome, revision: result.revision, detail: result.detail ?? `${kind} at cutoff seq ${result.cutoffSeq}`, alerts: result.alerts }
  }

  /**
   * The bookkeeping every run of a period shares: in one write transaction it reads now (live
   * runs, under the lock), checks the definition is current, does the work and records the run;
   * the alerts raised are announced once committed. A failure of a job is recorded and raised as
   * a JobFailed alert; a malformed period, or a failure of a run that does not record failures,
   * is thrown to the caller.
   */
  async #bookkept(run: RunOf, watch: Stopwatch, work: (tx: WriteTx, now: number) => Promise<Done>): Promise<JobRun> {
    // Live runs read the clock once they hold the write lock; until then, the clock's now.
    let now = run.now ?? this.clock.now()
    const record = async (db: Engine['db'], outcome: JobOutcome, revision: number | null, detail: string | null): Promise<JobRun> =>
      jobRunOf(
        await recordJobRun(db, {
          job: run.job,
          view: run.program.name,
          period: run.period,
          now,
          trigger: run.trigger,
          outcome,
          revision,
          detail,
          started_at: watch.startedAt,
          duration_ms: elapsedMs(watch),
        }),
      )
    // Set by the attempt that commits: the store may run the transaction again after a conflict.
    let alerts: AlertDocument[] = []
    try {
      const recorded = await this.engine.write(async (tx) => {
        if (run.now === undefined) now = this.clock.now()
        await this.definitions.assertCurrent(tx.db)
        const done = await work(tx, now)
        alerts = done.alerts
        return record(tx.db, done.outcome, done.revision, done.detail)
      })
      if (alerts.length > 0) this.#notify(alerts)
      return this.#ran(recorded)
    } catch (error) {
      // A store that kept aborting the write for conflicts did not fail the job: the caller retries.
      if (!run.recordFailure || (error instanceof LateviewError && (error.code === 'LV_ERR_PERIOD_MALFORMED' || error.code === 'LV_ERR_STORE_BUSY'))) throw error
      const message = (error as Error).message ?? String(error)
      this.#log('job failed', { job: run.job, view: run.program.name, period: run.period, error: message })
      let failed: AlertDocument[] = []
      const recorded = await this.engine.write(async (tx) => {
        const data = { job: run.job, trigger: run.trigger, now: toIso(now), error: message }
        const raised = await raiseAlerts(tx.db, [{ kind: 'JobFailed', view: run.program.name, period: run.period, source: null, data }], now)
        failed = raised.map(alertDocument)
        return record(tx.db, 'failed', null, message)
      })
      this.#notify(failed)
      return this.#ran(recorded)
    }
  }

  /**
   * Publishes a restatement now (an operator releasing held late events, or any manual
   * restatement). Now is read from the clock inside the write lock, as a live job does; a
   * failure is the operator's to see, so it is thrown rather than recorded.
   */
  async restate(program: ViewProgram, period: string): Promise<JobRun> {
    const watch = stopwatch()
    refuseUnbegun(program, period, this.clock.now())
    await this.#refuseEmpty(program, period)
    const run: RunOf = { job: 'restate', program, period, trigger: 'manual', now: undefined, recordFailure: false }
    return this.#bookkept(run, watch, async (tx, now) => {
      const state = await periodRow(tx.db, program.name, period)
      const kind = state?.status === 'final' ? 'restatement' : 'manual'
      return this.#carryOut(tx, program, period, { action: 'publish', kind, trigger: kind === 'restatement' ? 'restatement' : 'manual', always: false }, now)
    })
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
