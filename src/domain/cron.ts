import { DateTime } from 'luxon'

const FIELDS: Array<[min: number, max: number]> = [
  [0, 59], // minute
  [0, 23], // hour
  [1, 31], // day of month
  [1, 12], // month
  [0, 7], // day of week (0 and 7 are Sunday)
]

/**
 * A cron expression matched against local wall-clock minutes: the simulated clock of the demo
 * and of replays fires jobs exactly when node-cron would. Supports `*`, numbers, ranges, steps
 * and lists; a leading seconds field (6 fields) is accepted and must allow second 0.
 */
export class CronMatcher {
  readonly #sets: Array<Set<number>>

  constructor(readonly expression: string) {
    let parts = expression.trim().split(/\s+/)
    if (parts.length === 6) {
      if (!expand(parts[0] as string, 0, 59).has(0)) throw new Error(`cron ${expression}: only expressions that fire at second 0 are supported`)
      parts = parts.slice(1)
    }
    if (parts.length !== 5) throw new Error(`cron ${expression}: expected 5 fields`)
    this.#sets = parts.map((p, i) => expand(p, ...(FIELDS[i] as [number, number])))
  }

  /** Whether the expression fires in the minute that contains `ms`, read in `zone`. */
  matches(ms: number, zone: string): boolean {
    const t = DateTime.fromMillis(ms, { zone })
    const [minute, hour, dom, month, dow] = this.#sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>]
    const weekday = t.weekday % 7
    return minute.has(t.minute) && hour.has(t.hour) && dom.has(t.day) && month.has(t.month) && (dow.has(weekday) || (weekday === 0 && dow.has(7)))
  }
}

function expand(field: string, min: number, max: number): Set<number> {
  const out = new Set<number>()
  for (const part of field.split(',')) {
    const m = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part)
    if (!m) throw new Error(`cron field ${JSON.stringify(field)} is not supported`)
    const step = m[2] ? Number(m[2]) : 1
    let lo = min
    let hi = max
    if (m[1] !== '*') {
      const [a, b] = (m[1] as string).split('-').map(Number) as [number, number | undefined]
      lo = a
      hi = b ?? (m[2] ? max : a)
    }
    if (lo < min || hi > max || lo > hi || step < 1) throw new Error(`cron field ${JSON.stringify(field)} is out of range`)
    for (let v = lo; v <= hi; v += step) out.add(v)
  }
  return out
}
