import type { ManualClock } from '../domain/clock.js'
import { CronSchedule } from '../domain/cron.js'
import { parseInstant } from '../domain/time.js'
import { scheduledJobs } from '../domain/jobs.js'
import type { JobRun } from './jobs.js'
import type { Lateview } from './lateview.js'

export interface ReplayOptions {
  /** Events with `receivedAt`, in arrival order (as the fixture generators write them). */
  events: Array<{ receivedAt: string }>
  from: number
  to: number
  /** Simulated minutes per step; jobs fire when their cron matches a step (default 5). */
  stepMinutes?: number
  batch?: number
  onRun?: (run: JobRun) => void
}

/**
 * Replays history on a simulated clock: at each step, imports the events received by then and
 * runs every job whose schedule fires at that minute, exactly as a live server would have.
 */
export async function replay(lateview: Lateview, clock: ManualClock, options: ReplayOptions): Promise<{ ingested: number; runs: JobRun[] }> {
  const step = (options.stepMinutes ?? 5) * 60_000
  const batch = options.batch ?? 1000
  const schedules = lateview.programs.map((program) => ({
    program,
    // In life-cycle order: jobs firing at the same minute run as the table lists them.
    jobs: scheduledJobs(program).map(({ job, cron }) => ({ job, cron: new CronSchedule(cron, program.view.timezone) })),
  }))
  const runs: JobRun[] = []
  let next = 0
  let ingested = 0
  for (let now = Math.ceil(options.from / step) * step; now <= options.to; now += step) {
    clock.set(now)
    const due: unknown[] = []
    while (next < options.events.length && (parseInstant(options.events[next]?.receivedAt) ?? Infinity) <= now) due.push(options.events[next++])
    for (let i = 0; i < due.length; i += batch) {
      const result = await lateview.ingest(due.slice(i, i + batch), { imported: true })
      ingested += result.accepted
    }
    for (const { program, jobs } of schedules) {
      for (const { job, cron } of jobs) {
        if (!cron.firesInMinute(now)) continue
        for (const run of await lateview.jobs.run(job, { view: program.name, now, trigger: 'cron' })) {
          runs.push(run)
          options.onRun?.(run)
        }
      }
    }
  }
  return { ingested, runs }
}
