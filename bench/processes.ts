/**
 * Several `lateview serve` processes on one PostgreSQL schema (PostgreSQL only).
 *
 * 1. Throughput: the same total of events sent over HTTP to 1, 2 and 3 processes (schedulers
 *    off, a fresh schema each), batches of 1,000 spread round-robin, with 2 requests in flight
 *    per process (so the client concurrency grows with the processes). Every write takes one
 *    advisory lock: parsing and validation run side by side, the store transaction does not.
 * 2. The long form of test/lifecycle/processes.test.ts: 3 processes, schedulers on, ingest with
 *    duplicates and retractions and manual jobs for minutes, then the same checks.
 */
import type { Log } from './common.js'
import type { Backend } from './stores.js'
import { type FleetOutcome, runFleet } from '../test/helpers/fleet-run.js'
import { Oracle } from '../test/helpers/multi-writer.js'
import { exited, type ServerProcess, serveProcess } from '../test/helpers/server-process.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FLEET_VIEW } from '../test/helpers/multi-writer.js'

export interface ProcessesFigures {
  events: number
  batch: number
  inFlightPerProcess: number
  throughput: Array<{ processes: number; eventsPerSec: number; ms: number; ratioToOne: number }>
  check: Omit<FleetOutcome, 'expected' | 'live'> & { ok: boolean }
}

const BATCH = 1000
const IN_FLIGHT = 2

async function throughput(location: string, processes: number, events: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'lateview-bench-processes-'))
  const servers: ServerProcess[] = []
  try {
    writeFileSync(join(dir, 'fleet.json'), JSON.stringify(FLEET_VIEW))
    servers.push(...(await Promise.all(Array.from({ length: processes }, () => serveProcess(location, dir, 'off')))))
    const oracle = new Oracle()
    const now = Date.now()
    const batches = Array.from({ length: Math.ceil(events / BATCH) }, (_, i) => JSON.stringify(oracle.newSales('b', i, BATCH, now)))
    let next = 0
    const started = performance.now()
    const worker = async (server: ServerProcess) => {
      for (let i = next++; i < batches.length; i = next++) {
        const response = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batches[i] as string })
        const text = await response.text()
        if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${text.slice(0, 300)}`)
      }
    }
    await Promise.all(servers.flatMap((s) => Array.from({ length: IN_FLIGHT }, () => worker(s))))
    return performance.now() - started
  } finally {
    for (const s of servers) s.child.kill('SIGTERM')
    await Promise.all(servers.map((s) => exited(s.child)))
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function measureProcesses(backend: Backend, options: { quick: boolean; scale: number }, log: Log): Promise<ProcessesFigures> {
  const events = Math.max(BATCH, Math.round((options.quick ? 20_000 : 100_000) * options.scale))
  const rows: ProcessesFigures['throughput'] = []
  for (const processes of [1, 2, 3]) {
    const ms = await throughput(backend.location(`processes-${processes}`), processes, events)
    const eventsPerSec = Math.round(events / (ms / 1000))
    const one = rows[0]?.eventsPerSec ?? eventsPerSec
    rows.push({ processes, eventsPerSec, ms: Math.round(ms), ratioToOne: Number((eventsPerSec / one).toFixed(2)) })
    log(`processes: ${processes} × serve, ${events} events over HTTP: ${eventsPerSec} events/s (${(eventsPerSec / one).toFixed(2)} × one process)`)
  }
  const checkMs = Number(process.env.LATEVIEW_PROCESSES_MS ?? (options.quick ? 20_000 : 180_000))
  log(`processes: 3 × serve, schedulers on, ingest, duplicates, retractions and jobs for ${checkMs / 1000} s`)
  const { expected, live, ...outcome } = await runFleet(backend.location('processes-check'), { processes: 3, ms: checkMs })
  const ok =
    outcome.serverErrors.length === 0 &&
    outcome.unexpected.length === 0 &&
    outcome.stored.distinctKeys === outcome.stored.events &&
    outcome.stored.gaps.length === 0 &&
    outcome.verify.realtime === 0 &&
    outcome.verify.revisions === 0 &&
    outcome.figuresMatch
  log(
    `processes: check ${ok ? 'passed' : 'FAILED'}: answers ${JSON.stringify(outcome.answers)}, ${outcome.stored.events} events (${outcome.stored.distinctKeys} distinct), ${outcome.stored.revisions} revisions, verify differences ${outcome.verify.realtime}+${outcome.verify.revisions}, retries ${outcome.retries}, live = oracle over ${expected.length} days: ${JSON.stringify(expected) === JSON.stringify(live)}`,
  )
  if (!ok) throw new Error(`the multi-process check failed: ${JSON.stringify({ ...outcome, expected, live }).slice(0, 2000)}`)
  return { events, batch: BATCH, inFlightPerProcess: IN_FLIGHT, throughput: rows, check: { ...outcome, ok } }
}
