// @ts-check
// Access: a refused token asks for another; every other problem shows in the error box.

import { ApiProblem, clearToken, getToken, setToken } from './api.js'
import { $, showError } from './dom.js'
import { stopLive } from './state.js'

/**
 * Hides the page and asks for a token, saying what the server answered.
 * @param {ApiProblem} error
 */
export function showAuth(error) {
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

/**
 * The catch of every action of the page.
 * @param {unknown} error
 */
export function handle(error) {
  if (error instanceof ApiProblem && error.isAuth) return showAuth(error)
  console.error(error)
  showError(/** @type {Error} */ (error))
}

/**
 * Binds the token form and the sign-out button; `onToken` runs once a token is entered.
 * @param {() => void} onToken
 */
export function bindAuth(onToken) {
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const token = $('token-input').value.trim()
    if (!token) return
    setToken(token)
    $('auth').hidden = true
    onToken()
  })
  $('sign-out').addEventListener('click', () => {
    clearToken()
    location.reload()
  })
}
