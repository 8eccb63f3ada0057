/** Output helpers for the CLI: stdout for results, stderr for progress and errors. */
import { Decimal, numeral, toJson } from '../domain/decimal.js'

/** Bad usage: a one-line message and the command's usage, exit code 2. */
export class UsageError extends Error {}

/** Input the command cannot read (a missing file): a one-line message, exit code 1. */
export class InputError extends Error {}

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function err(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`)
}

/** A value of a table cell: text, or an exact number (a JS number or a Decimal), or nothing (null, shown `-`), or a blank (undefined: a total row's dimensions). */
export type CellValue = string | number | Decimal | null | undefined

/**
 * A number as its exact numeral, never with an exponent; nothing as `-`; text as it is, unless it
 * holds a control character (a newline would break the table's lines) or is empty or `-`: then
 * as a JSON string, quoted and escaped (`"a\\nb"`, `""`, `"-"`).
 */
export function shown(v: CellValue): string {
  if (v === undefined) return ''
  if (v === null) return '-'
  if (typeof v === 'number') return numeral(v)
  if (v instanceof Decimal) return v.text
  return v === '' || v === '-' || /[\u0000-\u001f\u007f]/.test(v) ? JSON.stringify(v) : v
}

/** Formats a table with right-aligned numbers. */
export function table(headers: string[], rows: CellValue[][]): string {
  const cells = rows.map((r) => r.map(shown))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)))
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] instanceof Decimal || r[i] === null || r[i] === undefined))
  const line = (r: string[]) =>
    r
      .map((v, i) => (numeric[i] ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}

/**
 * JSON for people: exact numbers (see `toJson`), indented by two spaces. The compact text is
 * re-laid out character by character; strings are copied untouched.
 */
export function prettyJson(value: unknown): string {
  const text = toJson(value)
  let outText = ''
  let depth = 0
  let inString = false
  const newline = () => `\n${'  '.repeat(depth)}`
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (inString) {
      outText += c
      if (c === '\\') outText += text[++i] ?? ''
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') {
      inString = true
      outText += c
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']'
      if (text[i + 1] === close) {
        outText += c + close
        i++
      } else {
        depth++
        outText += c + newline()
      }
    } else if (c === '}' || c === ']') {
      depth--
      outText += newline() + c
    } else if (c === ',') outText += `,${newline()}`
    else if (c === ':') outText += ': '
    else outText += c
  }
  return outText
}

/** A one-line progress bar redrawn in place on a terminal; silent elsewhere. */
export class Progress {
  readonly #tty = process.stderr.isTTY === true
  #last = 0

  update(done: number, total: number | null, label: string): void {
    if (!this.#tty) return
    const now = Date.now()
    if (now - this.#last < 100 && (total === null || done < total)) return
    this.#last = now
    const width = 30
    const bar = total ? '#'.repeat(Math.round((Math.min(done, total) / total) * width)).padEnd(width, '.') : ''
    const pct = total ? ` ${Math.floor((Math.min(done, total) / total) * 100)}%` : ''
    process.stderr.write(`\r${total ? `[${bar}]${pct} ` : ''}${label}\u001b[K`)
  }

  done(): void {
    if (this.#tty) process.stderr.write('\r\u001b[K')
  }
}
