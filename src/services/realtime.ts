import type { Db } from '../store/db.js'
import { sameCell, splitCellId, type CellState, type DimValue, type ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { canonicalJson } from '../domain/event.js'
import { totalsOf, type Measures } from '../domain/lifecycle.js'
import { LateviewError } from '../errors.js'
import { putViewState, readCellMap, readCells, readCellsAtHead, replaceViewCells, viewState, type StoredCell } from '../store/cells.js'
import type { SingleAnswer } from '../store/reads.js'
import type { Engine, WriteTx } from '../store/engine.js'
import { headSeq } from '../store/events.js'
import type { ViewCatalog } from './definitions.js'
import type { Totals } from './reports.js'
import { recomputeStore, type RevisionDifference } from './recompute.js'

export interface RealtimeQuery {
  from?: string
  to?: string
  /** Dimension filters: `{ store: "042" }` keeps cells whose dimension's text equals the value. */
  where?: Record<string, string>
}

export interface RealtimeCell {
  period: string
  dims: Record<string, DimValue>
  measures: Measures
  eventCount: number
}

/**
 * The live cells of a view and their totals, read in a snapshot whose newest seq is `seq` (the
 * caller read it in the same snapshot): the seq they are exact at.
 */
export async function readRealtime(db: Db, seq: number, program: ViewProgram, query: RealtimeQuery = {}): Promise<RealtimeAnswer> {
  checkRealtimeQuery(program, query)
  return realtimeOf(seq, program, query, await readCells(db, program, query.from, query.to))
}

export interface RealtimeAnswer {
  view: string
  seq: number
  cells: RealtimeCell[]
  totals: Totals
}

/** A 400-class error for a filter on something that is not a dimension of the view. */
function checkRealtimeQuery(program: ViewProgram, query: RealtimeQuery): void {
  for (const [dim] of Object.entries(query.where ?? {})) {
    if (!program.view.dimensions.includes(dim)) throw new LateviewError('LV_ERR_QUERY_INVALID', `${dim} is not a dimension of view ${program.name}`)
  }
}

/**
 * `readRealtime` as ONE statement that reads the newest seq with the cells, outside a
 * transaction (see ReadRouter.runSingle): the cells are exact at that seq. Null for a filter on
 * something that is not a dimension: `readRealtime` answers that, in a snapshot whose seq the
 * error carries.
 */
export async function readRealtimeSingle(db: Db, program: ViewProgram, query: RealtimeQuery = {}): Promise<SingleAnswer<RealtimeAnswer> | null> {
  if (Object.keys(query.where ?? {}).some((dim) => !program.view.dimensions.includes(dim))) return null
  const { head, cells } = await readCellsAtHead(db, program, query.from, query.to)
  return { seq: head, value: realtimeOf(head, program, query, cells) }
}

function realtimeOf(seq: number, program: ViewProgram, query: RealtimeQuery, stored: StoredCell[]): RealtimeAnswer {
  const where = Object.entries(query.where ?? {})
  const cells: RealtimeCell[] = []
  const states: CellState[] = []
  for (const c of stored) {
    const dims = program.dimsOf(c.dimsKey)
    if (where.some(([d, v]) => String(dims[d]) !== v)) continue
    cells.push({ period: c.period, dims, measures: program.measuresOf(c.state), eventCount: c.state.eventCount })
    states.push(c.state)
  }
  // From the cells' states, not their shown measures: an average needs its sum and count.
  return { view: program.name, seq, cells, totals: totalsOf(program, states) }
}

export interface CellDifference {
  view: string
  period: string
  dims: Record<string, DimValue>
  stored: { measures: Measures; eventCount: number } | null
  recomputed: { measures: Measures; eventCount: number } | null
}

export interface RealtimeCheck {
  seq: number
  cells: number
  differences: CellDifference[]
}

/** The stored cells of each view against their recomputation. */
async function cellDifferences(db: Db, programs: ViewProgram[], seq: number, recomputed: Map<string, Map<string, CellState>>): Promise<RealtimeCheck> {
  const differences: CellDifference[] = []
  let count = 0
  for (const program of programs) {
    const expected = recomputed.get(program.name) ?? new Map<string, CellState>()
    const actual = await readCellMap(db, program)
    count += actual.size
    const shown = (s: CellState | undefined) => (s ? { measures: program.measuresOf(s), eventCount: s.eventCount } : null)
    for (const id of new Set([...expected.keys(), ...actual.keys()])) {
      const e = expected.get(id)
      const a = actual.get(id)
      if (e && a && sameCell(e, a)) continue
      const { period, dimsKey } = splitCellId(id)
      differences.push({ view: program.name, period, dims: program.dimsOf(dimsKey), stored: shown(a), recomputed: shown(e) })
    }
  }
  return { seq, cells: count, differences }
}

/** Compares every Realtime cell with a recomputation from the store; an empty list means exact. */
export async function verifyRealtime(engine: Engine, programs: ViewProgram[]): Promise<RealtimeCheck> {
  return engine.snapshot(async (db) => {
    const seq = await headSeq(db)
    const { cells } = await recomputeStore(db, programs, seq, { cells: true })
    return cellDifferences(db, programs, seq, cells)
  })
}

/**
 * `lateview verify`: every Realtime cell and every stored revision against a recomputation from
 * the store, in one snapshot and one pass over the events for all views.
 */
export async function verifyStore(
  engine: Engine,
  definitions: ViewCatalog,
  programs: ViewProgram[],
): Promise<{ realtime: RealtimeCheck; revisions: { revisions: number; differences: RevisionDifference[] } }> {
  return engine.snapshot(async (db) => {
    const seq = await headSeq(db)
    const recomputed = await recomputeStore(db, programs, seq, { cells: true, revisions: definitions })
    return {
      realtime: await cellDifferences(db, programs, seq, recomputed.cells),
      revisions: { revisions: recomputed.revisions, differences: recomputed.differences },
    }
  })
}

/**
 * Makes each view's stored cells match its current definition: a view that is new or whose
 * definition changed is recomputed from the store in one write transaction. Returns the names rebuilt.
 */
export async function syncViews(engine: Engine, programs: ViewProgram[], clock: Clock): Promise<string[]> {
  return engine.write((tx) => syncViewsIn(tx, programs, clock.now()))
}

/** `syncViews` inside a write transaction the caller holds (start-up registers the definitions in the same one). */
export async function syncViewsIn(tx: WriteTx, programs: ViewProgram[], now: number): Promise<string[]> {
  const stale: ViewProgram[] = []
  for (const program of programs) {
    if ((await viewState(tx.db, program.name)) !== canonicalJson(program.view)) stale.push(program)
  }
  if (stale.length === 0) return []
  // One pass over the events rebuilds them all (a new store with several views reads it once).
  const head = await tx.head()
  const { cells } = await recomputeStore(tx.db, stale, head.seq, { cells: true })
  for (const program of stale) {
    await replaceViewCells(tx, program, cells.get(program.name) ?? new Map())
    await putViewState(tx.db, program.name, program.view.version, canonicalJson(program.view), now)
  }
  return stale.map((p) => p.name)
}
