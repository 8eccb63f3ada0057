import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { answer, type Api, type ApiContext, expectOk, expectProblem, get, NOW, openApi, post, sale, VIEWS_DIR } from './harness.js'

const viewFile = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(VIEWS_DIR, `${name}.json`), 'utf8')) as Record<string, unknown>

/** The definitions as served: the files as written, with defaults filled in (no sign: {}). */
const REVENUE_DEFINITION = viewFile('daily_revenue')
const TESTS_DEFINITION = { ...viewFile('daily_positive_tests'), sign: {} }

const labResult = (id: string, lab: string, region: string, occurredAt: string, positive: number) => ({
  id,
  source: `lab-${lab}`,
  type: 'test_result',
  occurredAt,
  data: { lab, region, positive },
})

/**
 * Nine events over three Taipei days and two Berlin days, each batch posted within the sources'
 * SLA (so no DelayedEvent alert is raised), the last at NOW.
 */
const DAY_24 = [sale('o1', 'web', '2026-11-24T23:59:59+08:00', 80, 'web')]
const DAY_25 = [
  sale('a', '001', '2026-11-25T10:03:00+08:00', 129.5),
  sale('b', '001', '2026-11-25T18:30:00+08:00', 20.25),
  { id: 'f1', source: 'store-001', type: 'refund', occurredAt: '2026-11-25T19:00:00+08:00', data: { store: '001', channel: 'pos', amount: 10 } },
  sale('e', '002', '2026-11-25T00:00:00+08:00', 3.1),
]
const DAY_26 = [
  sale('c', '002', '2026-11-26T09:00:00+08:00', 50),
  labResult('t1', 'berlin', 'north', '2026-11-25T23:30:00Z', 1),
  labResult('t2', 'berlin', 'north', '2026-11-25T22:59:00Z', 0),
  labResult('t3', 'munich', 'south', '2026-11-26T08:00:00Z', 1),
]

async function ingestAll(api: Api): Promise<void> {
  api.clock.set(Date.parse('2026-11-24T16:00:00Z'))
  assert.equal(expectOk(await post(api.app, DAY_24)), answer(1, 0, 1, 1, '2026-11-24T16:00:00.000Z'))
  api.clock.set(Date.parse('2026-11-25T12:00:00Z'))
  assert.equal(expectOk(await post(api.app, DAY_25)), answer(4, 0, 2, 5, '2026-11-25T12:00:00.000Z'))
  api.clock.set(NOW)
  assert.equal(expectOk(await post(api.app, DAY_26)), answer(4, 0, 6, 9))
}

const WEB_24 = { period: '2026-11-24', dims: { store: 'web', channel: 'web' }, measures: { revenue: 80, orders: 1, largest: 80 }, eventCount: 1 }
// Two sales and a refund: the refund counts -1 order and -10 revenue, yet it is an event of the cell.
const S001_25 = { period: '2026-11-25', dims: { store: '001', channel: 'pos' }, measures: { revenue: 139.75, orders: 1, largest: 129.5 }, eventCount: 3 }
const S002_25 = { period: '2026-11-25', dims: { store: '002', channel: 'pos' }, measures: { revenue: 3.1, orders: 1, largest: 3.1 }, eventCount: 1 }
const S002_26 = { period: '2026-11-26', dims: { store: '002', channel: 'pos' }, measures: { revenue: 50, orders: 1, largest: 50 }, eventCount: 1 }

/** The realtime answer of daily_revenue at seq 9: these cells, and their totals (revenue, orders, largest, events). */
const revenue = (cells: unknown[], [total, orders, largest, eventCount]: [number, number, number | null, number]) => ({
  view: 'daily_revenue',
  seq: 9,
  cells,
  totals: { measures: { revenue: total, orders, largest }, eventCount },
})
const NO_REVENUE: [number, number, null, number] = [0, 0, null, 0]

for (const factory of await engines()) {
  const test = suite<ApiContext>(`api views (${factory.name})`, {} as ApiContext)
  test.before.each(async (ctx) => {
    ctx.api = await openApi(factory)
  })
  test.after.each(async (ctx) => {
    await ctx.api.close()
  })
  test.after(() => factory.cleanup())

  test('GET /v1/views lists every definition', async ({ api }) => {
    assert.equal(expectOk(await get(api.app, '/v1/views')), { views: [TESTS_DEFINITION, REVENUE_DEFINITION] })
  })

  test('GET /v1/views/:view: the definition and the status of its periods', async ({ api }) => {
    const empty = { seq: 0, periods: { open: [], provisional: [], final: [] }, dirty: [] }
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue')), { ...REVENUE_DEFINITION, status: empty })
    await ingestAll(api)
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue')), {
      ...REVENUE_DEFINITION,
      status: { seq: 9, periods: { open: ['2026-11-24', '2026-11-25', '2026-11-26'], provisional: [], final: [] }, dirty: [] },
    })
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_positive_tests')), {
      ...TESTS_DEFINITION,
      status: { seq: 9, periods: { open: ['2026-11-25', '2026-11-26'], provisional: [], final: [] }, dirty: [] },
    })
  })

  test('the OpenAPI document of GET /v1/views/:view describes what is pending in each dirty period', async ({ api }) => {
    type Schema = { properties: Record<string, Schema>; items: Schema; required?: string[]; $ref?: string }
    const doc = expectOk(await get(api.app, '/docs/json')) as {
      paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: Schema }> }> } }>
      components: { schemas: Record<string, Schema> }
    }
    // Shared schemas are referenced as #/components/schemas/<name>.
    const resolve = (s: Schema | undefined): Schema => (s?.$ref ? resolve(doc.components.schemas[s.$ref.replace('#/components/schemas/', '')]) : (s as Schema))
    const schema = resolve(doc.paths['/v1/views/{view}']?.get.responses['200']?.content['application/json']?.schema)
    const dirty = resolve(resolve(schema.properties.status).properties.dirty?.items)
    assert.equal(dirty.required, ['period', 'status', 'latestRevision', 'dirtySinceSeq', 'pending'])
    assert.equal(Object.keys(dirty.properties.pending?.properties ?? {}), ['belowMinChange', 'eventCount', 'measures'])
  })

  test('GET /v1/views/:view of an unknown view is 404 LV_ERR_VIEW_NOT_FOUND', async ({ api }) => {
    assert.equal(expectProblem(await get(api.app, '/v1/views/nope'), 404, 'LV_ERR_VIEW_NOT_FOUND'), {
      type: 'urn:lateview:problem:LV_ERR_VIEW_NOT_FOUND',
      title: 'No such view',
      status: 404,
      detail: 'no view named "nope"',
      code: 'LV_ERR_VIEW_NOT_FOUND',
      instance: '/v1/views/nope',
      view: 'nope',
    })
    const realtime = expectProblem(await get(api.app, '/v1/views/nope/realtime?from=2026-11-25'), 404, 'LV_ERR_VIEW_NOT_FOUND')
    assert.is(realtime.view, 'nope')
  })

  test('realtime of an empty store: no cells at seq 0', async ({ api }) => {
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), {
      view: 'daily_revenue',
      seq: 0,
      cells: [],
      totals: { measures: { revenue: 0, orders: 0, largest: null }, eventCount: 0 },
    })
  })

  test('realtime: exact cells by period in the view time zone, refunds signed', async ({ api }) => {
    await ingestAll(api)
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/realtime')), revenue([WEB_24, S001_25, S002_25, S002_26], [272.85, 4, 129.5, 6]))
    // 23:30Z is 00:30 the next day in Berlin; 22:59Z is still the same day.
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_positive_tests/realtime')), {
      view: 'daily_positive_tests',
      seq: 9,
      cells: [
        { period: '2026-11-25', dims: { lab: 'berlin', region: 'north' }, measures: { tests: 1, positives: 0 }, eventCount: 1 },
        { period: '2026-11-26', dims: { lab: 'berlin', region: 'north' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
        { period: '2026-11-26', dims: { lab: 'munich', region: 'south' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
      ],
      totals: { measures: { tests: 3, positives: 2 }, eventCount: 3 },
    })
  })

  test('realtime: from and to (inclusive) and dimension filters', async ({ api }) => {
    await ingestAll(api)
    const cells = async (query: string) => expectOk(await get(api.app, `/v1/views/daily_revenue/realtime?${query}`))
    // The totals are over the cells returned.
    assert.equal(await cells('from=2026-11-25&to=2026-11-25'), revenue([S001_25, S002_25], [142.85, 2, 129.5, 4]))
    assert.equal(await cells('from=2026-11-25'), revenue([S001_25, S002_25, S002_26], [192.85, 3, 129.5, 5]))
    assert.equal(await cells('to=2026-11-24'), revenue([WEB_24], [80, 1, 80, 1]))
    assert.equal(await cells('to=2026-11-23'), revenue([], NO_REVENUE))
    assert.equal(await cells('store=001'), revenue([S001_25], [139.75, 1, 129.5, 3]))
    assert.equal(await cells('store=002'), revenue([S002_25, S002_26], [53.1, 2, 50, 2]))
    assert.equal(await cells('to=2026-11-25&store=002&channel=pos'), revenue([S002_25], [3.1, 1, 3.1, 1]))
    assert.equal(await cells('channel=web'), revenue([WEB_24], [80, 1, 80, 1]))
    assert.equal(await cells('store=999'), revenue([], NO_REVENUE))
  })

  test('realtime: a malformed period is 400 LV_ERR_PERIOD_MALFORMED', async ({ api }) => {
    const problem = expectProblem(await get(api.app, '/v1/views/daily_revenue/realtime?from=2026-11-2'), 400, 'LV_ERR_PERIOD_MALFORMED')
    assert.equal(problem, {
      type: 'urn:lateview:problem:LV_ERR_PERIOD_MALFORMED',
      title: 'Period key does not fit the view granularity',
      status: 400,
      detail: 'from="2026-11-2" is not a day period key (e.g. 2026-11-26)',
      code: 'LV_ERR_PERIOD_MALFORMED',
      instance: '/v1/views/daily_revenue/realtime?from=2026-11-2',
    })
    for (const query of ['to=2026-02-30', 'to=2026-W48', 'from=2026-11', 'from=2026-11-25T10', 'from=2026-11-25&to=tomorrow']) {
      expectProblem(await get(api.app, `/v1/views/daily_revenue/realtime?${query}`), 400, 'LV_ERR_PERIOD_MALFORMED')
    }
  })

  test('realtime: a parameter that is no dimension, or a repeated one, is 400 LV_ERR_QUERY_INVALID', async ({ api }) => {
    const problem = expectProblem(await get(api.app, '/v1/views/daily_revenue/realtime?region=north'), 400, 'LV_ERR_QUERY_INVALID')
    assert.is(problem.detail, 'region is neither from, to nor a dimension of view daily_revenue (store, channel)')
    expectProblem(await get(api.app, '/v1/views/daily_revenue/realtime?store=001&store=002'), 400, 'LV_ERR_QUERY_INVALID')
  })

  test.run()
}
