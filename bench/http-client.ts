/**
 * The HTTP client of figures 2 and 3, in a process of its own so that it does not share the
 * servers' event loop or core. Driven over IPC by bench/http.ts.
 *
 * ingest:  node's fetch (undici, keep-alive). Generates the fixture's batches (between timed
 *          blocks) and sends them in blocks, each block to every target in turn with
 *          `concurrency` requests in flight, timing each target's blocks.
 * latency: every path once, a warm-up, then timed sequential GETs of random paths, interleaved in
 *          blocks between the targets, over one keep-alive connection per target
 *          (bench/keep-alive.ts): fetch's own cost was most of a cached answer's round trip.
 */
import { fixtureStream, httpBatches, type HttpBatch } from './data.js'
import { getRequest, KeepAliveConnection } from './keep-alive.js'
import { prng } from './stats.js'

export interface IngestTask {
  kind: 'ingest'
  data: { perDay: number; days: number; limit: number }
  targets: Array<{ name: string; url: string }>
  blockBatches: number
  concurrency: number
  /** Stop after the block in which `budgetTarget` passed this many ms; null: send everything. */
  budgetMs: number | null
  budgetTarget: string
}

export interface IngestReport {
  kind: 'ingest'
  batches: number
  results: Record<string, { events: number; ms: number; requests: number }>
}

export interface LatencyTask {
  kind: 'latency'
  targets: Array<{ name: string; base: string; paths: string[] }>
  /** Timed requests per target, after one request of every path and `warmup` more. */
  requests: number
  warmup: number
  block: number
  seed: number
}

export interface LatencyReport {
  kind: 'latency'
  /** Each target's timed requests, in ms. */
  latencies: Record<string, number[]>
  /** Each target's first request of every path (a shuffled pass before the warm-up), in ms. */
  firstReads: Record<string, number[]>
}

async function post(url: string, line: HttpBatch): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: line.body, headers: { 'content-type': 'application/json', 'x-bench-now': String(line.newest) } })
  const text = await res.text()
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${text.slice(0, 500)}`)
}

/** Sends one block to one target, `concurrency` at a time, each batch after the batch its retractions need. */
async function sendBlock(url: string, block: HttpBatch[], first: number, concurrency: number): Promise<void> {
  const done = new Map<number, Promise<void>>()
  let next = 0
  const worker = async () => {
    for (let i = next++; i < block.length; i = next++) {
      const line = block[i] as HttpBatch
      const dep = done.get(line.dep)
      // Registered before waiting, so a later batch that needs this one finds it.
      const sent = (async () => {
        if (dep) await dep
        await post(url, line)
      })()
      done.set(first + i, sent)
      await sent
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

async function ingest(task: IngestTask): Promise<IngestReport> {
  const results: IngestReport['results'] = Object.fromEntries(task.targets.map((t) => [t.name, { events: 0, ms: 0, requests: 0 }]))
  let block: HttpBatch[] = []
  let first = 0
  const flush = async () => {
    for (const target of task.targets) {
      const started = performance.now()
      await sendBlock(target.url, block, first, task.concurrency)
      const r = results[target.name] as IngestReport['results'][string]
      r.ms += performance.now() - started
      r.requests += block.length
      r.events += block.reduce((n, b) => n + b.events, 0)
    }
    first += block.length
    block = []
  }
  for (const batch of httpBatches(fixtureStream(task.data))) {
    block.push(batch)
    if (block.length === task.blockBatches) {
      await flush()
      if (task.budgetMs !== null && (results[task.budgetTarget]?.ms ?? 0) > task.budgetMs) break
    }
  }
  if (block.length > 0) await flush()
  return { kind: 'ingest', batches: first, results }
}

/** A target of the latency task: its connection and every path's request, serialised once. */
interface LatencyTarget {
  name: string
  connection: KeepAliveConnection
  requests: Buffer[]
  paths: string[]
  /** Each path's body length in its first answer: a later answer of another length is an error. */
  lengths: Int32Array
}

async function latency(task: LatencyTask): Promise<LatencyReport> {
  const random = prng(task.seed)
  const targets: LatencyTarget[] = []
  for (const t of task.targets) {
    const url = new URL(t.base)
    targets.push({
      name: t.name,
      connection: await KeepAliveConnection.open(url.hostname, Number(url.port)),
      requests: t.paths.map((path) => getRequest(url.host, path)),
      paths: t.paths,
      lengths: new Int32Array(t.paths.length).fill(-1),
    })
  }
  /** Sends one request of path `i` (a random one by default); returns its duration in ms once the answer is checked. */
  const get = async (target: LatencyTarget, i = Math.floor(random() * target.paths.length)): Promise<number> => {
    const started = process.hrtime.bigint()
    const res = await target.connection.request(target.requests[i] as Buffer)
    const ms = Number(res.at - started) / 1e6
    const path = target.paths[i] as string
    if (res.status !== 200) throw new Error(`GET ${path} on ${target.name} answered ${res.status}: ${res.body.toString('utf8', 0, 500)}`)
    const expected = target.lengths[i] as number
    if (expected < 0) {
      JSON.parse(res.body.toString('utf8'))
      target.lengths[i] = res.body.length
    } else if (res.body.length !== expected) {
      throw new Error(`GET ${path} on ${target.name}: a body of ${res.body.length} bytes, earlier ${expected}`)
    }
    return ms
  }
  try {
    // Every path once first, so that each target is timed with every report read before (a
    // published revision is then answered from memory), whatever its number of periods.
    const firstReads: Record<string, number[]> = {}
    for (const t of targets) {
      const order = t.paths.map((_, i) => i)
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[order[i], order[j]] = [order[j] as number, order[i] as number]
      }
      const times: number[] = []
      for (const i of order) times.push(await get(t, i))
      firstReads[t.name] = times
    }
    for (const t of targets) for (let i = 0; i < task.warmup; i++) await get(t)
    const timed = targets.map(() => new Float64Array(task.requests))
    for (let done = 0; done < task.requests; done += task.block) {
      const n = Math.min(task.block, task.requests - done)
      for (let k = 0; k < targets.length; k++) {
        const into = timed[k] as Float64Array
        for (let i = done; i < done + n; i++) into[i] = await get(targets[k] as LatencyTarget)
      }
    }
    return { kind: 'latency', latencies: Object.fromEntries(targets.map((t, k) => [t.name, Array.from(timed[k] as Float64Array)])), firstReads }
  } finally {
    for (const t of targets) t.connection.close()
  }
}

process.on('message', (task: IngestTask | LatencyTask) => {
  const run = task.kind === 'ingest' ? ingest(task) : latency(task)
  run.then(
    (report) => process.send?.(report, () => process.disconnect()),
    (error: Error) => process.send?.({ kind: 'error', message: error.stack ?? error.message }, () => process.disconnect()),
  )
})
