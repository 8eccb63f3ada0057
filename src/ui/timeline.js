// @ts-check
// The chosen period's head and how its figure evolved: the step chart of its revisions and their table.

import { KINDS, kindColor, renderStepChart } from './chart.js'
import { $, h, thead } from './dom.js'
import { cellOf, setGridCell } from './grid.js'
import { liveTotal } from './figures.js'
import { formatDelta, formatInt, formatPercent, formatTime, periodLabel, roundAs } from './format.js'
import { chosenMeasure, chosenPeriod, chosenView, delta, expectedCount, measureDef, num, shortSide, state, tz } from './state.js'

/** @import { Pending, Side } from './types.js' */

/**
 * Called with the new before and after sides when a dot or a button of the timeline picks one.
 * @typedef {(from: Side | null, to: Side | null) => void} OnSides
 */

export function renderPeriodHead() {
  const view = chosenView()
  const period = chosenPeriod()
  const info = state.statuses.get(period) ?? { status: state.periodStatus, dirty: false }
  const badge = h('span', { class: `badge s-${info.status}${info.dirty ? ' dirty' : ''}` }, info.status, info.dirty ? ' · changed since last report' : '')
  $('period-title').replaceChildren(`${view.name} · ${periodLabel(period, view.granularity)} `, badge)
  const n = state.revisions.length
  const first = state.revisions[0]
  const last = state.revisions[n - 1]
  $('period-intro').textContent =
    n === 0
      ? `No report has been published for ${period} yet; the live figure is shown. You can still compare what was known at two instants.`
      : `The report for ${period} (${view.timezone}) was published ${n} time${n === 1 ? '' : 's'}: first as ${first.kind} on ${formatTime(first.computedAt, tz())}, last as ${last.kind} on ${formatTime(last.computedAt, tz())}. Figures change when events for the period arrive late.`
}

/** @param {OnSides} onSides */
export function renderTimeline(onSides) {
  const name = chosenMeasure()
  /** @type {Array<{ x: number, label: string }>} */
  const marks = []
  for (const [side, label] of [
    [state.from, 'before'],
    [state.to, 'after'],
  ]) {
    if (!side) continue
    const x = side.startsWith('asOf:') ? Date.parse(side.slice(5)) : Date.parse(state.revisions.find((r) => String(r.revision) === side)?.computedAt ?? '')
    if (!Number.isNaN(x)) marks.push({ x, label: `${label}: ${shortSide(side)}` })
  }
  marks.sort((a, b) => a.x - b.x)
  const now = liveTotal()
  const pending = pendingText()
  renderStepChart($('chart'), {
    caption: `${name}, total of all rows`,
    timeZone: tz(),
    format: (v) => num(v, name),
    marks,
    points: state.revisions.map((r) => ({
      x: Date.parse(r.computedAt),
      y: r.totals.measures[name],
      kind: r.kind,
      revision: String(r.revision),
      highlight: String(r.revision) === state.from || String(r.revision) === state.to,
      title: `Revision ${r.revision} · ${r.kind} · published ${formatTime(r.computedAt, tz())} · ${name} ${num(r.totals.measures[name], name)} · click to compare with it`,
    })),
    now: now === null ? null : { y: now, title: `Now (live): ${name} ${num(now, name)}, from every event received so far${pending ? `; ${pending}` : ''}` },
    onPick: (revision) => {
      if (revision === state.to) return
      onSides(state.from === revision ? state.to : state.from, revision)
    },
  })
  $('kind-legend').replaceChildren(
    ...KINDS.filter((k) => state.revisions.some((r) => r.kind === k.id)).map((k) =>
      h('li', {}, h('span', { class: 'dot', 'aria-hidden': 'true', dataset: { kind: k.id } }), h('b', {}, k.id), `: ${k.help}`),
    ),
    h('li', {}, h('span', { class: 'dot now', 'aria-hidden': 'true' }), h('b', {}, 'now'), ': the live figure from every event received so far'),
  )
  for (const dot of /** @type {NodeListOf<HTMLElement>} */ ($('kind-legend').querySelectorAll('.dot[data-kind]'))) dot.style.background = kindColor(dot.dataset.kind)
  renderPending()
  renderRevisionTable(onSides)
}

/**
 * What the chosen period's live figures hold beyond its latest revision, in words, or null when
 * nothing is pending. Provisional periods of a view with `rebuild.minChange` hold back moves
 * below the threshold; closed ones hold late events until a restatement (or for good).
 */
function pendingText() {
  const pending = state.period === null ? undefined : state.pending.get(state.period)
  if (!pending || state.revisions.length === 0) return null
  const name = chosenMeasure()
  const change = pending.measures[name]
  if ((change === 0 || change === null || change === undefined) && pending.eventCount === 0) return null
  const status = state.statuses.get(chosenPeriod())?.status ?? state.periodStatus
  const why = status === 'final' ? 'pending after close' : pending.belowMinChange ? 'pending below threshold' : 'pending, not published yet'
  const events = `${formatDelta(pending.eventCount, { count: true })} event${Math.abs(pending.eventCount) === 1 ? '' : 's'}`
  return `${why}: ${delta(change ?? null)} ${name}, ${events}`
}

/** Says on the timeline what the live figures hold that no revision has published yet. */
export function renderPending() {
  const note = $('pending-note')
  const text = pendingText()
  note.hidden = text === null
  note.textContent = text ?? ''
}

/** The revisions table's column of "after" buttons. */
const AFTER_COLUMN = 10

/** @param {OnSides} onSides */
function renderRevisionTable(onSides) {
  const name = chosenMeasure()
  const table = $('revisions')
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      ['Rev', 'Kind', 'Published', 'Trigger', 'Events', 'Late events', 'Completeness', `${name} total`, 'Change', 'Before', 'After'].map((t, i) =>
        h('th', { scope: 'col', class: i >= 4 && i <= 8 ? 'num' : '' }, t),
      ),
    ),
  )
  /** @type {number | null} */
  let previous = null
  const rows = state.revisions.map((r) => {
    const value = r.totals.measures[name]
    const change = previous === null || value === null || previous === null ? null : roundAs(value - previous, measureDef())
    previous = value
    const rev = String(r.revision)
    /** @param {'from' | 'to'} which */
    const sideButton = (which) => {
      const active = (which === 'from' ? state.from : state.to) === rev
      return h(
        'button',
        {
          type: 'button',
          class: `side-button${active ? ' active' : ''}`,
          'aria-pressed': String(active),
          'aria-label': `Use revision ${rev} as ${which === 'from' ? 'before' : 'after'}`,
          onclick: () => (which === 'from' ? onSides(rev, state.to === rev ? state.from : state.to) : onSides(state.from === rev ? state.to : state.from, rev)),
        },
        which === 'from' ? 'before' : 'after',
      )
    }
    return h(
      'tr',
      { class: state.from === rev || state.to === rev ? 'compared' : '', dataset: { revision: rev } },
      h('td', {}, rev),
      h('td', {}, h('span', { class: 'kind', dataset: { kind: r.kind } }, r.kind)),
      h('td', {}, formatTime(r.computedAt, tz())),
      h('td', {}, r.trigger ?? '—'),
      h('td', { class: 'num' }, formatInt(r.eventCount)),
      h('td', { class: 'num' }, formatInt(r.lateEventCount)),
      h('td', { class: 'num', title: formatPercent(r.completeness, expectedCount()) }, formatPercent(r.completeness, expectedCount(), { compact: true })),
      h('td', { class: 'num' }, num(value)),
      h('td', { class: 'num' }, change === null ? '' : delta(change)),
      h('td', { class: 'side' }, sideButton('from')),
      h('td', { class: 'side' }, sideButton('to')),
    )
  })
  const now = liveTotal()
  const last = state.revisions[state.revisions.length - 1]
  const lastTotal = last ? (last.totals.measures[name] ?? null) : null
  // Both are the server's totals; no answer holds their difference, so it is rounded here as the revisions' changes are.
  const nowChange = now === null || lastTotal === null ? null : roundAs(now - lastTotal, measureDef())
  rows.push(
    h(
      'tr',
      { class: 'now-row' },
      h('td', {}, 'now'),
      h('td', {}, 'live'),
      h('td', {}, 'not published'),
      h('td', {}, '—'),
      h('td', { class: 'num' }, state.realtime ? formatInt(state.realtime.totals.eventCount) : '—'),
      h('td', { class: 'num' }, '—'),
      h('td', { class: 'num' }, '—'),
      h('td', { class: 'num' }, num(now)),
      h('td', { class: 'num' }, nowChange === null ? '' : delta(nowChange)),
      h('td', {}),
      h('td', {}),
    ),
  )
  // The table is one tab stop (see grid.js): the cell that had the focus keeps it across the
  // redraw a pressed button causes; else Tab enters at the after button of the compared revision.
  const focused = cellOf(table, document.activeElement)
  table.tBodies[0].replaceChildren(...rows)
  const after = rows.findIndex((tr) => tr.dataset.revision !== undefined && tr.dataset.revision === state.to)
  setGridCell(table, focused ?? { row: after >= 0 ? after + 1 : 1, col: after >= 0 ? AFTER_COLUMN : 0 }, focused !== null)
  for (const k of /** @type {NodeListOf<HTMLElement>} */ (table.querySelectorAll('.kind'))) k.style.borderColor = kindColor(k.dataset.kind)
}
