// @ts-check
// The page's only way to the server: JSON (and the comparison's CSV) over fetch, with the session's token when there is one.

/** @import { Accuracy, AlertList, CloseAdvice, Completeness, Diff, Problem, Realtime, Report, RevisionList, Side, Vintages, ViewList, ViewWithStatus } from './types.js' */

const TOKEN_KEY = 'lateview.token'

/** An answer other than 2xx, carrying the server's problem document (RFC 9457). */
export class ApiProblem extends Error {
  /**
   * @param {number} status the HTTP status; 0 when the server did not answer
   * @param {Problem | null | undefined} problem
   */
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`)
    this.status = status
    /** @type {Problem} */
    this.problem = problem ?? {}
  }

  /** 401 (no or unknown token) or 403 (token without the scope): ask for a token. */
  get isAuth() {
    return this.status === 401 || this.status === 403
  }
}

/** @returns {string | null} */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

/** @param {string} token */
export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token)
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY)
}

/**
 * GETs a path of the API as text, with the session's token; throws ApiProblem on any error.
 * @param {string} path
 * @param {string} accept the media type asked for
 * @returns {Promise<string>}
 */
async function fetchText(path, accept) {
  /** @type {Record<string, string>} */
  const headers = { accept }
  const token = getToken()
  if (token) headers.authorization = `Bearer ${token}`
  let response
  try {
    response = await fetch(path, { headers, cache: 'no-store' })
  } catch (error) {
    throw new ApiProblem(0, { title: 'lateview does not answer', detail: `the request to ${path} failed: ${/** @type {Error} */ (error).message}` })
  }
  const text = await response.text()
  if (!response.ok) {
    /** @type {unknown} */
    let problem = null
    try {
      problem = text ? JSON.parse(text) : null
    } catch {
      problem = null
    }
    throw new ApiProblem(response.status, problem && typeof problem === 'object' ? /** @type {Problem} */ (problem) : { title: response.statusText, detail: text.slice(0, 300) })
  }
  return text
}

/**
 * GETs a JSON document of the API; throws ApiProblem on any error. The readers below say which
 * document each path answers; the page trusts the server for its shape.
 * @param {string} path
 * @returns {Promise<unknown>}
 */
export async function api(path) {
  const text = await fetchText(path, 'application/json')
  try {
    return text ? JSON.parse(text) : null
  } catch {
    return null
  }
}

/** Encodes one path segment. */
const seg = encodeURIComponent

/** @param {string} view @param {string} period */
const periodPath = (view, period) => `/v1/views/${seg(view)}/periods/${seg(period)}`

/** @param {Side} side */
function sideQuery(side) {
  return side.startsWith('asOf:') ? `asOf=${encodeURIComponent(side.slice(5))}` : `revision=${encodeURIComponent(side)}`
}

/** @returns {Promise<ViewList>} */
export function getViews() {
  return /** @type {Promise<ViewList>} */ (api('/v1/views'))
}

/**
 * A view's definition with the status of its periods.
 * @param {string} view
 * @returns {Promise<ViewWithStatus>}
 */
export function getView(view) {
  return /** @type {Promise<ViewWithStatus>} */ (api(`/v1/views/${seg(view)}`))
}

/**
 * The live cells of one period of a view.
 * @param {string} view
 * @param {string} period
 * @returns {Promise<Realtime>}
 */
export function getRealtime(view, period) {
  return /** @type {Promise<Realtime>} */ (api(`/v1/views/${seg(view)}/realtime?from=${seg(period)}&to=${seg(period)}`))
}

/**
 * @param {string} view
 * @param {string} period
 * @returns {Promise<RevisionList>}
 */
export function getRevisions(view, period) {
  return /** @type {Promise<RevisionList>} */ (api(`${periodPath(view, period)}/revisions`))
}

/**
 * A revision of a period, or what was known as of an instant.
 * @param {string} view
 * @param {string} period
 * @param {Side} side
 * @returns {Promise<Report>}
 */
export function getReport(view, period, side) {
  return /** @type {Promise<Report>} */ (api(`${periodPath(view, period)}?${sideQuery(side)}`))
}

/**
 * @param {string} view
 * @param {string} period
 * @param {Side} from
 * @param {Side} to
 * @returns {Promise<Diff>}
 */
export function getDiff(view, period, from, to) {
  return /** @type {Promise<Diff>} */ (api(`${periodPath(view, period)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`))
}

/**
 * The comparison of two sides as the server writes it in CSV: every row, each measure before,
 * after and delta, events and status.
 * @param {string} view
 * @param {string} period
 * @param {Side} from
 * @param {Side} to
 * @returns {Promise<string>}
 */
export function getDiffCsv(view, period, from, to) {
  return fetchText(`${periodPath(view, period)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&format=csv`, 'text/csv')
}

/**
 * The most recent alerts of every view.
 * @param {number} limit
 * @returns {Promise<AlertList>}
 */
export function getAlerts(limit) {
  return /** @type {Promise<AlertList>} */ (api(`/v1/alerts?limit=${limit}`))
}

/**
 * The revision analysis of a view for one measure, over the server's default range (the last 30
 * periods with events or a revision): the revision triangle, the accuracy by release kind, the
 * completeness curve and the close advice.
 * @param {string} view
 * @param {string} measure
 * @returns {Promise<{ vintages: Vintages, accuracy: Accuracy, completeness: Completeness, closeAdvice: CloseAdvice }>}
 */
export async function getReliability(view, measure) {
  const base = `/v1/views/${seg(view)}`
  const q = `measure=${seg(measure)}`
  const [vintages, accuracy, completeness, closeAdvice] = await Promise.all([
    api(`${base}/vintages?${q}`),
    api(`${base}/accuracy?${q}`),
    api(`${base}/completeness?${q}`),
    api(`${base}/close-advice?${q}`),
  ])
  return {
    vintages: /** @type {Vintages} */ (vintages),
    accuracy: /** @type {Accuracy} */ (accuracy),
    completeness: /** @type {Completeness} */ (completeness),
    closeAdvice: /** @type {CloseAdvice} */ (closeAdvice),
  }
}
