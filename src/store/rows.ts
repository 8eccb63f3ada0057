import { sql, type Kysely } from 'kysely'
import type { ViewProgram } from '../domain/aggregate.js'
import type { EventAttributes, StoredEvent } from '../domain/event.js'
import type { AppendedEvent, CellWrite, EventScan, ScanRow } from './engine.js'
import { assertStorable } from './int64.js'
import { SLOT_COLUMNS, type CellsTable, type EventsTable, type Schema } from './schema.js'

/** Rows as the store writes and reads them, the same on both engines. */

/** The events-table row of an appended event. */
export function eventRow(a: AppendedEvent): EventsTable {
  const e = a.event
  const t = a.target
  return {
    seq: a.seq,
    source: e.source,
    id: e.id,
    type: e.type,
    occurred_at: e.occurredAt,
    received_at: a.receivedAt,
    data: e.dataJson ?? JSON.stringify(e.data),
    retracts: e.retracts,
    target_seq: t === null ? null : t.seq,
    eff_type: t === null ? e.type : t.type,
    eff_occurred_at: t === null ? e.occurredAt : t.occurredAt,
    attributes: attributesJson(e),
  }
}

/** The text the store keeps of an event's attributes: null without any. */
export function attributesJson(e: { attributes?: EventAttributes }): string | null {
  return e.attributes === undefined ? null : JSON.stringify(e.attributes)
}

export function rowToEvent(row: EventsTable): StoredEvent {
  const event: StoredEvent = {
    seq: row.seq,
    id: row.id,
    source: row.source,
    type: row.type,
    occurredAt: row.occurred_at,
    receivedAt: row.received_at,
    data: JSON.parse(row.data) as Record<string, unknown>,
    retracts: row.retracts,
    targetSeq: row.target_seq,
  }
  // Only an event that had attributes has the key (most have none).
  if (row.attributes) event.attributes = JSON.parse(row.attributes) as EventAttributes
  return event
}

/**
 * The upsert of one view's cells on SQLite; `excluded` holds the change. A sum that leaves the
 * int64 range turns into a REAL, which the slot's check constraint (migration 0006) refuses by
 * name. (PostgreSQL's upsert, from whole columns, is in postgres/open.ts.)
 */
export function cellUpsert(db: Kysely<Schema>, program: ViewProgram, changes: CellWrite[]) {
  const ops = program.ops
  const rows = changes.map((c) => {
    const row: Partial<CellsTable> = { view: program.name, period: c.period, dims_key: c.dimsKey, event_count: c.state.eventCount }
    ops.forEach((_, i) => {
      row[SLOT_COLUMNS[i] as keyof CellsTable] = (c.state.slots[i] ?? null) as never
    })
    return row as CellsTable
  })
  return db
    .insertInto('cells')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['view', 'period', 'dims_key']).doUpdateSet((eb) => {
        const set: Record<string, unknown> = { event_count: eb('cells.event_count', '+', eb.ref('excluded.event_count')) }
        ops.forEach((op, i) => {
          const col = SLOT_COLUMNS[i] as string
          const cur = sql.ref(`cells.${col}`)
          const add = sql.ref(`excluded.${col}`)
          if (op !== 'add') set[col] = sql`case when ${add} is null then ${cur} when ${cur} is null or ${add} ${sql.raw(op === 'min' ? '<' : '>')} ${cur} then ${add} else ${cur} end`
          else set[col] = sql`coalesce(${cur}, 0) + coalesce(${add}, 0)`
        })
        return set as never
      }),
    )
}

/** The slots that add up (sums, counts, an avg's two): the ones a batch can push out of range. */
export function addSlots(program: ViewProgram): number[] {
  return program.ops.flatMap((op, i) => (op === 'add' ? [i] : []))
}

/** A change that is itself out of range is refused before anything is bound. */
export function assertChanges(program: ViewProgram, changes: CellWrite[]): void {
  for (const c of changes) assertStorable(program, c.period, c.dimsKey, c.state)
}

/**
 * Visits the rows of a scan page made as one JSON array (both engines build it the same way):
 * `[seq, source, type, occurred_at, received_at - occurred_at, data, (target_seq), (id, retracts), ...]`
 * flattened, a type among the scan's given as its index there; `end` is where the rows stop.
 * In a scan in seq order, refuses a seq not above the one before (a page out of order would
 * break every caller's cutoffs); returns the last seq visited.
 */
export function visitPage(values: readonly unknown[], end: number, scan: EventScan, previous: number, visit: (row: ScanRow) => void): number {
  const types = scan.types
  const targets = !scan.originalsOnly
  const width = 6 + (targets ? 1 : 0) + (scan.withIds ? 2 : 0)
  const ordered = !scan.unordered
  for (let i = 0; i < end; i += width) {
    const seq = values[i] as number
    if (ordered && seq <= previous) throw new Error(`events scan: seq ${seq} after ${previous}`)
    previous = seq
    const type = values[i + 2] as number | string
    const occurredAt = values[i + 3] as number
    const more = i + (targets ? 7 : 6)
    visit({
      seq,
      source: values[i + 1] as string,
      type: typeof type === 'string' ? type : (types[Number(type)] as string),
      occurred_at: occurredAt,
      received_at: occurredAt + (values[i + 4] as number),
      data: '',
      parsed: values[i + 5] as Record<string, unknown>,
      target_seq: targets ? (values[i + 6] as number | null) : null,
      id: scan.withIds ? (values[more] as string) : '',
      retracts: scan.withIds ? (values[more + 1] as string | null) : null,
    })
  }
  return previous
}
