// The analyst page: pick a view and a period, follow its revisions, compare two of them and see
// the late events that explain each change. Plain ES modules over lateview's HTTP API.

import { api, ApiProblem, clearToken, getToken, seg, setToken } from './api.js'
import { periodStatuses, renderCalendar, renderLegend } from './calendar.js'
import { KINDS, kindColor, renderStepChart } from './chart.js'
import {
  dimLabel,
  formatDelta,
  formatInt,
  formatLag,
  formatNumber,
  formatPercent,
  formatTime,
  isAdditive,
  isoToLocalInput,
  localInputToIso,
  measureKind,
  periodLabel,
  roundAs,
} from './format.js'

const LIVE_EVERY_MS = 5000
const $ = (id) => document.getElementById(id)

const state = {
  views: [],
  /** The chosen view's definition. */
  view: null,
  statuses: new Map(),
  latestPeriod: null,
  period: null,
  periodStatus: null,
  revisions: [],
  /** Live cells of the chosen period. */
  realtime: null,
  measure: null,
  /** A revision number as text, or `asOf:<ISO>`. */
  from: null,
  to: null,
  /** The key of the selected changed row. */
  row: null,
  comparison: null,
  sort: { key: null, dir: 'ascending' },
}

let writtenHash = null
let liveTimer = null
let periodLoad = 0
let compareLoad = 0

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') e.className = v
    else if (k === 'dataset') Object.assign(e.dataset, v)
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c))
  return e
}

const measureDef = (name = state.measure) => state.view?.measures?.[name]
const tz = () => state.view?.timezone ?? 'UTC'
const num = (v, name) => formatNumber(v, measureDef(name))
const delta = (v, name) => formatDelta(v, measureDef(name))
const expectedCount = () => state.view?.expectedSources?.sources?.length ?? 0
const basePath = () => `/v1/views/${seg(state.view.name)}/periods/${seg(state.period)}`

/** Stable text key of a row's dimensions, as kept in the URL. */
function rowKey(dims) {
  return state.view.dimensions.map((d) => encodeURIComponent(dimLabel(dims[d]))).join('/')
}

function rowName(dims) {
  return state.view.dimensions.map((d) => `${d} ${dimLabel(dims[d])}`).join(' · ')
}

function sideLabel(side) {
  if (!side) return '—'
  if (side.startsWith('asOf:')) return `as of ${formatTime(side.slice(5), tz(), { seconds: true })}`
  const r = state.revisions.find((x) => String(x.revision) === side)
  return r ? `revision ${r.revision} (${r.kind})` : `revision ${side}`
}

function shortSide(side) {
  if (!side) return '—'
  return side.startsWith('asOf:') ? `as of ${formatTime(side.slice(5), tz())}` : `rev ${side}`
}

/** The total of a measure over live cells; null for averages, which cells cannot give. */
function combine(cells, name) {
  const kind = measureKind(measureDef(name))
  const values = cells.map((c) => c.measures[name]).filter((v) => typeof v === 'number')
  if (kind === 'avg') return null
  if (values.length === 0) return kind === 'count' || kind === 'sum' ? 0 : null
  if (kind === 'max') return Math.max(...values)
  if (kind === 'min') return Math.min(...values)
  return roundAs(values.reduce((a, b) => a + b, 0), measureDef(name))
}

function showError(error) {
  const box = $('error')
  if (!error) {
    box.hidden = true
    box.textContent = ''
    return
  }
  const p = error instanceof ApiProblem ? error.problem : null
  box.replaceChildren(h('b', {}, p?.title ?? 'Something went wrong'), ': ', error.message, p?.code ? h('span', { class: 'code' }, ` (${p.code})`) : '')
  box.hidden = false
}

function handle(error) {
  if (error instanceof ApiProblem && error.isAuth) return showAuth(error)
  console.error(error)
  showError(error)
}

// ---------------------------------------------------------------- URL state

function readHash() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ''))
  const get = (k) => p.get(k) || null
  return { view: get('view'), period: get('period'), from: get('from'), to: get('to'), row: get('row'), measure: get('measure') }
}

function writeHash() {
  const p = new URLSearchParams()
  if (state.view) p.set('view', state.view.name)
  if (state.period) p.set('period', state.period)
  if (state.from) p.set('from', state.from)
  if (state.to) p.set('to', state.to)
  if (state.row) p.set('row', state.row)
  if (state.measure && state.view && state.measure !== defaultMeasure(state.view)) p.set('measure', state.measure)
  const hash = `#${p.toString()}`
  if (hash !== location.hash) history.replaceState(null, '', hash)
  writtenHash = location.hash
}

// ---------------------------------------------------------------- auth

function showAuth(error) {
  stopLive()
  $('app').hidden = true
  $('top-controls').hidden = true
  showError(null)
  const detail = error?.problem?.detail ?? error?.message ?? ''
  const had = getToken() !== null
  $('auth-problem').textContent = had ? `The server refused the token: ${detail}` : `The server says: ${detail}`
  $('auth').hidden = false
  $('token-input').value = ''
  $('token-input').focus()
}

function bindAuth() {
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const token = $('token-input').value.trim()
    if (!token) return
    setToken(token)
    $('auth').hidden = true
    boot()
  })
  $('sign-out').addEventListener('click', () => {
    clearToken()
    location.reload()
  })
}

// ---------------------------------------------------------------- boot

async function boot() {
  showError(null)
  try {
    const { views } = await api('/v1/views')
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

async function restore(wanted) {
  const view = state.views.find((v) => v.name === wanted.view) ?? (await firstViewWithData())
  if (wanted.view && view.name !== wanted.view) showError(new Error(`the link names view ${wanted.view}, which this server does not have; showing ${view.name}`))
  await selectView(view.name, wanted)
}

/** Without a link, start on the first view that has received events (else the first view). */
async function firstViewWithData() {
  const docs = await Promise.all(state.views.slice(0, 20).map((v) => api(`/v1/views/${seg(v.name)}`)))
  const withData = docs.find((d) => periodStatuses(d.status).size > 0)
  return state.views.find((v) => v.name === withData?.name) ?? state.views[0]
}

function defaultMeasure(view) {
  const names = Object.keys(view.measures)
  return names.find((n) => measureKind(view.measures[n]) === 'sum') ?? names[0]
}

async function selectView(name, wanted = {}) {
  const view = state.views.find((v) => v.name === name)
  state.view = view
  $('view-select').value = view.name
  state.measure = wanted.measure && view.measures[wanted.measure] ? wanted.measure : defaultMeasure(view)
  $('measure-select').replaceChildren(
    ...Object.entries(view.measures).map(([n, def]) => h('option', { value: n }, `${n} (${measureKind(def)})`)),
  )
  $('measure-select').value = state.measure
  for (const span of document.querySelectorAll('.tz')) span.textContent = view.timezone
  await loadStatus()
  let period = wanted.period
  if (period && !state.statuses.has(period)) {
    showError(new Error(`period ${period} has no data in view ${view.name}; showing another period`))
    period = null
  }
  await selectPeriod(period ?? defaultPeriod(), wanted)
}

async function loadStatus() {
  const view = state.view
  const doc = await api(`/v1/views/${seg(view.name)}`)
  if (view !== state.view) return
  const statuses = periodStatuses(doc.status)
  const changed = JSON.stringify([...statuses]) !== JSON.stringify([...state.statuses])
  state.statuses = statuses
  const keys = [...statuses.keys()].sort()
  state.latestPeriod = keys[keys.length - 1] ?? null
  if (changed || !$('calendar').hasChildNodes()) drawCalendar()
}

function drawCalendar() {
  renderCalendar($('calendar'), {
    granularity: state.view.granularity,
    statuses: state.statuses,
    selected: state.period,
    onSelect: (key) => selectPeriod(key).catch(handle),
  })
}

/** The newest period with a published report, else the newest with events. */
function defaultPeriod() {
  const keys = [...state.statuses.keys()].sort().reverse()
  return keys.find((k) => state.statuses.get(k).status !== 'open') ?? keys[0] ?? null
}

function validSide(side) {
  if (!side) return false
  if (side.startsWith('asOf:')) return !Number.isNaN(Date.parse(side.slice(5)))
  return state.revisions.some((r) => String(r.revision) === side)
}

async function selectPeriod(period, wanted = {}) {
  const load = ++periodLoad
  state.period = period
  state.comparison = null
  state.row = null
  drawCalendar()
  $('period-empty').hidden = period !== null
  $('period-content').hidden = period === null
  if (period === null) {
    writeHash()
    return
  }
  $('period-title').textContent = `${periodLabel(period, state.view.granularity)}`
  const [revisions, realtime] = await Promise.all([
    api(`${basePath()}/revisions`),
    api(`/v1/views/${seg(state.view.name)}/realtime?from=${seg(period)}&to=${seg(period)}`),
  ])
  if (load !== periodLoad) return
  state.revisions = revisions.revisions
  state.periodStatus = revisions.status
  state.realtime = realtime
  const n = state.revisions.length
  const latest = n ? String(state.revisions[n - 1].revision) : null
  state.from = validSide(wanted.from) ? wanted.from : n ? '1' : null
  state.to = validSide(wanted.to) ? wanted.to : n > 1 ? latest : n === 1 ? `asOf:${new Date().toISOString()}` : null
  renderPeriodHead()
  renderTimeline()
  renderSideSelects()
  await loadComparison(wanted.row ?? null)
}

// ---------------------------------------------------------------- period head and timeline

function renderPeriodHead() {
  const info = state.statuses.get(state.period) ?? { status: state.periodStatus, dirty: false }
  const badge = h('span', { class: `badge s-${info.status}${info.dirty ? ' dirty' : ''}` }, info.status, info.dirty ? ' · changed since last report' : '')
  $('period-title').replaceChildren(`${state.view.name} · ${periodLabel(state.period, state.view.granularity)} `, badge)
  const n = state.revisions.length
  const first = state.revisions[0]
  const last = state.revisions[n - 1]
  $('period-intro').textContent =
    n === 0
      ? `No report has been published for ${state.period} yet; the live figure is shown. You can still compare what was known at two instants.`
      : `The report for ${state.period} (${state.view.timezone}) was published ${n} time${n === 1 ? '' : 's'}: first as ${first.kind} on ${formatTime(first.computedAt, tz())}, last as ${last.kind} on ${formatTime(last.computedAt, tz())}. Figures change when events for the period arrive late.`
}

function liveTotal() {
  return state.realtime ? combine(state.realtime.cells, state.measure) : null
}

function renderTimeline() {
  const name = state.measure
  const marks = []
  for (const [side, label] of [[state.from, 'before'], [state.to, 'after']]) {
    if (!side) continue
    const x = side.startsWith('asOf:') ? Date.parse(side.slice(5)) : Date.parse(state.revisions.find((r) => String(r.revision) === side)?.computedAt ?? '')
    if (!Number.isNaN(x)) marks.push({ x, label: `${label}: ${shortSide(side)}` })
  }
  marks.sort((a, b) => a.x - b.x)
  const now = liveTotal()
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
    now: now === null ? null : { y: now, title: `Now (live): ${name} ${num(now, name)}, from every event received so far` },
    onPick: (revision) => {
      if (revision === state.to) return
      setSides(state.from === revision ? state.to : state.from, revision)
    },
  })
  $('kind-legend').replaceChildren(
    ...KINDS.filter((k) => state.revisions.some((r) => r.kind === k.id)).map((k) =>
      h('li', {}, h('span', { class: 'dot', 'aria-hidden': 'true', dataset: { kind: k.id } }), h('b', {}, k.id), `: ${k.help}`),
    ),
    h('li', {}, h('span', { class: 'dot now', 'aria-hidden': 'true' }), h('b', {}, 'now'), ': the live figure from every event received so far'),
  )
  for (const dot of $('kind-legend').querySelectorAll('.dot[data-kind]')) dot.style.background = kindColor(dot.dataset.kind)
  renderRevisionTable()
}

function renderRevisionTable() {
  const name = state.measure
  const table = $('revisions')
  table.tHead.replaceChildren(
    h(
      'tr',
      {},
      ['Rev', 'Kind', 'Published', 'Trigger', 'Events', 'Late events', 'Completeness', `${name} total`, 'Change', 'Compare'].map((t, i) =>
        h('th', { scope: 'col', class: i >= 4 && i <= 8 ? 'num' : '' }, t),
      ),
    ),
  )
  let previous = null
  const rows = state.revisions.map((r) => {
    const value = r.totals.measures[name]
    const change = previous === null || value === null || previous === null ? null : roundAs(value - previous, measureDef())
    previous = value
    const rev = String(r.revision)
    const sideButton = (which) => {
      const active = (which === 'from' ? state.from : state.to) === rev
      return h(
        'button',
        {
          type: 'button',
          class: `side-button${active ? ' active' : ''}`,
          'aria-pressed': String(active),
          'aria-label': `Use revision ${rev} as ${which === 'from' ? 'before' : 'after'}`,
          onclick: () => (which === 'from' ? setSides(rev, state.to === rev ? state.from : state.to) : setSides(state.from === rev ? state.to : state.from, rev)),
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
      h('td', { class: 'buttons' }, sideButton('from'), sideButton('to')),
    )
  })
  const now = liveTotal()
  const last = state.revisions[state.revisions.length - 1]
  const nowChange = now === null || !last || last.totals.measures[name] === null ? null : roundAs(now - last.totals.measures[name], measureDef())
  rows.push(
    h(
      'tr',
      { class: 'now-row' },
      h('td', {}, 'now'),
      h('td', {}, 'live'),
      h('td', {}, 'not published'),
      h('td', {}, '—'),
      h('td', { class: 'num' }, state.realtime ? formatInt(state.realtime.cells.reduce((a, c) => a + c.eventCount, 0)) : '—'),
      h('td', { class: 'num' }, '—'),
      h('td', { class: 'num' }, '—'),
      h('td', { class: 'num' }, num(now)),
      h('td', { class: 'num' }, nowChange === null ? '' : delta(nowChange)),
      h('td', {}),
    ),
  )
  table.tBodies[0].replaceChildren(...rows)
  table.querySelectorAll('.kind').forEach((k) => (k.style.borderColor = kindColor(k.dataset.kind)))
}

// ---------------------------------------------------------------- compare

function sideOptions() {
  return [
    ...state.revisions.map((r) => h('option', { value: String(r.revision) }, `Revision ${r.revision} · ${r.kind} · ${formatTime(r.computedAt, tz())}`)),
    h('option', { value: 'asOf' }, 'What was known at an instant (as of)…'),
  ]
}

function renderSideSelects() {
  for (const [which, side] of [['from', state.from], ['to', state.to]]) {
    const select = $(`${which}-select`)
    select.replaceChildren(...(side ? [] : [h('option', { value: '' }, 'Choose…')]), ...sideOptions())
    const asOf = side?.startsWith('asOf:') ?? false
    select.value = asOf ? 'asOf' : side ?? ''
    $(`${which}-asof-label`).hidden = !asOf
    if (asOf) $(`${which}-asof`).value = isoToLocalInput(side.slice(5), tz())
  }
}

function setSides(from, to) {
  state.from = from
  state.to = to
  state.row = null
  renderSideSelects()
  renderTimeline()
  loadComparison(null).catch(handle)
}

function bindCompareControls() {
  for (const which of ['from', 'to']) {
    $(`${which}-select`).addEventListener('change', (event) => {
      const value = event.target.value
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
    $(`${which}-asof`).addEventListener('change', (event) => {
      const iso = localInputToIso(event.target.value, tz())
      if (!iso) return
      if (which === 'from') setSides(`asOf:${iso}`, state.to)
      else setSides(state.from, `asOf:${iso}`)
    })
  }
  $('swap').addEventListener('click', () => setSides(state.to, state.from))
  $('download').addEventListener('click', downloadCsv)
}

function sideQuery(side) {
  return side.startsWith('asOf:') ? `asOf=${encodeURIComponent(side.slice(5))}` : `revision=${encodeURIComponent(side)}`
}

async function loadComparison(wantedRow) {
  const load = ++compareLoad
  writeHash()
  if (!state.from || !state.to) {
    state.comparison = null
    renderComparison()
    renderExplain()
    return
  }
  $('compare-summary').textContent = 'Loading…'
  const [before, after, diff] = await Promise.all([
    api(`${basePath()}?${sideQuery(state.from)}`),
    api(`${basePath()}?${sideQuery(state.to)}`),
    api(`${basePath()}/diff?from=${encodeURIComponent(state.from)}&to=${encodeURIComponent(state.to)}`),
  ])
  if (load !== compareLoad) return
  state.comparison = { before, after, diff, rows: buildRows(before, after, diff) }
  state.row = wantedRow && state.comparison.rows.some((r) => r.key === wantedRow && r.change) ? wantedRow : null
  renderComparison()
  renderExplain()
  writeHash()
}

function buildRows(before, after, diff) {
  const rows = new Map()
  const entry = (dims) => {
    const key = rowKey(dims)
    if (!rows.has(key)) rows.set(key, { key, dims, before: null, after: null, change: null })
    return rows.get(key)
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

/** The shown figures of a row for the chosen measure. */
function figures(row) {
  const name = state.measure
  const b = row.before ? row.before[name] ?? null : null
  const a = row.after ? row.after[name] ?? null : null
  let d = row.change ? row.change.delta[name] ?? null : null
  if (!row.change) d = b !== null && a !== null ? 0 : null
  if (row.change && d === null && a !== null && b !== null && isAdditive(measureDef())) d = roundAs(a - b, measureDef())
  const status = !row.change ? 'same' : row.before === null ? 'new' : row.after === null ? 'removed' : 'changed'
  return { before: b, after: a, delta: d, events: row.change ? row.change.events.length : 0, status }
}

function columns() {
  const name = state.measure
  return [
    ...state.view.dimensions.map((d) => ({ key: `dim:${d}`, label: d, type: 'text', value: (r) => dimLabel(r.dims[d]) })),
    { key: 'status', label: 'State', type: 'text', value: (r) => ({ changed: 'changed', new: 'new', removed: 'removed', same: 'unchanged' })[figures(r).status] },
    { key: 'before', label: `${name} before (${shortSide(state.from)})`, type: 'num', value: (r) => figures(r).before },
    { key: 'after', label: `${name} after (${shortSide(state.to)})`, type: 'num', value: (r) => figures(r).after },
    { key: 'delta', label: 'Change', type: 'num', value: (r) => figures(r).delta },
    { key: 'events', label: 'Explaining events', type: 'num', value: (r) => figures(r).events },
  ]
}

function sortedRows() {
  const rows = [...state.comparison.rows]
  const col = columns().find((c) => c.key === state.sort.key)
  if (!col) return rows
  const dir = state.sort.dir === 'descending' ? -1 : 1
  return rows.sort((x, y) => {
    const a = col.value(x)
    const b = col.value(y)
    if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1
    if (b === null || b === undefined) return -1
    return (col.type === 'num' ? a - b : String(a).localeCompare(String(b), 'en', { numeric: true })) * dir
  })
}

function renderSidesTable() {
  const { before, after } = state.comparison
  const name = state.measure
  const table = $('sides')
  table.tHead.replaceChildren(
    h('tr', {}, h('th', { scope: 'col' }, ''), h('th', { scope: 'col' }, `Before: ${sideLabel(state.from)}`), h('th', { scope: 'col' }, `After: ${sideLabel(state.to)}`), h('th', { scope: 'col', class: 'num' }, 'Change')),
  )
  const published = (doc) => (doc.revision === null ? 'not published (computed from the event store)' : `${formatTime(doc.computedAt, tz())}${doc.trigger ? `, trigger: ${doc.trigger}` : ''}`)
  const lines = [
    ['Published', published(before), published(after), ''],
    ['Knows events received up to', `${formatTime(before.cutoffReceivedAt, tz(), { seconds: true })} (event #${before.cutoffSeq})`, `${formatTime(after.cutoffReceivedAt, tz(), { seconds: true })} (event #${after.cutoffSeq})`, ''],
    ['Events counted', formatInt(before.eventCount), formatInt(after.eventCount), formatDelta(after.eventCount - before.eventCount, { count: true })],
    ['Late events (received after the period ended)', formatInt(before.lateEventCount), formatInt(after.lateEventCount), formatDelta(after.lateEventCount - before.lateEventCount, { count: true })],
    ['Completeness (expected sources that reported)', formatPercent(before.completeness, expectedCount()), formatPercent(after.completeness, expectedCount()), ''],
    [`${name}, total`, num(before.totals.measures[name]), num(after.totals.measures[name]), totalDelta()],
  ]
  table.tBodies[0].replaceChildren(
    ...lines.map(([label, a, b, d], i) =>
      h('tr', { class: i === lines.length - 1 ? 'total' : '', dataset: { line: ['published', 'cutoff', 'events', 'late', 'completeness', 'total'][i] } }, h('th', { scope: 'row' }, label), h('td', { dataset: { side: 'before' } }, a), h('td', { dataset: { side: 'after' } }, b), h('td', { class: 'num' }, d)),
    ),
  )
}

function totalDelta() {
  const { before, after } = state.comparison
  const b = before.totals.measures[state.measure]
  const a = after.totals.measures[state.measure]
  return a === null || b === null || a === undefined || b === undefined ? '—' : delta(roundAs(a - b, measureDef()))
}

function renderComparison() {
  const table = $('comparison')
  const c = state.comparison
  $('compare-body').hidden = !c
  if (!c) {
    $('compare-summary').textContent = state.revisions.length === 0 ? 'Choose two instants to compare.' : ''
    return
  }
  renderSidesTable()
  const changed = c.rows.filter((r) => r.change).length
  const events = c.diff.changes.reduce((n, ch) => n + ch.events.length, 0)
  $('compare-summary').textContent =
    state.from === state.to
      ? 'Both sides are the same version: nothing changed.'
      : changed === 0
        ? `No row differs between ${sideLabel(state.from)} and ${sideLabel(state.to)}.`
        : `${changed} of ${c.rows.length} rows changed between ${sideLabel(state.from)} and ${sideLabel(state.to)}; ${events} event${events === 1 ? '' : 's'} explain${events === 1 ? 's' : ''} the change. The total ${state.measure} changed by ${totalDelta()}.`
  const cols = columns()
  table.tHead.replaceChildren(
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
  const name = state.measure
  const b = c.before.totals.measures[name]
  const a = c.after.totals.measures[name]
  table.tFoot.replaceChildren(
    h(
      'tr',
      { class: 'total' },
      h('th', { scope: 'row', colspan: state.view.dimensions.length + 1 }, 'Total of all rows'),
      h('td', { class: 'num', dataset: { col: 'before' } }, num(b)),
      h('td', { class: 'num', dataset: { col: 'after' } }, num(a)),
      h('td', { class: 'num', dataset: { col: 'delta' } }, totalDelta()),
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
      state.view.dimensions.map((d) => h('td', {}, dimLabel(row.dims[d]))),
      h('td', { class: `row-status st-${f.status}` }, { changed: 'changed', new: 'new', removed: 'removed', same: 'unchanged' }[f.status]),
      h('td', { class: 'num', dataset: { col: 'before' } }, num(f.before)),
      h('td', { class: 'num', dataset: { col: 'after' } }, num(f.after)),
      h('td', { class: 'num', dataset: { col: 'delta' } }, row.change ? delta(f.delta) : num(f.delta)),
      h(
        'td',
        { class: 'num', dataset: { col: 'events' } },
        row.change
          ? h('button', { type: 'button', class: 'explain-button', 'aria-pressed': String(selected), 'aria-label': `Show the ${f.events} events that explain the change of ${rowName(row.dims)}` }, `${f.events} event${f.events === 1 ? '' : 's'} ›`)
          : '—',
      ),
    )
    if (row.change) {
      tr.addEventListener('click', (event) => {
        if (event.target.closest('button') && !event.target.closest('.explain-button')) return
        selectRow(row.key)
      })
    }
    return tr
  })
  $('comparison').tBodies[0].replaceChildren(...rows)
}

function sortBy(key) {
  state.sort = { key, dir: state.sort.key === key && state.sort.dir === 'ascending' ? 'descending' : 'ascending' }
  updateSortMarks()
  renderComparisonBody()
}

function updateSortMarks() {
  for (const th of $('comparison').tHead.querySelectorAll('th')) {
    const active = th.dataset.col === state.sort.key
    th.setAttribute('aria-sort', active ? state.sort.dir : 'none')
    th.querySelector('.arrow').textContent = active ? (state.sort.dir === 'ascending' ? ' ▲' : ' ▼') : ' ↕'
  }
}

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

function renderExplain() {
  const table = $('events')
  const row = state.comparison?.rows.find((r) => r.key === state.row && r.change)
  if (!row) {
    $('explain-title').textContent = 'Why did a row change?'
    $('explain-summary').textContent = state.comparison && state.comparison.diff.changes.length > 0 ? 'Select a highlighted row above to list the events that explain its change.' : 'No row changed between the two versions, so there is nothing to explain.'
    table.hidden = true
    return
  }
  const name = state.measure
  const f = figures(row)
  const { diff } = state.comparison
  const events = row.change.events
  $('explain-title').textContent = `Why did ${rowName(row.dims)} change?`
  const forward = diff.to.cutoffSeq >= diff.from.cutoffSeq
  const window = forward
    ? `arrived after ${sideLabel(state.from)} (which knew events up to #${diff.from.cutoffSeq}) and are included in ${sideLabel(state.to)} (up to #${diff.to.cutoffSeq})`
    : `arrived after ${sideLabel(state.to)} (events up to #${diff.to.cutoffSeq}) and are included in ${sideLabel(state.from)} (up to #${diff.from.cutoffSeq}); the comparison runs backwards, so they count negative`
  const sum = roundAs(events.reduce((a, e) => a + (e.contribution[name] ?? 0), 0), measureDef())
  const adds = isAdditive(measureDef())
    ? ` Together they add ${delta(sum)} to ${name}${sum === roundAs(f.delta ?? NaN, measureDef()) ? ', exactly the change shown' : ''}: ${num(f.before)} → ${num(f.after)}.`
    : ` ${name} is a ${measureKind(measureDef())}, so contributions do not add up; it went ${num(f.before)} → ${num(f.after)}.`
  // Across two versions of the view's definition, part of a change comes from the rules, not from events.
  const effect = diff.definition ? row.change.definitionEffect?.[name] : undefined
  const rules = diff.definition
    ? ` The view's definition changed between the two sides (version ${diff.definition.from} → ${diff.definition.to})${effect === undefined || effect === null ? '' : `: ${delta(effect)} of the change comes from the new rules, not from events`}.`
    : ''
  $('explain-summary').textContent = `${events.length} event${events.length === 1 ? '' : 's'} for this row ${window}.${adds}${rules} Lag is how long after it happened an event reached lateview.`
  table.tHead.replaceChildren(
    h('tr', {}, ['Event id', 'Source', `Occurred (${tz()})`, `Received (${tz()})`, 'Lag', `Contribution to ${name}`, 'Note'].map((t, i) => h('th', { scope: 'col', class: i === 4 || i === 5 ? 'num' : '' }, t))),
  )
  table.tBodies[0].replaceChildren(
    ...events.map((e) =>
      h(
        'tr',
        { dataset: { eventId: e.id }, class: e.retracts ? 'retraction' : '' },
        h('td', { class: 'mono' }, e.id),
        h('td', {}, e.source),
        h('td', {}, formatTime(e.occurredAt, tz(), { seconds: true })),
        h('td', {}, formatTime(e.receivedAt, tz(), { seconds: true })),
        h('td', { class: 'num' }, formatLag(Date.parse(e.receivedAt) - Date.parse(e.occurredAt))),
        h('td', { class: 'num' }, isAdditive(measureDef()) ? delta(e.contribution[name]) : num(e.contribution[name])),
        h('td', {}, e.retracts ? `retracts ${e.retracts}` : ''),
      ),
    ),
  )
  table.tFoot.replaceChildren(
    isAdditive(measureDef())
      ? h('tr', { class: 'total' }, h('th', { scope: 'row', colspan: 5 }, `Sum of ${events.length} contribution${events.length === 1 ? '' : 's'}`), h('td', { class: 'num' }, delta(sum)), h('td', {}, ''))
      : h('tr', {}),
  )
  table.hidden = false
}

function csvValue(value) {
  const text = value === null || value === undefined ? '' : String(value)
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** Exports exactly the shown comparison: the same columns, the same order, the total row. */
function downloadCsv() {
  if (!state.comparison) return
  const cols = columns()
  const lines = [cols.map((c) => csvValue(c.label)).join(',')]
  for (const row of sortedRows()) lines.push(cols.map((c) => csvValue(c.value(row))).join(','))
  const c = state.comparison
  const name = state.measure
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
  const safe = (s) => s.replace(/[^A-Za-z0-9._-]+/g, '-')
  const link = h('a', { href: url, download: safe(`${state.view.name}-${state.period}-${name}-${state.from}-vs-${state.to}.csv`) })
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

// ---------------------------------------------------------------- live strip

function stopLive() {
  if (liveTimer !== null) clearTimeout(liveTimer)
  liveTimer = null
}

function startLive() {
  stopLive()
  const tick = async () => {
    if (!document.hidden) {
      try {
        await refreshLive()
      } catch (error) {
        if (error instanceof ApiProblem && error.isAuth) return showAuth(error)
        $('live-caption').textContent = `The live figures could not be refreshed: ${error.message}`
      }
    }
    liveTimer = setTimeout(tick, LIVE_EVERY_MS)
  }
  tick()
}

async function refreshLive() {
  const view = state.view
  const load = periodLoad
  if (!view) return
  await loadStatus()
  const period = state.period
  const latest = state.latestPeriod
  const q = (p) => `/v1/views/${seg(view.name)}/realtime?from=${seg(p)}&to=${seg(p)}`
  const [realtime, alerts, chosen] = await Promise.all([
    latest ? api(q(latest)) : Promise.resolve(null),
    api('/v1/alerts?limit=10'),
    period ? api(q(period)) : Promise.resolve(null),
  ])
  if (view !== state.view) return
  renderLiveTotals(latest, realtime)
  renderAlerts(alerts.alerts)
  // Only while the same period is shown: a period picked meanwhile loads its own figures.
  if (load !== periodLoad || !chosen || JSON.stringify(chosen.cells) === JSON.stringify(state.realtime?.cells)) return
  state.realtime = chosen
  // A changed live figure may come with a new revision: refresh the timeline (the comparison stays).
  const revisions = await api(`${basePath()}/revisions`)
  if (load !== periodLoad || view !== state.view) return
  const published = revisions.revisions.length !== state.revisions.length
  state.revisions = revisions.revisions
  state.periodStatus = revisions.status
  renderPeriodHead()
  renderTimeline()
  if (published) renderSideSelects()
}

function renderLiveTotals(period, realtime) {
  const view = state.view
  if (!period || !realtime) {
    $('live-caption').textContent = `${view.name} has received no events yet.`
    $('live-totals').replaceChildren()
    return
  }
  const info = state.statuses.get(period)
  const events = realtime.cells.reduce((a, c) => a + c.eventCount, 0)
  $('live-caption').replaceChildren(
    'Latest period ',
    h('button', { type: 'button', class: 'link', onclick: () => selectPeriod(period).catch(handle) }, periodLabel(period, view.granularity)),
    ` (${info?.status ?? 'open'}) of ${view.name}, from every event received so far · updated ${formatTime(new Date().toISOString(), tz(), { seconds: true })}, every 5 s`,
  )
  $('live-totals').replaceChildren(
    ...Object.keys(view.measures).flatMap((name) => [h('dt', {}, name), h('dd', { dataset: { measure: name } }, num(combine(realtime.cells, name), name))]),
    h('dt', {}, 'events'),
    h('dd', {}, formatInt(events)),
  )
}

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

function renderAlerts(alerts) {
  const list = $('alerts')
  if (alerts.length === 0) {
    list.replaceChildren(h('li', { class: 'hint' }, 'No alerts.'))
    return
  }
  list.replaceChildren(
    ...alerts.map((a) => {
      const openable = a.view === state.view?.name && a.period && state.statuses.has(a.period)
      return h(
        'li',
        { class: `alert st-${a.status}` },
        h('time', { datetime: a.createdAt }, formatTime(a.createdAt, tz())),
        ' ',
        h('span', { class: 'alert-kind' }, a.type),
        ' ',
        a.view ? `${a.view} ` : '',
        a.period ? (openable ? h('button', { type: 'button', class: 'link', onclick: () => selectPeriod(a.period).catch(handle) }, a.period) : a.period) : '',
        ': ',
        alertText(a),
        a.status === 'resolved' ? ' (resolved)' : '',
      )
    }),
  )
}

// ---------------------------------------------------------------- wiring

function bind() {
  bindAuth()
  bindCompareControls()
  renderLegend($('legend'))
  $('view-select').addEventListener('change', (event) => {
    state.sort = { key: null, dir: 'ascending' }
    selectView(event.target.value).catch(handle)
  })
  $('measure-select').addEventListener('change', (event) => {
    state.measure = event.target.value
    if (!state.period) return
    renderTimeline()
    if (state.comparison) {
      renderComparison()
      renderExplain()
    }
    writeHash()
  })
  window.addEventListener('hashchange', () => {
    if (location.hash === writtenHash || state.views.length === 0) return
    restore(readHash()).catch(handle)
  })
  let resize = null
  window.addEventListener('resize', () => {
    clearTimeout(resize)
    resize = setTimeout(() => state.period && renderTimeline(), 150)
  })
}

bind()
boot()
