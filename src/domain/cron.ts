import { Cron } from 'croner'

/**
 * A job's schedule: a cron expression read by croner in a time zone. It is the one reading of
 * cron lateview has: `serve` asks it at every tick whether a job is due (node-cron only ticks,
 * see scheduler.ts), and the demo and replays ask it the same question of simulated minutes.
 * node-cron 4.2.1's own reading differed on day-of-week ranges (`1-7` fired on Mondays and
 * Sundays only, `SAT-SUN` every day), and a matcher of our own knew no names (`MON-SUN`).
 *
 * The grammar (croner's): 5 fields, or 6 with seconds first; `*`, numbers, names (`JAN`,
 * `MON`), ranges, steps, lists, `L` (last day of the month), `#` (nth weekday); day of week 0
 * or 7 is Sunday. When both day of month and day of week are restricted, either one matching
 * is enough (POSIX cron's rule).
 */
export class CronSchedule {
  readonly #cron: Cron
  /** With a seconds field the expression can fire several times in a minute. */
  readonly #seconds: boolean

  constructor(
    readonly expression: string,
    readonly zone: string,
  ) {
    this.#seconds = expression.trim().split(/\s+/).length === 6
    try {
      this.#cron = new Cron(expression, { timezone: zone, paused: true, mode: '5-or-6-parts' })
    } catch (error) {
      throw new Error(`cron ${JSON.stringify(expression)}: ${(error as Error).message}`)
    }
  }

  /** Whether the schedule fires at the second that holds `ms` (the scheduler's tick). */
  firesAt(ms: number): boolean {
    const second = Math.floor(ms / 1000) * 1000
    return this.#cron.match(new Date(second))
  }

  /** Whether the schedule fires at any second of the minute that holds `ms` (a replay's step). */
  firesInMinute(ms: number): boolean {
    const minute = Math.floor(ms / 60_000) * 60_000
    if (!this.#seconds) return this.#cron.match(new Date(minute))
    // The scheduler's own question, second by second: the same answer on a day clocks change.
    for (let s = 0; s < 60; s++) if (this.#cron.match(new Date(minute + s * 1000))) return true
    return false
  }

  /** Whether the scheduler's tick at `ms` (see `tick`) is one of the schedule's times. */
  firesOnTick(ms: number): boolean {
    return this.#seconds ? this.firesAt(ms) : this.firesInMinute(ms)
  }

  /** What node-cron ticks on: every second for an expression with seconds, else every minute. */
  get tick(): string {
    return this.#seconds ? '* * * * * *' : '* * * * *'
  }
}

/** Whether lateview can run `expression` (in UTC; the zone does not change the grammar). */
export function cronIsValid(expression: string): boolean {
  try {
    new CronSchedule(expression, 'UTC')
    return true
  } catch {
    return false
  }
}
