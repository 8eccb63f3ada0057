// @ts-check
// The period picker: day periods laid out in month grids by weekday, other granularities as chips.

/** @import { Granularity, PeriodInfo, ViewStatus } from './types.js' */

export const STATUSES = [
  { id: 'open', label: 'open', help: 'events arriving, no report published yet' },
  { id: 'provisional', label: 'provisional', help: 'published, may still change' },
  { id: 'final', label: 'final', help: 'closed; changes only by restatement' },
  { id: 'dirty', label: 'changed since last report', help: 'late events arrived; a new revision will follow' },
]

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']

/**
 * period key → { status, dirty } from a view's `status` document.
 * @param {ViewStatus | undefined} status
 */
export function periodStatuses(status) {
  /** @type {Map<string, PeriodInfo>} */
  const map = new Map()
  for (const s of /** @type {const} */ (['open', 'provisional', 'final'])) for (const key of status?.periods?.[s] ?? []) map.set(key, { status: s, dirty: false })
  for (const d of status?.dirty ?? []) {
    const known = map.get(d.period)
    map.set(d.period, { status: known?.status ?? d.status ?? 'provisional', dirty: true })
  }
  return map
}

/**
 * @param {string} key
 * @param {PeriodInfo} info
 */
function describe(key, info) {
  const s = STATUSES.find((x) => x.id === info.status)
  return `${key}: ${s ? s.label : info.status}${info.dirty ? ', changed since its last report' : ''}`
}

/**
 * @param {Document} doc
 * @param {string} key
 * @param {string} text
 * @param {PeriodInfo} info
 * @param {string | null} selected
 */
function periodButton(doc, key, text, info, selected) {
  const b = doc.createElement('button')
  b.type = 'button'
  b.className = `period s-${info.status}${info.dirty ? ' dirty' : ''}`
  b.dataset.period = key
  b.textContent = text
  b.title = describe(key, info)
  b.setAttribute('aria-label', describe(key, info))
  b.setAttribute('aria-pressed', String(key === selected))
  if (info.dirty) {
    const mark = doc.createElement('span')
    mark.className = 'dirty-mark'
    mark.setAttribute('aria-hidden', 'true')
    mark.textContent = '!'
    b.append(mark)
  }
  return b
}

/**
 * Draws the legend of period colours.
 * @param {HTMLElement} list
 */
export function renderLegend(list) {
  list.replaceChildren(
    ...STATUSES.map((s) => {
      const li = document.createElement('li')
      const swatch = document.createElement('span')
      swatch.className = `swatch s-${s.id === 'dirty' ? 'provisional dirty' : s.id}`
      swatch.setAttribute('aria-hidden', 'true')
      if (s.id === 'dirty') swatch.textContent = '!'
      const text = document.createElement('span')
      const b = document.createElement('b')
      b.textContent = s.label
      text.append(b, `: ${s.help}`)
      li.append(swatch, text)
      return li
    }),
  )
}

/**
 * @typedef {object} CalendarOptions
 * @property {Granularity} granularity
 * @property {Map<string, PeriodInfo>} statuses
 * @property {string | null} selected
 * @property {(key: string) => void} onSelect
 */

/**
 * Draws the periods of a view into `container`; `onSelect(key)` is called when one is chosen.
 * The periods are one tab stop; arrow keys move between them (up and down by a week in month grids).
 * @param {HTMLElement} container
 * @param {CalendarOptions} options
 */
export function renderCalendar(container, { granularity, statuses, selected, onSelect }) {
  const doc = container.ownerDocument
  const keys = [...statuses.keys()].sort()
  const hadFocus = container.contains(doc.activeElement) ? /** @type {HTMLElement | null} */ (doc.activeElement)?.dataset?.period : undefined
  container.replaceChildren()
  if (keys.length === 0) {
    const p = doc.createElement('p')
    p.className = 'hint'
    p.textContent = 'No periods yet: this view has received no events.'
    container.append(p)
    return
  }
  if (granularity === 'day') {
    const first = keys[0].slice(0, 7)
    const last = keys[keys.length - 1].slice(0, 7)
    let [y, m] = first.split('-').map(Number)
    for (;;) {
      const month = `${y}-${String(m).padStart(2, '0')}`
      container.append(monthGrid(doc, y, m, statuses, selected))
      if (month >= last) break
      m += 1
      if (m > 12) {
        m = 1
        y += 1
      }
    }
  } else {
    const ul = doc.createElement('ul')
    ul.className = 'chips'
    for (const key of keys) {
      const li = doc.createElement('li')
      li.append(periodButton(doc, key, key, /** @type {PeriodInfo} */ (statuses.get(key)), selected))
      ul.append(li)
    }
    container.append(ul)
  }
  container.onclick = (event) => {
    /** @type {HTMLButtonElement | null} */
    const button = /** @type {Element} */ (event.target).closest('button.period')
    if (button) onSelect(/** @type {string} */ (button.dataset.period))
  }
  container.onkeydown = (event) => {
    const button = /** @type {HTMLButtonElement | null | undefined} */ (/** @type {Element} */ (event.target).closest?.('button.period'))
    if (!button) return
    const buttons = [.../** @type {NodeListOf<HTMLButtonElement>} */ (container.querySelectorAll('button.period'))]
    const at = buttons.indexOf(button)
    /** @type {HTMLElement | null | undefined} */
    let target = null
    if (event.key === 'ArrowRight') target = buttons[at + 1]
    else if (event.key === 'ArrowLeft') target = buttons[at - 1]
    else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && granularity === 'day') {
      const [yy, mm, dd] = /** @type {string} */ (button.dataset.period).split('-').map(Number)
      const shifted = new Date(Date.UTC(yy, mm - 1, dd + (event.key === 'ArrowDown' ? 7 : -7))).toISOString().slice(0, 10)
      target = /** @type {HTMLButtonElement | null} */ (container.querySelector(`button.period[data-period="${shifted}"]`))
    } else if (event.key === 'Home') target = buttons[0]
    else if (event.key === 'End') target = buttons[buttons.length - 1]
    else return
    event.preventDefault()
    if (!target) return
    for (const b of buttons) b.tabIndex = b === target ? 0 : -1
    target.focus()
  }
  // One tab stop for the periods (a roving tab index): the selected one, else the latest; the
  // arrow keys move it.
  const all = [.../** @type {NodeListOf<HTMLButtonElement>} */ (container.querySelectorAll('button.period'))]
  const stop = all.find((b) => b.dataset.period === selected) ?? all[all.length - 1]
  for (const b of all) b.tabIndex = b === stop ? 0 : -1
  if (hadFocus) /** @type {HTMLButtonElement | null} */ (container.querySelector(`button.period[data-period="${hadFocus}"]`))?.focus()
}

/**
 * @param {Document} doc
 * @param {number} year
 * @param {number} month
 * @param {Map<string, PeriodInfo>} statuses
 * @param {string | null} selected
 */
function monthGrid(doc, year, month, statuses, selected) {
  const figure = doc.createElement('figure')
  figure.className = 'month'
  const caption = doc.createElement('figcaption')
  caption.textContent = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', month: 'long', year: 'numeric' }).format(new Date(Date.UTC(year, month - 1, 1)))
  const table = doc.createElement('table')
  const head = doc.createElement('tr')
  for (const w of WEEKDAYS) {
    const th = doc.createElement('th')
    th.scope = 'col'
    th.textContent = w.slice(0, 2)
    th.setAttribute('aria-label', w)
    head.append(th)
  }
  const thead = doc.createElement('thead')
  thead.append(head)
  const tbody = doc.createElement('tbody')
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate()
  const lead = (new Date(Date.UTC(year, month - 1, 1)).getUTCDay() + 6) % 7
  let row = doc.createElement('tr')
  for (let i = 0; i < lead; i++) row.append(doc.createElement('td'))
  for (let day = 1; day <= days; day++) {
    const key = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`
    const td = doc.createElement('td')
    const info = statuses.get(key)
    if (info) td.append(periodButton(doc, key, String(day), info, selected))
    else {
      const span = doc.createElement('span')
      span.className = 'no-data'
      span.textContent = String(day)
      span.title = `${key}: no events`
      td.append(span)
    }
    row.append(td)
    if (row.children.length === 7) {
      tbody.append(row)
      row = doc.createElement('tr')
    }
  }
  if (row.children.length > 0) {
    while (row.children.length < 7) row.append(doc.createElement('td'))
    tbody.append(row)
  }
  table.append(thead, tbody)
  table.setAttribute('aria-label', caption.textContent)
  figure.append(caption, table)
  return figure
}
