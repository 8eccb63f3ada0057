/**
 * Figure 8: peak memory of a server process taking the largest batches it accepts, alone and
 * several at once. Each scenario starts a fresh `lateview serve` (so its peak is its own), sends
 * the batches at once and reads the process's peak resident set (VmHWM) when all are answered.
 * The baseline is the same process idle after start-up.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Backend } from './stores.js'
import { ROOT } from './options.js'

/** The bound the README states for one server process, whatever arrives. */
export const MEMORY_BOUND_MB = 800

export interface MemoryScenario {
  name: string
  requests: number
  eventsPerRequest: number
  bodyMb: number
  /** Every request answered 200. */
  accepted: boolean
  ms: number
  peakRssMb: number
}

export interface MemoryFigures {
  idleRssMb: number
  scenarios: MemoryScenario[]
  boundMb: number
  pass: boolean
}

/** The largest body the server reads (app.ts BODY_LIMIT) less room for the array's brackets. */
const BODY_MB = 63

function kb(proc: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(proc)
  if (!match) throw new Error(`no ${field} in /proc status`)
  return Number(match[1])
}

function statusOf(child: ChildProcess): string {
  return readFileSync(`/proc/${child.pid}/status`, 'utf8')
}

function serve(db: string): Promise<{ child: ChildProcess; url: string }> {
  // Run as users run it: the file itself, so its #! line's node flags (the heap limit) apply.
  const child = spawn(join(ROOT, 'src/cli/lateview.mjs'), ['serve'], {
    cwd: ROOT,
    env: { ...process.env, LATEVIEW_DB: db, LATEVIEW_VIEWS: join(ROOT, 'views'), PORT: '0', LATEVIEW_SCHEDULER: 'off', LATEVIEW_LOG_LEVEL: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const seen = (d: Buffer) => {
      output += d.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) resolve({ child, url: match[1] as string })
    }
    child.stdout?.on('data', seen)
    child.stderr?.on('data', seen)
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)))
  })
}

/**
 * A batch of about BODY_MB MiB: `events` sales of the shipped daily_revenue view, each padded
 * with strings to fill its share (at most 64 KiB a string, 256 KiB an event).
 */
function batchBody(tag: string, events: number, now: number, scale: number): Buffer {
  // An event's data stays under the 256 KiB limit whatever the rounding of `events`.
  const perEvent = Math.min(Math.floor((BODY_MB * scale * 2 ** 20) / events), 255 * 1024) - 200
  const strings = Math.ceil(perEvent / 60_000)
  const pad = 'x'.repeat(Math.floor(perEvent / strings))
  const parts: string[] = []
  for (let i = 0; i < events; i++) {
    const data: Record<string, unknown> = { store: String(i % 50).padStart(3, '0'), channel: i % 3 === 0 ? 'online' : 'pos', amount: (i % 10_000) / 100 }
    for (let s = 0; s < strings; s++) data[`note${s}`] = pad
    parts.push(JSON.stringify({ id: `${tag}-${i}`, source: `store-${i % 50}`, type: 'sale', occurredAt: new Date(now - 60_000 - (i % 3600) * 1000).toISOString(), data }))
  }
  return Buffer.from(`[${parts.join(',')}]`)
}

async function scenario(backend: Backend, name: string, requests: number, eventsPerRequest: number, scale: number): Promise<MemoryScenario> {
  const now = Date.now()
  const bodies = Array.from({ length: requests }, (_, r) => batchBody(`${name}-${r}`, eventsPerRequest, now, scale))
  const server = await serve(backend.location(`memory-${name}`))
  try {
    const started = performance.now()
    const statuses = await Promise.all(
      bodies.map(async (body) => {
        const res = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        await res.arrayBuffer()
        return res.status
      }),
    )
    const ms = performance.now() - started
    const peakRssMb = Math.round(kb(statusOf(server.child), 'VmHWM') / 1024)
    return { name, requests, eventsPerRequest, bodyMb: Math.round((bodies[0] as Buffer).length / 2 ** 20), accepted: statuses.every((s) => s === 200), ms: Math.round(ms), peakRssMb }
  } finally {
    server.child.kill('SIGTERM')
    await new Promise((resolve) => server.child.once('exit', resolve))
  }
}

/** `scale` (at most 1) shrinks the batches, for the benchmark's own test; `quick` sends 3 at once instead of 8. */
export async function measureMemory(backend: Backend, quick: boolean, scale = 1): Promise<MemoryFigures> {
  const s = Math.min(1, scale)
  const idle = await serve(backend.location('memory-idle'))
  let idleRssMb: number
  try {
    await new Promise((resolve) => setTimeout(resolve, 500))
    idleRssMb = Math.round(kb(statusOf(idle.child), 'VmRSS') / 1024)
  } finally {
    idle.child.kill('SIGTERM')
    await new Promise((resolve) => idle.child.once('exit', resolve))
  }
  const many = quick ? 3 : 8
  const scenarios = [
    await scenario(backend, 'small-events', 1, Math.round(100_000 * s), s),
    await scenario(backend, `small-events-x${many}`, many, Math.round(100_000 * s), s),
    await scenario(backend, 'large-events', 1, Math.max(1, Math.round(254 * s)), s),
    await scenario(backend, `large-events-x${many}`, many, Math.max(1, Math.round(254 * s)), s),
  ]
  return { idleRssMb, scenarios, boundMb: MEMORY_BOUND_MB, pass: scenarios.every((s) => s.accepted && s.peakRssMb <= MEMORY_BOUND_MB) }
}
