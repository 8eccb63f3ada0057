import type { Kysely } from 'kysely'
import { piecesOf } from '../../domain/time.js'
import type { EventScan, ScanRow } from '../engine.js'
import type { Schema } from '../schema.js'

/**
 * A scan as keyset pages of 10,000 rows in seq order, in portable Kysely: PostgreSQL's scan, and
 * that of a SQLite Kysely instance not opened by `openEngine` (no better-sqlite3 handle to use).
 */
export async function forEachPaged(db: Kysely<Schema>, scan: EventScan, visit: (row: ScanRow) => void): Promise<void> {
  let after = scan.afterSeq ?? 0
  for (;;) {
    let q = db
      .selectFrom('events')
      .select(['seq', 'source', 'id', 'type', 'occurred_at', 'received_at', 'data', 'retracts', 'target_seq'])
      .where('eff_type', 'in', [...scan.types])
      .where('seq', '<=', scan.maxSeq)
      .where('seq', '>', after)
    const range = scan.range
    if (range) q = q.where((eb) => eb.or(piecesOf(range).map((p) => eb.and([eb('eff_occurred_at', '>=', p.start), eb('eff_occurred_at', '<', p.end)]))))
    if (scan.originalsOnly) q = q.where('target_seq', 'is', null)
    const rows = await q.orderBy('seq').limit(10_000).execute()
    if (scan.parse) for (const row of rows) visit({ ...row, parsed: JSON.parse(row.data) as Record<string, unknown>, data: '' })
    else for (const row of rows) visit(row)
    if (rows.length < 10_000) return
    after = (rows[rows.length - 1] as ScanRow).seq
  }
}
