/**
 * Totals the server computes from cell states (Realtime's and each side of a diff's) and the
 * comparison CSV of a diff, over a view with every kind of measure: a sum, a count, an average
 * (from its sum and count, never an average of averages), a min and a max.
 */
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import { engines } from '../helpers/engines.js'
import { expectOk, expectProblem, get } from './harness.js'

const BASKET = parseViewDefinition(
  {
    name: 'basket',
    eventTypes: ['sale'],
    timezone: 'UTC',
    granularity: 'day',
    dimensions: ['shop', 'aisle'],
    measures: {
      revenue: { sum: 'amount', decimals: 2 },
      items: { count: true },
      mean: { avg: 'amount', decimals: 2 },
      cheapest: { min: 'amount', decimals: 2 },
      dearest: { max: 'amount', decimals: 2 },
    },
  },
  'basket.json',
)

const D = '2026-11-20'
const P = `/v1/views/basket/periods/${D}`
const SUN = 'Sun "South", Main'

const sale = (id: string, shop: string, aisle: string, amount: number, receivedAt: string, day = D) => ({
  id,
  source: 'till',
  type: 'sale',
  occurredAt: `${day}T09:00:00Z`,
  receivedAt,
  data: { shop, aisle, amount },
})

interface Ctx {
  lv: Lateview
  app: FastifyInstance
}

/**
 * Revision 1 of 2026-11-20 (cutoff seq 4): north fruit 10 and 2.5, north veg 3.3, north bread 1.2.
 * Then (seqs 5-8) a sale of the shop named `Sun "South", Main` (4.01), a cheaper north fruit
 * (0.05), the north veg sale retracted, and a north fruit of 7 on 2026-11-21; revision 2 (cutoff 8).
 */
async function given(lv: Lateview): Promise<void> {
  await lv.ingest(
    [
      sale('f1', 'north', 'fruit', 10, '2026-11-20T20:00:00Z'),
      sale('f2', 'north', 'fruit', 2.5, '2026-11-20T20:00:00Z'),
      sale('v1', 'north', 'veg', 3.3, '2026-11-20T20:00:00Z'),
      sale('b1', 'north', 'bread', 1.2, '2026-11-20T20:00:00Z'),
    ],
    { imported: true },
  )
  assert.is((await lv.restate('basket', D)).revision, 1)
  await lv.ingest(
    [
      sale('s1', SUN, 'bread', 4.01, '2026-11-21T10:00:00Z'),
      sale('f3', 'north', 'fruit', 0.05, '2026-11-21T10:00:00Z'),
      { id: 'v1-void', source: 'till', type: 'sale', occurredAt: `${D}T09:00:00Z`, receivedAt: '2026-11-21T10:00:00Z', retracts: 'v1' },
      sale('g1', 'north', 'fruit', 7, '2026-11-21T10:00:00Z', '2026-11-21'),
    ],
    { imported: true },
  )
  assert.is((await lv.restate('basket', D)).revision, 2)
}

// Revision 1: 17 over 4 sales; the mean is 4.25. Revision 2: 17.76 over 5 sales, a mean of 3.552 shown as 3.55.
const R1_TOTALS = { revenue: 17, items: 4, mean: 4.25, cheapest: 1.2, dearest: 10 }
const R2_TOTALS = { revenue: 17.76, items: 5, mean: 3.55, cheapest: 0.05, dearest: 10 }

const CSV_HEADER =
  'shop,aisle,revenue_before,revenue_after,revenue_delta,items_before,items_after,items_delta,mean_before,mean_after,mean_delta,cheapest_before,cheapest_after,cheapest_delta,dearest_before,dearest_after,dearest_delta,events,status\r\n'

for (const factory of await engines()) {
  const test = suite<Ctx>(`api totals and comparison CSV (${factory.name})`, {} as Ctx)
  test.before.each(async (ctx) => {
    const engine = await factory.open()
    ctx.lv = await Lateview.fromEngine(engine, [BASKET], new ManualClock(Date.parse('2026-11-22T00:00:00Z')))
    ctx.app = await buildApp({ tokens: null, logLevel: 'silent' }, { lateview: ctx.lv })
  })
  test.after.each(async ({ lv, app }) => {
    await app.close()
    await lv.close()
  })
  test.after(() => factory.cleanup())

  test('realtime totals: over the cells returned, an average from sums and counts, min and max across cells', async ({ app, lv }) => {
    await given(lv)
    const all = expectOk(await get(app, '/v1/views/basket/realtime')) as { seq: number; cells: unknown[]; totals: unknown }
    assert.is(all.seq, 8)
    assert.is(all.cells.length, 4)
    // 24.76 over 6 sales: a mean of 4.1266… shown as 4.13 (the cells' own means are 4.01, 1.2, 4.18 and 7).
    assert.equal(all.totals, { measures: { revenue: 24.76, items: 6, mean: 4.13, cheapest: 0.05, dearest: 10 }, eventCount: 6 })
    // One period: the live figures of 2026-11-20 are revision 2's.
    assert.equal((expectOk(await get(app, `/v1/views/basket/realtime?from=${D}&to=${D}`)) as { totals: unknown }).totals, { measures: R2_TOTALS, eventCount: 5 })
    assert.equal(expectOk(await get(app, '/v1/views/basket/realtime?from=2026-11-21')), {
      view: 'basket',
      seq: 8,
      cells: [{ period: '2026-11-21', dims: { shop: 'north', aisle: 'fruit' }, measures: { revenue: 7, items: 1, mean: 7, cheapest: 7, dearest: 7 }, eventCount: 1 }],
      totals: { measures: { revenue: 7, items: 1, mean: 7, cheapest: 7, dearest: 7 }, eventCount: 1 },
    })
    // A dimension filter: the fruit of both days, 19.55 over 4 sales (a mean of 4.8875, shown 4.89; of the cells' means, 5.59).
    assert.equal((expectOk(await get(app, '/v1/views/basket/realtime?aisle=fruit')) as { totals: unknown }).totals, {
      measures: { revenue: 19.55, items: 4, mean: 4.89, cheapest: 0.05, dearest: 10 },
      eventCount: 4,
    })
    // No cell: sums and counts are 0, an average, a min and a max have no value.
    assert.equal(expectOk(await get(app, '/v1/views/basket/realtime?shop=east')), {
      view: 'basket',
      seq: 8,
      cells: [],
      totals: { measures: { revenue: 0, items: 0, mean: null, cheapest: null, dearest: null }, eventCount: 0 },
    })
  })

  test('diff totals: each side totalled from its cells, the delta exact for every measure both sides show', async ({ app, lv }) => {
    await given(lv)
    const diff = expectOk(await get(app, `${P}/diff?from=1&to=2`)) as { changes: Array<{ delta: Record<string, number | null> }>; totals: unknown }
    assert.equal(diff.totals, {
      before: R1_TOTALS,
      after: R2_TOTALS,
      delta: { revenue: 0.76, items: 1, mean: -0.7, cheapest: -1.15, dearest: 0 },
    })
    // The revenue and item deltas of the changes add up to the totals' delta.
    assert.equal(
      diff.changes.map((c) => [c.delta.revenue, c.delta.items]),
      [
        [4.01, 1],
        [0.05, 1],
        [-3.3, -1],
      ],
    )
    // Backwards: the sides swap and every delta changes sign.
    assert.equal((expectOk(await get(app, `${P}/diff?from=2&to=1`)) as { totals: unknown }).totals, {
      before: R2_TOTALS,
      after: R1_TOTALS,
      delta: { revenue: -0.76, items: -1, mean: 0.7, cheapest: 1.15, dearest: 0 },
    })
    // From before any event: where one side shows no value the delta is null, as in a change.
    assert.equal((expectOk(await get(app, `${P}/diff?from=asOf:2026-11-20T00:00:00Z&to=1`)) as { totals: unknown }).totals, {
      before: { revenue: 0, items: 0, mean: null, cheapest: null, dearest: null },
      after: R1_TOTALS,
      delta: { revenue: 17, items: 4, mean: null, cheapest: null, dearest: null },
    })
    // A side against itself.
    assert.equal((expectOk(await get(app, `${P}/diff?from=2&to=asOf:2026-11-21T23:00:00Z`)) as { totals: unknown }).totals, {
      before: R2_TOTALS,
      after: R2_TOTALS,
      delta: { revenue: 0, items: 0, mean: 0, cheapest: 0, dearest: 0 },
    })
  })

  test('diff as CSV: every row of either side by dims key, each measure before, after and delta, events and status; quoted where needed', async ({ app, lv }) => {
    await given(lv)
    const forwards =
      CSV_HEADER +
      '"Sun ""South"", Main",bread,,4.01,4.01,,1,1,,4.01,,,4.01,,,4.01,,1,new\r\n' +
      'north,bread,1.2,1.2,0,1,1,0,1.2,1.2,0,1.2,1.2,0,1.2,1.2,0,0,same\r\n' +
      'north,fruit,12.5,12.55,0.05,2,3,1,6.25,4.18,-2.07,2.5,0.05,-2.45,10,10,0,1,changed\r\n' +
      'north,veg,3.3,,-3.3,1,,-1,3.3,,,3.3,,,3.3,,,1,removed\r\n'
    const csv = await get(app, `${P}/diff?from=1&to=2&format=csv`)
    assert.is(csv.statusCode, 200, csv.body)
    assert.is(csv.headers['content-type'], 'text/csv; charset=utf-8')
    assert.is(csv.headers['content-disposition'], `attachment; filename="basket-${D}-1-vs-2.csv"`)
    assert.is(csv.body, forwards)

    const accepted = await app.inject({ method: 'GET', url: `${P}/diff?from=1&to=2`, headers: { accept: 'text/csv' } })
    assert.is(accepted.headers['content-type'], 'text/csv; charset=utf-8')
    assert.is(accepted.body, forwards)

    const backwards = await get(app, `${P}/diff?from=2&to=1&format=csv`)
    assert.is(
      backwards.body,
      CSV_HEADER +
        '"Sun ""South"", Main",bread,4.01,,-4.01,1,,-1,4.01,,,4.01,,,4.01,,,1,removed\r\n' +
        'north,bread,1.2,1.2,0,1,1,0,1.2,1.2,0,1.2,1.2,0,1.2,1.2,0,0,same\r\n' +
        'north,fruit,12.55,12.5,-0.05,3,2,-1,4.18,6.25,2.07,0.05,2.5,2.45,10,10,0,1,changed\r\n' +
        'north,veg,,3.3,3.3,,1,1,,3.3,,,3.3,,,3.3,,1,new\r\n',
    )

    const asOf = await get(app, `${P}/diff?from=asOf:2026-11-20T00:00:00Z&to=1&format=csv`)
    assert.is(asOf.headers['content-disposition'], `attachment; filename="basket-${D}-asOf-2026-11-20T00-00-00Z-vs-1.csv"`)
    assert.is(
      asOf.body,
      CSV_HEADER + 'north,bread,,1.2,1.2,,1,1,,1.2,,,1.2,,,1.2,,1,new\r\n' + 'north,fruit,,12.5,12.5,,2,2,,6.25,,,2.5,,,10,,2,new\r\n' + 'north,veg,,3.3,3.3,,1,1,,3.3,,,3.3,,,3.3,,1,new\r\n',
    )

    // No change at all: every row is the same; no total line.
    assert.is(
      (await get(app, `${P}/diff?from=1&to=1&format=csv`)).body,
      CSV_HEADER +
        'north,bread,1.2,1.2,0,1,1,0,1.2,1.2,0,1.2,1.2,0,1.2,1.2,0,0,same\r\n' +
        'north,fruit,12.5,12.5,0,2,2,0,6.25,6.25,0,2.5,2.5,0,10,10,0,0,same\r\n' +
        'north,veg,3.3,3.3,0,1,1,0,3.3,3.3,0,3.3,3.3,0,3.3,3.3,0,0,same\r\n',
    )

    // format=json wins over Accept; format is json or csv.
    const json = await app.inject({ method: 'GET', url: `${P}/diff?from=1&to=2&format=json`, headers: { accept: 'text/csv' } })
    assert.equal((expectOk(json) as { totals: { delta: unknown } }).totals.delta, { revenue: 0.76, items: 1, mean: -0.7, cheapest: -1.15, dearest: 0 })
    expectProblem(await get(app, `${P}/diff?from=1&to=2&format=xml`), 400, 'LV_ERR_QUERY_INVALID')
    expectProblem(await get(app, `${P}/diff?from=1&to=9&format=csv`), 404, 'LV_ERR_REVISION_NOT_FOUND')
  })

  test.run()
}
