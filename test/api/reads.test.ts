import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { type ApiContext, expectOk, expectProblem, get, openApi, post, sale } from './harness.js'

/**
 * Every read a replica may serve says the seq its answer is exact at (the `Lateview-Seq` header,
 * and the body's `seq` where the answer moves with the store: a revision, an as-of report and a
 * diff read the same bytes forever) and who served it (`Lateview-Read-From`), and takes
 * `?minSeq=`: here,
 * without a replica, the primary answers it when it holds that seq and refuses it otherwise.
 */
const V = '/v1/views/daily_revenue'
const P = `${V}/periods/2026-11-26`

/** Every read route, as a URL to which `minSeq` can be appended. */
const READS = [
  `${V}/realtime?from=2026-11-26`,
  P,
  `${P}?revision=1`,
  `${P}?asOf=2026-11-26T12:00:00Z`,
  `${P}?format=csv`,
  `${P}/revisions`,
  `${P}/diff?from=1&to=asOf:2026-11-26T12:00:00Z`,
  `${P}/diff?from=1&to=1&format=csv`,
  `${P}/exceptions`,
  `${V}/accuracy`,
  `${V}/vintages?lags=PT0S`,
  `${V}/vintages?lags=PT0S&format=csv`,
  `${V}/completeness?lags=PT0S`,
  `${V}/close-advice`,
]

const withParam = (url: string, param: string) => `${url}${url.includes('?') ? '&' : '?'}${param}`

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api reads (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory, { simulatedClock: true })
    const { app } = ctx.api
    expectOk(await post(app, [sale('a', '001', '2026-11-26T10:03:00+08:00', 129.5), sale('b', '002', '2026-11-26T11:00:00+08:00', 20)]))
    expectOk(await app.inject({ method: 'POST', url: '/v1/jobs/flash', payload: { view: 'daily_revenue', period: '2026-11-26', now: '2026-11-26T20:00:00+08:00' } }))
    expectOk(await post(app, [sale('c', '001', '2026-11-26T12:00:00+08:00', 5)]))
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  test('every read answers the seq it is exact at and who served it', async ({ api }) => {
    for (const url of READS) {
      const res = await get(api.app, url)
      assert.is(res.statusCode, 200, `${url}: ${res.body}`)
      assert.is(res.headers['lateview-read-from'], 'primary', url)
      assert.is(res.headers['lateview-seq'], '3', url)
      if (url.includes('format=csv')) continue
      const frozen = url === P || url.includes('?revision=') || url.includes('?asOf=') || url.includes('/diff?')
      assert.is((res.json() as { seq?: number }).seq, frozen ? undefined : 3, url)
    }
    // The latest revision reads the same bytes after another event; only the header moves.
    const before = await get(api.app, P)
    expectOk(await post(api.app, [sale('d', '003', '2026-11-26T13:00:00+08:00', 1)]))
    const after = await get(api.app, P)
    assert.is(after.body, before.body)
    assert.equal([before.headers['lateview-seq'], after.headers['lateview-seq']], ['3', '4'])
    const again = after.json() as { revision: number; totals: unknown }
    assert.equal({ revision: again.revision, totals: again.totals }, { revision: 1, totals: { measures: { revenue: 149.5, orders: 2, largest: 129.5 }, eventCount: 2 } })
    const realtime = expectOk(await get(api.app, `${V}/realtime?from=2026-11-26&store=001`)) as { seq: number; totals: unknown }
    assert.equal({ seq: realtime.seq, totals: realtime.totals }, { seq: 4, totals: { measures: { revenue: 134.5, orders: 2, largest: 129.5 }, eventCount: 2 } })
  })

  test('?minSeq= up to the newest seq answers; above it is LV_ERR_SEQ_NOT_YET with both seqs', async ({ api }) => {
    for (const url of READS) {
      for (const minSeq of ['0', '1', '3']) {
        const res = await get(api.app, withParam(url, `minSeq=${minSeq}`))
        assert.is(res.statusCode, 200, `${url} minSeq=${minSeq}: ${res.body}`)
        assert.is(res.headers['lateview-seq'], '3')
      }
      const body = expectProblem(await get(api.app, withParam(url, 'minSeq=4')), 409, 'LV_ERR_SEQ_NOT_YET')
      assert.is(body.minSeq, 4, url)
      assert.is(body.seq, 3, url)
      assert.is(body.detail, 'minSeq=4 is above the newest seq of the store (3)')
    }
    // minSeq is no dimension filter: Realtime answers the same cells with it.
    const plain = expectOk(await get(api.app, `${V}/realtime?store=001`)) as Record<string, unknown>
    assert.equal(expectOk(await get(api.app, `${V}/realtime?store=001&minSeq=3`)), plain)
    assert.is((plain.cells as unknown[]).length, 1)
  })

  test('a minSeq that is not a seq is a 400', async ({ api }) => {
    for (const bad of ['x', '-1', '1.5', '01', '1e3', '', '9007199254740992', '0x10']) {
      for (const url of [`${V}/realtime`, P, `${P}/diff?from=1&to=1`, `${V}/accuracy`]) {
        const body = expectProblem(await get(api.app, withParam(url, `minSeq=${encodeURIComponent(bad)}`)), 400, 'LV_ERR_QUERY_INVALID')
        assert.match(String(body.detail), /minSeq/, `${url} minSeq=${bad}: ${body.detail}`)
      }
    }
  })

  test('without a replica, /readyz shows none', async ({ api }) => {
    assert.equal(expectOk(await get(api.app, '/readyz')), { status: 'ready', engine: factory.name, views: 2 })
    assert.is(await api.lateview.replicaStatus(), null)
  })

  test.run()
}
