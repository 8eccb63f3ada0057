/**
 * Figures 3 to 6, on two stores of whole days (10,000 base events a day): a small one and a
 * large one (100k and 5M events in a full run). They are bulk-loaded with exactly the rows
 * lateview's import writes (figure 1 checks that row for row), and lateview rebuilds their
 * cells when it opens them; loading 5M events through ingest would measure ingest again.
 *
 *  6. consolidate one day: jobs.run('consolidate', …) on days that have no revision yet
 *  3. latest report over HTTP: every period closed (jobs.run('close', …)) and read once, then
 *     sequential GETs of random periods on both stores, interleaved, and on a floor route that
 *     returns a cached report from bare fastify (what HTTP and serialisation alone cost)
 *  4. as-of report of one day against a naive GROUP BY over the events table
 *  5. full rebuild in a child process (bench/rebuild-child.ts), for its peak RSS, run with the
 *     Node flags of the `lateview` command (what `lateview verify` runs with)
 *  7. GET /v1/sources on the large store, over the default 7 days and over all of it, with the
 *     longest delay of a 1 ms timer meanwhile; its lag sketch built first by migration 0008
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify, { type FastifyInstance } from 'fastify'
import { sql, type Kysely } from 'kysely'
import type { Amount } from '../src/domain/aggregate.js'
import { ManualClock } from '../src/domain/clock.js'
import { amountScaled } from '../src/domain/decimal.js'
import type { Lateview } from '../src/services/lateview.js'
import type { ReportDocument } from '../src/services/reports.js'
import type { SourceLateness } from '../src/services/sources.js'
import { openEngine } from '../src/store/engine.js'
import { migrations } from '../src/store/migrations.js'
import { compare, openLateview, timed, VIEW, type Comparison, type Log } from './common.js'
import { addDays, fixtureStream, localMidnight, RowConverter, START } from './data.js'
import { lateviewApp, listen, runClient } from './http.js'
import type { LatencyReport, LatencyTask } from './http-client.js'
import { ROOT, type Sizes } from './options.js'
import { median, quantile } from './stats.js'
import type { Backend, NaiveRow } from './stores.js'
import { lateviewNodeFlags } from '../test/helpers/node-flags.js'

const DAY = 86_400_000

export interface ReadStore {
  name: string
  location: string
  days: number
  events: number
  loadMs: number
  /** Lateview.open on the loaded rows: syncViews recomputes both views' cells. */
  openMs: number
}

/** Bulk-loads a store of `days` whole days and lets lateview build its cells. */
export async function buildStore(backend: Backend, name: string, sizes: Sizes, days: number): Promise<ReadStore> {
  const location = backend.location(name)
  const converter = new RowConverter()
  const rows = (function* () {
    for (const e of fixtureStream({ perDay: sizes.perDay, days })) yield converter.row(e)
  })()
  const load = await timed(() => backend.bulkLoad(location, rows))
  const open = await timed(() => openLateview(location))
  await open.result.close()
  await backend.settle(location)
  return { name, location, days, events: load.result, loadMs: load.ms, openMs: open.ms }
}

// ---------------------------------------------------------------- figure 6

export interface ConsolidateFigures {
  days: number
  /** Events in each consolidated revision (the whole day: consolidated 7 days after it). */
  eventCount: number
  medianMs: number
  maxMs: number
  /** The job's own durationMs (inside its transaction). */
  jobMedianMs: number
  runsMs: number[]
  target: number | null
  pass: boolean | null
}

export async function measureConsolidate(_backend: Backend, store: ReadStore, sizes: Sizes): Promise<ConsolidateFigures> {
  const lateview = await openLateview(store.location)
  try {
    const count = Math.min(sizes.consolidateDays, store.days - 2)
    const first = Math.max(1, Math.floor(store.days / 3))
    const runsMs: number[] = []
    const jobMs: number[] = []
    const counts: number[] = []
    for (let k = 0; k < count; k++) {
      const period = addDays(START, first + k)
      const now = localMidnight(addDays(period, 1)) + 7 * DAY
      const { ms, result } = await timed(() => lateview.jobs.run('consolidate', { view: VIEW, period, now, trigger: 'manual' }))
      const run = result[0]
      if (run?.outcome !== 'published') throw new Error(`consolidate ${period}: ${JSON.stringify(run)}`)
      runsMs.push(ms)
      jobMs.push(run.durationMs)
      counts.push((await lateview.report(VIEW, period)).eventCount)
    }
    const medianMs = median(runsMs)
    const target = 50
    return { days: count, eventCount: median(counts), medianMs, maxMs: Math.max(...runsMs), jobMedianMs: median(jobMs), runsMs, target, pass: target === null ? null : medianMs <= target }
  } finally {
    await lateview.close()
  }
}

// ---------------------------------------------------------------- figure 3

/** Every timed request of one target: measured by the client, and by fastify (its elapsedTime). */
export interface Quantiles {
  requests: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  serverP50Ms: number
  serverP99Ms: number
}

export interface Latency extends Quantiles {
  events: number
  periods: number
  /** The first request of each period (a revision's first read comes from the store), before the warm-up. */
  firstReadP50Ms: number
  firstReadP99Ms: number
  /** Closing every period beforehand (jobs.run('close', …)): total and per period. */
  publishMs: number
  publishPerPeriodMs: number
}

export interface LatestFigures {
  small: Latency
  large: Latency
  /** The bare fastify route answering a cached report. */
  floor: Quantiles
  targetP99Ms: number | null
  passSmall: boolean | null
  passLarge: boolean | null
  /** large.p99 / small.p99 */
  scaling: Comparison
}

/** A full collection now; `gc` is exposed for this process only once it is needed. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

async function closeAll(lateview: Lateview, store: ReadStore): Promise<{ periods: string[]; ms: number }> {
  const now = localMidnight(addDays(START, store.days)) + 30 * DAY
  const { ms, result } = await timed(() => lateview.jobs.run('close', { view: VIEW, now, trigger: 'manual' }))
  const failed = result.filter((r) => r.outcome === 'failed')
  if (failed.length > 0) throw new Error(`close on ${store.name}: ${failed.length} runs failed, e.g. ${failed[0]?.detail}`)
  return { periods: result.filter((r) => r.revision !== null).map((r) => r.period), ms }
}

export async function measureLatest(backend: Backend, small: ReadStore, large: ReadStore, sizes: Sizes, log: Log): Promise<LatestFigures> {
  const lateviews: Lateview[] = []
  const apps: FastifyInstance[] = []
  try {
    const stores = [small, large]
    const targets: Array<{ name: string; base: string; paths: string[] }> = []
    const server: Record<string, number[]> = {}
    const timeServer = (app: FastifyInstance, name: string) => {
      const times: number[] = []
      server[name] = times
      app.addHook('onResponse', async (_request, reply) => {
        times.push(reply.elapsedTime)
      })
    }
    const publish: Record<string, { ms: number; periods: number }> = {}
    let cached: ReportDocument | null = null
    for (const store of stores) {
      const lateview = await openLateview(store.location)
      lateviews.push(lateview)
      const closed = await closeAll(lateview, store)
      publish[store.name] = { ms: closed.ms, periods: closed.periods.length }
      log(`  latest: ${store.name}: ${closed.periods.length} periods closed in ${Math.round(closed.ms)} ms`)
      const app = await lateviewApp(lateview, null)
      timeServer(app, store.name)
      apps.push(app)
      targets.push({ name: store.name, base: await listen(app), paths: closed.periods.map((p) => `/v1/views/${VIEW}/periods/${p}`) })
      cached = await lateview.report(VIEW, closed.periods[Math.floor(closed.periods.length / 2)] as string)
    }
    const floor = Fastify({ logger: false })
    apps.push(floor)
    floor.get('/floor/:period', async () => cached)
    timeServer(floor, 'floor')
    targets.push({ name: 'floor', base: await listen(floor), paths: ['/floor/x'] })

    const task: LatencyTask = { kind: 'latency', targets, requests: sizes.requests, warmup: sizes.warmup, block: 10, seed: 7 }
    // Loading the stores and closing their periods left much garbage; collecting it is not part of a read.
    collectGarbage()
    const report = await runClient<LatencyReport>(task)
    // Every timed request, client side, and server side the last as many (first reads and warm-up came before).
    const quantiles = (name: string): Quantiles => {
      const client = report.latencies[name] as number[]
      const serverTimes = (server[name] as number[]).slice(-client.length)
      return {
        requests: client.length,
        p50Ms: quantile(client, 0.5),
        p99Ms: quantile(client, 0.99),
        maxMs: Math.max(...client),
        serverP50Ms: quantile(serverTimes, 0.5),
        serverP99Ms: quantile(serverTimes, 0.99),
      }
    }
    const latency = (store: ReadStore): Latency => {
      const p = publish[store.name] as { ms: number; periods: number }
      const first = report.firstReads[store.name] as number[]
      return {
        events: store.events,
        periods: p.periods,
        firstReadP50Ms: quantile(first, 0.5),
        firstReadP99Ms: quantile(first, 0.99),
        ...quantiles(store.name),
        publishMs: p.ms,
        publishPerPeriodMs: p.ms / Math.max(1, p.periods),
      }
    }
    const s = latency(small)
    const l = latency(large)
    const floorTimes = quantiles('floor')
    // SQLite: an absolute bound; PostgreSQL, a server of its own over loopback: twice the floor.
    const targetP99Ms = backend.engine === 'sqlite' ? 2 : Number((2 * floorTimes.p99Ms).toFixed(2))
    return {
      small: s,
      large: l,
      floor: floorTimes,
      targetP99Ms,
      passSmall: s.p99Ms <= targetP99Ms,
      passLarge: l.p99Ms <= targetP99Ms,
      scaling: compare(l.p99Ms, s.p99Ms, 1.3, false),
    }
  } finally {
    for (const app of apps) await app.close()
    for (const lateview of lateviews) await lateview.close()
  }
}

// ---------------------------------------------------------------- figure 4

export interface AsOfFigures {
  period: string
  asOf: string
  /** Events of the period known at asOf (the report's eventCount). */
  eventCount: number
  library: { ms: number; p90Ms: number }
  naive: { ms: number; p90Ms: number; plan: string }
  ratio: Comparison
  /** The naive query gives the same rows as lateview. */
  resultsMatch: boolean
}

function sameAsNaive(doc: ReportDocument, naive: NaiveRow[]): boolean {
  if (doc.rows.length !== naive.length) return false
  const byDims = new Map(naive.map((r) => [`${r.store}\u0000${r.channel}`, r]))
  return doc.rows.every((row) => {
    const n = byDims.get(`${String(row.dims.store)}\u0000${String(row.dims.channel)}`)
    const cents = (v: Amount | null | undefined) => Number(amountScaled(v ?? 0, 2))
    return n !== undefined && n.eventCount === row.eventCount && n.orders === row.measures.orders && n.revenueCents === cents(row.measures.revenue) && n.largestCents === cents(row.measures.largest)
  })
}

export async function measureAsOf(backend: Backend, store: ReadStore, sizes: Sizes): Promise<AsOfFigures> {
  const lateview = await openLateview(store.location)
  const naive = await backend.naiveQuery(store.location)
  try {
    const period = addDays(START, Math.floor(store.days / 2))
    const range = lateview.view(VIEW).bucketer.rangeOf(period)
    if (!range) throw new Error(`no range for ${period}`)
    // A day and a half after the day: the late stores have not uploaded yet, most retractions are in.
    const asOf = range.end + 36 * 3_600_000
    const runLibrary = () => lateview.report(VIEW, period, { asOf })
    const runNaive = () => naive.run(range.start, range.end, asOf)
    const doc = await runLibrary()
    const rows = await runNaive()
    const lib: number[] = []
    const raw: number[] = []
    for (let i = 0; i < sizes.asOfRepeats; i++) {
      lib.push((await timed(runLibrary)).ms)
      raw.push((await timed(runNaive)).ms)
    }
    const libMs = median(lib)
    const rawMs = median(raw)
    return {
      period,
      asOf: new Date(asOf).toISOString(),
      eventCount: doc.eventCount,
      library: { ms: libMs, p90Ms: quantile(lib, 0.9) },
      naive: { ms: rawMs, p90Ms: quantile(raw, 0.9), plan: naive.plan },
      ratio: compare(libMs, rawMs, backend.engine === 'sqlite' ? 2 : 1.5, false),
      resultsMatch: sameAsNaive(doc, rows),
    }
  } finally {
    await naive.close()
    await lateview.close()
  }
}

// ---------------------------------------------------------------- figure 5

export interface RebuildFigures {
  events: number
  eventsPerSec: number
  ms: number
  recomputeMs: number
  verifyMs: number
  views: Array<{ view: string; ms: number; cells: number; differing: number }>
  revisions: number
  verifyDifferences: number
  target: number | null
  pass: boolean | null
  peakRssMb: number
  rssAtStartMb: number
  rssTargetMb: number | null
  rssPass: boolean | null
}

export async function measureRebuild(backend: Backend, store: ReadStore): Promise<RebuildFigures> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [...lateviewNodeFlags(), '--import', 'tsx', join(ROOT, 'bench/rebuild-child.ts'), store.location], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rebuild child exited with code ${code}`))))
  })
  const r = JSON.parse(output.trim().split('\n').pop() as string) as Omit<RebuildFigures, 'ms' | 'target' | 'pass' | 'rssTargetMb' | 'rssPass'> & { totalMs: number }
  const sqlite = backend.engine === 'sqlite'
  return {
    events: r.events,
    eventsPerSec: r.eventsPerSec,
    ms: r.totalMs,
    recomputeMs: r.recomputeMs,
    verifyMs: r.verifyMs,
    views: r.views,
    revisions: r.revisions,
    verifyDifferences: r.verifyDifferences,
    target: sqlite ? 400_000 : 300_000,
    pass: r.eventsPerSec >= (sqlite ? 400_000 : 300_000),
    peakRssMb: r.peakRssMb,
    rssAtStartMb: r.rssAtStartMb,
    rssTargetMb: 200,
    rssPass: r.peakRssMb <= 200,
  }
}

// ---------------------------------------------------------------- figure 7

export interface SourcesWindow {
  window: string
  /** Events counted in the answer (the window rounded out to whole hours). */
  events: number
  requests: number
  /** Client-side time of each timed request. */
  medianMs: number
  maxMs: number
  /** The longest a 1 ms timer fired late while the requests ran: how long the event loop was held. */
  maxTimerDelayMs: number
}

export interface SourcesFigures {
  events: number
  /** Migration 0008 building the sketch from every stored event (the store was bulk-loaded without it). */
  sketchBuildMs: number
  sketchRows: number
  week: SourcesWindow
  all: SourcesWindow
  /** The same timer, for as long, while the server answers nothing: the machine's own noise. */
  idleTimerDelayMs: number
}

/** The longest lateness of a 1 ms timer, rescheduled from each firing, while `fn` runs. */
async function timerDelayDuring<T>(fn: () => Promise<T>): Promise<{ result: T; maxDelayMs: number }> {
  let worst = 0
  let due = performance.now() + 1
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  const measure = () => {
    const now = performance.now()
    worst = Math.max(worst, now - due)
    due = now + 1
  }
  const tick = () => {
    measure()
    if (!stopped) timer = setTimeout(tick, 1)
  }
  timer = setTimeout(tick, 1)
  try {
    const result = await fn()
    measure()
    return { result, maxDelayMs: worst }
  } finally {
    stopped = true
    clearTimeout(timer)
  }
}

export async function measureSources(backend: Backend, store: ReadStore, sizes: Sizes): Promise<SourcesFigures> {
  // The bulk load wrote events behind lateview's back: the sketch is built as a store from
  // before it would be, by its migration.
  const engine = await openEngine(store.location)
  let sketchBuildMs: number
  let newest: number
  let sketchRows: number
  try {
    const sketch = (await migrations(engine.kind).getMigrations())['0008_source_lags']
    if (!sketch) throw new Error('no migration 0008_source_lags')
    await sql`drop table source_lags`.execute(engine.db.kysely)
    sketchBuildMs = (await timed(() => sketch.up(engine.db.kysely as Kysely<unknown>))).ms
    const row = await engine.db.kysely
      .selectFrom('source_lags')
      .select((eb) => [eb.fn.max('last_received_at').as('newest'), eb.fn.countAll<number | string>().as('rows')])
      .executeTakeFirstOrThrow()
    newest = Number(row.newest)
    sketchRows = Number(row.rows)
  } finally {
    await engine.close()
  }
  await backend.settle(store.location)
  const lateview = await openLateview(store.location, new ManualClock(newest))
  const app = await lateviewApp(lateview, null)
  try {
    const base = await listen(app)
    const requests = Math.max(3, Math.round(sizes.requests / 1000))
    const measure = async (window: string): Promise<SourcesWindow> => {
      const get = async () => {
        const res = await fetch(`${base}/v1/sources?window=${window}`)
        if (res.status !== 200) throw new Error(`GET /v1/sources?window=${window}: ${res.status} ${await res.text()}`)
        return (await res.json()) as { sources: SourceLateness[] }
      }
      const first = await get()
      const times: number[] = []
      let maxTimerDelayMs = 0
      for (let i = 0; i < requests; i++) {
        const started = performance.now()
        const { maxDelayMs } = await timerDelayDuring(get)
        times.push(performance.now() - started)
        maxTimerDelayMs = Math.max(maxTimerDelayMs, maxDelayMs)
      }
      return { window, events: first.sources.reduce((n, s) => n + s.count, 0), requests, medianMs: median(times), maxMs: Math.max(...times), maxTimerDelayMs }
    }
    const week = await measure('P7D')
    const all = await measure(`P${store.days + 10}D`)
    const idle = await timerDelayDuring(() => new Promise((resolve) => setTimeout(resolve, Math.max(100, all.medianMs * all.requests))))
    return { events: store.events, sketchBuildMs, sketchRows, week, all, idleTimerDelayMs: idle.maxDelayMs }
  } finally {
    await app.close()
    await lateview.close()
  }
}
