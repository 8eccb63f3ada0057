/**
 * Several `lateview serve` processes on one PostgreSQL schema, schedulers on (the fleet view is
 * rebuilt every second by each), taking HTTP ingest for `ms`: batches to every process, some to
 * two processes at once, retractions (also to two at once), manual rebuilds and restatements on
 * every process. Then the processes stop and the store is checked. Used by
 * test/lifecycle/processes.test.ts (short) and the benchmark's `processes` section (long).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { openEngine } from '../../src/store/engine.js'
import { FLEET, FLEET_VIEW, fleetView, liveFigures, Oracle, type Retraction, type Sale, sortedEntries, storeFacts } from './multi-writer.js'
import { exited, type ServerProcess, serveProcess } from './server-process.js'

export interface FleetOutcome {
  processes: number
  ms: number
  /** Requests by answer: `200`, or `status code` for the others. */
  answers: Record<string, number>
  /** Answers 500 and above other than 503 LV_ERR_STORE_BUSY / LV_ERR_STORE_UNAVAILABLE. */
  serverErrors: string[]
  /** Anything else unexpected (a 4xx on a request that should pass). */
  unexpected: string[]
  eventsSent: number
  duplicatesAnswered: number
  stored: { events: number; distinctKeys: number; revisions: number; gaps: string[] }
  verify: { realtime: number; revisions: number }
  figuresMatch: boolean
  expected: Array<[string, { cents: number; orders: number }]>
  live: Array<[string, { cents: number; orders: number }]>
  /** Write transactions run again after a conflict, summed over the processes' /metrics. */
  retries: number
}

async function post(url: string, body: unknown): Promise<{ status: number; body: { code?: string; duplicates?: number } }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: (await response.json()) as { code?: string; duplicates?: number } }
}

async function stop(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM')
  await exited(server.child)
}

export async function runFleet(location: string, options: { processes: number; ms: number; batch?: number }): Promise<FleetOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'lateview-fleet-'))
  const servers: ServerProcess[] = []
  const batchSize = options.batch ?? 20
  const answers: Record<string, number> = {}
  const serverErrors: string[] = []
  const unexpected: string[] = []
  const oracle = new Oracle()
  let duplicatesAnswered = 0
  let eventsSent = 0
  try {
    writeFileSync(join(dir, 'fleet.json'), JSON.stringify(FLEET_VIEW))
    // Started together: they migrate and register the view at once.
    servers.push(...(await Promise.all(Array.from({ length: options.processes }, () => serveProcess(location, dir, 'on')))))
    const started = Date.now()
    const running = () => Date.now() - started < options.ms

    /** Sends until an answer other than 503 (a client retrying, as LV_ERR_STORE_BUSY asks); returns it. */
    const send = async (server: ServerProcess, path: string, body: unknown, expect: number[]) => {
      for (;;) {
        const answer = await post(`${server.url}${path}`, body)
        const key = answer.status === 200 ? '200' : `${answer.status} ${answer.body.code ?? ''}`
        answers[key] = (answers[key] ?? 0) + 1
        if (answer.status >= 500 && !(answer.status === 503 && (answer.body.code === 'LV_ERR_STORE_BUSY' || answer.body.code === 'LV_ERR_STORE_UNAVAILABLE')))
          serverErrors.push(`${path} ${answer.status}: ${JSON.stringify(answer.body)}`)
        if (answer.status === 503 && running()) {
          await new Promise((resolve) => setTimeout(resolve, 50))
          continue
        }
        if (!expect.includes(answer.status)) unexpected.push(`${path} ${answer.status}: ${JSON.stringify(answer.body)}`)
        return answer
      }
    }

    const ingestWorker = async (worker: number) => {
      const writer = `w${worker}`
      let retractions = 0
      for (let i = 0; running(); i++) {
        const pair = [servers[(worker + i) % servers.length], servers[(worker + i + 1) % servers.length]] as [ServerProcess, ServerProcess]
        const events: Array<Sale | Retraction> = oracle.newSales(writer, i, batchSize, Date.now())
        // Every third batch also retracts one of this writer's stored sales.
        const retraction = i % 3 === 2 ? oracle.retraction(writer, retractions++ * 7) : null
        if (retraction) events.push(retraction)
        // Every fourth batch goes to two processes at once: one stores it, the other finds duplicates.
        const targets = i % 4 === 0 ? pair : [pair[0]]
        const results = await Promise.all(targets.map((s) => send(s, '/v1/events', events, [200])))
        eventsSent += events.length * targets.length
        for (const r of results) duplicatesAnswered += r.body.duplicates ?? 0
        if (results.every((r) => r.status === 200)) oracle.stored(events)
      }
    }
    const jobWorker = async (worker: number) => {
      for (let i = 0; running(); i++) {
        const server = servers[(worker + i) % servers.length] as ServerProcess
        const day = new Date(Date.now() - (i % 2) * 86_400_000).toISOString().slice(0, 10)
        // A restatement of a period with no event yet is refused (409 LV_ERR_PERIOD_EMPTY): honest.
        if (i % 2 === 0) await send(server, '/v1/jobs/rebuild', { view: FLEET }, [200])
        else await send(server, `/v1/views/${FLEET}/periods/${day}/restate`, {}, [200, 409])
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    await Promise.all([...Array.from({ length: options.processes * 2 }, (_, w) => ingestWorker(w)), ...Array.from({ length: options.processes }, (_, w) => jobWorker(w))])
    // One more turn of the scheduled rebuilders, then the retries counted by each process.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    let retries = 0
    for (const server of servers) {
      const text = await (await fetch(`${server.url}/metrics`)).text()
      retries += Number(/^lateview_store_write_retries_total (\d+)/m.exec(text)?.[1] ?? 0)
    }
    const ms = Date.now() - started
    await Promise.all(servers.splice(0).map(stop))

    const engine = await openEngine(location)
    try {
      const lateview = await Lateview.fromEngine(engine, [fleetView()], systemClock)
      const stored = await storeFacts(engine, FLEET)
      const verified = await lateview.verifyStore()
      const expected = sortedEntries(oracle.figures())
      const live = sortedEntries(liveFigures((await lateview.realtime(FLEET)).cells))
      return {
        processes: options.processes,
        ms,
        answers,
        serverErrors,
        unexpected,
        eventsSent,
        duplicatesAnswered,
        stored: { ...stored, events: stored.events },
        verify: { realtime: verified.realtime.differences.length, revisions: verified.revisions.differences.length },
        figuresMatch: JSON.stringify(expected) === JSON.stringify(live) && stored.events === oracle.eventCount,
        expected,
        live,
        retries,
      }
    } finally {
      await engine.close()
    }
  } finally {
    await Promise.all(servers.map(stop))
    rmSync(dir, { recursive: true, force: true })
  }
}
