/**
 * The reports API (latest, revision N, as of an instant, CSV, revisions, diff, exceptions,
 * restate) over revisions made by imported events and jobs run at a simulated `now`.
 */
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import type { Engine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { expectOk, expectProblem, get, NOW, NOW_ISO, post, VIEWS_DIR } from './harness.js'

interface Api {
  app: FastifyInstance
  engine: Engine
  clock: ManualClock
}

interface Ctx {
  api: Api
}

async function open(engine: Engine): Promise<Api> {
  const clock = new ManualClock(NOW)
  const lateview = await Lateview.fromEngine(engine, loadViewFiles(VIEWS_DIR), clock)
  const app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: true }, { lateview })
  return { app, engine, clock }
}

type Raw = Record<string, unknown>

/** A daily_revenue event (Asia/Taipei) as an admin imports it, with its receivedAt. */
function retail(id: string, type: string, store: string, occurredAt: string, amount: number, receivedAt: string, channel = 'pos'): Raw {
  const source = store === 'web' ? `online-${channel}` : `store-${store}`
  return { id, source, type, occurredAt, receivedAt, data: { store, channel, amount } }
}

async function importEvents(app: FastifyInstance, events: Raw[], firstSeq: number): Promise<void> {
  const body = expectOk(await post(app, events, { url: '/v1/events?import=true' })) as Record<string, unknown>
  assert.equal(
    { accepted: body.accepted, duplicates: body.duplicates, firstSeq: body.firstSeq, lastSeq: body.lastSeq },
    { accepted: events.length, duplicates: 0, firstSeq, lastSeq: firstSeq + events.length - 1 },
  )
}

interface Run {
  job: string
  view: string
  period: string
  outcome: string
  revision: number | null
  detail: string | null
}

/** A job run without its wall-clock fields (startedAt, durationMs), which are checked for form only. */
function stable(run: Record<string, unknown>): Record<string, unknown> {
  const { startedAt, durationMs, ...rest } = run
  assert.match(String(startedAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  assert.type(durationMs, 'number')
  return rest
}

async function job(app: FastifyInstance, name: string, body: Record<string, string>): Promise<Run[]> {
  const res = expectOk(await app.inject({ method: 'POST', url: `/v1/jobs/${name}`, payload: body })) as { runs: Record<string, unknown>[] }
  return res.runs.map((r) => {
    const { job: j, view, period, outcome, revision, detail } = stable(r) as unknown as Run
    return { job: j, view, period, outcome, revision, detail }
  })
}

/**
 * The history every test starts from (seqs 1-9):
 * - 2026-11-01: one sale, closed at D+3 (final, revision 1).
 * - 2026-11-02: three sales known at the flash (revision 1, cutoff 4); then a late sale, a
 *   retraction of the first sale and a refund before the T+1 consolidation (revision 2,
 *   cutoff 7); then one more late sale (seq 9) leaves the period dirty.
 * - 2026-11-03: one sale, no revision (open).
 */
async function given(app: FastifyInstance): Promise<void> {
  await importEvents(
    app,
    [
      retail('p0', 'sale', '001', '2026-11-01T12:00:00+08:00', 12, '2026-11-01T05:00:00Z'),
      retail('s1', 'sale', '001', '2026-11-02T10:00:00+08:00', 100, '2026-11-02T02:00:05Z'),
      retail('w1', 'sale', 'web', '2026-11-02T12:00:00+08:00', 50.5, '2026-11-02T04:00:10Z', 'web'),
      retail('s2', 'sale', '002', '2026-11-02T15:00:00+08:00', 30, '2026-11-02T07:00:00Z'),
    ],
    1,
  )
  assert.equal(await job(app, 'flash', { view: 'daily_revenue', period: '2026-11-02', now: '2026-11-02T22:00:00+08:00' }), [
    { job: 'flash', view: 'daily_revenue', period: '2026-11-02', outcome: 'published', revision: 1, detail: 'flash at cutoff seq 4' },
  ])
  await importEvents(
    app,
    [
      retail('s3', 'sale', '001', '2026-11-02T11:00:00+08:00', 20, '2026-11-02T18:00:00Z'),
      { id: 's1-void', source: 'store-001', type: 'sale', occurredAt: '2026-11-02T10:00:00+08:00', receivedAt: '2026-11-02T18:30:00Z', retracts: 's1' },
      retail('r1', 'refund', '002', '2026-11-02T16:00:00+08:00', 10, '2026-11-02T18:40:00Z'),
    ],
    5,
  )
  assert.equal(await job(app, 'consolidate', { view: 'daily_revenue', period: '2026-11-02', now: '2026-11-03T03:00:00+08:00' }), [
    { job: 'consolidate', view: 'daily_revenue', period: '2026-11-02', outcome: 'published', revision: 2, detail: 'consolidated at cutoff seq 7' },
  ])
  await importEvents(app, [retail('x1', 'sale', '003', '2026-11-03T09:00:00+08:00', 5, '2026-11-03T01:00:00Z')], 8)
  await importEvents(app, [retail('s4', 'sale', '004', '2026-11-02T20:00:00+08:00', 7.25, '2026-11-03T02:00:00Z')], 9)
  assert.equal(await job(app, 'close', { view: 'daily_revenue', period: '2026-11-01', now: '2026-11-04T03:30:00+08:00' }), [
    { job: 'close', view: 'daily_revenue', period: '2026-11-01', outcome: 'published', revision: 1, detail: 'final at cutoff seq 9' },
  ])
}

const P = '/v1/views/daily_revenue/periods/2026-11-02'
const S001 = { store: '001', channel: 'pos' }
const S002 = { store: '002', channel: 'pos' }
const S003 = { store: '003', channel: 'pos' }
const S004 = { store: '004', channel: 'pos' }
const WEB = { store: 'web', channel: 'web' }
const HEX64 = /^[0-9a-f]{64}$/

const R1_ROWS = [
  { dims: S001, measures: { revenue: 100, orders: 1, largest: 100 }, eventCount: 1 },
  { dims: S002, measures: { revenue: 30, orders: 1, largest: 30 }, eventCount: 1 },
  { dims: WEB, measures: { revenue: 50.5, orders: 1, largest: 50.5 }, eventCount: 1 },
]
const R1_TOTALS = { measures: { revenue: 180.5, orders: 3, largest: 100 }, eventCount: 3 }
// s1 retracted, s3 late; the refund takes 10 and one order from store 002 but not its largest sale.
const R2_ROWS = [
  { dims: S001, measures: { revenue: 20, orders: 1, largest: 20 }, eventCount: 1 },
  { dims: S002, measures: { revenue: 20, orders: 0, largest: 30 }, eventCount: 2 },
  { dims: WEB, measures: { revenue: 50.5, orders: 1, largest: 50.5 }, eventCount: 1 },
]
const R2_TOTALS = { measures: { revenue: 90.5, orders: 2, largest: 50.5 }, eventCount: 4 }

const R1_META = {
  revision: 1,
  kind: 'flash',
  cutoffSeq: 4,
  cutoffReceivedAt: '2026-11-02T07:00:00.000Z',
  computedAt: '2026-11-02T14:00:00.000Z',
  trigger: 'manual',
  completeness: 0.25,
  eventCount: 3,
  lateEventCount: 0,
  viewVersion: 1,
}
const R2_META = {
  revision: 2,
  kind: 'consolidated',
  cutoffSeq: 7,
  cutoffReceivedAt: '2026-11-02T18:40:00.000Z',
  computedAt: '2026-11-02T19:00:00.000Z',
  trigger: 'manual',
  completeness: 0.25,
  eventCount: 4,
  lateEventCount: 2,
  viewVersion: 1,
}

/** The body without its hash, after checking the hash is 64 hex characters. */
function unhashed(body: unknown): Record<string, unknown> {
  const { hash, ...rest } = body as Record<string, unknown>
  assert.match(String(hash), HEX64)
  return rest
}

const CSV_HEADER = 'store,channel,revenue,orders,largest,eventCount\r\n'
const R2_CSV = `${CSV_HEADER}001,pos,20,1,20,1\r\n002,pos,20,0,30,2\r\nweb,web,50.5,1,50.5,1\r\n`

const S3_EVENT = { id: 's3', source: 'store-001', seq: 5, receivedAt: '2026-11-02T18:00:00.000Z', occurredAt: '2026-11-02T03:00:00.000Z' }
const VOID_EVENT = { id: 's1-void', source: 'store-001', seq: 6, receivedAt: '2026-11-02T18:30:00.000Z', occurredAt: '2026-11-02T02:00:00.000Z', retracts: 's1' }
const R1_EVENT = { id: 'r1', source: 'store-002', seq: 7, receivedAt: '2026-11-02T18:40:00.000Z', occurredAt: '2026-11-02T08:00:00.000Z' }

for (const factory of await engines()) {
  const test = suite<Ctx>(`api reports (${factory.name})`, {} as Ctx)
  test.before.each(async (ctx) => {
    ctx.api = await open(await factory.open())
  })
  test.after.each(async ({ api }) => {
    await api.app.close()
    await api.engine.close()
  })
  test.after(() => factory.cleanup())

  test('GET …/periods/:period: the latest revision with every field', async ({ api }) => {
    await given(api.app)
    const latest = expectOk(await get(api.app, P))
    assert.equal(unhashed(latest), { view: 'daily_revenue', period: '2026-11-02', status: 'provisional', ...R2_META, rows: R2_ROWS, totals: R2_TOTALS })
    // The hash is the content hash of the figures: revision 1 has other figures, so another hash.
    const first = expectOk(await get(api.app, `${P}?revision=1`)) as Record<string, unknown>
    assert.is.not((latest as Record<string, unknown>).hash, first.hash)
    assert.equal(unhashed(first), { view: 'daily_revenue', period: '2026-11-02', status: 'provisional', ...R1_META, rows: R1_ROWS, totals: R1_TOTALS })
    assert.equal(unhashed(expectOk(await get(api.app, `${P}?revision=2`))), unhashed(latest))
    // A period closed at once: final revision 1 of kind final.
    assert.equal(unhashed(expectOk(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-01'))), {
      view: 'daily_revenue',
      period: '2026-11-01',
      status: 'final',
      revision: 1,
      kind: 'final',
      cutoffSeq: 9,
      cutoffReceivedAt: '2026-11-03T02:00:00.000Z',
      computedAt: '2026-11-03T19:30:00.000Z',
      trigger: 'manual',
      completeness: 0.125,
      eventCount: 1,
      lateEventCount: 0,
      viewVersion: 1,
      rows: [{ dims: S001, measures: { revenue: 12, orders: 1, largest: 12 }, eventCount: 1 }],
      totals: { measures: { revenue: 12, orders: 1, largest: 12 }, eventCount: 1 },
    })
  })

  test('a revision read again answers the same JSON text; its status follows the period', async ({ api }) => {
    await given(api.app)
    const read = () => api.app.inject({ method: 'GET', url: `${P}?revision=1` })
    const before = await read()
    assert.is(before.statusCode, 200)
    assert.is(before.headers['content-type'], 'application/json; charset=utf-8')
    assert.is((await read()).body, before.body)
    assert.equal(unhashed(JSON.parse(before.body)), { view: 'daily_revenue', period: '2026-11-02', status: 'provisional', ...R1_META, rows: R1_ROWS, totals: R1_TOTALS })
    // Closing publishes revision 3 (final): revision 1 is unchanged, but its period is final now.
    assert.equal(await job(api.app, 'close', { view: 'daily_revenue', period: '2026-11-02', now: '2026-11-05T03:30:00+08:00' }), [
      { job: 'close', view: 'daily_revenue', period: '2026-11-02', outcome: 'published', revision: 3, detail: 'final at cutoff seq 9' },
    ])
    const after = await read()
    assert.equal(JSON.parse(after.body), { ...JSON.parse(before.body), status: 'final' })
    assert.is((await read()).body, after.body)
    assert.equal((expectOk(await get(api.app, P)) as { revision: number; status: string }).revision, 3)
  })

  test('?asOf=<ISO>: what was known then, computed from the store (revision null, kind as-of)', async ({ api }) => {
    await given(api.app)
    const early = expectOk(await get(api.app, `${P}?asOf=2026-11-02T05:00:00Z`))
    assert.equal(unhashed(early), {
      view: 'daily_revenue',
      period: '2026-11-02',
      status: 'provisional',
      revision: null,
      kind: 'as-of',
      cutoffSeq: 3,
      cutoffReceivedAt: '2026-11-02T04:00:10.000Z',
      computedAt: NOW_ISO,
      trigger: null,
      completeness: 0.125,
      eventCount: 2,
      lateEventCount: 0,
      viewVersion: 1,
      rows: [
        { dims: S001, measures: { revenue: 100, orders: 1, largest: 100 }, eventCount: 1 },
        { dims: WEB, measures: { revenue: 50.5, orders: 1, largest: 50.5 }, eventCount: 1 },
      ],
      totals: { measures: { revenue: 150.5, orders: 2, largest: 100 }, eventCount: 2 },
    })
    // At revision 2's cutoff instant (in another offset) the figures, and so the hash, are revision 2's.
    const atR2 = expectOk(await get(api.app, `${P}?asOf=${encodeURIComponent('2026-11-03T02:59:59+08:00')}`)) as Record<string, unknown>
    const r2 = expectOk(await get(api.app, `${P}?revision=2`)) as Record<string, unknown>
    assert.is(atR2.hash, r2.hash)
    assert.equal({ ...atR2, hash: r2.hash }, { ...r2, revision: null, kind: 'as-of', cutoffReceivedAt: '2026-11-02T18:40:00.000Z', computedAt: NOW_ISO, trigger: null })
    // Everything known: the late sale of store 004 (seq 9) counts too.
    assert.equal(unhashed(expectOk(await get(api.app, `${P}?asOf=2026-11-26T00:00:00.000Z`))), {
      view: 'daily_revenue',
      period: '2026-11-02',
      status: 'provisional',
      revision: null,
      kind: 'as-of',
      cutoffSeq: 9,
      cutoffReceivedAt: '2026-11-03T02:00:00.000Z',
      computedAt: NOW_ISO,
      trigger: null,
      completeness: 0.375,
      eventCount: 5,
      lateEventCount: 3,
      viewVersion: 1,
      rows: [...R2_ROWS.slice(0, 2), { dims: S004, measures: { revenue: 7.25, orders: 1, largest: 7.25 }, eventCount: 1 }, R2_ROWS[2]],
      totals: { measures: { revenue: 97.75, orders: 3, largest: 50.5 }, eventCount: 5 },
    })
    // A period without a revision can still be read as of an instant.
    assert.equal(unhashed(expectOk(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-03?asOf=2026-11-26T00:00:00Z'))), {
      view: 'daily_revenue',
      period: '2026-11-03',
      status: 'open',
      revision: null,
      kind: 'as-of',
      cutoffSeq: 9,
      cutoffReceivedAt: '2026-11-03T02:00:00.000Z',
      computedAt: NOW_ISO,
      trigger: null,
      completeness: 0.125,
      eventCount: 1,
      lateEventCount: 0,
      viewVersion: 1,
      rows: [{ dims: S003, measures: { revenue: 5, orders: 1, largest: 5 }, eventCount: 1 }],
      totals: { measures: { revenue: 5, orders: 1, largest: 5 }, eventCount: 1 },
    })
  })

  test('?format=csv and Accept: text/csv: the same report as CSV with CRLF lines', async ({ api }) => {
    await given(api.app)
    const csv = await get(api.app, `${P}?format=csv`)
    assert.is(csv.statusCode, 200)
    assert.is(csv.headers['content-type'], 'text/csv; charset=utf-8')
    assert.is(csv.headers['content-disposition'], 'attachment; filename="daily_revenue-2026-11-02-r2.csv"')
    assert.is(csv.headers['lateview-revision'], '2')
    assert.is(csv.headers['lateview-cutoff-seq'], '7')
    assert.is(csv.body, R2_CSV)

    const accepted = await api.app.inject({ method: 'GET', url: P, headers: { accept: 'text/csv' } })
    assert.is(accepted.statusCode, 200)
    assert.is(accepted.headers['content-type'], 'text/csv; charset=utf-8')
    assert.is(accepted.body, R2_CSV)

    const first = await get(api.app, `${P}?revision=1&format=csv`)
    assert.is(first.headers['content-disposition'], 'attachment; filename="daily_revenue-2026-11-02-r1.csv"')
    assert.is(first.body, `${CSV_HEADER}001,pos,100,1,100,1\r\n002,pos,30,1,30,1\r\nweb,web,50.5,1,50.5,1\r\n`)

    const asOf = await api.app.inject({ method: 'GET', url: `${P}?asOf=2026-11-02T05:00:00Z`, headers: { accept: 'text/csv' } })
    assert.is(asOf.headers['content-disposition'], 'attachment; filename="daily_revenue-2026-11-02-as-of.csv"')
    assert.is(asOf.headers['lateview-revision'], 'as-of')
    assert.is(asOf.headers['lateview-cutoff-seq'], '3')
    assert.is(asOf.body, `${CSV_HEADER}001,pos,100,1,100,1\r\nweb,web,50.5,1,50.5,1\r\n`)

    // format=json wins over Accept; a client accepting JSON as well gets JSON.
    const json = await api.app.inject({ method: 'GET', url: `${P}?format=json`, headers: { accept: 'text/csv' } })
    assert.is((expectOk(json) as { revision: number }).revision, 2)
    const both = await api.app.inject({ method: 'GET', url: P, headers: { accept: 'text/csv, application/json' } })
    assert.is((expectOk(both) as { revision: number }).revision, 2)
  })

  test('GET …/revisions: every revision with its totals, oldest first', async ({ api }) => {
    await given(api.app)
    const body = expectOk(await get(api.app, `${P}/revisions`)) as { revisions: Record<string, unknown>[] }
    const r1 = expectOk(await get(api.app, `${P}?revision=1`)) as Record<string, unknown>
    const r2 = expectOk(await get(api.app, `${P}?revision=2`)) as Record<string, unknown>
    assert.equal(body, {
      view: 'daily_revenue',
      period: '2026-11-02',
      status: 'provisional',
      revisions: [
        { ...R1_META, hash: r1.hash, totals: R1_TOTALS },
        { ...R2_META, hash: r2.hash, totals: R2_TOTALS },
      ],
      seq: 9,
    })
    assert.equal(expectOk(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-03/revisions')), {
      view: 'daily_revenue',
      period: '2026-11-03',
      status: 'open',
      revisions: [],
      seq: 9,
    })
  })

  test('GET …/diff?from=1&to=2: changed cells and the events that explain them, a retraction negative', async ({ api }) => {
    await given(api.app)
    assert.equal(expectOk(await get(api.app, `${P}/diff?from=1&to=2`)), {
      view: 'daily_revenue',
      period: '2026-11-02',
      from: { label: 'revision 1', revision: 1, cutoffSeq: 4, viewVersion: 1 },
      to: { label: 'revision 2', revision: 2, cutoffSeq: 7, viewVersion: 1 },
      definition: null,
      changes: [
        {
          dims: S001,
          before: { revenue: 100, orders: 1, largest: 100 },
          after: { revenue: 20, orders: 1, largest: 20 },
          delta: { revenue: -80, orders: 0, largest: -80 },
          events: [
            { ...S3_EVENT, contribution: { revenue: 20, orders: 1, largest: 20 } },
            { ...VOID_EVENT, contribution: { revenue: -100, orders: -1, largest: 100 } },
          ],
        },
        {
          dims: S002,
          before: { revenue: 30, orders: 1, largest: 30 },
          after: { revenue: 20, orders: 0, largest: 30 },
          delta: { revenue: -10, orders: -1, largest: 0 },
          events: [{ ...R1_EVENT, contribution: { revenue: -10, orders: -1, largest: -10 } }],
        },
      ],
      totals: { before: R1_TOTALS.measures, after: R2_TOTALS.measures, delta: { revenue: -90, orders: -1, largest: -49.5 } },
    })
    // Backwards, every contribution changes sign and still adds up to the delta.
    assert.equal(expectOk(await get(api.app, `${P}/diff?from=2&to=1`)), {
      view: 'daily_revenue',
      period: '2026-11-02',
      from: { label: 'revision 2', revision: 2, cutoffSeq: 7, viewVersion: 1 },
      to: { label: 'revision 1', revision: 1, cutoffSeq: 4, viewVersion: 1 },
      definition: null,
      changes: [
        {
          dims: S001,
          before: { revenue: 20, orders: 1, largest: 20 },
          after: { revenue: 100, orders: 1, largest: 100 },
          delta: { revenue: 80, orders: 0, largest: 80 },
          events: [
            { ...S3_EVENT, contribution: { revenue: -20, orders: -1, largest: 20 } },
            { ...VOID_EVENT, contribution: { revenue: 100, orders: 1, largest: 100 } },
          ],
        },
        {
          dims: S002,
          before: { revenue: 20, orders: 0, largest: 30 },
          after: { revenue: 30, orders: 1, largest: 30 },
          delta: { revenue: 10, orders: 1, largest: 0 },
          events: [{ ...R1_EVENT, contribution: { revenue: 10, orders: 1, largest: -10 } }],
        },
      ],
      totals: { before: R2_TOTALS.measures, after: R1_TOTALS.measures, delta: { revenue: 90, orders: 1, largest: 49.5 } },
    })
    assert.equal(expectOk(await get(api.app, `${P}/diff?from=2&to=2`)), {
      view: 'daily_revenue',
      period: '2026-11-02',
      from: { label: 'revision 2', revision: 2, cutoffSeq: 7, viewVersion: 1 },
      to: { label: 'revision 2', revision: 2, cutoffSeq: 7, viewVersion: 1 },
      definition: null,
      changes: [],
      totals: { before: R2_TOTALS.measures, after: R2_TOTALS.measures, delta: { revenue: 0, orders: 0, largest: 0 } },
    })
  })

  test('GET …/diff?from=asOf:<ISO>&to=2: from what was known at an instant', async ({ api }) => {
    await given(api.app)
    assert.equal(expectOk(await get(api.app, `${P}/diff?from=asOf:2026-11-02T05:00:00Z&to=2`)), {
      view: 'daily_revenue',
      period: '2026-11-02',
      from: { label: 'as of 2026-11-02T05:00:00.000Z', revision: null, cutoffSeq: 3, viewVersion: 1 },
      to: { label: 'revision 2', revision: 2, cutoffSeq: 7, viewVersion: 1 },
      definition: null,
      changes: [
        {
          dims: S001,
          before: { revenue: 100, orders: 1, largest: 100 },
          after: { revenue: 20, orders: 1, largest: 20 },
          delta: { revenue: -80, orders: 0, largest: -80 },
          events: [
            { ...S3_EVENT, contribution: { revenue: 20, orders: 1, largest: 20 } },
            { ...VOID_EVENT, contribution: { revenue: -100, orders: -1, largest: 100 } },
          ],
        },
        {
          dims: S002,
          before: null,
          after: { revenue: 20, orders: 0, largest: 30 },
          delta: { revenue: 20, orders: 0, largest: null },
          events: [
            { id: 's2', source: 'store-002', seq: 4, receivedAt: '2026-11-02T07:00:00.000Z', occurredAt: '2026-11-02T07:00:00.000Z', contribution: { revenue: 30, orders: 1, largest: 30 } },
            { ...R1_EVENT, contribution: { revenue: -10, orders: -1, largest: -10 } },
          ],
        },
      ],
      totals: { before: { revenue: 150.5, orders: 2, largest: 100 }, after: R2_TOTALS.measures, delta: { revenue: -60, orders: 0, largest: -49.5 } },
    })
    // Revision 2 to everything known now: the late sale of store 004 is a new cell.
    assert.equal(expectOk(await get(api.app, `${P}/diff?from=2&to=asOf:2026-11-26T00:00:00Z`)), {
      view: 'daily_revenue',
      period: '2026-11-02',
      from: { label: 'revision 2', revision: 2, cutoffSeq: 7, viewVersion: 1 },
      to: { label: 'as of 2026-11-26T00:00:00.000Z', revision: null, cutoffSeq: 9, viewVersion: 1 },
      definition: null,
      changes: [
        {
          dims: S004,
          before: null,
          after: { revenue: 7.25, orders: 1, largest: 7.25 },
          delta: { revenue: 7.25, orders: 1, largest: null },
          events: [
            { id: 's4', source: 'store-004', seq: 9, receivedAt: '2026-11-03T02:00:00.000Z', occurredAt: '2026-11-02T12:00:00.000Z', contribution: { revenue: 7.25, orders: 1, largest: 7.25 } },
          ],
        },
      ],
      totals: { before: R2_TOTALS.measures, after: { revenue: 97.75, orders: 3, largest: 50.5 }, delta: { revenue: 7.25, orders: 1, largest: 0 } },
    })
  })

  test('GET …/diff?format=csv: every row of either side, unchanged ones too, with events and status', async ({ api }) => {
    await given(api.app)
    const csv = await get(api.app, `${P}/diff?from=1&to=asOf:2026-11-26T00:00:00Z&format=csv`)
    assert.is(csv.statusCode, 200, csv.body)
    assert.is(csv.headers['content-type'], 'text/csv; charset=utf-8')
    assert.is(csv.headers['content-disposition'], 'attachment; filename="daily_revenue-2026-11-02-1-vs-asOf-2026-11-26T00-00-00Z.csv"')
    assert.is(
      csv.body,
      'store,channel,revenue_before,revenue_after,revenue_delta,orders_before,orders_after,orders_delta,largest_before,largest_after,largest_delta,events,status\r\n' +
        '001,pos,100,20,-80,1,1,0,100,20,-80,2,changed\r\n' +
        '002,pos,30,20,-10,1,0,-1,30,30,0,1,changed\r\n' +
        '004,pos,,7.25,7.25,,1,1,,7.25,,1,new\r\n' +
        'web,web,50.5,50.5,0,1,1,0,50.5,50.5,0,0,same\r\n',
    )
  })

  test('GET /v1/views/:view: periods open, provisional and final, and the dirty ones', async ({ api }) => {
    await given(api.app)
    const body = expectOk(await get(api.app, '/v1/views/daily_revenue')) as { status: unknown }
    assert.equal(body.status, {
      seq: 9,
      periods: { open: ['2026-11-03'], provisional: ['2026-11-02'], final: ['2026-11-01'] },
      // The late sale of store 004 (7.25) is not published yet: live totals minus revision 2's.
      dirty: [
        { period: '2026-11-02', status: 'provisional', latestRevision: 2, dirtySinceSeq: 9, pending: { eventCount: 1, measures: { revenue: 7.25, orders: 1, largest: 0 }, belowMinChange: false } },
      ],
    })
  })

  test('POST …/restate: a manual revision of a provisional period, a restatement of a final one', async ({ api }) => {
    await given(api.app)
    const restate = async (period: string) => stable(expectOk(await api.app.inject({ method: 'POST', url: `/v1/views/daily_revenue/periods/${period}/restate` })) as Record<string, unknown>)
    assert.equal(await restate('2026-11-02'), {
      id: 4,
      job: 'restate',
      view: 'daily_revenue',
      period: '2026-11-02',
      now: NOW_ISO,
      trigger: 'manual',
      outcome: 'published',
      revision: 3,
      detail: 'manual at cutoff seq 9',
    })
    const r3 = expectOk(await get(api.app, P)) as Record<string, unknown>
    assert.equal(
      { revision: r3.revision, kind: r3.kind, trigger: r3.trigger, cutoffSeq: r3.cutoffSeq, computedAt: r3.computedAt, status: r3.status, totals: r3.totals },
      {
        revision: 3,
        kind: 'manual',
        trigger: 'manual',
        cutoffSeq: 9,
        computedAt: NOW_ISO,
        status: 'provisional',
        totals: { measures: { revenue: 97.75, orders: 3, largest: 50.5 }, eventCount: 5 },
      },
    )
    // Nothing new: the figures are the same, so no revision is written.
    assert.equal(await restate('2026-11-02'), {
      id: 5,
      job: 'restate',
      view: 'daily_revenue',
      period: '2026-11-02',
      now: NOW_ISO,
      trigger: 'manual',
      outcome: 'unchanged',
      revision: 3,
      detail: 'manual at cutoff seq 9',
    })
    assert.equal((expectOk(await get(api.app, '/v1/views/daily_revenue')) as { status: { dirty: unknown[] } }).status.dirty, [])

    // A late sale of the closed 2026-11-01 (policy restate) and a restatement of it.
    await importEvents(api.app, [retail('p1', 'sale', '002', '2026-11-01T13:00:00+08:00', 8, '2026-11-04T00:00:00Z')], 10)
    api.clock.set(Date.parse('2026-11-26T13:00:00Z'))
    assert.equal(await restate('2026-11-01'), {
      id: 6,
      job: 'restate',
      view: 'daily_revenue',
      period: '2026-11-01',
      now: '2026-11-26T13:00:00.000Z',
      trigger: 'manual',
      outcome: 'published',
      revision: 2,
      detail: 'restatement at cutoff seq 10',
    })
    assert.equal(unhashed(expectOk(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-01'))), {
      view: 'daily_revenue',
      period: '2026-11-01',
      status: 'final',
      revision: 2,
      kind: 'restatement',
      cutoffSeq: 10,
      cutoffReceivedAt: '2026-11-04T00:00:00.000Z',
      computedAt: '2026-11-26T13:00:00.000Z',
      trigger: 'restatement',
      completeness: 0.25,
      eventCount: 2,
      lateEventCount: 1,
      viewVersion: 1,
      rows: [
        { dims: S001, measures: { revenue: 12, orders: 1, largest: 12 }, eventCount: 1 },
        { dims: S002, measures: { revenue: 8, orders: 1, largest: 8 }, eventCount: 1 },
      ],
      totals: { measures: { revenue: 20, orders: 2, largest: 12 }, eventCount: 2 },
    })
    expectProblem(await api.app.inject({ method: 'POST', url: '/v1/views/nope/periods/2026-11-01/restate' }), 404, 'LV_ERR_VIEW_NOT_FOUND')
    expectProblem(await api.app.inject({ method: 'POST', url: '/v1/views/daily_revenue/periods/2026-11/restate' }), 400, 'LV_ERR_PERIOD_MALFORMED')
  })

  test('GET …/exceptions: late events held after close (policy hold) until restated', async ({ api }) => {
    const lab = (id: string, name: string, region: string, occurredAt: string, positive: number, receivedAt: string) => ({
      id,
      source: `lab-${name}`,
      type: 'test_result',
      occurredAt,
      receivedAt,
      data: { lab: name, region, positive },
    })
    const T = '/v1/views/daily_positive_tests/periods/2026-11-02'
    await importEvents(
      api.app,
      [lab('t1', 'berlin', 'east', '2026-11-02T09:00:00+01:00', 1, '2026-11-03T09:00:00Z'), lab('t2', 'munich', 'south', '2026-11-02T10:00:00+01:00', 0, '2026-11-03T10:00:00Z')],
      1,
    )
    assert.equal(expectOk(await get(api.app, `${T}/exceptions`)), { view: 'daily_positive_tests', period: '2026-11-02', status: 'open', policy: 'hold', events: [], seq: 2 })
    assert.equal(await job(api.app, 'close', { view: 'daily_positive_tests', period: '2026-11-02', now: '2026-11-09T07:00:00+01:00' }), [
      { job: 'close', view: 'daily_positive_tests', period: '2026-11-02', outcome: 'published', revision: 1, detail: 'final at cutoff seq 2' },
    ])
    await importEvents(api.app, [lab('t3', 'hamburg', 'north', '2026-11-02T11:00:00+01:00', 1, '2026-11-10T08:00:00Z')], 3)
    assert.equal(await job(api.app, 'rebuild', { view: 'daily_positive_tests', period: '2026-11-02', now: '2026-11-10T09:00:00Z' }), [
      { job: 'rebuild', view: 'daily_positive_tests', period: '2026-11-02', outcome: 'skipped', revision: 1, detail: 'final; late events held (policy hold)' },
    ])
    const held = {
      view: 'daily_positive_tests',
      period: '2026-11-02',
      status: 'final',
      policy: 'hold',
      events: [
        {
          id: 't3',
          source: 'lab-hamburg',
          type: 'test_result',
          seq: 3,
          occurredAt: '2026-11-02T10:00:00.000Z',
          receivedAt: '2026-11-10T08:00:00.000Z',
          data: { lab: 'hamburg', region: 'north', positive: 1 },
        },
      ],
      seq: 3,
    }
    assert.equal(expectOk(await get(api.app, `${T}/exceptions`)), held)
    // Held: the final figures stay as they were.
    const final = expectOk(await get(api.app, T)) as Record<string, unknown>
    assert.equal(
      { revision: final.revision, kind: final.kind, totals: final.totals, completeness: final.completeness },
      {
        revision: 1,
        kind: 'final',
        totals: { measures: { tests: 2, positives: 1 }, eventCount: 2 },
        completeness: 0.5,
      },
    )
    assert.equal((expectOk(await get(api.app, '/v1/views/daily_positive_tests')) as { status: unknown }).status, {
      seq: 3,
      periods: { open: [], provisional: [], final: ['2026-11-02'] },
      dirty: [{ period: '2026-11-02', status: 'final', latestRevision: 1, dirtySinceSeq: 3, pending: { eventCount: 1, measures: { tests: 1, positives: 1 }, belowMinChange: false } }],
    })

    api.clock.set(Date.parse('2026-11-10T12:00:00Z'))
    const run = stable(expectOk(await api.app.inject({ method: 'POST', url: `${T}/restate` })) as Record<string, unknown>)
    assert.equal(run, {
      id: 3,
      job: 'restate',
      view: 'daily_positive_tests',
      period: '2026-11-02',
      now: '2026-11-10T12:00:00.000Z',
      trigger: 'manual',
      outcome: 'published',
      revision: 2,
      detail: 'restatement at cutoff seq 3',
    })
    assert.equal(unhashed(expectOk(await get(api.app, T))), {
      view: 'daily_positive_tests',
      period: '2026-11-02',
      status: 'final',
      revision: 2,
      kind: 'restatement',
      cutoffSeq: 3,
      cutoffReceivedAt: '2026-11-10T08:00:00.000Z',
      computedAt: '2026-11-10T12:00:00.000Z',
      trigger: 'restatement',
      completeness: 0.75,
      eventCount: 3,
      lateEventCount: 3,
      viewVersion: 1,
      rows: [
        { dims: { lab: 'berlin', region: 'east' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
        { dims: { lab: 'hamburg', region: 'north' }, measures: { tests: 1, positives: 1 }, eventCount: 1 },
        { dims: { lab: 'munich', region: 'south' }, measures: { tests: 1, positives: 0 }, eventCount: 1 },
      ],
      totals: { measures: { tests: 3, positives: 2 }, eventCount: 3 },
    })
    assert.equal(expectOk(await get(api.app, `${T}/exceptions`)), { ...held, events: [] })
  })

  test('errors: unknown view, malformed period, no revision, bad query parameters', async ({ api }) => {
    await given(api.app)
    for (const suffix of ['', '/revisions', '/diff?from=1&to=2', '/exceptions', '?revision=1', '?asOf=2026-11-02T05:00:00Z']) {
      const problem = expectProblem(await get(api.app, `/v1/views/nope/periods/2026-11-02${suffix}`), 404, 'LV_ERR_VIEW_NOT_FOUND')
      assert.is(problem.view, 'nope')
    }
    for (const period of ['2026-11-2', '2026-02-30', '2026-W45', '2026-11', 'yesterday']) {
      for (const suffix of ['', '/revisions', '/diff?from=1&to=2', '/exceptions', '?asOf=2026-11-02T05:00:00Z']) {
        expectProblem(await get(api.app, `/v1/views/daily_revenue/periods/${period}${suffix}`), 400, 'LV_ERR_PERIOD_MALFORMED')
      }
    }
    assert.equal(expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-03'), 404, 'LV_ERR_PERIOD_NOT_FOUND'), {
      type: 'urn:lateview:problem:LV_ERR_PERIOD_NOT_FOUND',
      title: 'The period has no published revision',
      status: 404,
      detail: 'period 2026-11-03 of view daily_revenue has no revision yet (see …/realtime or ?asOf=)',
      code: 'LV_ERR_PERIOD_NOT_FOUND',
      instance: '/v1/views/daily_revenue/periods/2026-11-03',
      view: 'daily_revenue',
      period: '2026-11-03',
    })
    expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2020-01-01'), 404, 'LV_ERR_PERIOD_NOT_FOUND')
    assert.equal(expectProblem(await get(api.app, `${P}?revision=9`), 404, 'LV_ERR_REVISION_NOT_FOUND'), {
      type: 'urn:lateview:problem:LV_ERR_REVISION_NOT_FOUND',
      title: 'No such revision of the period',
      status: 404,
      detail: 'period 2026-11-02 of view daily_revenue has no revision 9',
      code: 'LV_ERR_REVISION_NOT_FOUND',
      instance: `${P}?revision=9`,
      view: 'daily_revenue',
      period: '2026-11-02',
    })
    expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-03?revision=1'), 404, 'LV_ERR_REVISION_NOT_FOUND')
    expectProblem(await get(api.app, `${P}/diff?from=1&to=9`), 404, 'LV_ERR_REVISION_NOT_FOUND')
    expectProblem(await get(api.app, '/v1/views/daily_revenue/periods/2026-11-03/diff?from=1&to=asOf:2026-11-26T00:00:00Z'), 404, 'LV_ERR_REVISION_NOT_FOUND')

    assert.is(expectProblem(await get(api.app, `${P}?revision=x`), 400, 'LV_ERR_QUERY_INVALID').detail, 'revision="x" is not a revision number')
    for (const query of ['revision=0', 'revision=-1', 'revision=1.5', 'revision=', 'asOf=yesterday', 'asOf=2026-11-02T05:00:00', 'asOf=', 'format=xml']) {
      expectProblem(await get(api.app, `${P}?${query}`), 400, 'LV_ERR_QUERY_INVALID')
    }
    assert.is(expectProblem(await get(api.app, `${P}?revision=1&asOf=2026-11-02T05:00:00Z`), 400, 'LV_ERR_QUERY_INVALID').detail, 'give revision or asOf, not both')
    assert.is(
      expectProblem(await get(api.app, `${P}?asOf=yesterday`), 400, 'LV_ERR_QUERY_INVALID').detail,
      'asOf="yesterday" is not an ISO 8601 instant with an offset or Z, in the years 1900 to 2999',
    )
    for (const query of ['from=1', 'to=2', '', 'from=x&to=2', 'from=1&to=0', 'from=asOf:yesterday&to=2', 'from=1&to=asOf:']) {
      expectProblem(await get(api.app, `${P}/diff?${query}`), 400, 'LV_ERR_QUERY_INVALID')
    }
  })

  test.run()
}
