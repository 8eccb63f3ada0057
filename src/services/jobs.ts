import type { ViewProgram } from '../domain/aggregate.js'
import { dueAt, type RevisionKind, type Trigger } from '../domain/lifecycle.js'
import { toIso } from '../domain/time.js'
import { LateviewError } from '../errors.js'
import type { Engine } from '../store/engine.js'
import { dirtyPeriods, jobDone, knownPeriods, periodRow, recordJobRun, type JobOutcome } from '../store/revisions.js'
import type { JobRunsTable } from '../store/schema.js'
import { publishPeriod } from './publish.js'

export type JobName = 'flash' | 'consolidate' | 'rebuild' | 'close'
export const JOB_NAMES: readonly JobName[] = ['flash', 'consolidate', 'rebuild', 'close']

export interface JobOptions {
  /** One view, or every view. */
  view?: string
  /** One period (run even if not yet due), or every period due at `now`. */
  period?: string
  now: number
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
 * runs of the same job and view also queue behind each other. A failure is recorded, logged and
 * reported to `onFailure`; it never escapes to the scheduler.
 */
export class JobRunner {
  readonly #queues = new Map<string, Promise<unknown>>()

  #log: (message: string, fields?: Record<string, unknown>) => void = () => {}

  constructor(
    private readonly engine: Engine,
    private readonly programs: ReadonlyMap<string, ViewProgram>,
  ) {}

  /** Where failures are logged. */
  onLog(log: (message: string, fields?: Record<string, unknown>) => void): void {
    this.#log = log
  }

  /** Runs a job for one or every view; returns the runs recorded. */
  async run(job: JobName, options: JobOptions): Promise<JobRun[]> {
    const programs = options.view === undefined ? [...this.programs.values()] : [this.program(options.view)]
    const runs: JobRun[] = []
    for (const program of programs) {
      runs.push(...(await this.#serial(`${job}:${program.name}`, () => this.#runView(job, program, options))))
    }
    return runs
  }

  /** Runs every job that is due at `now` for every view, in life-cycle order: start-up catch-up. */
  async catchUp(now: number): Promise<JobRun[]> {
    const runs: JobRun[] = []
    for (const job of ['flash', 'consolidate', 'rebuild', 'close'] as const) runs.push(...(await this.run(job, { now, trigger: 'catch-up' })))
    return runs
  }

  program(name: string): ViewProgram {
    const program = this.programs.get(name)
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
    const periods = options.period !== undefined ? [options.period] : await this.#duePeriods(job, program, options.now)
    const runs: JobRun[] = []
    for (const period of periods) runs.push(await this.#runPeriod(job, program, period, options))
    return runs
  }

  /** Periods this job has to do at `now`. */
  async #duePeriods(job: JobName, program: ViewProgram, now: number): Promise<string[]> {
    const view = program.view
    if (job === 'rebuild') {
      const windowStart = now - view.rebuild.windowDays * DAY_MS
      const due: string[] = []
      for (const row of await dirtyPeriods(this.engine.db, program.name)) {
        const range = program.bucketer.rangeOf(row.period)
        if (!range || row.dirty_since_seq === null) continue
        if (row.status === 'final' ? view.close.lateAfterClose === 'restate' : range.end > windowStart) due.push(row.period)
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

  async #runPeriod(job: JobName, program: ViewProgram, period: string, options: JobOptions): Promise<JobRun> {
    const started = performance.now()
    const startedAt = Date.now()
    const record = async (db: Engine['db'], outcome: JobOutcome, revision: number | null, detail: string | null): Promise<JobRun> =>
      jobRunOf(
        await recordJobRun(db, {
          job,
          view: program.name,
          period,
          now: options.now,
          trigger: options.trigger,
          outcome,
          revision,
          detail,
          started_at: startedAt,
          duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        }),
      )
    try {
      return await this.engine.write(async (tx) => {
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
          case 'rebuild':
            if (!state || state.dirty_since_seq === null) return record(tx.db, 'skipped', state?.latest_revision ?? null, 'not dirty')
            if (status === 'final') {
              if (program.view.close.lateAfterClose === 'hold') return record(tx.db, 'skipped', state.latest_revision, 'final; late events held (policy hold)')
              kind = 'restatement'
              trigger = 'restatement'
            } else {
              kind = 'revision'
              trigger = options.trigger === 'manual' ? 'manual' : 'late-arrival'
            }
            break
          case 'close':
            if (status === 'final') return record(tx.db, 'skipped', state?.latest_revision ?? null, 'already final')
            kind = 'final'
            always = true
            break
        }
        const result = await publishPeriod(tx, program, period, { kind, trigger, now: options.now, always })
        return record(tx.db, result.outcome, result.revision, `${kind} at cutoff seq ${result.cutoffSeq}`)
      })
    } catch (error) {
      if (error instanceof LateviewError && error.code === 'LV_ERR_PERIOD_MALFORMED') throw error
      const message = (error as Error).message ?? String(error)
      this.#log('job failed', { job, view: program.name, period, error: message })
      return this.engine.write((tx) => record(tx.db, 'failed', null, message))
    }
  }
}

/** Publishes a restatement now (an operator releasing held late events, or any manual restatement). */
export async function restatePeriod(engine: Engine, program: ViewProgram, period: string, now: number): Promise<JobRun> {
  const started = performance.now()
  return engine.write(async (tx) => {
    const state = await periodRow(tx.db, program.name, period)
    const kind: RevisionKind = state?.status === 'final' ? 'restatement' : 'manual'
    const result = await publishPeriod(tx, program, period, { kind, trigger: kind === 'restatement' ? 'restatement' : 'manual', now })
    return jobRunOf(
      await recordJobRun(tx.db, {
        job: 'restate',
        view: program.name,
        period,
        now,
        trigger: 'manual',
        outcome: result.outcome,
        revision: result.revision,
        detail: `${kind} at cutoff seq ${result.cutoffSeq}`,
        started_at: Date.now(),
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      }),
    )
  })
}
