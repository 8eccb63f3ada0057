import type { Db } from './db.js'
import type { ExpressionBuilder } from 'kysely'
import type { StoredEvent } from '../domain/event.js'
import { piecesOf, type PeriodRange } from '../domain/time.js'
import { forEachEvent, marks, queryRows, rowToEvent, type ScanRow } from './engine.js'
import type { EventsTable, Schema } from './schema.js'

/**
 * The table a read by seq alone goes to: SQLite's events (seq is its rowid); on PostgreSQL,
 * whose events are partitioned by occurrence, event_keys (seq its primary key, with receivedAt).
 */
export function seqTable(db: Db): 'events' | 'event_keys' {
  return db.engine === 'postgres' ? 'event_keys' : 'events'
}

/** One stored event by its (source, id), or null. */
export async function getEvent(db: Db, source: string, id: string): Promise<StoredEvent | null> {
  if (db.engine === 'postgres') {
    // The unique (source, id) of event_keys names the event's partition; its primary key finds it there.
    const rows = await queryRows<EventsTable>(
      db,
      'select e.* from (select seq, eff_occurred_at from event_keys where source = ? and id = ?) k cross join lateral (select * from events where events.eff_occurred_at = k.eff_occurred_at and events.seq = k.seq) e',
      [source, id],
    )
    return rows[0] ? rowToEvent(rows[0]) : null
  }
  const row = await db.kysely.selectFrom('events').selectAll().where('source', '=', source).where('id', '=', id).executeTakeFirst()
  return row ? rowToEvent(row) : null
}

/**
 * The retraction that voids this event, if any: filed under the event's occurrence (which on
 * PostgreSQL names the one partition to look in).
 */
export async function retractionOf(db: Db, target: Pick<StoredEvent, 'seq' | 'occurredAt'>): Promise<StoredEvent | null> {
  const row = await db.kysely.selectFrom('events').selectAll().where('eff_occurred_at', '=', target.occurredAt).where('target_seq', '=', target.seq).executeTakeFirst()
  return row ? rowToEvent(row) : null
}

/** Which of these seqs a stored retraction already voids. */
export async function retractedAmong(db: Db, seqs: number[]): Promise<Set<number>> {
  const found = new Set<number>()
  if (db.engine === 'postgres') {
    const rows = await queryRows<{ target_seq: number }>(db, 'select target_seq from events where target_seq = any(?::bigint[])', [seqs])
    for (const r of rows) found.add(Number(r.target_seq))
    return found
  }
  for (let i = 0; i < seqs.length; i += 500) {
    const chunk = seqs.slice(i, i + 500)
    const rows = await queryRows<{ target_seq: number | null }>(db, `select target_seq from events where target_seq in (${marks(chunk.length)})`, chunk)
    for (const r of rows) if (r.target_seq !== null) found.add(r.target_seq)
  }
  return found
}

/** The newest seq, 0 for an empty store. */
export async function headSeq(db: Db): Promise<number> {
  const row = await db.kysely.selectFrom(seqTable(db)).select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return row?.seq ?? 0
}

/**
 * The events that count in one period of a view at knowledge `maxSeq`: those of its types that
 * occurred in the range, minus those voided by a retraction with seq <= maxSeq. One range scan
 * on the occurrence index (a retraction is indexed under its target's type and time).
 */
export async function periodEvents(db: Db, types: string[], range: PeriodRange, maxSeq: number): Promise<StoredEvent[]> {
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

/** Whether the store holds any event. */
export async function hasEvents(db: Db): Promise<boolean> {
  const row = await db.kysely.selectFrom(seqTable(db)).select('seq').limit(1).executeTakeFirst()
  return row !== undefined
}

/** The receivedAt of the first event (seq order), null for an empty store: when the store began to receive. */
export async function firstReceivedAt(db: Db): Promise<number | null> {
  const row = await db.kysely.selectFrom(seqTable(db)).select('received_at').orderBy('seq').limit(1).executeTakeFirst()
  return row ? row.received_at : null
}

/** Only events counting in this occurrence range (a retraction: its target's), piece by piece. */
function inRange(range: PeriodRange) {
  return (eb: ExpressionBuilder<Schema, 'events'>) => eb.or(piecesOf(range).map((p) => eb.and([eb('eff_occurred_at', '>=', p.start), eb('eff_occurred_at', '<', p.end)])))
}

/**
 * The first seq after `after` among the events of these types counting in the range,
 * retractions included, or null: the seq from which a period published at `after` is dirty.
 */
export async function firstSeqAfter(db: Db, types: string[], range: PeriodRange, after: number): Promise<number | null> {
  if (db.engine === 'postgres') {
    // PostgreSQL would walk the primary key from `after` and filter every later event of every
    // period (86 ms a day at 1M events); the least seq of the period's range is what is wanted.
    const pieces = piecesOf(range)
    const rows = await queryRows<{ seq: number | null }>(
      db,
      `select min(seq) as seq from (select seq from events where eff_type = any(?::text[]) and (${pieces.map(() => 'eff_occurred_at >= ? and eff_occurred_at < ?').join(' or ')}) and seq > ? offset 0) e`,
      [types, ...pieces.flatMap((p) => [p.start, p.end]), after],
    )
    return rows[0]?.seq ?? null
  }
  const row = await db.kysely.selectFrom('events').select('seq').where('eff_type', 'in', types).where(inRange(range)).where('seq', '>', after).orderBy('seq').limit(1).executeTakeFirst()
  return row?.seq ?? null
}

/**
 * The sources with an event of these types in the range received at or before `now`, each once
 * (retractions left out: a source that only voided something has not reported). Unordered.
 */
export async function sourcesReporting(db: Db, types: string[], range: PeriodRange, now: number): Promise<string[]> {
  const rows = await db.kysely
    .selectFrom('events')
    .select('source')
    .distinct()
    .where('eff_type', 'in', types)
    .where(inRange(range))
    .where('target_seq', 'is', null)
    .where('received_at', '<=', now)
    .execute()
  return rows.map((r) => r.source)
}

/**
 * Every retraction's seq and target seq, whatever its seq: read through the retraction index
 * alone, as a bound on seq would make SQLite walk the table. The caller filters by seq.
 */
export async function allRetractions(db: Db): Promise<Array<Pick<EventsTable, 'seq' | 'target_seq'>>> {
  return db.kysely.selectFrom('events').select(['target_seq', 'seq']).where('target_seq', 'is not', null).execute()
}

/**
 * The stored events with these seqs that count in `range`, by seq (others are absent), read 500
 * at a time: the targets of a period's retractions, which count where their retractions do. On
 * PostgreSQL each seq is found through event_keys, in the range's partitions only.
 */
export async function eventsBySeq(db: Db, seqs: readonly number[], range: PeriodRange): Promise<Map<number, StoredEvent>> {
  const events = new Map<number, StoredEvent>()
  for (let i = 0; i < seqs.length; i += 500) {
    const chunk = seqs.slice(i, i + 500)
    const found =
      db.engine === 'postgres'
        ? await db.kysely
            .selectFrom('event_keys as k')
            .innerJoin('events as e', (j) => j.onRef('e.eff_occurred_at', '=', 'k.eff_occurred_at').onRef('e.seq', '=', 'k.seq'))
            .selectAll('e')
            .where('k.seq', 'in', chunk)
            .where((eb) => eb.or(piecesOf(range).map((p) => eb.and([eb('e.eff_occurred_at', '>=', p.start), eb('e.eff_occurred_at', '<', p.end)]))))
            .execute()
        : await db.kysely.selectFrom('events').selectAll().where('seq', 'in', chunk).where(inRange(range)).execute()
    for (const row of found) events.set(row.seq, rowToEvent(row))
  }
  return events
}
