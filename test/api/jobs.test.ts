/**
 * POST /v1/jobs/:job and GET /v1/jobs/runs: jobs run at a simulated `now` over imported events,
 * exact outcomes and revisions, every error, and the admin scope.
 */
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import type { Scope } from '../../src/config.js'
import { ManualClock } from '../../src/domain/clock.js'
import { JOB_NAMES } from '../../src/services/jobs.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import type { Engine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { expectOk, expectProblem, get, NOW, NOW_ISO, post, VIEWS_DIR } from './harness.js'

const READ = 'read-token-0000000001'
const ADMIN = 'admin-token-000000001'
const TOKENS: ReadonlyMap<string, ReadonlySet<Scope>> = new Map([
  [READ, new Set<Scope>(['read'])],
  [ADMIN, new Set<Scope>(['admin'])],
])

interface Api {
  app: FastifyInstance
  engine: Engine
  lateview: Lateview
}

interface Ctx {
  api: Api
}

async function open(engine: Engine): Promise<Api> {
  const lateview = await Lateview.fromEngine(engine, loadViewFiles(VIEWS_DIR), new ManualClock(NOW))
  const app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: true }, { lateview })
  return { app, engine, lateview }
}

/**
 * Four events imported with their receivedAt: seq 1 a sale of 2026-11-02 (Taipei), seq 2 a lab
 * result of 2026-11-02 (Berlin), seq 3 a sale of 2026-11-02 received that night, seq 4 a sale of
 * 2026-11-03.
 */
const EVENTS = [
  { id: 'a', source: 'store-001', type: 'sale', occurredAt: '2026-11-02T10:00:00+08:00', receivedAt: '2026-11-02T02:00:01Z', data: { store: '001', channel: 'pos', amount: 10 } },
  { id: 't', source: 'lab-berlin', type: 'test_result', occurredAt: '2026-11-02T09:00:00+01:00', receivedAt: '2026-11-02T09:00:00Z', data: { lab: 'berlin', region: 'east', positive: 1 } },
  { id: 'c', source: 'store-002', type: 'sale', occurredAt: '2026-11-02T12:00:00+08:00', receivedAt: '2026-11-02T18:00:00Z', data: { store: '002', channel: 'pos', amount: 5 } },
  { id: 'b', source: 'store-001', type: 'sale', occurredAt: '2026-11-03T10:00:00+08:00', receivedAt: '2026-11-03T02:00:01Z', data: { store: '001', channel: 'pos', amount: 20 } },
]

async function given(app: FastifyInstance, token?: string): Promise<void> {
  const body = expectOk(await post(app, EVENTS, { url: '/v1/events?import=true', ...(token ? { token } : {}) })) as Record<string, unknown>
  assert.equal([body.accepted, body.firstSeq, body.lastSeq], [4, 1, 4])
}

/** A job run without its wall-clock fields (startedAt, durationMs), which are checked for form only. */
function stable(run: Record<string, unknown>): Record<string, unknown> {
  const { startedAt, durationMs, ...rest } = run
  assert.match(String(startedAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  assert.type(durationMs, 'number')
  return rest
}

function runJob(app: FastifyInstance, job: string, body: unknown, token?: string) {
  return app.inject({
    method: 'POST',
    url: `/v1/jobs/${job}`,
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
}

/** The answer of a successful job request, runs made stable. */
async function job(app: FastifyInstance, name: string, body: unknown, token?: string) {
  const answer = expectOk(await runJob(app, name, body, token)) as { job: string; now: string; runs: Record<string, unknown>[] }
  return { ...answer, runs: answer.runs.map(stable) }
}

/** An expected run of a job at `now` (ISO Z), triggered by hand. */
function run(id: number, name: string, view: string, period: string, now: string, outcome: string, revision: number | null, detail: string) {
  return { id, job: name, view, period, now, trigger: 'manual', outcome, revision, detail }
}

async function runs(app: FastifyInstance, query = '', token?: string) {
  const body = expectOk(await get(app, `/v1/jobs/runs${query}`, token)) as { runs: Record<string, unknown>[] }
  return body.runs.map(stable)
}

const DR = 'daily_revenue'
const LAB = 'daily_positive_tests'
// 22:00 in Taipei on 2026-11-02 and 2026-11-03; 03:00 and 03:30 of later days.
const FLASH_2 = '2026-11-02T14:00:00.000Z'
const FLASH_3 = '2026-11-03T14:00:00.000Z'
const CONSOLIDATE_3 = '2026-11-03T19:00:00.000Z'
const CLOSE_2 = '2026-11-04T19:30:00.000Z'

for (const factory of await engines()) {
  const test = suite<Ctx>(`api jobs (${factory.name})`, {} as Ctx)
  test.before.each(async (ctx) => {
    ctx.api = await open(await factory.open())
  })
  test.after.each(async ({ api }) => {
    await api.app.close()
    await api.engine.close()
  })
  test.after(() => factory.cleanup())

  test('flash with view and period: publishes revision 1 at the cutoff of now, then skips', async ({ api }) => {
    await given(api.app)
    assert.equal(await job(api.app, 'flash', { view: DR, period: '2026-11-02', now: '2026-11-02T22:00:00+08:00' }), {
      job: 'flash',
      now: FLASH_2,
      runs: [run(1, 'flash', DR, '2026-11-02', FLASH_2, 'published', 1, 'flash at cutoff seq 2')],
    })
    assert.equal(await job(api.app, 'flash', { view: DR, period: '2026-11-02', now: '2026-11-02T22:05:00+08:00' }), {
      job: 'flash',
      now: '2026-11-02T14:05:00.000Z',
      runs: [run(2, 'flash', DR, '2026-11-02', '2026-11-02T14:05:00.000Z', 'skipped', 1, 'already provisional')],
    })
    const report = expectOk(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-02')) as Record<string, unknown>
    assert.equal([report.revision, report.kind, report.cutoffSeq, report.computedAt, report.totals], [1, 'flash', 2, FLASH_2, { measures: { revenue: 10, orders: 1, largest: 10 }, eventCount: 1 }])
  })

  test('without period: every period due at now, in every view (or one view)', async ({ api }) => {
    await given(api.app)
    // On 2026-11-02 at 22:00 Taipei only that day is due for its flash (Berlin's flash is at 20:00 local, 19:00Z).
    assert.equal(await job(api.app, 'flash', { now: '2026-11-02T22:00:00+08:00' }), {
      job: 'flash',
      now: FLASH_2,
      runs: [run(1, 'flash', DR, '2026-11-02', FLASH_2, 'published', 1, 'flash at cutoff seq 2')],
    })
    assert.equal(await job(api.app, 'flash', { view: LAB, now: '2026-11-02T22:00:00+08:00' }), { job: 'flash', now: FLASH_2, runs: [] })
    // A day later 2026-11-02 is no longer open and the lab's day is past its flash window.
    assert.equal(await job(api.app, 'flash', { now: '2026-11-03T22:00:00+08:00' }), {
      job: 'flash',
      now: FLASH_3,
      runs: [run(2, 'flash', DR, '2026-11-03', FLASH_3, 'published', 1, 'flash at cutoff seq 4')],
    })
    // T+1: the lab day (its first revision), 2026-11-02 with the sale received that night, and
    // 2026-11-03 whose figures did not change since its flash.
    assert.equal(await job(api.app, 'consolidate', { now: '2026-11-04T03:00:00+08:00' }), {
      job: 'consolidate',
      now: CONSOLIDATE_3,
      runs: [
        run(3, 'consolidate', LAB, '2026-11-02', CONSOLIDATE_3, 'published', 1, 'consolidated at cutoff seq 4'),
        run(4, 'consolidate', DR, '2026-11-02', CONSOLIDATE_3, 'published', 2, 'consolidated at cutoff seq 4'),
        run(5, 'consolidate', DR, '2026-11-03', CONSOLIDATE_3, 'unchanged', 1, 'consolidated at cutoff seq 4'),
      ],
    })
    assert.equal(await job(api.app, 'consolidate', { now: '2026-11-04T03:00:00+08:00' }), { job: 'consolidate', now: CONSOLIDATE_3, runs: [] })
    assert.equal(await job(api.app, 'rebuild', { now: '2026-11-04T03:15:00+08:00' }), { job: 'rebuild', now: '2026-11-03T19:15:00.000Z', runs: [] })
    // D+3 03:30: only 2026-11-02 of the retail chain closes; the lab closes at D+7.
    assert.equal(await job(api.app, 'close', { now: '2026-11-05T03:30:00+08:00' }), {
      job: 'close',
      now: CLOSE_2,
      runs: [run(6, 'close', DR, '2026-11-02', CLOSE_2, 'published', 3, 'final at cutoff seq 4')],
    })
    assert.equal(await job(api.app, 'close', { now: '2026-11-05T03:30:00+08:00' }), { job: 'close', now: CLOSE_2, runs: [] })

    const revisions = expectOk(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-02/revisions')) as { status: string; revisions: Array<Record<string, unknown>> }
    assert.is(revisions.status, 'final')
    assert.equal(
      revisions.revisions.map((r) => [r.revision, r.kind, r.cutoffSeq, r.computedAt, r.trigger, r.totals]),
      [
        [1, 'flash', 2, FLASH_2, 'manual', { measures: { revenue: 10, orders: 1, largest: 10 }, eventCount: 1 }],
        [2, 'consolidated', 4, CONSOLIDATE_3, 'manual', { measures: { revenue: 15, orders: 2, largest: 10 }, eventCount: 2 }],
        [3, 'final', 4, CLOSE_2, 'manual', { measures: { revenue: 15, orders: 2, largest: 10 }, eventCount: 2 }],
      ],
    )
  })

  test('rebuild: a dirty period is recomputed at the cutoff of now, published only when figures change', async ({ api }) => {
    await given(api.app)
    assert.equal((await job(api.app, 'flash', { view: DR, period: '2026-11-02', now: '2026-11-02T22:00:00+08:00' })).runs.length, 1)
    // Past the 7-day window a dirty period is left alone.
    assert.equal(await job(api.app, 'rebuild', { view: DR, now: '2026-11-20T00:00:00Z' }), { job: 'rebuild', now: '2026-11-20T00:00:00.000Z', runs: [] })
    // At midnight the late sale (received 18:00Z, 02:00 Taipei) is not known yet: unchanged.
    assert.equal(await job(api.app, 'rebuild', { view: DR, now: '2026-11-03T00:00:00+08:00' }), {
      job: 'rebuild',
      now: '2026-11-02T16:00:00.000Z',
      runs: [run(2, 'rebuild', DR, '2026-11-02', '2026-11-02T16:00:00.000Z', 'unchanged', 1, 'revision at cutoff seq 2')],
    })
    assert.equal(await job(api.app, 'rebuild', { view: DR, now: '2026-11-03T02:30:00+08:00' }), {
      job: 'rebuild',
      now: '2026-11-02T18:30:00.000Z',
      runs: [run(3, 'rebuild', DR, '2026-11-02', '2026-11-02T18:30:00.000Z', 'published', 2, 'revision at cutoff seq 3')],
    })
    assert.equal(await job(api.app, 'rebuild', { view: DR, now: '2026-11-03T02:45:00+08:00' }), { job: 'rebuild', now: '2026-11-02T18:45:00.000Z', runs: [] })
    assert.equal(await job(api.app, 'rebuild', { view: DR, period: '2026-11-02', now: '2026-11-03T02:45:00+08:00' }), {
      job: 'rebuild',
      now: '2026-11-02T18:45:00.000Z',
      runs: [run(4, 'rebuild', DR, '2026-11-02', '2026-11-02T18:45:00.000Z', 'skipped', 2, 'not dirty')],
    })
    const report = expectOk(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-02')) as Record<string, unknown>
    assert.equal(
      [report.revision, report.kind, report.trigger, report.cutoffSeq, report.lateEventCount, report.totals],
      [2, 'revision', 'manual', 3, 1, { measures: { revenue: 15, orders: 2, largest: 10 }, eventCount: 2 }],
    )
  })

  test('close and consolidate with a period run even before it is due', async ({ api }) => {
    await given(api.app)
    assert.equal(await job(api.app, 'consolidate', { view: DR, period: '2026-11-03', now: '2026-11-03T12:00:00Z' }), {
      job: 'consolidate',
      now: '2026-11-03T12:00:00.000Z',
      runs: [run(1, 'consolidate', DR, '2026-11-03', '2026-11-03T12:00:00.000Z', 'published', 1, 'consolidated at cutoff seq 4')],
    })
    assert.equal(await job(api.app, 'consolidate', { view: DR, period: '2026-11-03', now: '2026-11-03T12:00:00Z' }), {
      job: 'consolidate',
      now: '2026-11-03T12:00:00.000Z',
      runs: [run(2, 'consolidate', DR, '2026-11-03', '2026-11-03T12:00:00.000Z', 'skipped', 1, 'already consolidated')],
    })
    assert.equal(await job(api.app, 'close', { view: DR, period: '2026-11-03', now: '2026-11-03T13:00:00Z' }), {
      job: 'close',
      now: '2026-11-03T13:00:00.000Z',
      runs: [run(3, 'close', DR, '2026-11-03', '2026-11-03T13:00:00.000Z', 'published', 2, 'final at cutoff seq 4')],
    })
    assert.equal(await job(api.app, 'close', { view: DR, period: '2026-11-03', now: '2026-11-03T13:00:00Z' }), {
      job: 'close',
      now: '2026-11-03T13:00:00.000Z',
      runs: [run(4, 'close', DR, '2026-11-03', '2026-11-03T13:00:00.000Z', 'skipped', 2, 'already final')],
    })
    assert.equal(await job(api.app, 'flash', { view: DR, period: '2026-11-03', now: '2026-11-03T14:00:00Z' }), {
      job: 'flash',
      now: FLASH_3,
      runs: [run(5, 'flash', DR, '2026-11-03', FLASH_3, 'skipped', 2, 'already final')],
    })
  })

  test('GET /v1/jobs/runs: newest first, filtered by job, view, period and limit', async ({ api }) => {
    await given(api.app)
    await job(api.app, 'flash', { now: '2026-11-02T22:00:00+08:00' })
    await job(api.app, 'flash', { now: '2026-11-03T22:00:00+08:00' })
    await job(api.app, 'consolidate', { now: '2026-11-04T03:00:00+08:00' })
    const R1 = run(1, 'flash', DR, '2026-11-02', FLASH_2, 'published', 1, 'flash at cutoff seq 2')
    const R2 = run(2, 'flash', DR, '2026-11-03', FLASH_3, 'published', 1, 'flash at cutoff seq 4')
    const R3 = run(3, 'consolidate', LAB, '2026-11-02', CONSOLIDATE_3, 'published', 1, 'consolidated at cutoff seq 4')
    const R4 = run(4, 'consolidate', DR, '2026-11-02', CONSOLIDATE_3, 'published', 2, 'consolidated at cutoff seq 4')
    const R5 = run(5, 'consolidate', DR, '2026-11-03', CONSOLIDATE_3, 'unchanged', 1, 'consolidated at cutoff seq 4')
    assert.equal(await runs(api.app), [R5, R4, R3, R2, R1])
    assert.equal(await runs(api.app, '?job=flash'), [R2, R1])
    assert.equal(await runs(api.app, `?view=${LAB}`), [R3])
    assert.equal(await runs(api.app, '?period=2026-11-03'), [R5, R2])
    assert.equal(await runs(api.app, '?limit=2'), [R5, R4])
    assert.equal(await runs(api.app, `?job=consolidate&view=${DR}&period=2026-11-02`), [R4])
    assert.equal(await runs(api.app, '?job=close'), [])
    assert.equal(await runs(api.app, '?limit=1000'), [R5, R4, R3, R2, R1])
    for (const query of ['limit=0', 'limit=1001', 'limit=x', 'limit=-1', 'limit=1.5']) {
      expectProblem(await get(api.app, `/v1/jobs/runs?${query}`), 400, 'LV_ERR_QUERY_INVALID')
    }
  })

  test('errors: unknown job, bad now, period without view, unknown view, malformed period; nothing runs', async ({ api }) => {
    await given(api.app)
    assert.equal(expectProblem(await runJob(api.app, 'nope', { now: '2026-11-02T22:00:00+08:00' }), 404, 'LV_ERR_JOB_NOT_FOUND'), {
      type: 'urn:lateview:problem:LV_ERR_JOB_NOT_FOUND',
      title: 'No such job',
      status: 404,
      detail: `no job "nope"; jobs are ${JOB_NAMES.join(', ')}`,
      code: 'LV_ERR_JOB_NOT_FOUND',
      instance: '/v1/jobs/nope',
    })
    assert.is(
      expectProblem(await runJob(api.app, 'flash', { view: DR, now: 'yesterday' }), 400, 'LV_ERR_BODY_INVALID').detail,
      'now="yesterday" is not an ISO 8601 instant with an offset or Z, in the years 1900 to 2999',
    )
    expectProblem(await runJob(api.app, 'flash', { now: '2026-11-02T22:00:00' }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await runJob(api.app, 'flash', { now: 5 }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await runJob(api.app, 'flash', [1, 2]), 400, 'LV_ERR_BODY_INVALID')
    assert.is(expectProblem(await runJob(api.app, 'flash', { period: '2026-11-02', now: FLASH_2 }), 400, 'LV_ERR_BODY_INVALID').detail, 'a period needs a view')
    assert.equal(expectProblem(await runJob(api.app, 'close', { view: 'nope', now: FLASH_2 }), 404, 'LV_ERR_VIEW_NOT_FOUND').view, 'nope')
    expectProblem(await runJob(api.app, 'close', { view: 'nope', period: '2026-11-02', now: FLASH_2 }), 404, 'LV_ERR_VIEW_NOT_FOUND')
    for (const period of ['2026-11-2', '2026-11', '2026-W45', 'today']) {
      expectProblem(await runJob(api.app, 'flash', { view: DR, period, now: FLASH_2 }), 400, 'LV_ERR_PERIOD_MALFORMED')
    }
    assert.equal(await runs(api.app), [])
    expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-02'), 404, 'LV_ERR_PERIOD_NOT_FOUND')
  })

  test('a period that has not begun at now is 409 LV_ERR_PERIOD_NOT_BEGUN for every job and for restate; nothing is written', async ({ api }) => {
    await given(api.app)
    for (const name of JOB_NAMES) {
      assert.equal(expectProblem(await runJob(api.app, name, { view: DR, period: '2027-01-01', now: '2026-05-02T00:00:00Z' }), 409, 'LV_ERR_PERIOD_NOT_BEGUN'), {
        type: 'urn:lateview:problem:LV_ERR_PERIOD_NOT_BEGUN',
        title: 'The period has not begun: there is nothing to report yet',
        status: 409,
        detail: 'period 2027-01-01 of view daily_revenue begins at 2026-12-31T16:00:00.000Z, after now (2026-05-02T00:00:00.000Z)',
        code: 'LV_ERR_PERIOD_NOT_BEGUN',
        instance: `/v1/jobs/${name}`,
        view: DR,
        period: '2027-01-01',
      })
    }
    // The clock reads 2026-11-26 12:00Z; in Taipei 2026-11-27 begins at 16:00Z.
    expectProblem(await post(api.app, {}, { url: '/v1/views/daily_revenue/periods/2026-11-27/restate' }), 409, 'LV_ERR_PERIOD_NOT_BEGUN')
    expectProblem(await runJob(api.app, 'close', { view: DR, period: '2026-11-27' }), 409, 'LV_ERR_PERIOD_NOT_BEGUN')
    assert.equal(await runs(api.app), [])
    expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2027-01-01'), 404, 'LV_ERR_PERIOD_NOT_FOUND')
  })

  test('without a simulated clock, now is 403 LV_ERR_CLOCK_NOT_SIMULATED; the server clock is used instead', async ({ api }) => {
    await given(api.app)
    const live = await buildApp({ tokens: null, logLevel: 'silent' }, { lateview: api.lateview })
    try {
      assert.equal(expectProblem(await runJob(live, 'flash', { view: DR, period: '2026-11-02', now: FLASH_2 }), 403, 'LV_ERR_CLOCK_NOT_SIMULATED'), {
        type: 'urn:lateview:problem:LV_ERR_CLOCK_NOT_SIMULATED',
        title: 'This server does not accept a simulated now',
        status: 403,
        detail: 'now may be given only when the server runs with LATEVIEW_SIMULATED_CLOCK=1',
        code: 'LV_ERR_CLOCK_NOT_SIMULATED',
        instance: '/v1/jobs/flash',
      })
      assert.equal(await runs(live), [])
      // The server's clock reads 2026-11-26 12:00Z: no flash is due then, but a named period runs, knowing everything.
      assert.equal(await job(live, 'flash', {}), { job: 'flash', now: NOW_ISO, runs: [] })
      assert.equal(await job(live, 'flash', undefined), { job: 'flash', now: NOW_ISO, runs: [] })
      assert.equal(await job(live, 'flash', { view: DR, period: '2026-11-02' }), {
        job: 'flash',
        now: NOW_ISO,
        runs: [run(1, 'flash', DR, '2026-11-02', NOW_ISO, 'published', 1, 'flash at cutoff seq 4')],
      })
    } finally {
      await live.close()
    }
  })

  test('with tokens: a read token is 403 LV_ERR_AUTH_FORBIDDEN on jobs and restate; admin runs them', async ({ api }) => {
    const secured = await buildApp({ tokens: TOKENS, logLevel: 'silent', simulatedClock: true }, { lateview: api.lateview })
    try {
      await given(secured, ADMIN)
      const body = { view: DR, period: '2026-11-02', now: '2026-11-02T22:00:00+08:00' }
      assert.equal(expectProblem(await runJob(secured, 'flash', body, READ), 403, 'LV_ERR_AUTH_FORBIDDEN'), {
        type: 'urn:lateview:problem:LV_ERR_AUTH_FORBIDDEN',
        title: 'The token lacks the scope this request needs',
        status: 403,
        detail: 'this request needs the admin scope',
        code: 'LV_ERR_AUTH_FORBIDDEN',
        instance: '/v1/jobs/flash',
        scope: 'admin',
      })
      const restate = (token?: string) => secured.inject({ method: 'POST', url: '/v1/views/daily_revenue/periods/2026-11-02/restate', headers: token ? { authorization: `Bearer ${token}` } : {} })
      expectProblem(await restate(READ), 403, 'LV_ERR_AUTH_FORBIDDEN')
      expectProblem(await runJob(secured, 'flash', body), 401, 'LV_ERR_AUTH_REQUIRED')
      expectProblem(await restate(), 401, 'LV_ERR_AUTH_REQUIRED')
      assert.equal(await runs(secured, '', READ), [])

      assert.equal(await job(secured, 'flash', body, ADMIN), { job: 'flash', now: FLASH_2, runs: [run(1, 'flash', DR, '2026-11-02', FLASH_2, 'published', 1, 'flash at cutoff seq 2')] })
      assert.equal(stable(expectOk(await restate(ADMIN)) as Record<string, unknown>), run(2, 'restate', DR, '2026-11-02', NOW_ISO, 'published', 2, 'manual at cutoff seq 4'))
      assert.equal(
        (await runs(secured, '', READ)).map((r) => r.id),
        [2, 1],
      )
    } finally {
      await secured.close()
    }
  })

  test.run()
}
