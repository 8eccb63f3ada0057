// @ts-check
// The comparison as a CSV file, as shown.

import { h } from './dom.js'
import { columns, sortedRows } from './figures.js'
import { roundAs } from './format.js'
import { chosenMeasure, chosenView, measureDef, state } from './state.js'

/** @param {string | number | null | undefined} value */
function csvValue(value) {
  const text = value === null || value === undefined ? '' : String(value)
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** Exports exactly the shown comparison: the same columns, the same order, the total row. */
export function downloadCsv() {
  if (!state.comparison) return
  const cols = columns()
  const lines = [cols.map((c) => csvValue(c.label)).join(',')]
  for (const row of sortedRows()) lines.push(cols.map((c) => csvValue(c.value(row))).join(','))
  const c = state.comparison
  const name = chosenMeasure()
  const b = c.before.totals.measures[name]
  const a = c.after.totals.measures[name]
  const totalCells = cols.map((col, i) => {
    if (col.key === 'before') return b
    if (col.key === 'after') return a
    if (col.key === 'delta') return a === null || b === null ? null : roundAs(a - b, measureDef())
    if (col.key === 'events') return c.diff.changes.reduce((n, ch) => n + ch.events.length, 0)
    return i === 0 ? 'Total of all rows' : ''
  })
  lines.push(totalCells.map(csvValue).join(','))
  const blob = new Blob([`${lines.join('\r\n')}\r\n`], { type: 'text/csv;charset=utf-8' })
  const url = URL.createObjectURL(blob)
  /** @param {string} s */
  const safe = (s) => s.replace(/[^A-Za-z0-9._-]+/g, '-')
  const link = h('a', { href: url, download: safe(`${chosenView().name}-${state.period}-${name}-${state.from}-vs-${state.to}.csv`) })
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
