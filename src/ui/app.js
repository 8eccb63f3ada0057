// @ts-check
// The analyst page: pick a view and a period, follow its revisions, compare two of them and see
// the late events that explain each change. Plain ES modules over lateview's HTTP API.

import { getToken, getViews } from './api.js'
import { bindAuth, handle } from './auth.js'
import { renderLegend } from './calendar.js'
import { renderComparison } from './compare.js'
import { $, h, showError } from './dom.js'
import { renderExplain } from './explain.js'
import { bindGrid } from './grid.js'
import { bindAlerts, startLive } from './live.js'
import { restore, selectView } from './periods.js'
import { bindReliability, redrawReliability, reliabilityChanged } from './reliability.js'
import { bindCompareControls, drawTimeline } from './sides.js'
import { isWrittenHash, readHash, state, writeHash } from './state.js'

/** Loads the views, then shows what the URL names and starts the live strip. */
async function boot() {
  showError(null)
  try {
    const { views } = await getViews()
    state.views = views
    $('view-select').replaceChildren(...views.map((v) => h('option', { value: v.name }, v.name)))
    $('top-controls').hidden = false
    $('sign-out').hidden = getToken() === null
    $('auth').hidden = true
    $('app').hidden = false
    if (views.length === 0) {
      showError(new Error('the server has no views: add view definitions to its views folder'))
      return
    }
    await restore(readHash())
    startLive()
  } catch (error) {
    handle(error)
  }
}

function bind() {
  bindAuth(boot)
  bindCompareControls()
  bindReliability()
  bindGrid($('revisions'))
  bindAlerts()
  renderLegend($('legend'))
  $('view-select').addEventListener('change', () => {
    state.sort = { key: null, dir: 'ascending' }
    selectView($('view-select').value).catch(handle)
  })
  $('measure-select').addEventListener('change', () => {
    state.measure = $('measure-select').value
    writeHash()
    reliabilityChanged()
    if (!state.period) return
    drawTimeline()
    if (state.comparison) {
      renderComparison()
      renderExplain()
    }
  })
  window.addEventListener('hashchange', () => {
    if (isWrittenHash() || state.views.length === 0) return
    restore(readHash()).catch(handle)
  })
  /** @type {number | undefined} */
  let resize
  window.addEventListener('resize', () => {
    clearTimeout(resize)
    resize = setTimeout(() => {
      if (state.period) drawTimeline()
      redrawReliability()
    }, 150)
  })
}

bind()
boot()
