import { readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ViewProgram } from '../../src/domain/aggregate.js'
import { isJobName, JOB_NAMES, jobSpec, JOBS, scheduledJobs, viewSchedule, type JobFacts, type PeriodState } from '../../src/domain/jobs.js'
import { parseInstant } from '../../src/domain/time.js'
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'

const dailyRevenue = parseViewDefinition(JSON.parse(readFileSync(new URL('../../views/daily_revenue.json', import.meta.url), 'utf8')), 'views/daily_revenue.json')
const program = new ViewProgram(dailyRevenue)

function at(iso: string): number {
  const ms = parseInstant(iso)
  if (ms === null) throw new Error(`bad instant ${iso}`)
  return ms
}

const state = (status: PeriodState['status'], dirty: number | null = null, version: number | null = 1): PeriodState => ({ status, latest_revision: 2, dirty_since_seq: dirty, view_version: version })

/** A store of one view held in memory: its periods, their states, the runs that did them and its first event. */
function facts(store: { periods: string[]; states: Record<string, PeriodState>; done: string[]; first: number | null }): JobFacts {
  return {
    knownPeriods: async () => store.periods,
    state: async (period) => store.states[period] ?? null,
    done: async (job, period) => store.done.includes(`${job}:${period}`),
    toRebuild: async () =>
      Object.entries(store.states)
        .filter(([, s]) => s.dirty_since_seq !== null)
        .map(([period, s]) => ({ ...s, period }))
        .sort((a, b) => a.period.localeCompare(b.period)),
    firstReceivedAt: async () => store.first,
  }
}

const store = facts({
  periods: ['2026-10-20', '2026-10-29', '2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03'],
  states: {
    '2026-10-20': state('provisional', 40),
    '2026-10-29': state('final', 90),
    '2026-10-30': state('provisional'),
    '2026-10-31': state('provisional'),
    '2026-11-01': state('provisional', 120),
  },
  done: ['consolidate:2026-11-01', 'sla-watch:2026-10-29'],
  first: at('2026-10-28T00:00:00+08:00'),
})

test('the jobs, in life-cycle order', () => {
  assert.equal(JOB_NAMES, ['flash', 'consolidate', 'rebuild', 'close', 'sla-watch'])
  assert.equal(
    JOBS.map((job) => [job.name, job.kind]),
    [
      ['flash', 'publish'],
      ['consolidate', 'publish'],
      ['rebuild', 'publish'],
      ['close', 'publish'],
      ['sla-watch', 'watch'],
    ],
  )
  assert.ok(isJobName('sla-watch'))
  assert.not.ok(isJobName('restate'))
  assert.is(jobSpec('close').name, 'close')
})

test('a view’s schedule derives from its definition, in life-cycle order', () => {
  assert.equal(scheduledJobs(program), [
    { job: 'flash', cron: '0 22 * * *' },
    { job: 'consolidate', cron: '0 3 * * *' },
    { job: 'rebuild', cron: '*/15 * * * *' },
    { job: 'close', cron: '30 3 * * *' },
    { job: 'sla-watch', cron: '*/5 * * * *' },
  ])
  // A view that expects no sources is not watched.
  const unwatched: ViewDefinition = { ...dailyRevenue, expectedSources: null, rebuild: { every: '0 * * * *', windowDays: 7 } }
  assert.equal(viewSchedule(new ViewProgram(unwatched)), { flash: '0 22 * * *', consolidate: '0 3 * * *', rebuild: '0 * * * *', close: '30 3 * * *' })
})

test('the periods due for each job at an instant', async () => {
  // 23:00 in Taipei on 2 November: past its flash (22:00), before its consolidate (03:00 on the 3rd).
  const now = at('2026-11-02T23:00:00+08:00')
  const due = Object.fromEntries(await Promise.all(JOBS.map(async (job) => [job.name, await job.due(program, now, store)])))
  assert.equal(due, {
    flash: ['2026-11-02'],
    // 31 October and 1 November are between consolidate and close; 1 November is consolidated already.
    consolidate: ['2026-10-31'],
    // 20 October is outside the seven-day window; 29 October is final and restated (policy restate).
    rebuild: ['2026-10-29', '2026-11-01'],
    // Every period past its close that is not final yet, however old; 29 October is final already.
    close: ['2026-10-20', '2026-10-30'],
    // Sources were due by 02:00 on the day after next (PT26H), since the first event; 29 October was watched.
    'sla-watch': ['2026-10-28', '2026-10-30', '2026-10-31'],
  })
  assert.equal(await jobSpec('sla-watch').due(program, now, { ...store, firstReceivedAt: async () => null }), [])
})

test('each guard’s verdict on one period', async () => {
  const guard = (name: Parameters<typeof jobSpec>[0], period: string, s: PeriodState | null, named = false) => jobSpec(name).guard({ program, period, state: s, trigger: 'cron', named, facts: store })
  assert.equal(await guard('flash', '2026-11-02', null), { action: 'publish', kind: 'flash', trigger: 'cron', always: false })
  assert.equal(await guard('flash', '2026-10-31', state('provisional')), { action: 'skip', revision: 2, detail: 'already provisional' })
  assert.equal(await guard('consolidate', '2026-11-01', state('provisional')), { action: 'skip', revision: 2, detail: 'already consolidated' })
  assert.equal(await guard('rebuild', '2026-11-01', state('provisional', null, 0)), { action: 'publish', kind: 'revision', trigger: 'definition', always: false })
  assert.equal(await guard('rebuild', '2026-10-29', state('final', 90)), { action: 'publish', kind: 'restatement', trigger: 'restatement', always: false })
  assert.equal(await guard('rebuild', '2026-10-30', null), { action: 'skip', revision: null, detail: 'not dirty' })
  assert.equal(await guard('close', '2026-10-30', state('provisional')), { action: 'publish', kind: 'final', trigger: 'cron', always: true })
  assert.equal(await guard('sla-watch', '2026-10-29', null), { action: 'skip', revision: null, detail: 'already watched' })
  assert.equal(await guard('sla-watch', '2026-10-29', null, true), { action: 'watch' })
})

test.run()
