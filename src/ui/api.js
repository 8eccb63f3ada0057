// The page's only way to the server: JSON over fetch, with the session's token when there is one.

const TOKEN_KEY = 'lateview.token'

/** An answer other than 2xx, carrying the server's problem document (RFC 9457). */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`)
    this.status = status
    this.problem = problem ?? {}
  }

  /** 401 (no or unknown token) or 403 (token without the scope): ask for a token. */
  get isAuth() {
    return this.status === 401 || this.status === 403
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY)
  } catch {
    return null
  }
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token)
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY)
}

/** GETs a JSON document of the API; throws ApiProblem on any error. */
export async function api(path) {
  const headers = { accept: 'application/json' }
  const token = getToken()
  if (token) headers.authorization = `Bearer ${token}`
  let response
  try {
    response = await fetch(path, { headers, cache: 'no-store' })
  } catch (error) {
    throw new ApiProblem(0, { title: 'lateview does not answer', detail: `the request to ${path} failed: ${error.message}` })
  }
  const text = await response.text()
  let body = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    body = null
  }
  if (!response.ok) throw new ApiProblem(response.status, body && typeof body === 'object' ? body : { title: response.statusText, detail: text.slice(0, 300) })
  return body
}

/** Encodes one path segment. */
export const seg = encodeURIComponent
