// @ts-check
// The live strip: the latest period's figures from every event received so far, and recent alerts,
// refreshed every few seconds while the tab is visible.

import { ApiProblem, getAlerts, getRealtime, getRevisions } from './api.js'
import { handle, showAuth } from './auth.js'
import { $, h } from './dom.js'
import { formatInt, formatTime, periodLabel } from './format.js'
import { loadStatus, selectPeriod } from './periods.js'
import { drawTimeline, renderSideSelects } from './sides.js'
import { chosenPeriod, chosenView, currentPeriodLoad, defaultPeriod, num, setLiveTimer, state, stopLive, tz } from './state.js'
import { renderPeriodHead } from './timeline.js'

/** @import { Alert, Realtime } from './types.js' */

const LIVE_EVERY_MS = 5000

/** Refreshes now, then every LIVE_EVERY_MS until `stopLive`. */
export function startLive() {
  stopLive()
  const tick = async () => {
    if (!document.hidden) {
      try {
        await refreshLive()
      } catch (error) {
        if (error instanceof ApiProblem && error.isAuth) return showAuth(error)
        $('live-caption').textContent = `The live figures could not be refreshed: ${/** @type {Error} */ (error).message}`
      }
    }
    setLiveTimer(setTimeout(tick, LIVE_EVERY_MS))
  }
  tick()
}

async function refreshLive() {
  const view = state.view
  const load = currentPeriodLoad()
  if (!view) return
  await loadStatus()
  // The first events of a view that had none: show its period as a link would.
  if (state.period === null && state.statuses.size > 0 && view === state.view) await selectPeriod(defaultPeriod())
  const period = state.period
  const latest = state.latestPeriod
  const [realtime, alerts, chosen] = await Promise.all([
    latest ? getRealtime(view.name, latest) : Promise.resolve(null),
    getAlerts(10),
    period ? getRealtime(view.name, period) : Promise.resolve(null),
  ])
  if (view !== state.view) return
  renderLiveTotals(latest, realtime)
  renderAlerts(alerts.alerts)
  // Only while the same period is shown: a period picked meanwhile loads its own figures.
  if (load !== currentPeriodLoad() || !chosen || JSON.stringify(chosen.cells) === JSON.stringify(state.realtime?.cells)) return
  state.realtime = chosen
  // A changed live figure may come with a new revision: refresh the timeline (the comparison stays).
  const revisions = await getRevisions(chosenView().name, chosenPeriod())
  if (load !== currentPeriodLoad() || view !== state.view) return
  const published = revisions.revisions.length !== state.revisions.length
  state.revisions = revisions.revisions
  state.periodStatus = revisions.status
  renderPeriodHead()
  drawTimeline()
  if (published) renderSideSelects()
}

/**
 * @param {string | null} period
 * @param {Realtime | null} realtime
 */
function renderLiveTotals(period, realtime) {
  const view = chosenView()
  if (!period || !realtime) {
    $('live-caption').textContent = `${view.name} has received no events yet.`
    $('live-totals').replaceChildren()
    return
  }
  const info = state.statuses.get(period)
  $('live-caption').replaceChildren(
    'Latest period ',
    h('button', { type: 'button', class: 'link', onclick: () => selectPeriod(period).catch(handle) }, periodLabel(period, view.granularity)),
    ` (${info?.status ?? 'open'}) of ${view.name}, from every event received so far · updated ${formatTime(new Date().toISOString(), tz(), { seconds: true })}, every 5 s`,
  )
  // One div per figure (as HTML allows in a dl), so that the figures wrap on a narrow screen.
  $('live-totals').replaceChildren(
    ...Object.keys(view.measures).map((name) => h('div', {}, h('dt', {}, name), h('dd', { dataset: { measure: name } }, num(realtime.totals.measures[name], name)))),
    h('div', {}, h('dt', {}, 'events'), h('dd', { dataset: { count: 'events' } }, formatInt(realtime.totals.eventCount))),
  )
}

/** @param {Alert} a */
function alertText(a) {
  const d = a.data ?? {}
  switch (a.type) {
    case 'ReportRevised':
      return `revision ${d.revision} (${d.kind}) published; ${d.changedCells ?? 0} row${d.changedCells === 1 ? '' : 's'} changed`
    case 'MissingData':
      return `no data from ${a.source} (expected by ${formatTime(d.expectedBy, tz())})`
    case 'DelayedEvent':
      return `${d.count} event${d.count === 1 ? '' : 's'} from ${a.source} arrived late (up to ${d.maxLag}, allowed ${d.sla})`
    case 'LateAfterClose':
      return `${d.count} event${d.count === 1 ? '' : 's'} arrived after the period was closed (${d.policy})`
    case 'JobFailed':
      return `job ${d.job} failed: ${d.error}`
    default:
      return ''
  }
}

/** @param {Alert[]} alerts */
function renderAlerts(alerts) {
  const list = $('alerts')
  if (alerts.length === 0) {
    list.replaceChildren(h('li', { class: 'hint' }, 'No alerts.'))
    return
  }
  list.replaceChildren(
    ...alerts.map((a) => {
      const period = a.period
      const openable = a.view === state.view?.name && period && state.statuses.has(period)
      return h(
        'li',
        { class: `alert st-${a.status}` },
        h('time', { datetime: a.createdAt }, formatTime(a.createdAt, tz())),
        ' ',
        h('span', { class: 'alert-kind' }, a.type),
        ' ',
        a.view ? `${a.view} ` : '',
        period ? (openable ? h('button', { type: 'button', class: 'link', tabindex: '-1', onclick: () => selectPeriod(period).catch(handle) }, period) : period) : '',
        ': ',
        alertText(a),
        a.status === 'resolved' ? ' (resolved)' : '',
      )
    }),
  )
}

/**
 * The alert list is one tab stop (it scrolls): arrow keys, Home and End move between the periods
 * its alerts link to, Escape back to the list.
 */
export function bindAlerts() {
  const list = $('alerts')
  list.addEventListener('keydown', (event) => {
    const links = [.../** @type {NodeListOf<HTMLButtonElement>} */ (list.querySelectorAll('button.link'))]
    const at = links.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement))
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: links.length - 1 }[event.key]
    if (event.key === 'Escape' && at >= 0) {
      event.preventDefault()
      list.focus()
      return
    }
    if (to === undefined || links.length === 0) return
    event.preventDefault()
    links[Math.min(Math.max(to, 0), links.length - 1)].focus()
  })
}
