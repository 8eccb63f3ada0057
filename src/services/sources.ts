import type { Kysely } from 'kysely'
import { isoDuration } from '../domain/alerts.js'
import { toIso } from '../domain/time.js'
import { cutoffAt } from '../store/revisions.js'
import type { Schema } from '../store/schema.js'

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

function percentile(sorted: number[], p: number): number {
  // Nearest rank: the smallest value with at least p of the values at or below it.
  const rank = Math.max(1, Math.ceil(p * sorted.length))
  return sorted[rank - 1] as number
}

/**
 * Lag statistics per source over events received in [now - windowMs, now] (retractions left
 * out): what an operator needs to choose an SLA. Ordered by source.
 */
export async function sourceLateness(db: Kysely<Schema>, now: number, windowMs: number): Promise<SourceLateness[]> {
  // receivedAt never decreases along seq: the window is a range of seqs.
  const before = (await cutoffAt(db, now - windowMs - 1)).seq
  const last = (await cutoffAt(db, now)).seq
  const rows = await db
    .selectFrom('events')
    .select(['source', 'occurred_at', 'received_at'])
    .where('seq', '>', before)
    .where('seq', '<=', last)
    .where('target_seq', 'is', null)
    .execute()
  const bySource = new Map<string, { lags: number[]; last: number }>()
  for (const r of rows) {
    const entry = bySource.get(r.source) ?? { lags: [], last: 0 }
    entry.lags.push(r.received_at - r.occurred_at)
    entry.last = Math.max(entry.last, r.received_at)
    bySource.set(r.source, entry)
  }
  return [...bySource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([source, { lags, last }]) => {
      lags.sort((a, b) => a - b)
      const p50 = percentile(lags, 0.5)
      const p99 = percentile(lags, 0.99)
      const max = lags[lags.length - 1] as number
      return { source, count: lags.length, p50LagMs: p50, p99LagMs: p99, maxLagMs: max, p50Lag: isoDuration(p50), p99Lag: isoDuration(p99), maxLag: isoDuration(max), lastReceivedAt: toIso(last) }
    })
}
