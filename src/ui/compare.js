// @ts-check
// Two versions of the period side by side: what each knew, and every row with its change.

import { getDiff, getReport } from './api.js'
import { $, h, tfoot, thead } from './dom.js'
import { renderExplain } from './explain.js'
import { buildRows, columns, figures, STATUS_TEXT, sortedRows } from './figures.js'
import { dimLabel, formatDelta, formatInt, formatPercent, formatTime } from './format.js'
import { chosenMeasure, chosenPeriod, chosenView, currentCompareLoad, delta, expectedCount, num, rowName, sideLabel, startCompareLoad, state, tz, writeHash } from './state.js'

/** @import { Comparison, Report } from './types.js' */

/**
 * Loads both sides and their diff, then draws them; `wantedRow` is selected if it changed.
 * @param {string | null} wantedRow
 */
export async function loadComparison(wantedRow) {
  const load = startCompareLoad()
  writeHash()
  if (!state.from || !state.to) {
    state.comparison = null
    renderComparison()
    renderExplain()
    return
  }
  $('compare-summary').textContent = 'Loading…'
  const view = chosenView().name
  const period = chosenPeriod()
  const [before, after, diff] = await Promise.all([getReport(view, period, state.from), getReport(view, period, state.to), getDiff(view, period, state.from, state.to)])
  if (load !== currentCompareLoad()) return
  /** @type {Comparison} */
  const comparison = { before, after, diff, rows: buildRows(before, after, diff) }
  state.comparison = comparison
  state.row = wantedRow && comparison.rows.some((r) => r.key === wantedRow && r.change) ? wantedRow : null
  renderComparison()
  renderExplain()
  writeHash()
}

/** @param {Comparison} comparison */
function renderSidesTable(comparison) {
  const { before, after, diff } = comparison
  const name = chosenMeasure()
  const table = $('sides')
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, ''),
      h('th', { scope: 'col' }, `Before: ${sideLabel(state.from)}`),
      h('th', { scope: 'col' }, `After: ${sideLabel(state.to)}`),
      h('th', { scope: 'col', class: 'num' }, 'Change'),
    ),
  )
  /** @param {Report} doc */
  const published = (doc) => (doc.revision === null ? 'not published (computed from the event store)' : `${formatTime(doc.computedAt, tz())}${doc.trigger ? `, trigger: ${doc.trigger}` : ''}`)
  const lines = [
    ['Published', published(before), published(after), ''],
    [
      'Knows events received up to',
      `${formatTime(before.cutoffReceivedAt, tz(), { seconds: true })} (event #${before.cutoffSeq})`,
      `${formatTime(after.cutoffReceivedAt, tz(), { seconds: true })} (event #${after.cutoffSeq})`,
      '',
    ],
    ['Events counted', formatInt(before.eventCount), formatInt(after.eventCount), formatDelta(after.eventCount - before.eventCount, { count: true })],
    ['Late events (received after the period ended)', formatInt(before.lateEventCount), formatInt(after.lateEventCount), formatDelta(after.lateEventCount - before.lateEventCount, { count: true })],
    ['Completeness (expected sources that reported)', formatPercent(before.completeness, expectedCount()), formatPercent(after.completeness, expectedCount()), ''],
    [`${name}, total`, num(diff.totals.before[name]), num(diff.totals.after[name]), totalDelta(comparison)],
  ]
  table.tBodies[0].replaceChildren(
    ...lines.map(([label, a, b, d], i) =>
      h(
        'tr',
        { class: i === lines.length - 1 ? 'total' : '', dataset: { line: ['published', 'cutoff', 'events', 'late', 'completeness', 'total'][i] } },
        h('th', { scope: 'row' }, label),
        h('td', { dataset: { side: 'before' } }, a),
        h('td', { dataset: { side: 'after' } }, b),
        h('td', { class: 'num' }, d),
      ),
    ),
  )
}

/**
 * The change of the chosen measure's total, as the diff gives it.
 * @param {Comparison} comparison
 */
function totalDelta(comparison) {
  const d = comparison.diff.totals.delta[chosenMeasure()]
  return d === null || d === undefined ? '—' : delta(d)
}

export function renderComparison() {
  const table = $('comparison')
  const c = state.comparison
  $('compare-body').hidden = !c
  if (!c) {
    $('compare-summary').textContent = state.revisions.length === 0 ? 'Choose two instants to compare.' : ''
    return
  }
  renderSidesTable(c)
  const changed = c.rows.filter((r) => r.change).length
  const events = c.diff.changes.reduce((n, ch) => n + ch.events.length, 0)
  $('compare-summary').textContent =
    state.from === state.to
      ? 'Both sides are the same version: nothing changed.'
      : changed === 0
        ? `No row differs between ${sideLabel(state.from)} and ${sideLabel(state.to)}.`
        : `${changed} of ${c.rows.length} rows changed between ${sideLabel(state.from)} and ${sideLabel(state.to)}; ${events} event${events === 1 ? '' : 's'} explain${events === 1 ? 's' : ''} the change. The total ${chosenMeasure()} changed by ${totalDelta(c)}.`
  const cols = columns()
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      cols.map((col) =>
        h(
          'th',
          { scope: 'col', class: col.type === 'num' ? 'num' : '', 'aria-sort': state.sort.key === col.key ? state.sort.dir : 'none', dataset: { col: col.key } },
          h('button', { type: 'button', class: 'sort', onclick: () => sortBy(col.key) }, col.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, '')),
        ),
      ),
    ),
  )
  updateSortMarks()
  renderComparisonBody()
  const name = chosenMeasure()
  const b = c.diff.totals.before[name]
  const a = c.diff.totals.after[name]
  tfoot(table).replaceChildren(
    h(
      'tr',
      { class: 'total' },
      h('th', { scope: 'row', colspan: chosenView().dimensions.length + 1 }, 'Total of all rows'),
      h('td', { class: 'num', dataset: { col: 'before' } }, num(b)),
      h('td', { class: 'num', dataset: { col: 'after' } }, num(a)),
      h('td', { class: 'num', dataset: { col: 'delta' } }, totalDelta(c)),
      h('td', { class: 'num', dataset: { col: 'events' } }, formatInt(events)),
    ),
  )
}

function renderComparisonBody() {
  const rows = sortedRows().map((row) => {
    const f = figures(row)
    const selected = row.key === state.row
    const tr = h(
      'tr',
      { class: `${row.change ? 'changed' : ''}${selected ? ' selected' : ''}`, dataset: { key: row.key }, 'aria-current': selected ? 'true' : null },
      chosenView().dimensions.map((d) => h('td', {}, dimLabel(row.dims[d]))),
      h('td', { class: `row-status st-${f.status}` }, STATUS_TEXT[f.status]),
      h('td', { class: 'num', dataset: { col: 'before' } }, num(f.before)),
      h('td', { class: 'num', dataset: { col: 'after' } }, num(f.after)),
      h('td', { class: 'num', dataset: { col: 'delta' } }, row.change ? delta(f.delta) : num(f.delta)),
      h(
        'td',
        { class: 'num', dataset: { col: 'events' } },
        row.change
          ? h(
              'button',
              { type: 'button', class: 'explain-button', 'aria-pressed': String(selected), 'aria-label': `Show the ${f.events} events that explain the change of ${rowName(row.dims)}` },
              `${f.events} event${f.events === 1 ? '' : 's'} ›`,
            )
          : '—',
      ),
    )
    if (row.change) {
      tr.addEventListener('click', (event) => {
        const target = /** @type {Element} */ (event.target)
        if (target.closest('button') && !target.closest('.explain-button')) return
        selectRow(row.key)
      })
    }
    return tr
  })
  $('comparison').tBodies[0].replaceChildren(...rows)
}

/** @param {string} key */
function sortBy(key) {
  state.sort = { key, dir: state.sort.key === key && state.sort.dir === 'ascending' ? 'descending' : 'ascending' }
  updateSortMarks()
  renderComparisonBody()
}

function updateSortMarks() {
  for (const th of thead($('comparison')).querySelectorAll('th')) {
    const active = th.dataset.col === state.sort.key
    th.setAttribute('aria-sort', active ? state.sort.dir : 'none')
    const arrow = th.querySelector('.arrow')
    if (arrow) arrow.textContent = active ? (state.sort.dir === 'ascending' ? ' ▲' : ' ▼') : ' ↕'
  }
}

/**
 * Selects a changed row (or unselects it when selected) and lists the events behind its change.
 * @param {string} key
 */
function selectRow(key) {
  state.row = state.row === key ? null : key
  for (const tr of $('comparison').tBodies[0].rows) {
    const on = tr.dataset.key === state.row
    tr.classList.toggle('selected', on)
    if (on) tr.setAttribute('aria-current', 'true')
    else tr.removeAttribute('aria-current')
    tr.querySelector('.explain-button')?.setAttribute('aria-pressed', String(on))
  }
  renderExplain()
  writeHash()
  if (state.row) $('explain').scrollIntoView({ block: 'nearest' })
}
