/**
 * The one CSV writer (RFC 4180) of every CSV lateview answers or prints: reports, comparisons.
 * Numbers are written exactly, never with an exponent; lines end with CRLF, the last one too.
 */
import { Decimal, numeral } from '../domain/decimal.js'

/** One field: empty for null, an exact numeral for a number, quoted when it holds `"`, `,`, CR or LF. */
export function csvValue(value: unknown): string {
  const text = value === null || value === undefined ? '' : typeof value === 'number' ? numeral(value) : value instanceof Decimal ? value.text : String(value)
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** A header line and one line per row, each field written by `csvValue`. */
export function csvText(header: readonly unknown[], rows: Iterable<readonly unknown[]>): string {
  const lines = [header.map(csvValue).join(',')]
  for (const row of rows) lines.push(row.map(csvValue).join(','))
  return `${lines.join('\r\n')}\r\n`
}
