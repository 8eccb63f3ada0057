/**
 * The error answers of the report and job routes (their figures are tested with the services),
 * and one flash revision read back through every report route.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Scope } from '../../src/config.js'
import { engines } from '../helpers/engines.js'
import { answer, type Api, type ApiContext, expectOk, expectProblem, get, NOW, NOW_ISO, openApi, post, sale } from './harness.js'

const A = sale('a', '001', '2026-11-25T10:00:00+08:00', 10)
const PERIOD = '/v1/views/daily_revenue/periods/2026-11-25'
const READ = 'read-token-000000001'
const ADMIN = 'admin-token-00000001'

/** The Taipei day 2026-11-25 ends at 16:00Z; A arrives four hours before. */
const RECEIVED = Date.parse('2026-11-25T12:00:00Z')

/** Ingests A when it is received, within the stores' SLA, and turns the clock back to NOW. */
async function ingestA(api: Api, token?: string) {
  api.clock.set(RECEIVED)
  assert.equal(expectOk(await post(api.app, A, token ? { token } : {})), answer(1, 0, 1, 1, '2026-11-25T12:00:00.000Z'))
  api.clock.set(NOW)
}

/** Publishes the flash revision 1 of daily_revenue 2026-11-25 holding event A, at NOW. */
async function flash(api: Api, token?: string) {
  await ingestA(api, token)
  const ran = expectOk(await post(api.app, { view: 'daily_revenue', period: '2026-11-25' }, { url: '/v1/jobs/flash', ...(token ? { token } : {}) })) as {
    job: string
    now: string
    runs: Array<Record<string, unknown>>
  }
  assert.equal(
    { ...ran, runs: ran.runs.map(({ id: _id, startedAt: _s, durationMs: _d, ...run }) => run) },
    {
      job: 'flash',
      now: NOW_ISO,
      runs: [{ job: 'flash', view: 'daily_revenue', period: '2026-11-25', now: NOW_ISO, trigger: 'manual', outcome: 'published', revision: 1, detail: 'flash at cutoff seq 1' }],
    },
  )
}

const REVISION_1 = {
  view: 'daily_revenue',
  period: '2026-11-25',
  status: 'provisional',
  revision: 1,
  kind: 'flash',
  cutoffSeq: 1,
  cutoffReceivedAt: '2026-11-25T12:00:00.000Z',
  computedAt: NOW_ISO,
  trigger: 'manual',
  // One of the eight expected stores has reported; its event came before the Taipei day ended.
  completeness: 0.125,
  eventCount: 1,
  lateEventCount: 0,
  totals: { measures: { revenue: 10, orders: 1, largest: 10 }, eventCount: 1 },
}

/** The members CONTRACT.md fixes, picked from a report document. */
const contractual = (doc: Record<string, unknown>) => Object.fromEntries(Object.keys(REVISION_1).map((k) => [k, doc[k]]))

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api periods and jobs (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory)
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  test('a period without revision is 404 LV_ERR_PERIOD_NOT_FOUND; a malformed one 400', async ({ api }) => {
    await ingestA(api)
    const problem = expectProblem(await get(api.app, PERIOD), 404, 'LV_ERR_PERIOD_NOT_FOUND')
    assert.equal([problem.view, problem.period, problem.instance], ['daily_revenue', '2026-11-25', PERIOD])
    const malformed = expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-2'), 400, 'LV_ERR_PERIOD_MALFORMED')
    assert.is(malformed.period, '2026-11-2')
    expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2026-W48/revisions'), 400, 'LV_ERR_PERIOD_MALFORMED')
    expectProblem(await get(api.app, '/v1/views/nope/periods/2026-11-25'), 404, 'LV_ERR_VIEW_NOT_FOUND')
  })

  test('a flash revision is read back by the latest, by number, in the revision list and as CSV', async ({ api }) => {
    await flash(api)
    const latest = expectOk(await get(api.app, PERIOD)) as Record<string, unknown>
    assert.equal(contractual(latest), REVISION_1)
    assert.match(String(latest.hash), /^[0-9a-f]{64}$/)
    assert.equal(latest.rows, [{ dims: { store: '001', channel: 'pos' }, measures: { revenue: 10, orders: 1, largest: 10 }, eventCount: 1 }])
    assert.equal(expectOk(await get(api.app, `${PERIOD}?revision=1`)), latest)
    const list = expectOk(await get(api.app, `${PERIOD}/revisions`)) as { revisions: Array<Record<string, unknown>> }
    assert.equal(
      list.revisions.map((r) => r.revision),
      [1],
    )
    const csv = await get(api.app, `${PERIOD}?format=csv`)
    assert.is(csv.statusCode, 200)
    assert.is(csv.headers['content-type'], 'text/csv; charset=utf-8')
    assert.is(csv.body, 'store,channel,revenue,orders,largest,eventCount\r\n001,pos,10,1,10,1\r\n')
    const runs = expectOk(await get(api.app, '/v1/jobs/runs')) as { runs: Array<Record<string, unknown>> }
    assert.equal(
      runs.runs.map((r) => [r.job, r.outcome, r.revision]),
      [['flash', 'published', 1]],
    )
  })

  test('an unknown revision is 404 LV_ERR_REVISION_NOT_FOUND, in a report and in a diff', async ({ api }) => {
    await flash(api)
    const problem = expectProblem(await get(api.app, `${PERIOD}?revision=7`), 404, 'LV_ERR_REVISION_NOT_FOUND')
    assert.equal([problem.view, problem.period, problem.detail], ['daily_revenue', '2026-11-25', 'period 2026-11-25 of view daily_revenue has no revision 7'])
    expectProblem(await get(api.app, `${PERIOD}/diff?from=1&to=2`), 404, 'LV_ERR_REVISION_NOT_FOUND')
  })

  test('bad report parameters are 400 LV_ERR_QUERY_INVALID', async ({ api }) => {
    await flash(api)
    for (const query of ['?revision=x', '?revision=0', '?revision=1&asOf=2026-11-26T00:00:00Z', '?asOf=yesterday', '?format=xml', '?colour=red']) {
      expectProblem(await get(api.app, `${PERIOD}${query}`), 400, 'LV_ERR_QUERY_INVALID')
    }
    for (const query of ['?from=1', '?from=1&to=x', '?from=asOf:noon&to=1']) {
      expectProblem(await get(api.app, `${PERIOD}/diff${query}`), 400, 'LV_ERR_QUERY_INVALID')
    }
    expectProblem(await get(api.app, '/v1/jobs/runs?limit=0'), 400, 'LV_ERR_QUERY_INVALID')
  })

  test('POST /v1/jobs/:job: unknown job 404, bad body 400, unknown view 404, malformed period 400', async ({ api }) => {
    const job = expectProblem(await post(api.app, {}, { url: '/v1/jobs/nope' }), 404, 'LV_ERR_JOB_NOT_FOUND')
    assert.ok(String(job.detail).startsWith('no job "nope"; jobs are flash, consolidate, rebuild, close'), String(job.detail))
    const noView = expectProblem(await post(api.app, { period: '2026-11-25' }, { url: '/v1/jobs/flash' }), 400, 'LV_ERR_BODY_INVALID')
    assert.is(noView.detail, 'a period needs a view')
    // An unknown field is refused rather than dropped: a typo must not run every due period.
    expectProblem(await post(api.app, { view: 'daily_revenue', perod: '2026-11-25' }, { url: '/v1/jobs/flash' }), 400, 'LV_ERR_BODY_INVALID')
    expectProblem(await post(api.app, { view: 'nope' }, { url: '/v1/jobs/flash' }), 404, 'LV_ERR_VIEW_NOT_FOUND')
    expectProblem(await post(api.app, { view: 'daily_revenue', period: '2026-11-2' }, { url: '/v1/jobs/flash' }), 400, 'LV_ERR_PERIOD_MALFORMED')
    assert.equal(expectOk(await get(api.app, '/v1/jobs/runs')), { runs: [] })
  })

  test('now in a job body is 403 LV_ERR_CLOCK_NOT_SIMULATED unless the server allows a simulated clock', async ({ api }) => {
    const problem = expectProblem(await post(api.app, { now: '2026-11-27T00:00:00Z' }, { url: '/v1/jobs/flash' }), 403, 'LV_ERR_CLOCK_NOT_SIMULATED')
    assert.is(problem.detail, 'now may be given only when the server runs with LATEVIEW_SIMULATED_CLOCK=1')
    const simulated = await openApi(factory, { simulatedClock: true })
    try {
      const ran = expectOk(await post(simulated.app, { view: 'daily_revenue', now: '2026-11-27T08:00:00+08:00' }, { url: '/v1/jobs/flash' })) as { now: string }
      assert.is(ran.now, '2026-11-27T00:00:00.000Z')
      expectProblem(await post(simulated.app, { now: 'tomorrow' }, { url: '/v1/jobs/flash' }), 400, 'LV_ERR_BODY_INVALID')
    } finally {
      await simulated.close()
    }
  })

  test('jobs need the admin scope; job runs and reports the read scope', async () => {
    const tokens: ReadonlyMap<string, ReadonlySet<Scope>> = new Map([
      [READ, new Set<Scope>(['read'])],
      [ADMIN, new Set<Scope>(['admin'])],
    ])
    const secured = await openApi(factory, { tokens })
    try {
      const forbidden = expectProblem(await post(secured.app, {}, { url: '/v1/jobs/flash', token: READ }), 403, 'LV_ERR_AUTH_FORBIDDEN')
      assert.is(forbidden.scope, 'admin')
      expectProblem(await post(secured.app, {}, { url: '/v1/jobs/flash' }), 401, 'LV_ERR_AUTH_REQUIRED')
      await flash(secured, ADMIN)
      assert.equal(contractual(expectOk(await get(secured.app, PERIOD, READ)) as Record<string, unknown>), REVISION_1)
      assert.is((await get(secured.app, '/v1/jobs/runs', READ)).statusCode, 200)
      expectProblem(await get(secured.app, PERIOD), 401, 'LV_ERR_AUTH_REQUIRED')
    } finally {
      await secured.close()
    }
  })

  test.run()
}
