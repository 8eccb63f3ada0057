// @ts-check
// Elements of the page: lookup by id, a small element factory and the error box.

import { ApiProblem } from './api.js'

/**
 * The elements of index.html the page reads a value from or draws a table into; any other id is
 * an HTMLElement.
 * @typedef {{
 *   'view-select': HTMLSelectElement,
 *   'measure-select': HTMLSelectElement,
 *   'from-select': HTMLSelectElement,
 *   'to-select': HTMLSelectElement,
 *   'from-asof': HTMLInputElement,
 *   'to-asof': HTMLInputElement,
 *   'token-form': HTMLFormElement,
 *   'token-input': HTMLInputElement,
 *   revisions: HTMLTableElement,
 *   sides: HTMLTableElement,
 *   comparison: HTMLTableElement,
 *   events: HTMLTableElement,
 *   reliability: HTMLDetailsElement,
 *   vintages: HTMLTableElement,
 *   accuracy: HTMLTableElement,
 *   completeness: HTMLTableElement,
 *   'close-candidates': HTMLTableElement,
 *   'source-lags': HTMLTableElement,
 * }} Elements
 */

/**
 * An element of index.html by id; every id the page uses is in the file.
 * @template {string} K
 * @param {K} id
 * @returns {K extends keyof Elements ? Elements[K] : HTMLElement}
 */
export function $(id) {
  return /** @type {K extends keyof Elements ? Elements[K] : HTMLElement} */ (document.getElementById(id))
}

/**
 * The thead of a table of index.html, which declares the sections of each of its tables.
 * @param {HTMLTableElement} table
 */
export const thead = (table) => /** @type {HTMLTableSectionElement} */ (table.tHead)

/**
 * The tfoot of a table of index.html.
 * @param {HTMLTableElement} table
 */
export const tfoot = (table) => /** @type {HTMLTableSectionElement} */ (table.tFoot)

/**
 * Attributes of `h`: `class`, `dataset`, `on<event>` listeners and any other attribute;
 * undefined, null and false leave one out, true sets it empty.
 * @typedef {{ class?: string, dataset?: Record<string, string>, [name: string]: unknown }} Attrs
 */

/** @typedef {Node | string | number | boolean | null | undefined} Child */

/**
 * An element with attributes and children; children null, undefined and false are left out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') e.className = String(v)
    else if (k === 'dataset') Object.assign(e.dataset, v)
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), /** @type {EventListener} */ (v))
    else e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c))
  return e
}

/**
 * Shows an error above the page, with the server's title and code when it sent a problem
 * document; null hides the box.
 * @param {Error | null} error
 */
export function showError(error) {
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
