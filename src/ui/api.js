// @ts-check
// The page's only way to the server: JSON over fetch, with the session's token when there is one.

/** @import { AlertList, Diff, Problem, Realtime, Report, RevisionList, Side, ViewList, ViewWithStatus } from './types.js' */

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
 * GETs a JSON document of the API; throws ApiProblem on any error. The readers below say which
 * document each path answers; the page trusts the server for its shape.
 * @param {string} path
 * @returns {Promise<unknown>}
 */
export async function api(path) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' }
  const token = getToken()
  if (token) headers.authorization = `Bearer ${token}`
  let response
  try {
    response = await fetch(path, { headers, cache: 'no-store' })
  } catch (error) {
    throw new ApiProblem(0, { title: 'lateview does not answer', detail: `the request to ${path} failed: ${/** @type {Error} */ (error).message}` })
  }
  const text = await response.text()
  /** @type {unknown} */
  let body = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    body = null
  }
  if (!response.ok) throw new ApiProblem(response.status, body && typeof body === 'object' ? /** @type {Problem} */ (body) : { title: response.statusText, detail: text.slice(0, 300) })
  return body
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
 * The most recent alerts of every view.
 * @param {number} limit
 * @returns {Promise<AlertList>}
 */
export function getAlerts(limit) {
  return /** @type {Promise<AlertList>} */ (api(`/v1/alerts?limit=${limit}`))
}
