/**
 * The scheduler of `serve` on real time: node-cron ticks and each job's CronSchedule decides. A
 * rebuild every second (a six-field schedule) is asked for at every second, in the view's zone,
 * as a `cron` run of that view; a schedule whose time does not come within the test is never
 * asked for. (Which times an expression fires is tested once, for the scheduler and replays
 * alike, in test/domain/cron.test.ts.)
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parseViewDefinition } from '../../src/domain/view.js'
import { startScheduler } from '../../src/scheduler.js'
import type { JobOptions, JobRunner } from '../../src/services/jobs.js'
import { compileViews } from '../../src/services/view-files.js'

const test = suite('lifecycle/scheduler')

const view = (name: string, every: string) =>
  parseViewDefinition(
    {
      name,
      eventTypes: ['sale'],
      timezone: 'Asia/Taipei',
      granularity: 'day',
      dimensions: [],
      measures: { n: { count: true } },
      // Flash, consolidation and close fire once a day: not within the test, unless it runs then.
      flash: { at: '22:00' },
      consolidate: { at: '03:00' },
      rebuild: { every, windowDays: 7 },
    },
    `${name}.json`,
  )

test('a rebuild every second is run every second as a cron run of its view; one on 1 January at midnight is not run', async () => {
  const calls: Array<{ job: string; view: string | undefined; trigger: string; at: number }> = []
  const jobs = {
    async run(job: string, options: JobOptions) {
      calls.push({ job, view: options.view, trigger: options.trigger, at: Date.now() })
      return []
    },
  } as unknown as JobRunner
  const programs = compileViews([view('often', '* * * * * *'), view('yearly', '0 0 1 1 *')])
  const scheduler = startScheduler(jobs, programs, () => {})
  const started = Date.now()
  await new Promise((resolve) => setTimeout(resolve, 4_400))
  await scheduler.stop()
  const rebuilds = calls.filter((c) => c.job === 'rebuild')
  assert.ok(rebuilds.length >= 3 && rebuilds.length <= 5, `${rebuilds.length} rebuilds in 4.4 s`)
  assert.ok(rebuilds.every((c) => c.view === 'often' && c.trigger === 'cron'))
  // One a second: the runs lie about a second apart (a tick late under load leaves a longer gap, never a shorter one).
  for (let i = 1; i < rebuilds.length; i++) {
    const gap = (rebuilds[i] as { at: number }).at - (rebuilds[i - 1] as { at: number }).at
    assert.ok(gap > 600, `gap ${gap} ms`)
  }
  // Nothing else was due: the daily jobs are at 22:00 and 03:00 Taipei, the other rebuild on 1 January.
  const local = new Date(started + 8 * 3_600_000)
  const nearDaily = [21, 22, 2, 3].includes(local.getUTCHours())
  if (!nearDaily)
    assert.equal(
      calls.filter((c) => c.job !== 'rebuild'),
      [],
    )
  assert.not.ok(calls.some((c) => c.view === 'yearly'))
})

test.run()
