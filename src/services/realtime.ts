import type { Kysely } from 'kysely'
import { cellId, emptyCell, sameCell, splitCellId, type CellState, type DimValue, type ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { canonicalJson } from '../domain/event.js'
import { LateviewError } from '../errors.js'
import { putViewState, readCellMap, readCells, replaceViewCells, viewState } from '../store/cells.js'
import { forEachEvent, type Engine } from '../store/engine.js'
import { allVoided, headSeq } from '../store/events.js'
import type { Schema } from '../store/schema.js'

export interface RealtimeQuery {
  from?: string
  to?: string
  /** Dimension filters: `{ store: "042" }` keeps cells whose dimension's text equals the value. */
  where?: Record<string, string>
}

export interface RealtimeCell {
  period: string
  dims: Record<string, DimValue>
  measures: Record<string, number | null>
  eventCount: number
}

/** The live cells of a view and the seq they are exact at, read in one snapshot. */
export async function readRealtime(engine: Engine, program: ViewProgram, query: RealtimeQuery = {}): Promise<{ view: string; seq: number; cells: RealtimeCell[] }> {
  for (const [dim] of Object.entries(query.where ?? {})) {
    if (!program.view.dimensions.includes(dim)) throw new LateviewError('LV_ERR_QUERY_INVALID', `${dim} is not a dimension of view ${program.name}`)
  }
  const { seq, stored } = await engine.snapshot(async (db) => ({ seq: await headSeq(db), stored: await readCells(db, program, query.from, query.to) }))
  const where = Object.entries(query.where ?? {})
  const cells: RealtimeCell[] = []
  for (const c of stored) {
    const dims = program.dimsOf(c.dimsKey)
    if (where.some(([d, v]) => String(dims[d]) !== v)) continue
    cells.push({ period: c.period, dims, measures: program.measuresOf(c.state), eventCount: c.state.eventCount })
  }
  return { view: program.name, seq, cells }
}

/** Recomputes a view's cells from the store at knowledge `maxSeq`, streaming the events once. */
export async function recomputeView(db: Kysely<Schema>, program: ViewProgram, maxSeq: number): Promise<Map<string, CellState>> {
  const cells = new Map<string, CellState>()
  // One index probe spares a scan of the whole store for a view whose types never occur.
  const any = await db.selectFrom('events').select('seq').where('eff_type', 'in', program.view.eventTypes).where('seq', '<=', maxSeq).limit(1).executeTakeFirst()
  if (!any) return cells
  const voided = await allVoided(db, maxSeq)
  const ops = program.ops
  await forEachEvent(db, { types: program.view.eventTypes, maxSeq, originalsOnly: true, unordered: true }, (row) => {
    if (voided.has(row.seq)) return
    const data = JSON.parse(row.data) as Record<string, unknown>
    const id = cellId(program.bucketer.keyOf(row.occurred_at), program.dimsKey(data))
    let state = cells.get(id)
    if (!state) cells.set(id, (state = emptyCell(ops.length)))
    program.addTo(state, row.type, data)
  })
  return cells
}

export interface CellDifference {
  view: string
  period: string
  dims: Record<string, DimValue>
  stored: { measures: Record<string, number | null>; eventCount: number } | null
  recomputed: { measures: Record<string, number | null>; eventCount: number } | null
}

/** Compares every Realtime cell with a recomputation from the store; an empty list means exact. */
export async function verifyRealtime(engine: Engine, programs: ViewProgram[]): Promise<{ seq: number; cells: number; differences: CellDifference[] }> {
  return engine.snapshot(async (db) => {
    const seq = await headSeq(db)
    const differences: CellDifference[] = []
    let count = 0
    for (const program of programs) {
      const expected = await recomputeView(db, program, seq)
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
  })
}

/**
 * Makes each view's stored cells match its current definition: a view that is new or whose
 * definition changed is recomputed from the store in one write transaction. Returns the names rebuilt.
 */
export async function syncViews(engine: Engine, programs: ViewProgram[], clock: Clock): Promise<string[]> {
  const rebuilt: string[] = []
  for (const program of programs) {
    const definition = canonicalJson(program.view)
    if ((await viewState(engine.db, program.name)) === definition) continue
    await engine.write(async (tx) => {
      const head = await tx.head()
      await replaceViewCells(tx, program, await recomputeView(tx.db, program, head.seq))
      await putViewState(tx.db, program.name, program.view.version, definition, clock.now())
    })
    rebuilt.push(program.name)
  }
  return rebuilt
}

