import { schedule, type ScheduledTask } from 'node-cron'
import type { ViewProgram } from './domain/aggregate.js'
import { CronSchedule } from './domain/cron.js'
import { scheduledJobs } from './domain/jobs.js'
import type { JobRunner } from './services/jobs.js'

export interface Scheduler {
  stop(): Promise<void>
}

type Log = (message: string, fields?: Record<string, unknown>) => void

/**
 * Wires the period jobs of every view to node-cron in the view's time zone. node-cron ticks
 * (every minute, or every second for an expression with seconds) and each job's CronSchedule
 * decides whether the tick is one of its times: the very question the demo and replays ask of
 * simulated minutes (domain/cron.ts), so that `serve` and they never read an expression two
 * ways. Each job finds what is due at its `now`, so a run at 22:00 flashes the periods due then.
 * Overlapping runs of one task are skipped by node-cron, and the JobRunner queues a manual run
 * behind a scheduled one. Nothing throws out of a task: failures are recorded as job runs.
 */
export function startScheduler(jobs: JobRunner, programs: ViewProgram[], log: Log): Scheduler {
  const tasks: ScheduledTask[] = []
  for (const program of programs) {
    for (const { job, cron: expression } of scheduledJobs(program)) {
      const cron = new CronSchedule(expression, program.view.timezone)
      const task = schedule(
        cron.tick,
        async (context) => {
          if (!cron.firesOnTick(context.date.getTime())) return
          try {
            const runs = await jobs.run(job, { view: program.name, trigger: 'cron' })
            if (runs.length > 0) log('job ran', { job, view: program.name, runs: runs.map((r) => `${r.period}:${r.outcome}${r.revision ? `#${r.revision}` : ''}`) })
          } catch (error) {
            log('job failed', { job, view: program.name, error: (error as Error).message })
          }
        },
        { timezone: program.view.timezone, noOverlap: true, name: `${job}:${program.name}` },
      )
      tasks.push(task)
    }
  }
  return {
    async stop() {
      for (const task of tasks) await task.destroy()
    },
  }
}
