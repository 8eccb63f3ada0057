import { hotRows, type Db } from './db.js'
import { cellId, splitCellId, type CellState, type ViewProgram } from '../domain/aggregate.js'
import { exactRows, marks, queryRows, type WriteTx } from './engine.js'
import { seqTable } from './events.js'
import { stateOf } from './revisions.js'
import { SLOT_COLUMNS, type CellsTable } from './schema.js'

export interface StoredCell {
  period: string
  dimsKey: string
  state: CellState
}

function toCell(row: CellsTable, slotCount: number): StoredCell {
  return { period: row.period, dimsKey: row.dims_key, state: stateOf(row as unknown as Record<string, unknown>, slotCount) }
}

/** Realtime cells of a view, optionally limited to periods from..to (inclusive keys), exact. */
export async function readCells(db: Db, program: ViewProgram, from?: string, to?: string): Promise<StoredCell[]> {
  let text = 'select * from cells where view = ?'
  const params: unknown[] = [program.name]
  if (from !== undefined) {
    text += ' and period >= ?'
    params.push(from)
  }
  if (to !== undefined) {
    text += ' and period <= ?'
    params.push(to)
  }
  const rows = await exactRows<CellsTable>(db, `${text} order by period, dims_key`, params)
  return rows.map((r) => toCell(r, program.ops.length))
}

/**
 * `readCells` with the newest seq of the store, in ONE statement: a statement sees one consistent
 * state, so the cells are exact at that seq (outside a transaction too, see Engine.single).
 */
export async function readCellsAtHead(db: Db, program: ViewProgram, from?: string, to?: string): Promise<{ head: number; cells: StoredCell[] }> {
  // Columns named: a prepared `*` fails once a migration changes the table.
  const slots = SLOT_COLUMNS.slice(0, program.ops.length).map((c) => `, c.${c}`)
  let text = `select h.head, c.view, c.period, c.dims_key, c.event_count${slots.join('')} from (select coalesce((select seq from ${seqTable(db)} order by seq desc limit 1), 0) as head) h left join cells c on c.view = ?`
  const params: unknown[] = [program.name]
  if (from !== undefined) {
    text += ' and c.period >= ?'
    params.push(from)
  }
  if (to !== undefined) {
    text += ' and c.period <= ?'
    params.push(to)
  }
  const rows = await hotRows<CellsTable & { head: number | bigint }>(db, `${text} order by c.period, c.dims_key`, params, true)
  const first = rows[0]
  if (!first) throw new Error('cells at head: no row')
  // No cell: the one row the left join leaves, its cell columns null.
  const cells = first.view === null ? [] : rows.map((r) => toCell(r, program.ops.length))
  return { head: Number(first.head), cells }
}

/**
 * These Realtime cells of a view, by `cellId` (null where there is none): on PostgreSQL one
 * statement over the keys as columns, on SQLite one prepared lookup each.
 */
export async function readCellsById(db: Db, program: ViewProgram, ids: Iterable<string>): Promise<Map<string, CellState | null>> {
  const cells = new Map<string, CellState | null>()
  const keys = [...ids].map((id) => {
    cells.set(id, null)
    return splitCellId(id)
  })
  if (keys.length === 0) return cells
  const rows =
    db.engine === 'sqlite'
      ? (await Promise.all(keys.map((k) => exactRows<CellsTable>(db, 'select * from cells where view = ? and period = ? and dims_key = ?', [program.name, k.period, k.dimsKey])))).flat()
      : await exactRows<CellsTable>(db, 'select c.* from cells c join unnest(?::text[], ?::text[]) as k(period, dims_key) on c.period = k.period and c.dims_key = k.dims_key where c.view = ?', [
          keys.map((k) => k.period),
          keys.map((k) => k.dimsKey),
          program.name,
        ])
  for (const row of rows) {
    const cell = toCell(row, program.ops.length)
    cells.set(cellId(cell.period, cell.dimsKey), cell.state)
  }
  return cells
}

/** Realtime cells of a view as a map keyed by `cellId`. */
export async function readCellMap(db: Db, program: ViewProgram): Promise<Map<string, CellState>> {
  const map = new Map<string, CellState>()
  for (const c of await readCells(db, program)) map.set(cellId(c.period, c.dimsKey), c.state)
  return map
}

/** Overwrites one cell with an absolute state; null (or no events left) removes it. */
export async function setCell(tx: WriteTx, program: ViewProgram, period: string, dimsKey: string, state: CellState | null): Promise<void> {
  await tx.db.kysely.deleteFrom('cells').where('view', '=', program.name).where('period', '=', period).where('dims_key', '=', dimsKey).execute()
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
  await tx.db.kysely.deleteFrom('cells').where('view', '=', program.name).execute()
  const writes = [...cells].filter(([, s]) => s.eventCount !== 0).map(([id, state]) => ({ ...splitCellId(id), state }))
  await tx.addToCells(program, writes)
}

/** The definition text a view's stored cells were computed under, or null. */
export async function viewState(db: Db, view: string): Promise<string | null> {
  const row = await db.kysely.selectFrom('view_state').select('definition').where('view', '=', view).executeTakeFirst()
  return row?.definition ?? null
}

export async function putViewState(db: Db, view: string, version: number, definition: string, now: number): Promise<void> {
  await db.kysely.deleteFrom('view_state').where('view', '=', view).execute()
  await db.kysely.insertInto('view_state').values({ view, version, definition, updated_at: now }).execute()
}
