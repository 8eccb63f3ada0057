import type { Kysely } from 'kysely'
import type { StoredEvent } from '../domain/event.js'
import type { PeriodRange } from '../domain/time.js'
import { forEachEvent, marks, queryRows, rowToEvent, type ScanRow } from './engine.js'
import type { EventsTable, Schema } from './schema.js'

/** One stored event by its (source, id), or null. */
export async function getEvent(db: Kysely<Schema>, source: string, id: string): Promise<StoredEvent | null> {
  const row = await db.selectFrom('events').selectAll().where('source', '=', source).where('id', '=', id).executeTakeFirst()
  return row ? rowToEvent(row) : null
}

/** The retraction that voids the event with this seq, if any. */
export async function retractionOf(db: Kysely<Schema>, seq: number): Promise<StoredEvent | null> {
  const row = await db.selectFrom('events').selectAll().where('target_seq', '=', seq).executeTakeFirst()
  return row ? rowToEvent(row) : null
}

/** Which of these seqs a stored retraction already voids. */
export async function retractedAmong(db: Kysely<Schema>, seqs: number[]): Promise<Set<number>> {
  const found = new Set<number>()
  for (let i = 0; i < seqs.length; i += 500) {
    const chunk = seqs.slice(i, i + 500)
    const rows = await queryRows<{ target_seq: number | null }>(db, `select target_seq from events where target_seq in (${marks(chunk.length)})`, chunk)
    for (const r of rows) if (r.target_seq !== null) found.add(r.target_seq)
  }
  return found
}

/** The newest seq, 0 for an empty store. */
export async function headSeq(db: Kysely<Schema>): Promise<number> {
  const row = await db.selectFrom('events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return row?.seq ?? 0
}

/**
 * The events that count in one period of a view at knowledge `maxSeq`: those of its types that
 * occurred in the range, minus those voided by a retraction with seq <= maxSeq. One range scan
 * on the occurrence index (a retraction is indexed under its target's type and time).
 */
export async function periodEvents(db: Kysely<Schema>, types: string[], range: PeriodRange, maxSeq: number): Promise<StoredEvent[]> {
  const rows: ScanRow[] = []
  const voided = new Set<number>()
  await forEachEvent(db, { types, range, maxSeq, withIds: true }, (row) => {
    if (row.target_seq === null) rows.push(row)
    else voided.add(row.target_seq)
  })
  return rows.filter((r) => !voided.has(r.seq)).map(scanRowToEvent)
}

/** A scanned row (read `withIds`) as a stored event. */
export function scanRowToEvent(r: ScanRow): StoredEvent {
  return {
    seq: r.seq,
    id: r.id,
    source: r.source,
    type: r.type,
    occurredAt: r.occurred_at,
    receivedAt: r.received_at,
    data: JSON.parse(r.data) as Record<string, unknown>,
    retracts: r.retracts,
    targetSeq: r.target_seq,
  }
}

/** Every seq voided by a retraction with seq <= maxSeq. */
export async function allVoided(db: Kysely<Schema>, maxSeq: number): Promise<Set<number>> {
  const rows = await db.selectFrom('events').select('target_seq').where('target_seq', 'is not', null).where('seq', '<=', maxSeq).execute()
  return new Set(rows.map((r) => r.target_seq as number))
}

/** Streams the non-retraction events of these types with seq <= maxSeq, in seq order, page by page. */
export async function* scanEvents(db: Kysely<Schema>, types: string[], maxSeq: number, pageSize = 5000): AsyncGenerator<EventsTable[]> {
  let after = 0
  for (;;) {
    const rows = await db
      .selectFrom('events')
      .selectAll()
      .where('seq', '>', after)
      .where('seq', '<=', maxSeq)
      .where('type', 'in', types)
      .where('target_seq', 'is', null)
      .orderBy('seq')
      .limit(pageSize)
      .execute()
    if (rows.length === 0) return
    yield rows
    after = (rows[rows.length - 1] as EventsTable).seq
  }
}
