/**
 * The HTTP client of figures 2 and 3, in a process of its own so that it does not share the
 * servers' event loop or core. Driven over IPC by bench/http.ts; uses node's fetch (undici,
 * keep-alive).
 *
 * ingest:  generates the fixture's batches (between timed blocks) and sends them in blocks, each
 *          block to every target in turn with `concurrency` requests in flight, timing each
 *          target's blocks.
 * latency: sequential GETs of random paths, interleaved in blocks between the targets.
 */
import { fixtureStream, httpBatches, type HttpBatch } from './data.js'
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
  requests: number
  warmup: number
  block: number
  seed: number
}

export interface LatencyReport {
  kind: 'latency'
  latencies: Record<string, number[]>
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

async function latency(task: LatencyTask): Promise<LatencyReport> {
  const random = prng(task.seed)
  const pick = (paths: string[]) => paths[Math.floor(random() * paths.length)] as string
  const get = async (url: string) => {
    const res = await fetch(url)
    const text = await res.text()
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 500)}`)
  }
  for (const t of task.targets) for (let i = 0; i < task.warmup; i++) await get(t.base + pick(t.paths))
  const latencies: Record<string, number[]> = Object.fromEntries(task.targets.map((t) => [t.name, []]))
  for (let done = 0; done < task.requests; done += task.block) {
    const n = Math.min(task.block, task.requests - done)
    for (const t of task.targets) {
      const into = latencies[t.name] as number[]
      for (let i = 0; i < n; i++) {
        const url = t.base + pick(t.paths)
        const started = performance.now()
        await get(url)
        into.push(performance.now() - started)
      }
    }
  }
  return { kind: 'latency', latencies }
}

process.on('message', (task: IngestTask | LatencyTask) => {
  const run = task.kind === 'ingest' ? ingest(task) : latency(task)
  run.then(
    (report) => process.send?.(report, () => process.disconnect()),
    (error: Error) => process.send?.({ kind: 'error', message: error.stack ?? error.message }, () => process.disconnect()),
  )
})
