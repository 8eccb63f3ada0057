// @ts-check
// The comparison as a CSV file, as the server writes it.

import { getDiffCsv } from './api.js'
import { h } from './dom.js'
import { chosenMeasure, chosenView, state } from './state.js'

/** Saves the server's CSV of the compared sides: every row, each measure before, after and delta. */
export async function downloadCsv() {
  if (!state.comparison || !state.period || !state.from || !state.to) return
  const view = chosenView().name
  const name = chosenMeasure()
  const { period, from, to } = state
  const text = await getDiffCsv(view, period, from, to)
  const blob = new Blob([text], { type: 'text/csv;charset=utf-8' })
  const url = URL.createObjectURL(blob)
  /** @param {string} s */
  const safe = (s) => s.replace(/[^A-Za-z0-9._-]+/g, '-')
  const link = h('a', { href: url, download: safe(`${view}-${period}-${name}-${from}-vs-${to}.csv`) })
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
