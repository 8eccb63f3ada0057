// @ts-check
// The two compared sides: the before and after controls, and every way to change them.

import { handle } from './auth.js'
import { loadComparison } from './compare.js'
import { downloadCsv } from './csv.js'
import { $, h } from './dom.js'
import { formatTime, isoToLocalInput, localInputToIso } from './format.js'
import { state, tz } from './state.js'
import { renderTimeline } from './timeline.js'

/** @import { Side } from './types.js' */

/** @type {Array<'from' | 'to'>} */
const WHICH = ['from', 'to']

/**
 * The choices of a side. A select shows its chosen option's text cut at its edge, so each is short
 * enough for a phone's card ("r8 · consolidated · 03 Nov, 03:00", as the chart names revisions).
 */
function sideOptions() {
  return [
    ...state.revisions.map((r) => h('option', { value: String(r.revision) }, `r${r.revision} · ${r.kind} · ${formatTime(r.computedAt, tz(), { weekday: false })}`)),
    h('option', { value: 'asOf' }, 'As of an instant…'),
  ]
}

export function renderSideSelects() {
  for (const which of WHICH) {
    const side = which === 'from' ? state.from : state.to
    const select = $(`${which}-select`)
    select.replaceChildren(...(side ? [] : [h('option', { value: '' }, 'Choose…')]), ...sideOptions())
    const asOf = side?.startsWith('asOf:') ?? false
    select.value = asOf ? 'asOf' : (side ?? '')
    $(`${which}-asof-label`).hidden = !asOf
    if (asOf && side) $(`${which}-asof`).value = isoToLocalInput(side.slice(5), tz())
  }
}

/** Draws the timeline, whose dots and buttons choose the sides. */
export function drawTimeline() {
  renderTimeline(setSides)
}

/**
 * Compares `from` with `to`: redraws the controls and the timeline, then loads the comparison.
 * @param {Side | null} from
 * @param {Side | null} to
 */
export function setSides(from, to) {
  state.from = from
  state.to = to
  state.row = null
  renderSideSelects()
  drawTimeline()
  loadComparison(null).catch(handle)
}

export function bindCompareControls() {
  for (const which of WHICH) {
    const select = $(`${which}-select`)
    select.addEventListener('change', () => {
      const value = select.value
      let side = value
      if (value === 'asOf') {
        const current = which === 'from' ? state.from : state.to
        const revision = state.revisions.find((r) => String(r.revision) === current)
        side = `asOf:${revision?.cutoffReceivedAt ?? revision?.computedAt ?? new Date().toISOString()}`
      }
      if (which === 'from') setSides(side, state.to)
      else setSides(state.from, side)
      if (value === 'asOf') $(`${which}-asof`).focus()
    })
    const input = $(`${which}-asof`)
    input.addEventListener('change', () => {
      const iso = localInputToIso(input.value, tz())
      if (!iso) return
      if (which === 'from') setSides(`asOf:${iso}`, state.to)
      else setSides(state.from, `asOf:${iso}`)
    })
  }
  $('swap').addEventListener('click', () => setSides(state.to, state.from))
  $('download').addEventListener('click', () => downloadCsv().catch(handle))
}
