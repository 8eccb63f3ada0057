import { createReadStream, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseJsonExact } from '../domain/decimal.js'
import { NotJson } from '../domain/event.js'
import { isLateviewError, type EventProblem } from '../errors.js'
import type { Lateview } from '../services/lateview.js'
import { err, out, Progress } from './output.js'

export interface IngestFileOptions {
  batch: number
  imported: boolean
  keepGoing: boolean
  /** How the summary is printed: a line, or one JSON object. */
  format: 'table' | 'json'
}

/**
 * Streams an NDJSON file (or stdin) into the store in atomic batches. Stops at the first batch
 * that is refused, unless told to keep going; returns the exit code.
 */
export async function ingestFile(lateview: Lateview, path: string, options: IngestFileOptions): Promise<number> {
  const fromStdin = path === '-'
  const size = fromStdin ? null : statSync(path).size
  const stream = fromStdin ? process.stdin : createReadStream(path)
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  const progress = new Progress()
  const started = Date.now()
  const totals = { accepted: 0, duplicates: 0, rejected: 0, batches: 0, failedBatches: 0 }
  let bytes = 0
  let lineNo = 0
  let items: unknown[] = []
  let itemLines: number[] = []
  let inexact = false

  const flush = async (): Promise<boolean> => {
    if (items.length === 0) return true
    const batch = items
    const batchLines = itemLines
    const inexactNumbers = inexact
    items = []
    itemLines = []
    inexact = false
    totals.batches++
    try {
      const result = await lateview.ingest(batch, { imported: options.imported, inexactNumbers })
      totals.accepted += result.accepted
      totals.duplicates += result.duplicates
    } catch (error) {
      if (!isLateviewError(error)) throw error
      totals.failedBatches++
      totals.rejected += batch.length
      progress.done()
      err(`batch of lines ${batchLines[0]}-${batchLines[batchLines.length - 1]} refused (${error.code}): ${error.message}`)
      const problems = (error.details.errors as EventProblem[] | undefined) ?? []
      for (const p of problems.slice(0, 20)) err(`  line ${batchLines[p.index] ?? '?'}${p.id ? ` (id ${p.id})` : ''}: ${p.code}${p.field ? ` ${p.field}` : ''}: ${p.message}`)
      if (problems.length > 20) err(`  … and ${problems.length - 20} more`)
      if (error.details.index !== undefined) err(`  line ${batchLines[error.details.index as number] ?? '?'}`)
      return options.keepGoing
    }
    progress.update(bytes, size, `${totals.accepted + totals.duplicates} events`)
    return true
  }

  let stopped = false
  for await (const line of lines) {
    lineNo++
    bytes += Buffer.byteLength(line) + 1
    const text = line.trim()
    if (text.length === 0) continue
    try {
      // Read losslessly: a number JSON.parse would change is refused by ingest, not rounded.
      const parsed = parseJsonExact(text)
      inexact ||= !parsed.exact
      items.push(parsed.value)
    } catch (error) {
      items.push(new NotJson(`line ${lineNo} is not JSON: ${(error as Error).message}`, lineNo))
    }
    itemLines.push(lineNo)
    if (items.length >= options.batch && !(await flush())) {
      stopped = true
      break
    }
  }
  if (!stopped) await flush()
  lines.close()
  progress.done()
  const seconds = (Date.now() - started) / 1000
  const rate = Math.round((totals.accepted + totals.duplicates) / Math.max(seconds, 0.001))
  if (options.format === 'json') out(JSON.stringify({ ...totals, stopped, seconds, eventsPerSecond: rate }))
  else
    out(
      `ingested ${totals.accepted} events, ${totals.duplicates} duplicates, ${totals.rejected} refused in ${totals.batches} batches` +
        `${totals.failedBatches ? ` (${totals.failedBatches} refused${stopped ? ', stopped' : ''})` : ''} in ${seconds.toFixed(1)} s (${rate} events/s)`,
    )
  return totals.failedBatches > 0 ? 1 : 0
}
