import type { Kysely } from 'kysely'
import { cellId, emptyCell, splitCellId, type CellState, type ViewProgram } from '../domain/aggregate.js'
import { marks, queryRows, type WriteTx } from './engine.js'
import { SLOT_COLUMNS, type CellsTable, type Schema } from './schema.js'

export interface StoredCell {
  period: string
  dimsKey: string
  state: CellState
}

function toCell(row: CellsTable, slotCount: number): StoredCell {
  const state = emptyCell(slotCount)
  state.eventCount = row.event_count
  for (let i = 0; i < slotCount; i++) state.slots[i] = row[SLOT_COLUMNS[i] as keyof CellsTable] as number | null
  return { period: row.period, dimsKey: row.dims_key, state }
}

/** Realtime cells of a view, optionally limited to periods from..to (inclusive keys). */
export async function readCells(db: Kysely<Schema>, program: ViewProgram, from?: string, to?: string): Promise<StoredCell[]> {
  let q = db.selectFrom('cells').selectAll().where('view', '=', program.name)
  if (from !== undefined) q = q.where('period', '>=', from)
  if (to !== undefined) q = q.where('period', '<=', to)
  const rows = await q.orderBy('period').orderBy('dims_key').execute()
  return rows.map((r) => toCell(r, program.ops.length))
}

/** One Realtime cell, or null. */
export async function readCell(db: Kysely<Schema>, program: ViewProgram, period: string, dimsKey: string): Promise<CellState | null> {
  const [row] = await queryRows<CellsTable>(db, 'select * from cells where view = ? and period = ? and dims_key = ?', [program.name, period, dimsKey])
  return row ? toCell(row, program.ops.length).state : null
}

/** Realtime cells of a view as a map keyed by `cellId`. */
export async function readCellMap(db: Kysely<Schema>, program: ViewProgram): Promise<Map<string, CellState>> {
  const map = new Map<string, CellState>()
  for (const c of await readCells(db, program)) map.set(cellId(c.period, c.dimsKey), c.state)
  return map
}

/** Overwrites one cell with an absolute state; null (or no events left) removes it. */
export async function setCell(tx: WriteTx, program: ViewProgram, period: string, dimsKey: string, state: CellState | null): Promise<void> {
  await tx.db.deleteFrom('cells').where('view', '=', program.name).where('period', '=', period).where('dims_key', '=', dimsKey).execute()
  if (state && state.eventCount !== 0) await tx.addToCells(program, [{ period, dimsKey, state }])
}

/** Removes cells left with no events (after retractions), so they read as absent. */
export async function dropEmptyCells(tx: WriteTx, program: ViewProgram, periods: string[]): Promise<void> {
  for (let i = 0; i < periods.length; i += 500) {
    const chunk = periods.slice(i, i + 500)
    await queryRows(tx.db, `delete from cells where view = ? and period in (${marks(chunk.length)}) and event_count = 0`, [program.name, ...chunk])
  }
}

/** Replaces every cell of a view. */
export async function replaceViewCells(tx: WriteTx, program: ViewProgram, cells: Map<string, CellState>): Promise<void> {
  await tx.db.deleteFrom('cells').where('view', '=', program.name).execute()
  const writes = [...cells].filter(([, s]) => s.eventCount !== 0).map(([id, state]) => ({ ...splitCellId(id), state }))
  await tx.addToCells(program, writes)
}

/** The definition text a view's stored cells were computed under, or null. */
export async function viewState(db: Kysely<Schema>, view: string): Promise<string | null> {
  const row = await db.selectFrom('view_state').select('definition').where('view', '=', view).executeTakeFirst()
  return row?.definition ?? null
}

export async function putViewState(db: Kysely<Schema>, view: string, version: number, definition: string, now: number): Promise<void> {
  await db.deleteFrom('view_state').where('view', '=', view).execute()
  await db.insertInto('view_state').values({ view, version, definition, updated_at: now }).execute()
}
