/**
 * The one CSV writer (RFC 4180) of every CSV lateview answers or prints: reports, comparisons,
 * analyses; the analyst page downloads the server's. Numbers are written exactly, never with an
 * exponent; lines end with CRLF, the last one too. Two rules beyond RFC 4180, for the tools
 * that open these files:
 *
 * - null and the empty string differ: null (a measure with no value, a dimension absent) is an
 *   empty field, `,,`; the empty string is a quoted empty field, `,"",` (as PostgreSQL's COPY …
 *   CSV writes them).
 * - text that a spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or
 *   a carriage return) gets a leading apostrophe, `'=HYPERLINK(…)` (OWASP's rule for CSV
 *   injection), unless it is a plain decimal numeral (`-5`, `+1.25`) or an ISO 8601 duration
 *   (`-PT2H`, a lag): neither can call a function. Numbers lateview computes are never text.
 */
import { Decimal, numeral } from '../domain/decimal.js'

/** Text that a spreadsheet reads as a formula. */
const FORMULA = /^[=+\-@\t\r]/
const HARMLESS = /^[+-]?((\d+(\.\d*)?|\.\d+)|P[\dYMWDTHS.,]+)$/

/** One field: see the rules above; quoted when it holds `"`, `,`, CR or LF, or is the empty string. */
export function csvValue(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number') return numeral(value)
  if (value instanceof Decimal) return value.text
  let text = String(value)
  if (text === '') return '""'
  if (FORMULA.test(text) && !HARMLESS.test(text)) text = `'${text}`
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** A header line and one line per row, each field written by `csvValue`. */
export function csvText(header: readonly unknown[], rows: Iterable<readonly unknown[]>): string {
  const lines = [header.map(csvValue).join(',')]
  for (const row of rows) lines.push(row.map(csvValue).join(','))
  return `${lines.join('\r\n')}\r\n`
}
