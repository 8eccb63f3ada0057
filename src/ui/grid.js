// @ts-check
// A table as one tab stop (the WAI-ARIA grid pattern): Tab enters it at one cell, arrow keys move
// between cells, Home and End to the ends of a row, Ctrl+Home and Ctrl+End to the first and last
// cell. A cell holding a button gives the focus to the button, so Enter and Space press it.

/**
 * The element of a cell that takes the focus: its button, else the cell itself.
 * @param {HTMLTableCellElement} cell
 * @returns {HTMLElement}
 */
const focusable = (cell) => cell.querySelector('button') ?? cell

/**
 * The row and column of the cell holding `element`, or null outside the table.
 * @param {HTMLTableElement} table
 * @param {Element | null} element
 * @returns {{ row: number, col: number } | null}
 */
export function cellOf(table, element) {
  const cell = element?.closest('td, th')
  if (!cell || !table.contains(cell)) return null
  const tr = /** @type {HTMLTableRowElement} */ (cell.parentElement)
  return { row: tr.rowIndex, col: /** @type {HTMLTableCellElement} */ (cell).cellIndex }
}

/**
 * Makes `at` (clamped to the table) the table's one tab stop, focusing it when `focus` is set.
 * @param {HTMLTableElement} table
 * @param {{ row: number, col: number }} at
 * @param {boolean} [focus]
 */
export function setGridCell(table, at, focus = false) {
  const rows = table.rows
  if (rows.length === 0) return
  const tr = rows[Math.min(Math.max(at.row, 0), rows.length - 1)]
  const cell = tr.cells[Math.min(Math.max(at.col, 0), tr.cells.length - 1)]
  if (!cell) return
  const target = focusable(cell)
  for (const e of /** @type {NodeListOf<HTMLElement>} */ (table.querySelectorAll('td, th, button'))) e.tabIndex = -1
  target.tabIndex = 0
  if (focus) target.focus()
}

/**
 * Binds the keys of the grid pattern to `table` once; call `setGridCell` after each redraw.
 * @param {HTMLTableElement} table
 */
export function bindGrid(table) {
  table.setAttribute('role', 'grid')
  table.addEventListener('focusin', (event) => {
    const at = cellOf(table, /** @type {Element} */ (event.target))
    if (at) setGridCell(table, at)
  })
  table.addEventListener('keydown', (event) => {
    const at = cellOf(table, /** @type {Element} */ (event.target))
    if (!at) return
    const last = table.rows.length - 1
    const width = table.rows[at.row].cells.length - 1
    /** @type {Record<string, { row: number, col: number }>} */
    const moves = {
      ArrowDown: { row: at.row + 1, col: at.col },
      ArrowUp: { row: at.row - 1, col: at.col },
      ArrowRight: { row: at.row, col: at.col + 1 },
      ArrowLeft: { row: at.row, col: at.col - 1 },
      PageDown: { row: Math.min(last, at.row + 5), col: at.col },
      PageUp: { row: Math.max(0, at.row - 5), col: at.col },
      Home: event.ctrlKey ? { row: 0, col: 0 } : { row: at.row, col: 0 },
      End: event.ctrlKey ? { row: last, col: Number.MAX_SAFE_INTEGER } : { row: at.row, col: width },
    }
    const to = moves[event.key]
    if (!to || event.altKey || event.metaKey) return
    event.preventDefault()
    setGridCell(table, to, true)
  })
}
