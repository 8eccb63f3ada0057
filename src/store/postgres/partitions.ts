import type { Db } from '../db.js'
import { queryRows } from '../db.js'

/**
 * PostgreSQL's events table is range-partitioned by the UTC month of `eff_occurred_at` (epoch
 * ms), one partition per month that holds an event (migration 0010): a period is read from the
 * partition(s) of its months only, and a retraction, filed under its target's occurrence, lies in
 * its target's partition.
 */

/** The first instant (epoch ms) of the UTC month holding `ms`. */
export function monthStart(ms: number): number {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/** The first instant of the UTC month after the one starting at `start`. */
export function nextMonth(start: number): number {
  const d = new Date(start)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** The partition of the UTC month starting at `start`: `events_y2026m03`. */
export function partitionName(start: number): string {
  const d = new Date(start)
  const year = d.getUTCFullYear()
  return `events_y${year < 0 ? 'n' : ''}${String(Math.abs(year)).padStart(4, '0')}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`
}

/**
 * The month partitions this process knows exist. Before a batch is inserted, `ensure` creates
 * those of its months that are missing, in the batch's transaction, under the ingest lock every
 * writer takes (so two processes never race on one month); they are remembered once that
 * transaction has committed (`remember`), as a rolled-back batch takes its partitions with it.
 */
export class EventPartitions {
  private readonly known = new Set<number>()

  /** Creates the missing partitions of these occurrence instants; returns the months created. */
  async ensure(db: Db, instants: Iterable<number>): Promise<number[]> {
    const wanted = new Set<number>()
    for (const ms of instants) {
      const start = monthStart(ms)
      if (!this.known.has(start)) wanted.add(start)
    }
    if (wanted.size === 0) return []
    const months = [...wanted].sort((a, b) => a - b)
    // Another process may have created some since this one looked: only the absent are created.
    const existing = new Set(
      (await queryRows<{ name: string }>(db, 'select relname as name from pg_class where relnamespace = current_schema()::regnamespace and relname = any(?::text[])', [months.map(partitionName)])).map(
        (r) => r.name,
      ),
    )
    const created: number[] = []
    for (const start of months) {
      const name = partitionName(start)
      if (existing.has(name)) {
        this.known.add(start)
        continue
      }
      // Created apart, then attached: ATTACH PARTITION takes a SHARE UPDATE EXCLUSIVE lock on
      // events, which readers (ACCESS SHARE) pass, where CREATE TABLE … PARTITION OF would
      // wait for every open read of events and hold back the reads that come after it.
      await queryRows(db, `create table ${name} (like events)`)
      await queryRows(db, `alter table events attach partition ${name} for values from (${start}) to (${nextMonth(start)})`)
      created.push(start)
    }
    return created
  }

  /** Months whose partitions a committed transaction created. */
  remember(months: readonly number[]): void {
    for (const m of months) this.known.add(m)
  }
}
