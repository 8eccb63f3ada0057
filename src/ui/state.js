// @ts-check
// The page's state in one place: what is chosen, what was loaded for it, the figures derived
// from it and its round trip through the URL.

import { dimLabel, formatDelta, formatNumber, formatTime, measureKind } from './format.js'

/** @import { Comparison, Dims, Pending, PeriodInfo, PeriodStatus, Realtime, RevisionMeta, Side, View, Wanted } from './types.js' */

/**
 * @typedef {object} PageState
 * @property {View[]} views
 * @property {View | null} view the chosen view's definition
 * @property {Map<string, PeriodInfo>} statuses
 * @property {Map<string, Pending>} pending what each changed period's live figures hold beyond its latest revision
 * @property {string | null} latestPeriod
 * @property {string | null} period
 * @property {PeriodStatus | null} periodStatus
 * @property {RevisionMeta[]} revisions
 * @property {Realtime | null} realtime live cells of the chosen period
 * @property {string | null} measure
 * @property {Side | null} from
 * @property {Side | null} to
 * @property {string | null} row the key of the selected changed row
 * @property {Comparison | null} comparison
 * @property {{ key: string | null, dir: 'ascending' | 'descending' }} sort
 * @property {boolean} reliability whether the Reliability panel is open
 */

/** @type {PageState} */
export const state = {
  views: [],
  view: null,
  statuses: new Map(),
  pending: new Map(),
  latestPeriod: null,
  period: null,
  periodStatus: null,
  revisions: [],
  realtime: null,
  measure: null,
  from: null,
  to: null,
  row: null,
  comparison: null,
  sort: { key: null, dir: 'ascending' },
  reliability: false,
}

/**
 * What the page keeps besides its state: a count of period and comparison loads, so that an
 * answer overtaken by a newer request is dropped, the hash it last wrote and the live timer.
 */
const session = {
  periodLoad: 0,
  compareLoad: 0,
  /** @type {string | null} */
  writtenHash: null,
  /** @type {number | null} */
  liveTimer: null,
}

/** Counts a new period load; its answers apply while it is still `currentPeriodLoad()`. */
export const startPeriodLoad = () => ++session.periodLoad
export const currentPeriodLoad = () => session.periodLoad

/** Counts a new comparison load; its answers apply while it is still `currentCompareLoad()`. */
export const startCompareLoad = () => ++session.compareLoad
export const currentCompareLoad = () => session.compareLoad

/**
 * Keeps the timer of the next live refresh, so that `stopLive` can cancel it.
 * @param {number} timer
 */
export function setLiveTimer(timer) {
  session.liveTimer = timer
}

/** Cancels the pending live refresh, if any. */
export function stopLive() {
  if (session.liveTimer !== null) clearTimeout(session.liveTimer)
  session.liveTimer = null
}

/** @returns {Wanted} */
export function readHash() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ''))
  /** @param {string} k */
  const get = (k) => p.get(k) || null
  return { view: get('view'), period: get('period'), from: get('from'), to: get('to'), row: get('row'), measure: get('measure'), reliability: p.get('reliability') === 'open' }
}

export function writeHash() {
  const p = new URLSearchParams()
  if (state.view) p.set('view', state.view.name)
  if (state.period) p.set('period', state.period)
  if (state.from) p.set('from', state.from)
  if (state.to) p.set('to', state.to)
  if (state.row) p.set('row', state.row)
  if (state.measure && state.view && state.measure !== defaultMeasure(state.view)) p.set('measure', state.measure)
  if (state.reliability) p.set('reliability', 'open')
  const hash = `#${p.toString()}`
  if (hash !== location.hash) history.replaceState(null, '', hash)
  session.writtenHash = location.hash
}

/** Whether the URL's hash is the one the page wrote: a hashchange to it needs no restore. */
export const isWrittenHash = () => location.hash === session.writtenHash

/** The chosen view; the period, the timeline and the comparison are only drawn once there is one. */
export function chosenView() {
  if (!state.view) throw new Error('no view is chosen')
  return state.view
}

/** The chosen period; the timeline and the comparison are only drawn for one. */
export function chosenPeriod() {
  if (state.period === null) throw new Error('no period is chosen')
  return state.period
}

/** The chosen measure, set together with the view. */
export function chosenMeasure() {
  if (state.measure === null) throw new Error('no measure is chosen')
  return state.measure
}

/** The first sum of a view, else its first measure. @param {View} view */
export function defaultMeasure(view) {
  const names = Object.keys(view.measures)
  return names.find((n) => measureKind(view.measures[n]) === 'sum') ?? names[0]
}

/** The newest period with a published report, else the newest with events. */
export function defaultPeriod() {
  const keys = [...state.statuses.keys()].sort().reverse()
  return keys.find((k) => state.statuses.get(k)?.status !== 'open') ?? keys[0] ?? null
}

/** The definition of the chosen measure, or of the measure `name`, in the chosen view. */
export const measureDef = (name = chosenMeasure()) => state.view?.measures?.[name]
export const tz = () => state.view?.timezone ?? 'UTC'

/**
 * A value as the chosen measure (or `name`) shows it.
 * @param {number | null | undefined} v
 * @param {string} [name]
 */
export const num = (v, name) => formatNumber(v, measureDef(name))

/**
 * A change as the chosen measure (or `name`) shows it, signed.
 * @param {number | null | undefined} v
 * @param {string} [name]
 */
export const delta = (v, name) => formatDelta(v, measureDef(name))
export const expectedCount = () => state.view?.expectedSources?.sources?.length ?? 0

/**
 * Stable text key of a row's dimensions, as kept in the URL.
 * @param {Dims} dims
 */
export function rowKey(dims) {
  const { dimensions } = chosenView()
  return dimensions.map((d) => encodeURIComponent(dimLabel(dims[d]))).join('/')
}

/** @param {Dims} dims */
export function rowName(dims) {
  const { dimensions } = chosenView()
  return dimensions.map((d) => `${d} ${dimLabel(dims[d])}`).join(' · ')
}

/** @param {Side | null} side */
export function sideLabel(side) {
  if (!side) return '—'
  if (side.startsWith('asOf:')) return `as of ${formatTime(side.slice(5), tz(), { seconds: true })}`
  const r = state.revisions.find((x) => String(x.revision) === side)
  return r ? `revision ${r.revision} (${r.kind})` : `revision ${side}`
}

/** @param {Side | null} side */
export function shortSide(side) {
  if (!side) return '—'
  return side.startsWith('asOf:') ? `as of ${formatTime(side.slice(5), tz())}` : `rev ${side}`
}

/** Whether a side names an instant or a revision of the chosen period. @param {Side | null} side */
export function validSide(side) {
  if (!side) return false
  if (side.startsWith('asOf:')) return !Number.isNaN(Date.parse(side.slice(5)))
  return state.revisions.some((r) => String(r.revision) === side)
}
