import type { ViewProgram } from './aggregate.js'
import { dailyAt, dueAt, type PeriodStatus, type RevisionKind, type Trigger } from './lifecycle.js'
import type { MinChange } from './min-change.js'
import { parseDurationMs, type PeriodRange } from './time.js'
import type { ViewDefinition } from './view.js'

/**
 * The period jobs, each declared once in `JOBS`: when it runs for a view, which periods are due
 * for it at an instant, and what it does (or why it does nothing) to one period. The job runner,
 * the scheduler, start-up catch-up, replays, the CLI and the `jobs/` entry files all read this
 * table, so a job added or reordered here is added or reordered everywhere at once.
 */

/** What the store holds about one period once it has a revision (a row of its `periods` table). */
export interface PeriodState {
  status: 'provisional' | 'final'
  latest_revision: number
  /** The first seq that changed the period after its latest revision; null when clean. */
  dirty_since_seq: number | null
  /** The view version its latest figures were computed (or found unchanged) under. */
  view_version: number | null
}

/**
 * What the due rules and the guards ask the store about one view. The job runner answers from
 * the database it reads at that moment (the write transaction, for a guard), so that the rules
 * stay here and the queries stay in the store.
 */
export interface JobFacts {
  /** Every period of the view with events or a state, in key order. */
  knownPeriods(): Promise<string[]>
  /** A period's state; null before its first revision. */
  state(period: string): Promise<PeriodState | null>
  /** Whether `job` already did `period` (published, or found it unchanged). */
  done(job: string, period: string): Promise<boolean>
  /** Periods changed since their latest revision, or provisional under an older definition, in key order. */
  toRebuild(): Promise<Array<PeriodState & { period: string }>>
  /** When the store received its first event; null before it has received any. */
  firstReceivedAt(): Promise<number | null>
}

/** What a guard is told about the one period its job is about to do. */
export interface GuardInput {
  program: ViewProgram
  period: string
  state: PeriodState | null
  /** What set the run off. */
  trigger: Trigger
  /** Whether the period was asked for by name rather than found due. */
  named: boolean
  facts: Pick<JobFacts, 'done'>
}

/**
 * A guard's answer: record a skip with this detail, publish a revision, or watch the sources. A
 * publication with `minChange` publishes only when a measure's total moved past it (else the run
 * is `below-threshold` and the period stays dirty).
 */
export type Verdict =
  | { action: 'skip'; revision: number | null; detail: string }
  | { action: 'publish'; kind: RevisionKind; trigger: Trigger; always: boolean; minChange?: MinChange }
  | { action: 'watch' }

/**
 * One job. A `publish` job is about a period's figures: it publishes a revision, so a period
 * asked for by name must have events or a revision. A `watch` job is about the view's expected
 * sources for a period: it raises and resolves alerts, and a period without data is exactly
 * what it reports on.
 */
export interface JobSpec<N extends string = string> {
  name: N
  kind: 'publish' | 'watch'
  /** The cron expression it runs on for a view, in the view's time zone; null when it never runs for it. */
  schedule(view: ViewDefinition): string | null
  /** The periods it has to do at `now`, in key order. */
  due(program: ViewProgram, now: number, facts: JobFacts): Promise<string[]>
  /** What it does to one period, decided inside the write transaction that records the run. */
  guard(input: GuardInput): Promise<Verdict>
}

const DAY_MS = 86_400_000

/** Missing sources are looked for every five minutes, where the view expects any. */
export const SLA_WATCH_EVERY = '*/5 * * * *'

const skip = (state: PeriodState | null, detail: string): Verdict => ({ action: 'skip', revision: state?.latest_revision ?? null, detail })

const publish = (kind: RevisionKind, trigger: Trigger, always = false, minChange?: MinChange): Verdict => ({ action: 'publish', kind, trigger, always, ...(minChange ? { minChange } : {}) })

/**
 * The known periods that are not final and pass `test`: the scan shared by the jobs that follow
 * a period's deadlines (flash, consolidate, close).
 */
async function unfinalDue(program: ViewProgram, facts: JobFacts, test: (period: string, range: PeriodRange, status: PeriodStatus) => boolean | Promise<boolean>): Promise<string[]> {
  const due: string[] = []
  for (const period of await facts.knownPeriods()) {
    const range = program.bucketer.rangeOf(period)
    if (!range) continue
    const status = (await facts.state(period))?.status ?? 'open'
    if (status === 'final') continue
    if (await test(period, range, status)) due.push(period)
  }
  return due
}

const flash: JobSpec<'flash'> = {
  name: 'flash',
  kind: 'publish',
  schedule: (view) => dailyAt(view.flash.at),
  // An open period between its flash and consolidate deadlines: past consolidate, flashing is moot.
  due: (program, now, facts) => {
    const view = program.view
    return unfinalDue(program, facts, (_, range, status) => status === 'open' && dueAt(view, range, view.flash) <= now && now < dueAt(view, range, view.consolidate))
  },
  guard: async ({ state, trigger }) => (state ? skip(state, `already ${state.status}`) : publish('flash', trigger)),
}

const consolidate: JobSpec<'consolidate'> = {
  name: 'consolidate',
  kind: 'publish',
  schedule: (view) => dailyAt(view.consolidate.at),
  // Once per period, between its consolidate and close deadlines.
  due: (program, now, facts) => {
    const view = program.view
    return unfinalDue(program, facts, async (period, range) => dueAt(view, range, view.consolidate) <= now && now < dueAt(view, range, view.close) && !(await facts.done('consolidate', period)))
  },
  guard: async ({ period, state, trigger, facts }) => {
    if (state?.status === 'final') return skip(state, 'already final')
    if (await facts.done('consolidate', period)) return skip(state, 'already consolidated')
    return publish('consolidated', trigger)
  },
}

const rebuild: JobSpec<'rebuild'> = {
  name: 'rebuild',
  kind: 'publish',
  schedule: (view) => view.rebuild.every,
  due: async (program, now, facts) => {
    const view = program.view
    const windowStart = now - view.rebuild.windowDays * DAY_MS
    const due: string[] = []
    for (const row of await facts.toRebuild()) {
      const range = program.bucketer.rangeOf(row.period)
      if (!range) continue
      // Late events after close are restated (policy restate); a new definition republishes
      // provisional periods only: final figures stand until restated.
      if (row.status === 'final' ? row.dirty_since_seq !== null && view.close.lateAfterClose === 'restate' : range.end > windowStart) due.push(row.period)
    }
    return due
  },
  guard: async ({ program, state, trigger }) => {
    // A provisional period published under an older definition is republished under this one.
    const redefined = state !== null && state.status === 'provisional' && state.view_version !== null && state.view_version !== program.view.version
    if (!state || (state.dirty_since_seq === null && !redefined)) return skip(state, 'not dirty')
    if (state.status === 'final') {
      if (program.view.close.lateAfterClose === 'hold') return skip(state, 'final; late events held (policy hold)')
      return publish('restatement', 'restatement')
    }
    // Rules changed: republished whatever moved. Late data: published once it moved enough.
    if (redefined) return publish('revision', 'definition')
    return publish('revision', trigger === 'manual' ? 'manual' : 'late-arrival', false, program.view.rebuild.minChange)
  },
}

const close: JobSpec<'close'> = {
  name: 'close',
  kind: 'publish',
  schedule: (view) => dailyAt(view.close.at),
  due: (program, now, facts) => unfinalDue(program, facts, (_, range) => dueAt(program.view, range, program.view.close) <= now),
  // A close always publishes, figures changed or not: the final revision is what readers rely on.
  guard: async ({ state, trigger }) => (state?.status === 'final' ? skip(state, 'already final') : publish('final', trigger, true)),
}

const slaWatch: JobSpec<'sla-watch'> = {
  name: 'sla-watch',
  kind: 'watch',
  schedule: (view) => (view.expectedSources ? SLA_WATCH_EVERY : null),
  // Each period is watched once, past its deadline; its alerts resolve at ingest.
  due: async (program, now, facts) => {
    const first = await facts.firstReceivedAt()
    // A store that has received nothing yet is not missing anything: watching starts with its first event.
    if (first === null) return []
    const due: string[] = []
    for (const period of slaPeriods(program, now, first)) if (!(await facts.done('sla-watch', period))) due.push(period)
    return due
  },
  // A period asked for by name is watched again: an operator wants to know now.
  guard: async ({ period, named, facts }) => (!named && (await facts.done('sla-watch', period)) ? { action: 'skip', revision: null, detail: 'already watched' } : { action: 'watch' }),
}

/** Every job, in life-cycle order: the order catch-up and replays run them in at one instant. */
export const JOBS = [flash, consolidate, rebuild, close, slaWatch] as const

export type JobName = (typeof JOBS)[number]['name']

export const JOB_NAMES: readonly JobName[] = JOBS.map((job) => job.name)

export function isJobName(name: string): name is JobName {
  return (JOB_NAMES as readonly string[]).includes(name)
}

/** The declaration of a job. */
export function jobSpec(name: JobName): JobSpec<JobName> {
  return JOBS.find((job) => job.name === name) as JobSpec<JobName>
}

/** The jobs that run for a view, in life-cycle order, each with its cron expression in the view's time zone. */
export function scheduledJobs(program: ViewProgram): Array<{ job: JobName; cron: string }> {
  const scheduled: Array<{ job: JobName; cron: string }> = []
  for (const job of JOBS) {
    const cron = job.schedule(program.view)
    if (cron !== null) scheduled.push({ job: job.name, cron })
  }
  return scheduled
}

/** The cron expression of each job that runs for a view, by job name. */
export function viewSchedule(program: ViewProgram): Partial<Record<JobName, string>> {
  return Object.fromEntries(scheduledJobs(program).map(({ job, cron }) => [job, cron]))
}

/**
 * Periods whose expected sources were due (end + expectedSources.by) within the rebuild window,
 * ending after `since` (the store's first event), oldest first.
 */
export function slaPeriods(program: ViewProgram, now: number, since: number): string[] {
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
