import { createHash } from 'node:crypto'
import { DateTime } from 'luxon'
import { applyContribution, emptyCell, sameCell, type Amount, type CellState, type Contribution, type DimValue, type ViewProgram } from './aggregate.js'
import { amount, normalize, subScaled, type Scaled } from './decimal.js'
import { canonicalJson } from './event.js'
import type { PeriodRange } from './time.js'
import type { ScheduleAt, ViewDefinition } from './view.js'

export type RevisionKind = 'flash' | 'consolidated' | 'revision' | 'restatement' | 'manual' | 'final'

export type Trigger = 'cron' | 'catch-up' | 'late-arrival' | 'manual' | 'restatement' | 'definition'

export type PeriodStatus = 'open' | 'provisional' | 'final'

/**
 * When a scheduled step of a period falls due: `afterDays` local calendar days after the
 * period's last day, at the local time `at`. For a day period that is D+N; for a week or month,
 * N days after its last day; for an hour, N days after the hour's date.
 */
export function dueAt(view: ViewDefinition, range: PeriodRange, schedule: ScheduleAt): number {
  const lastDay = DateTime.fromMillis(range.end - 1, { zone: view.timezone }).startOf('day')
  const [hour, minute] = schedule.at.split(':').map(Number) as [number, number]
  return lastDay.plus({ days: schedule.afterDays }).set({ hour, minute, second: 0, millisecond: 0 }).toMillis()
}

/** The figures of one report: cells by dims key plus the facts a revision records. */
export interface Report {
  cells: Map<string, CellState>
  eventCount: number
  lateEventCount: number
  completeness: number | null
}

/**
 * A report's completeness: the share of the view's expected sources among the sources of the
 * events it counts, or null when the view expects none.
 */
export function completenessOf(view: ViewDefinition, sources: ReadonlySet<string>): number | null {
  const expected = view.expectedSources?.sources ?? null
  return expected && expected.length > 0 ? expected.filter((s) => sources.has(s)).length / expected.length : null
}

/** The measures of a row as a reader sees them (exact decimals), by measure name. */
export type Measures = Record<string, Amount | null>

/** Cells combined into one state: sums and counts add, min/max keep the extreme, an avg keeps its sum and count. */
export function totalCell(program: ViewProgram, cells: Iterable<CellState>): CellState {
  const total = emptyCell(program.ops.length)
  for (const cell of cells) {
    const c: Contribution = { period: '', dimsKey: '', eventCount: cell.eventCount, slots: cell.slots }
    applyContribution(total, c, program.ops, 1)
  }
  return total
}

/** The row of totals over all cells: sums add, min/max take the extreme, avg is recomputed. */
export function totalsOf(program: ViewProgram, cells: Iterable<CellState>): { measures: Measures; eventCount: number } {
  const total = totalCell(program, cells)
  return { measures: program.measuresOf(total), eventCount: total.eventCount }
}

/** A content hash of a report's cells: equal figures, equal hash. */
export function cellsHash(cells: Map<string, CellState>): string {
  const hash = createHash('sha256')
  for (const key of [...cells.keys()].sort()) {
    const c = cells.get(key) as CellState
    hash.update(`${key}\u0000${c.eventCount}\u0000${c.slots.map((v) => (v === null ? '' : String(v))).join(',')}\n`)
  }
  return hash.digest('hex')
}

/** A report's cells, by dims key, with the program (view definition version) they were computed under. */
export interface Figures {
  program: ViewProgram
  cells: Map<string, CellState>
}

export interface CellChange {
  /** What matched the two sides: the dims key under one definition, the dimension values under two. */
  key: string
  dims: Record<string, DimValue>
  before: CellState | null
  after: CellState | null
}

/** Whether two sides were computed under the same definition (then their cells compare slot by slot). */
export function sameDefinition(a: ViewProgram, b: ViewProgram): boolean {
  return a === b || (a.name === b.name && a.view.version === b.view.version)
}

/** How a cell of `program` is matched with the other side: its dims key, or its dimension values across definitions. */
export function matchKey(program: ViewProgram, dimsKey: string, acrossDefinitions: boolean): string {
  return acrossDefinitions ? canonicalJson(program.dimsOf(dimsKey)) : dimsKey
}

/**
 * The cells that differ between two reports, ordered by key. Under one definition cells are
 * matched by dims key and compared on their exact state; under two, they are matched by their
 * dimension values and compared on what a reader sees: the event count and every measure by
 * name (a measure added or removed is a difference).
 */
export function changedCells(a: Figures, b: Figures): CellChange[] {
  const across = !sameDefinition(a.program, b.program)
  const before = new Map<string, { dimsKey: string; cell: CellState }>()
  const after = new Map<string, { dimsKey: string; cell: CellState }>()
  for (const [dimsKey, cell] of a.cells) before.set(matchKey(a.program, dimsKey, across), { dimsKey, cell })
  for (const [dimsKey, cell] of b.cells) after.set(matchKey(b.program, dimsKey, across), { dimsKey, cell })
  const changes: CellChange[] = []
  for (const key of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const x = before.get(key)
    const y = after.get(key)
    if (x && y && (across ? sameShown(a.program, x.cell, b.program, y.cell) : sameCell(x.cell, y.cell))) continue
    const dims = y ? b.program.dimsOf(y.dimsKey) : a.program.dimsOf((x as { dimsKey: string }).dimsKey)
    changes.push({ key, dims, before: x?.cell ?? null, after: y?.cell ?? null })
  }
  return changes
}

/** Two cells under two definitions show the same event count and the same measures, by name. */
function sameShown(pa: ViewProgram, a: CellState, pb: ViewProgram, b: CellState): boolean {
  if (a.eventCount !== b.eventCount) return false
  const ma = pa.measuresOf(a)
  const mb = pb.measuresOf(b)
  const names = Object.keys(ma)
  if (names.length !== Object.keys(mb).length) return false
  return names.every((n) => n in mb && sameAmount(ma[n] ?? null, mb[n] ?? null))
}

function sameAmount(x: Amount | null, y: Amount | null): boolean {
  if (x === null || y === null) return x === y
  return String(x) === String(y) || (typeof x === 'number' && typeof y === 'number' && x === y)
}

/** Whether two reports hold the same figures (as a reader sees them, across definitions). */
export function sameFigures(a: Figures, b: Figures): boolean {
  return changedCells(a, b).length === 0
}

/** The measures added and removed between two definitions, by name. */
export function measureChanges(a: ViewProgram, b: ViewProgram): { added: string[]; removed: string[] } {
  const before = new Set(a.view.measures.map((m) => m.name))
  const after = new Set(b.view.measures.map((m) => m.name))
  return { added: [...after].filter((n) => !before.has(n)), removed: [...before].filter((n) => !after.has(n)) }
}

/** x · 10^(to − from), exact (to ≥ from). */
export function rescale(x: Scaled, from: number, to: number): Scaled {
  if (to === from) return x
  return normalize(BigInt(x) * 10n ** BigInt(to - from))
}

/** One measure's `after − before` as an integer scaled by 10^decimals; null when one side shows no value. */
export interface ScaledDelta {
  name: string
  value: Scaled | null
  decimals: number
  /** A sum or count on both sides: deltas that events' contributions add up to. */
  additive: boolean
}

/**
 * `after − before` for each measure both definitions have (by name, in the `after` order),
 * exact: the difference of the values a reader sees (for sums and counts that is the difference
 * of the exact state), at the finer of the two decimals.
 */
export function deltaScaled(before: { program: ViewProgram; cell: CellState | null }, after: { program: ViewProgram; cell: CellState | null }): ScaledDelta[] {
  const pa = before.program
  const pb = after.program
  const a = before.cell ?? emptyCell(pa.ops.length)
  const b = after.cell ?? emptyCell(pb.ops.length)
  const out: ScaledDelta[] = []
  pb.view.measures.forEach((m, j) => {
    const i = pa.view.measures.findIndex((x) => x.name === m.name)
    const old = pa.view.measures[i]
    if (!old) return
    const decimals = Math.max(old.decimals, m.decimals)
    const additive = (m.kind === 'sum' || m.kind === 'count') && (old.kind === 'sum' || old.kind === 'count')
    const x = pb.shownScaled(b, j)
    const y = pa.shownScaled(a, i)
    const value = x === null || y === null ? (x === y ? 0 : null) : subScaled(rescale(x, m.decimals, decimals), rescale(y, old.decimals, decimals))
    out.push({ name: m.name, value, decimals, additive })
  })
  return out
}

/** `after − before` per measure both definitions have, as a reader sees it (null: one side shows no value). */
export function deltaOf(before: { program: ViewProgram; cell: CellState | null }, after: { program: ViewProgram; cell: CellState | null }): Measures {
  const delta: Measures = {}
  for (const d of deltaScaled(before, after)) delta[d.name] = d.value === null ? null : amount(d.value, d.decimals)
  return delta
}

/** What a period's live figures hold beyond a revision of it: the change in counted events and in each measure's total. */
export interface Pending {
  /** Events counted now − events counted in the revision (a retraction takes one off). */
  eventCount: number
  /** For each measure of the live definition, its total now − its total in the revision, exact (null: one side has no value, or the revision lacks the measure). */
  measures: Measures
}

/** The change from `revision`'s totals to `live`'s, measures matched by name, exact. */
export function pendingChange(revision: Figures, live: Figures): Pending {
  const a = totalCell(revision.program, revision.cells.values())
  const b = totalCell(live.program, live.cells.values())
  const deltas = new Map(deltaScaled({ program: revision.program, cell: a }, { program: live.program, cell: b }).map((d) => [d.name, d]))
  const measures: Measures = {}
  for (const m of live.program.view.measures) {
    const d = deltas.get(m.name)
    measures[m.name] = d === undefined || d.value === null ? null : amount(d.value, d.decimals)
  }
  return { eventCount: b.eventCount - a.eventCount, measures }
}

/** `HH:MM` → the cron expression of that time every day. */
export function dailyAt(at: string): string {
  const [hour, minute] = at.split(':').map(Number)
  return `${minute} ${hour} * * *`
}
