/**
 * What a diff adds up to, from the two sides' figures it compared: the totals of each side and
 * their delta, and the comparison as CSV, one line per row of either side, unchanged rows too.
 * Pure: the diff (services/reports.ts) reads the sides, this only combines them.
 */
import type { CellState, DimValue } from '../domain/aggregate.js'
import { canonicalJson } from '../domain/event.js'
import { deltaOf, matchKey, sameDefinition, totalCell, type Figures, type Measures } from '../domain/lifecycle.js'
import { csvText } from './csv.js'

/** Each side's totals and, for each measure both sides have, `after − before`. */
export interface DiffTotals {
  before: Measures
  after: Measures
  /** Exact, by the same rule as a change's delta (null where one side shows no value). */
  delta: Measures
}

/** What a comparison needs of a diff's change: the row it is about and the events behind it. */
export interface ComparedChange {
  dims: Record<string, DimValue>
  events: readonly unknown[]
}

type RowStatus = 'changed' | 'new' | 'removed' | 'same'

/** A cell of one side, with the dims key it has under that side's definition. */
type SideCell = { dimsKey: string; cell: CellState }

/** The totals of both sides of a diff and their delta, from the sides' cell states (an avg from its sum and count). */
export function diffTotals(before: Figures, after: Figures): DiffTotals {
  const a = totalCell(before.program, before.cells.values())
  const b = totalCell(after.program, after.cells.values())
  return {
    before: before.program.measuresOf(a),
    after: after.program.measuresOf(b),
    delta: deltaOf({ program: before.program, cell: a }, { program: after.program, cell: b }),
  }
}

/** Names of the `after` side first, then those only the `before` side has. */
function union(after: readonly string[], before: readonly string[]): string[] {
  return [...after, ...before.filter((n) => !after.includes(n))]
}

/**
 * The comparison as CSV: one line per combination of dimensions present on either side, by dims
 * key (cells are matched as the diff matches them); the dimensions, then `<m>_before`,
 * `<m>_after` and `<m>_delta` for each measure, the number of events explaining the change and
 * the row's status. `changes` are the diff's changes of the same two sides. No total line.
 */
export function comparisonCsv(before: Figures, after: Figures, changes: readonly ComparedChange[]): string {
  const across = !sameDefinition(before.program, after.program)
  const sides = new Map<string, { before?: SideCell; after?: SideCell }>()
  for (const [dimsKey, cell] of before.cells) sides.set(matchKey(before.program, dimsKey, across), { before: { dimsKey, cell } })
  for (const [dimsKey, cell] of after.cells) {
    const key = matchKey(after.program, dimsKey, across)
    sides.set(key, { ...sides.get(key), after: { dimsKey, cell } })
  }
  const changed = new Map(changes.map((c) => [canonicalJson(c.dims), c]))
  const dimensions = union(after.program.view.dimensions, before.program.view.dimensions)
  const measures = union(
    after.program.view.measures.map((m) => m.name),
    before.program.view.measures.map((m) => m.name),
  )
  const rows = [...sides.keys()].sort().map((key) => {
    const { before: x, after: y } = sides.get(key) as { before?: SideCell; after?: SideCell }
    const dims = y ? after.program.dimsOf(y.dimsKey) : before.program.dimsOf((x as SideCell).dimsKey)
    const b = x ? before.program.measuresOf(x.cell) : null
    const a = y ? after.program.measuresOf(y.cell) : null
    const delta = deltaOf({ program: before.program, cell: x?.cell ?? null }, { program: after.program, cell: y?.cell ?? null })
    const change = changed.get(canonicalJson(dims))
    const status: RowStatus = !change ? 'same' : !x ? 'new' : !y ? 'removed' : 'changed'
    return [...dimensions.map((d) => dims[d]), ...measures.flatMap((m) => [b?.[m], a?.[m], delta[m]]), change?.events.length ?? 0, status]
  })
  return csvText([...dimensions, ...measures.flatMap((m) => [`${m}_before`, `${m}_after`, `${m}_delta`]), 'events', 'status'], rows)
}
