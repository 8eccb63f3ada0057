/**
 * The revision-analysis routes on both engines: one day of daily_revenue with a flash before
 * a late sale arrived and a final after it; each route answers with its exact figures, vintages
 * also as CSV; an unknown view is a 404, bad parameters 400s with stable codes.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { type Api, expectOk, expectProblem, get, openApi, post } from './harness.js'

const V = '/v1/views/daily_revenue'

async function history(api: Api): Promise<void> {
  const sale = (id: string, store: string, amount: number, occurredAt: string, receivedAt: string) => ({
    id,
    source: `store-${store}`,
    type: 'sale',
    occurredAt,
    receivedAt,
    data: { store, channel: 'pos', amount },
  })
  expectOk(await post(api.app, [sale('a', '001', 100, '2026-11-20T10:00:00+08:00', '2026-11-20T10:01:00+08:00')], { url: '/v1/events?import=true' }))
  const job = async (name: string, now: string) => expectOk(await api.app.inject({ method: 'POST', url: `/v1/jobs/${name}`, payload: { view: 'daily_revenue', period: '2026-11-20', now } }))
  await job('flash', '2026-11-20T22:00:00+08:00')
  // A day late: after the consolidation would have run, before the close.
  expectOk(await post(api.app, [sale('b', '002', 50, '2026-11-20T11:00:00+08:00', '2026-11-21T09:00:00+08:00')], { url: '/v1/events?import=true' }))
  await job('close', '2026-11-23T03:30:00+08:00')
}

for (const factory of await engines()) {
  const test = suite<{ api: Api }>(`api analysis (${factory.name})`, {} as { api: Api })
  test.before(async (ctx) => {
    ctx.api = await openApi(factory, { simulatedClock: true })
    await history(ctx.api)
  })
  test.after(async (ctx) => {
    await ctx.api.close()
    await factory.cleanup()
  })

  test('accuracy: the flash against the final, per release and per period', async ({ api }) => {
    const body = expectOk(await get(api.app, `${V}/accuracy`)) as Record<string, unknown>
    assert.equal(body, {
      view: 'daily_revenue',
      measure: 'revenue',
      against: 'final',
      from: '2026-11-20',
      to: '2026-11-20',
      releases: [
        {
          kind: 'flash',
          n: 1,
          meanRevision: 50,
          meanAbsRevision: 50,
          relativeMeanAbsRevision: 0.333333,
          minRevision: 50,
          maxRevision: 50,
          stdRevision: 0,
          accuracy: 0.666667,
          withinOnePercent: 0,
        },
        { kind: 'final', n: 1, meanRevision: 0, meanAbsRevision: 0, relativeMeanAbsRevision: 0, minRevision: 0, maxRevision: 0, stdRevision: 0, accuracy: 1, withinOnePercent: 1 },
      ],
      periods: [
        {
          period: '2026-11-20',
          benchmark: 150,
          releases: {
            flash: { revision: 50, value: 100, publishedAt: '2026-11-20T14:00:00.000Z' },
            final: { revision: 0, value: 150, publishedAt: '2026-11-22T19:30:00.000Z' },
          },
        },
      ],
      excluded: [],
      seq: 2,
    })
  })

  test('vintages: JSON, CSV by parameter and by Accept', async ({ api }) => {
    const body = expectOk(await get(api.app, `${V}/vintages?from=2026-11-20&to=2026-11-20&lags=PT0S,P1D&store=002`)) as Record<string, unknown>
    assert.equal(body, {
      view: 'daily_revenue',
      measure: 'revenue',
      lags: ['PT0S', 'P1D'],
      rows: [
        {
          period: '2026-11-20',
          benchmark: 50,
          values: [
            { lag: 'PT0S', knownAt: '2026-11-20T16:00:00.000Z', value: 0, share: 0 },
            { lag: 'P1D', knownAt: '2026-11-21T16:00:00.000Z', value: 50, share: 1 },
          ],
        },
      ],
      seq: 2,
    })
    const csv = 'period,knownAt,lag,value\r\n2026-11-20,2026-11-20T16:00:00.000Z,PT0S,100\r\n2026-11-20,2026-11-21T16:00:00.000Z,P1D,150\r\n'
    for (const res of [await get(api.app, `${V}/vintages?lags=PT0S,P1D&format=csv`), await api.app.inject({ method: 'GET', url: `${V}/vintages?lags=PT0S,P1D`, headers: { accept: 'text/csv' } })]) {
      assert.is(res.statusCode, 200, res.body)
      assert.is(res.headers['content-type'], 'text/csv; charset=utf-8')
      assert.is(res.body, csv)
      assert.is(res.headers['lateview-seq'], '2')
      assert.is(res.headers['lateview-read-from'], 'primary')
    }
  })

  test('completeness: the spread of shares at each lag, the lags of each source', async ({ api }) => {
    const body = expectOk(await get(api.app, `${V}/completeness?lags=PT0S`)) as Record<string, unknown>
    assert.equal(body, {
      points: [{ lag: 'PT0S', value: { min: 0.666667, p10: 0.666667, p50: 0.666667, p90: 0.666667 }, events: { min: 0.5, p10: 0.5, p50: 0.5, p90: 0.5 } }],
      sources: [
        { source: 'store-001', count: 1, lagP50: 'PT1M', lagP90: 'PT1M', lagP99: 'PT1M', lagMax: 'PT1M' },
        { source: 'store-002', count: 1, lagP50: 'PT22H', lagP90: 'PT22H', lagP99: 'PT22H', lagMax: 'PT22H' },
      ],
      seq: 2,
    })
  })

  test('close advice: D+1 needed a restatement, D+2 did not; closes after now are left out and the candidate incomplete', async ({ api }) => {
    const body = expectOk(await get(api.app, `${V}/close-advice?target=0.999`)) as { candidates: Array<Record<string, unknown>>; recommended: unknown; sla: unknown; seq: number }
    assert.is(body.candidates.length, 14)
    assert.is(body.seq, 2)
    assert.equal(body.candidates[0], {
      afterDays: 1,
      at: 'D+1 03:30',
      n: 1,
      periodsRestated: 1,
      shareRestated: 1,
      meanAbsRestatement: 50,
      maxAbsRestatement: 50,
      meanAbsRestatementRelative: 0.333333,
      maxAbsRestatementRelative: 0.333333,
      valueKnown: 0.666667,
      incomplete: false,
    })
    assert.equal(
      body.candidates.map((c) => [c.n, c.periodsRestated, c.valueKnown, c.incomplete]),
      // From D+7 on, the one period's close is still ahead: nothing is judged, nothing claimed.
      Array.from({ length: 14 }, (_, i) => (i >= 6 ? [0, 0, null, true] : [1, i === 0 ? 1 : 0, i === 0 ? 0.666667 : 1, false])),
    )
    assert.equal(body.recommended, { afterDays: 2, at: 'D+2 03:30' })
    assert.equal(body.sla, [
      { source: 'store-001', suggested: 'PT1M' },
      { source: 'store-002', suggested: 'PT22H' },
    ])
  })

  test('an unknown view is a 404; bad periods, lags, measures, targets and filters are 400s', async ({ api }) => {
    for (const route of ['accuracy', 'vintages', 'completeness', 'close-advice']) expectProblem(await get(api.app, `/v1/views/nope/${route}`), 404, 'LV_ERR_VIEW_NOT_FOUND')
    expectProblem(await get(api.app, `${V}/accuracy?from=2026-11`), 400, 'LV_ERR_PERIOD_MALFORMED')
    expectProblem(await get(api.app, `${V}/completeness?to=2026-13-01`), 400, 'LV_ERR_PERIOD_MALFORMED')
    expectProblem(await get(api.app, `${V}/accuracy?from=2026-11-21&to=2026-11-20`), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await get(api.app, `${V}/vintages?lags=P1D,soon`), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await get(api.app, `${V}/vintages?format=xml`), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await get(api.app, `${V}/accuracy?measure=profit`), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await get(api.app, `${V}/accuracy?against=first`), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await get(api.app, `${V}/close-advice?target=1.5`), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await get(api.app, `${V}/completeness?region=north`), 400, 'LV_ERR_QUERY_INVALID')
  })

  test.run()
}
