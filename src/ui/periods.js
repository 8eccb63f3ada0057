// @ts-check
// Choosing what to look at: a view, its measure and one of its periods, from a link or a click.

import { getRealtime, getRevisions, getToken, getView } from './api.js'
import { handle } from './auth.js'
import { periodStatuses, renderCalendar } from './calendar.js'
import { loadComparison } from './compare.js'
import { $, h, showError } from './dom.js'
import { measureKind, periodLabel } from './format.js'
import { drawTimeline, renderSideSelects } from './sides.js'
import { openReliability, reliabilityChanged } from './reliability.js'
import { chosenView, currentPeriodLoad, defaultMeasure, defaultPeriod, startPeriodLoad, state, validSide, writeHash } from './state.js'
import { renderPeriodHead, renderPending } from './timeline.js'

/** @import { View, Wanted } from './types.js' */

/**
 * Shows what a link names, or what the page shows first when it names nothing.
 * @param {Wanted} wanted
 */
export async function restore(wanted) {
  const view = state.views.find((v) => v.name === wanted.view) ?? (await firstViewWithData())
  if (wanted.view && view.name !== wanted.view) showError(new Error(`the link names view ${wanted.view}, which this server does not have; showing ${view.name}`))
  await selectView(view.name, wanted)
}

/** Without a link, start on the first view that has received events (else the first view). */
async function firstViewWithData() {
  const docs = await Promise.all(state.views.slice(0, 20).map((v) => getView(v.name)))
  const withData = docs.find((d) => periodStatuses(d.status).size > 0)
  return state.views.find((v) => v.name === withData?.name) ?? state.views[0]
}

/**
 * @param {string} name
 * @param {Partial<Wanted>} [wanted]
 */
export async function selectView(name, wanted = {}) {
  const view = state.views.find((v) => v.name === name)
  if (!view) throw new Error(`no view ${name}`)
  state.view = view
  $('view-select').value = view.name
  state.measure = wanted.measure && view.measures[wanted.measure] ? wanted.measure : defaultMeasure(view)
  $('measure-select').replaceChildren(...Object.entries(view.measures).map(([n, def]) => h('option', { value: n }, `${n} (${measureKind(def)})`)))
  $('measure-select').value = state.measure
  for (const span of document.querySelectorAll('.tz')) span.textContent = view.timezone
  // Before the period loads: the panel is the view's, whatever happens to the period.
  if (wanted.reliability !== undefined) openReliability(wanted.reliability)
  else reliabilityChanged()
  await loadStatus()
  let period = wanted.period
  if (period && !state.statuses.has(period)) {
    showError(new Error(`period ${period} has no data in view ${view.name}; showing another period`))
    period = null
  }
  await selectPeriod(period ?? defaultPeriod(), wanted)
}

/** Reloads the status of the chosen view's periods and redraws the calendar if it changed. */
export async function loadStatus() {
  const view = chosenView()
  const doc = await getView(view.name)
  if (view !== state.view) return
  const statuses = periodStatuses(doc.status)
  const changed = JSON.stringify([...statuses]) !== JSON.stringify([...state.statuses])
  state.statuses = statuses
  const pending = new Map((doc.status?.dirty ?? []).flatMap((d) => (d.pending ? [[d.period, d.pending]] : [])))
  const pendingChanged = state.period !== null && JSON.stringify(pending.get(state.period)) !== JSON.stringify(state.pending.get(state.period))
  state.pending = pending
  if (pendingChanged && state.revisions.length > 0) renderPending()
  const keys = [...statuses.keys()].sort()
  state.latestPeriod = keys[keys.length - 1] ?? null
  if (changed || !$('calendar').hasChildNodes()) drawCalendar()
}

function drawCalendar() {
  $('periods-help').hidden = state.statuses.size === 0
  renderCalendar($('calendar'), {
    granularity: chosenView().granularity,
    statuses: state.statuses,
    selected: state.period,
    onSelect: (key) => selectPeriod(key).catch(handle),
  })
}

/**
 * Shows a period (null: none) with its revisions and live figures, then compares the sides a
 * link names, else its first revision with its latest (or with now, when it has only one).
 * @param {string | null} period
 * @param {Partial<Wanted>} [wanted]
 */
export async function selectPeriod(period, wanted = {}) {
  const load = startPeriodLoad()
  const view = chosenView()
  state.period = period
  state.comparison = null
  state.row = null
  drawCalendar()
  $('period-empty').hidden = period !== null
  $('period-content').hidden = period === null
  if (period === null) {
    renderEmpty(view)
    writeHash()
    return
  }
  $('period-title').textContent = `${periodLabel(period, view.granularity)}`
  const [revisions, realtime] = await Promise.all([getRevisions(view.name, period), getRealtime(view.name, period)])
  if (load !== currentPeriodLoad()) return
  state.revisions = revisions.revisions
  state.periodStatus = revisions.status
  state.realtime = realtime
  const n = state.revisions.length
  const latest = n ? String(state.revisions[n - 1].revision) : null
  const from = wanted.from ?? null
  const to = wanted.to ?? null
  state.from = validSide(from) ? from : n ? '1' : null
  state.to = validSide(to) ? to : n > 1 ? latest : n === 1 ? `asOf:${new Date().toISOString()}` : null
  renderPeriodHead()
  drawTimeline()
  renderSideSelects()
  await loadComparison(wanted.row ?? null)
}

/** The sample data of `lateview fixtures` and the types of event each sends (fixtures/generate.ts). */
const FIXTURES = [
  { name: 'retail', what: 'the sample retail chain', types: ['sale', 'refund'] },
  { name: 'lab', what: 'the sample lab network', types: ['test_result'] },
]

/**
 * Says how to send events to a view that has none: the commands of the README's quick tour with
 * the sample data that feeds the view (else a file of the user's events), addressed to this
 * server, with a token's header when the page uses one.
 * @param {View} view
 */
function renderEmpty(view) {
  const fixture = FIXTURES.find((f) => f.types.some((t) => view.eventTypes?.includes(t)))
  const file = fixture ? `/tmp/${fixture.name}.ndjson` : 'events.ndjson'
  $('empty-intro').replaceChildren(
    h('b', {}, view.name),
    ' has received no events, so it has no periods to show. ',
    fixture
      ? `Send some from a terminal, for example three days of ${fixture.what}:`
      : `Send it events of type ${(view.eventTypes ?? []).join(' or ')} from a terminal, as NDJSON (one event per line) in ${file}:`,
  )
  $('empty-ingest').textContent = fixture ? `npx lateview fixtures ${fixture.name} --days 3 | npx lateview ingest -` : `npx lateview ingest ${file}`
  const auth = getToken() === null ? '' : ` \\\n  -H 'authorization: Bearer <a token with the ingest scope>'`
  $('empty-post').textContent = [
    ...(fixture ? [`npx lateview fixtures ${fixture.name} --days 3 > ${file}`] : []),
    `curl -s -X POST ${location.origin}/v1/events${auth} \\`,
    `  -H 'content-type: application/x-ndjson' --data-binary @${file}`,
  ].join('\n')
}
