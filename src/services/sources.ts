import type { Db } from '../store/db.js'
import { isoDuration } from '../domain/alerts.js'
import { toIso } from '../domain/time.js'
import { addToSourceLags, countBuckets, HOUR_MS, hourOf, lagBucket, lagBucketCeiling, sourceLagPage, type SourceHourChange } from '../store/sources.js'

export interface SourceLateness {
  source: string
  count: number
  p50LagMs: number
  p99LagMs: number
  maxLagMs: number
  p50Lag: string
  p99Lag: string
  maxLag: string
  lastReceivedAt: string
}

/** The answer of GET /v1/sources: the whole hours read, [from, to), and the figures per source. */
export interface SourcesReport {
  from: string
  to: string
  sources: SourceLateness[]
}

/** An event as ingest admits it, as far as its lag goes. */
export interface LaggedEvent {
  receivedAt: number
  event: { source: string; occurredAt: number }
  /** Set for a retraction. */
  target: unknown
}

/**
 * Adds the lags of a batch's accepted events to the sketch of /v1/sources, in the ingest
 * transaction: summed per (receivedAt hour, source) first, so a row is written once per batch.
 * A retraction adds nothing and takes nothing away: its target did arrive with its lag.
 */
export async function addSourceLags(db: Db, accepted: readonly LaggedEvent[]): Promise<void> {
  await addToSourceLags(db, lagChanges(accepted))
}

/** What a batch adds to the sketch: one change per (receivedAt hour, source), retractions left out. */
export function lagChanges(accepted: readonly LaggedEvent[]): SourceHourChange[] {
  const changes: SourceHourChange[] = []
  // The buckets of each change's events, counted at the end.
  const lists: number[][] = []
  const byHour = new Map<number, Map<string, number>>()
  // This runs for every event ingested. A batch arrives in receivedAt order, mostly in runs of
  // one source: the hour is looked up only when an event leaves the last one, the source's row
  // only when the source changes.
  let hourStart = 0
  let hourEnd = 0
  let inHour = new Map<string, number>()
  let at = -1
  for (const a of accepted) {
    if (a.target !== null) continue
    const received = a.receivedAt
    const source = a.event.source
    const lag = received - a.event.occurredAt
    if (at < 0 || received < hourStart || received >= hourEnd) {
      hourStart = hourOf(received)
      hourEnd = hourStart + HOUR_MS
      let rows = byHour.get(hourStart)
      if (!rows) byHour.set(hourStart, (rows = new Map()))
      inHour = rows
      at = -1
    }
    if (at < 0 || (changes[at] as SourceHourChange).source !== source) {
      at = inHour.get(source) ?? -1
      if (at < 0) {
        at = changes.push({ hour: hourStart, source, events: 0, maxLag: lag, lastReceivedAt: received, buckets: [] }) - 1
        lists.push([])
        inHour.set(source, at)
      }
    }
    const c = changes[at] as SourceHourChange
    c.events++
    if (lag > c.maxLag) c.maxLag = lag
    if (received > c.lastReceivedAt) c.lastReceivedAt = received
    ;(lists[at] as number[]).push(lagBucket(lag))
  }
  for (let i = 0; i < changes.length; i++) (changes[i] as SourceHourChange).buckets = countBuckets(lists[i] as number[])
  return changes
}

/** Rows of the sketch read between two turns of the event loop (a few hundred kB of JSON at most). */
const PAGE_ROWS = 256

/** Nearest rank: the smallest lag with at least num/den of the lags at or below it, as its bucket's ceiling, never above the largest lag. */
function percentile(buckets: Map<number, number>, sorted: number[], count: number, maxLag: number, num: number, den: number): number {
  const rank = Math.max(1, Math.ceil((num * count) / den))
  let seen = 0
  for (const b of sorted) {
    seen += buckets.get(b) as number
    if (seen >= rank) return Math.min(lagBucketCeiling(b), maxLag)
  }
  return maxLag
}

/**
 * Lag statistics per source over the events received in the whole UTC hours that overlap
 * [now - windowMs, now] (retractions left out), read from the sketch a page at a time, giving
 * the event loop a turn between pages. Count, largest lag and last receivedAt are exact; p50
 * and p99 are the nearest-rank lag rounded up to its bucket's end: never below it, and less
 * than 1/128 of its magnitude above it. Ordered by source.
 */
export async function sourceLateness(db: Db, now: number, windowMs: number): Promise<SourcesReport> {
  const fromHour = hourOf(now - windowMs)
  const toHour = hourOf(now)
  const bySource = new Map<string, { count: number; max: number; last: number; buckets: Map<number, number> }>()
  let after: { hour: number; source: string } | null = null
  for (;;) {
    const page = await sourceLagPage(db, fromHour, toHour, after, PAGE_ROWS)
    for (const row of page) {
      let s = bySource.get(row.source)
      if (!s) bySource.set(row.source, (s = { count: 0, max: row.maxLag, last: row.lastReceivedAt, buckets: new Map() }))
      s.count += row.events
      if (row.maxLag > s.max) s.max = row.maxLag
      if (row.lastReceivedAt > s.last) s.last = row.lastReceivedAt
      const pairs = row.buckets
      for (let i = 0; i < pairs.length; i += 2) {
        const b = pairs[i] as number
        s.buckets.set(b, (s.buckets.get(b) ?? 0) + (pairs[i + 1] as number))
      }
    }
    const end = page[page.length - 1]
    if (page.length < PAGE_ROWS || end === undefined) break
    after = { hour: end.hour, source: end.source }
    // On SQLite every page is read synchronously: the turn in between is what keeps /healthz answering.
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  const sources = [...bySource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([source, { count, max, last, buckets }]) => {
      const sorted = [...buckets.keys()].sort((a, b) => a - b)
      const p50 = percentile(buckets, sorted, count, max, 1, 2)
      const p99 = percentile(buckets, sorted, count, max, 99, 100)
      return { source, count, p50LagMs: p50, p99LagMs: p99, maxLagMs: max, p50Lag: isoDuration(p50), p99Lag: isoDuration(p99), maxLag: isoDuration(max), lastReceivedAt: toIso(last) }
    })
  return { from: toIso(fromHour), to: toIso(toHour + HOUR_MS), sources }
}
