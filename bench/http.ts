/**
 * Figure 2: HTTP ingest through lateview's app (buildApp over a Lateview, listening on
 * 127.0.0.1:0) against a bare fastify route that inserts the same batches with raw prepared
 * statements; the client is bench/http-client.ts in a process of its own, 2 requests in flight.
 *
 * The batches are sent live (receivedAt is the server clock), not as an import: with two
 * connections a later batch can commit first, and an import refuses receivedAt going backwards.
 * The server's clock follows the data: each request carries the newest receivedAt of its batch.
 */
import { fork } from 'node:child_process'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { buildApp } from '../src/api/app.js'
import type { ManualClock } from '../src/domain/clock.js'
import type { Lateview } from '../src/services/lateview.js'
import { compare, lateClock, openLateview, type Comparison } from './common.js'
import { bareRow } from './data.js'
import type { IngestReport, IngestTask, LatencyReport, LatencyTask } from './http-client.js'
import { ROOT, type Sizes } from './options.js'
import type { Backend } from './stores.js'

export interface HttpFigures {
  events: number
  batches: number
  capped: boolean
  /** TCP connections each server saw (the client keeps 2 alive). */
  connections: { library: number; bare: number }
  library: { eventsPerSec: number; ms: number; alerts: number }
  bare: { eventsPerSec: number; ms: number }
  ratio: Comparison
}

/** Runs one task in a fresh client process and returns its report. */
export function runClient<R extends IngestReport | LatencyReport>(task: IngestTask | LatencyTask): Promise<R> {
  return new Promise((resolve, reject) => {
    const child = fork(join(ROOT, 'bench/http-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let answered = false
    child.on('message', (message: R | { kind: 'error'; message: string }) => {
      answered = true
      if (message.kind === 'error') reject(new Error(`http client: ${message.message}`))
      else resolve(message as R)
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (!answered) reject(new Error(`http client exited with code ${code} before answering`))
    })
    child.send(task)
  })
}

export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** lateview's own app over `lateview`, its clock set from each request's x-bench-now. */
export async function lateviewApp(lateview: Lateview, clock: ManualClock | null): Promise<FastifyInstance> {
  const app = await buildApp({ tokens: null, logLevel: 'silent' }, { lateview })
  if (clock) {
    app.addHook('onRequest', async (request) => {
      const now = Number(request.headers['x-bench-now'])
      if (Number.isFinite(now) && now > clock.now()) clock.set(now)
    })
  }
  return app
}

export async function measureHttp(backend: Backend, sizes: Sizes, budgetMs: number): Promise<HttpFigures> {
  const clock = lateClock()
  clock.set(0)
  const lateview = await openLateview(backend.location('http_lib'), clock)
  const sink = await backend.rawSink('http_bare')
  const apps: FastifyInstance[] = []
  try {
    const app = await lateviewApp(lateview, clock)
    apps.push(app)
    const bare = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 })
    apps.push(bare)
    bare.post('/v1/events', async (request) => {
      const now = Number(request.headers['x-bench-now'])
      const rows = (request.body as Array<Record<string, unknown>>).map((item) => bareRow(item, now))
      await sink.insertBare(rows)
      return { accepted: rows.length }
    })
    const connections = { library: 0, bare: 0 }
    app.server.on('connection', () => connections.library++)
    bare.server.on('connection', () => connections.bare++)
    const urls = { library: `${await listen(app)}/v1/events`, bare: `${await listen(bare)}/v1/events` }

    const report = await runClient<IngestReport>({
      kind: 'ingest',
      data: { perDay: sizes.perDay, days: Math.ceil(sizes.httpEvents / sizes.perDay) + 3, limit: sizes.httpEvents },
      targets: [
        { name: 'library', url: urls.library },
        { name: 'bare', url: urls.bare },
      ],
      blockBatches: 5,
      concurrency: 2,
      // IPC is JSON: Infinity would arrive as null.
      budgetMs: Number.isFinite(budgetMs) ? budgetMs : null,
      budgetTarget: 'library',
    })
    const lib = report.results.library as IngestReport['results'][string]
    const raw = report.results.bare as IngestReport['results'][string]
    const alerts = Number(
      (
        await lateview.engine.db.kysely
          .selectFrom('alerts')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )
    const library = { eventsPerSec: lib.events / (lib.ms / 1000), ms: lib.ms, alerts }
    const bareFigure = { eventsPerSec: raw.events / (raw.ms / 1000), ms: raw.ms }
    return {
      events: lib.events,
      batches: report.batches,
      capped: lib.events < sizes.httpEvents,
      connections,
      library,
      bare: bareFigure,
      ratio: compare(library.eventsPerSec, bareFigure.eventsPerSec, 0.5, true),
    }
  } finally {
    for (const app of apps) await app.close()
    await sink.close()
    await lateview.close()
  }
}
