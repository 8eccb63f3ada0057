// @ts-check
// The figures the page shows for the chosen measure: live totals and the rows of a comparison.

import { dimLabel, isAdditive, roundAs } from './format.js'
import { chosenMeasure, chosenView, measureDef, rowKey, shortSide, state } from './state.js'

/** @import { Column, Diff, Dims, Figures, Report, Row, RowStatus } from './types.js' */

/** The chosen measure's live total for the chosen period, as the server totals its cells. */
export function liveTotal() {
  return state.realtime ? (state.realtime.totals.measures[chosenMeasure()] ?? null) : null
}

/**
 * One row per combination of dimensions found on either side, with the diff's change if any.
 * @param {Report} before
 * @param {Report} after
 * @param {Diff} diff
 * @returns {Row[]}
 */
export function buildRows(before, after, diff) {
  /** @type {Map<string, Row>} */
  const rows = new Map()
  /** @param {Dims} dims */
  const entry = (dims) => {
    const key = rowKey(dims)
    let row = rows.get(key)
    if (!row) rows.set(key, (row = { key, dims, before: null, after: null, change: null }))
    return row
  }
  for (const r of before.rows) entry(r.dims).before = r.measures
  for (const r of after.rows) entry(r.dims).after = r.measures
  for (const c of diff.changes) {
    const row = entry(c.dims)
    row.before = c.before
    row.after = c.after
    row.change = c
  }
  return [...rows.values()]
}

/**
 * The shown figures of a row for the chosen measure.
 * @param {Row} row
 * @returns {Figures}
 */
export function figures(row) {
  const name = chosenMeasure()
  const b = row.before ? (row.before[name] ?? null) : null
  const a = row.after ? (row.after[name] ?? null) : null
  let d = row.change ? (row.change.delta[name] ?? null) : null
  if (!row.change) d = b !== null && a !== null ? 0 : null
  if (row.change && d === null && a !== null && b !== null && isAdditive(measureDef())) d = roundAs(a - b, measureDef())
  const status = !row.change ? 'same' : row.before === null ? 'new' : row.after === null ? 'removed' : 'changed'
  return { before: b, after: a, delta: d, events: row.change ? row.change.events.length : 0, status }
}

/** @type {Record<RowStatus, string>} */
export const STATUS_TEXT = { changed: 'changed', new: 'new', removed: 'removed', same: 'unchanged' }

/**
 * The comparison's columns, as the table shows them.
 * @returns {Column[]}
 */
export function columns() {
  const name = chosenMeasure()
  return [
    ...chosenView().dimensions.map((d) => /** @satisfies {Column} */ ({ key: `dim:${d}`, label: d, type: 'text', value: (r) => dimLabel(r.dims[d]) })),
    { key: 'status', label: 'State', type: 'text', value: (r) => STATUS_TEXT[figures(r).status] },
    { key: 'before', label: `${name} before (${shortSide(state.from)})`, type: 'num', value: (r) => figures(r).before },
    { key: 'after', label: `${name} after (${shortSide(state.to)})`, type: 'num', value: (r) => figures(r).after },
    { key: 'delta', label: 'Change', type: 'num', value: (r) => figures(r).delta },
    { key: 'events', label: 'Explaining events', type: 'num', value: (r) => figures(r).events },
  ]
}

/** The comparison's rows in the chosen sort order. */
export function sortedRows() {
  const rows = [...(state.comparison?.rows ?? [])]
  const col = columns().find((c) => c.key === state.sort.key)
  if (!col) return rows
  const dir = state.sort.dir === 'descending' ? -1 : 1
  return rows.sort((x, y) => {
    const a = col.value(x)
    const b = col.value(y)
    if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1
    if (b === null || b === undefined) return -1
    return (col.type === 'num' ? Number(a) - Number(b) : String(a).localeCompare(String(b), 'en', { numeric: true })) * dir
  })
}
