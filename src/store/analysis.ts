import type { Db } from './db.js'
import { exactRows, queryRows } from './engine.js'
import type { RevisionCellsTable, RevisionsTable } from './schema.js'

/**
 * Every revision of a view's periods with keys from `from` to `to` (inclusive, compared as
 * text: keys of one granularity sort as their periods do), by period and revision number.
 */
export async function revisionsBetween(db: Db, view: string, from: string, to: string): Promise<RevisionsTable[]> {
  return db.kysely.selectFrom('revisions').selectAll().where('view', '=', view).where('period', '>=', from).where('period', '<=', to).orderBy('period').orderBy('revision').execute()
}

/**
 * The revision cell rows of a view's periods from `from` to `to` (each valid for revisions
 * [from_revision, to_revision)), exact: what totals over filtered rows are computed from.
 */
export async function revisionCellsBetween(db: Db, view: string, from: string, to: string): Promise<RevisionCellsTable[]> {
  return exactRows<RevisionCellsTable>(db, 'select * from revision_cells where view = ? and period >= ? and period <= ? order by period, dims_key, from_revision', [view, from, to])
}

/** A retraction as a vintage needs it: which event it voids, and from which knowledge on. */
export interface RetractionReceipt {
  seq: number
  target_seq: number
  received_at: number
}

/**
 * Every retraction's seq, target and receivedAt, whatever its seq (through the retraction index:
 * a bound on seq would make SQLite walk the table); the caller filters by seq.
 */
export async function retractionReceipts(db: Db): Promise<RetractionReceipt[]> {
  const rows = await queryRows<RetractionReceipt>(db, 'select seq, target_seq, received_at from events where target_seq is not null')
  return rows.map((r) => ({ seq: Number(r.seq), target_seq: Number(r.target_seq), received_at: Number(r.received_at) }))
}
