/** Output helpers for the CLI: stdout for results, stderr for progress and errors. */

export class UsageError extends Error {}

export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function err(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`)
}

/** Formats a table with right-aligned numbers. */
export function table(headers: string[], rows: Array<Array<string | number | null>>): string {
  const cells = rows.map((r) => r.map((v) => (v === null ? '-' : String(v))))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)))
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null))
  const line = (r: string[]) => r.map((v, i) => (numeric[i] ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number))).join('  ').trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
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
