import { DateTime, Duration, IANAZone } from 'luxon'

/** How a view cuts event time into periods. */
export type Granularity = 'hour' | 'day' | 'week' | 'month'

export const GRANULARITIES: readonly Granularity[] = ['hour', 'day', 'week', 'month']

/** A period's half-open range of UTC epoch milliseconds. */
export interface PeriodRange {
  start: number
  end: number
}

const KEY_PATTERNS: Record<Granularity, RegExp> = {
  hour: /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/,
  day: /^(\d{4})-(\d{2})-(\d{2})$/,
  week: /^(\d{4})-W(\d{2})$/,
  month: /^(\d{4})-(\d{2})$/,
}

const HALF_HOUR = 30 * 60 * 1000

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone)
}

/**
 * Parses an ISO 8601 duration (`PT6H`, `P1D`) into milliseconds; null when malformed or not
 * positive. Days count as 24 hours here: durations measure lag and deadlines, not calendar days.
 */
export function parseDurationMs(iso: string): number | null {
  if (typeof iso !== 'string' || !/^P/.test(iso)) return null
  const duration = Duration.fromISO(iso)
  if (!duration.isValid) return null
  const ms = duration.shiftTo('milliseconds').milliseconds
  return Number.isFinite(ms) && ms > 0 ? ms : null
}

/** The period key of an instant: `2026-11-25T13`, `2026-11-25`, `2026-W48` or `2026-11`. */
export function periodKeyOf(ms: number, zone: string, granularity: Granularity): string {
  const local = DateTime.fromMillis(ms, { zone })
  switch (granularity) {
    case 'hour':
      return `${pad(local.year, 4)}-${pad(local.month)}-${pad(local.day)}T${pad(local.hour)}`
    case 'day':
      return `${pad(local.year, 4)}-${pad(local.month)}-${pad(local.day)}`
    case 'week':
      return `${pad(local.weekYear, 4)}-W${pad(local.weekNumber)}`
    case 'month':
      return `${pad(local.year, 4)}-${pad(local.month)}`
  }
}

/**
 * The instants a period covers. Days are 23 or 25 hours long on DST changes; an hour repeated
 * when clocks fall back is one two-hour period, since its wall-clock key is the same.
 * Returns null for a key that is malformed or names no period of this granularity.
 */
export function periodRange(key: string, zone: string, granularity: Granularity): PeriodRange | null {
  const match = KEY_PATTERNS[granularity].exec(key)
  if (!match) return null
  const n = match.slice(1).map(Number) as number[]
  let guess: DateTime
  switch (granularity) {
    case 'hour':
      guess = DateTime.fromObject({ year: n[0], month: n[1], day: n[2], hour: n[3] }, { zone })
      break
    case 'day':
      guess = DateTime.fromObject({ year: n[0], month: n[1], day: n[2] }, { zone }).startOf('day')
      break
    case 'week':
      guess = DateTime.fromObject({ weekYear: n[0], weekNumber: n[1], weekday: 1 }, { zone }).startOf('day')
      break
    case 'month':
      guess = DateTime.fromObject({ year: n[0], month: n[1], day: 1 }, { zone }).startOf('day')
      break
  }
  if (!guess.isValid) return null
  let start = guess.toMillis()
  if (periodKeyOf(start, zone, granularity) !== key) return null
  // An ambiguous wall-clock time may resolve to its later occurrence: walk back to the first.
  while (periodKeyOf(start - HALF_HOUR, zone, granularity) === key) start -= HALF_HOUR
  let end: number
  switch (granularity) {
    case 'hour': {
      end = start + HALF_HOUR
      while (periodKeyOf(end, zone, granularity) === key) end += HALF_HOUR
      break
    }
    case 'day':
      end = DateTime.fromMillis(start, { zone }).plus({ days: 1 }).startOf('day').toMillis()
      break
    case 'week':
      end = DateTime.fromMillis(start, { zone }).plus({ weeks: 1 }).startOf('day').toMillis()
      break
    case 'month':
      end = DateTime.fromMillis(start, { zone }).plus({ months: 1 }).startOf('month').toMillis()
      break
  }
  return { start, end }
}

/** The key of the period right after `key`. */
export function nextPeriodKey(key: string, zone: string, granularity: Granularity): string | null {
  const range = periodRange(key, zone, granularity)
  return range ? periodKeyOf(range.end, zone, granularity) : null
}

/**
 * Buckets instants into period keys, remembering the last few ranges: events mostly arrive in
 * time order, so nearly every lookup is two comparisons instead of a time-zone conversion.
 */
export class Bucketer {
  readonly #recent: Array<PeriodRange & { key: string }> = []

  constructor(
    readonly zone: string,
    readonly granularity: Granularity,
  ) {}

  keyOf(ms: number): string {
    for (const r of this.#recent) {
      if (ms >= r.start && ms < r.end) return r.key
    }
    const key = periodKeyOf(ms, this.zone, this.granularity)
    const range = this.rangeOf(key)
    if (range) {
      this.#recent.unshift({ key, ...range })
      if (this.#recent.length > 8) this.#recent.pop()
    }
    return key
  }

  readonly #ranges = new Map<string, PeriodRange | null>()

  /** The range of a period key (null when it names none); remembered, as every request asks. */
  rangeOf(key: string): PeriodRange | null {
    let range = this.#ranges.get(key)
    if (range === undefined) {
      range = periodRange(key, this.zone, this.granularity)
      if (this.#ranges.size >= 10_000) this.#ranges.clear()
      this.#ranges.set(key, range)
    }
    return range
  }
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2})?)$/i
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * Parses an ISO 8601 instant that carries an offset or `Z`; null otherwise. Hand-written on
 * purpose: ingest parses every event's times, and this is many times faster than a general
 * date library while checking the same calendar rules.
 */
export function parseInstant(text: unknown): number | null {
  if (typeof text !== 'string' || text.length > 64) return null
  const fast = parseFullInstant(text)
  return fast !== undefined ? fast : parseInstantByPattern(text)
}

/** The general parser, every form `parseInstant` accepts (exported so tests hold the fast path to it). */
export function parseInstantByPattern(text: string): number | null {
  const m = INSTANT.exec(text)
  if (!m) return null
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = m[6] === undefined ? 0 : Number(m[6])
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  if (day > (month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] as number))) return null
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-6)
  let offset = 0
  if (m[8]?.toUpperCase() !== 'Z') {
    const oh = Number(m[10])
    const om = m[11] === undefined ? 0 : Number(m[11])
    if (oh > 23 || om > 59) return null
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000
  }
  // Date.UTC maps years 0-99 to 1900-1999; those need the slower setter.
  if (year < 100) {
    const utc = new Date(0)
    utc.setUTCFullYear(year, month - 1, day)
    utc.setUTCHours(hour, minute, second, ms)
    return utc.getTime() - offset
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset
}

/** The two digits at `i` as a number, or -1. */
function twoDigits(text: string, i: number): number {
  const a = text.charCodeAt(i) - 48
  const b = text.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/**
 * The last two calendar days `parseFullInstant` converted (`yyyymmdd`) and their UTC midnights:
 * an event's two instants are often on two days (its local occurrence, its receipt in UTC).
 */
let dayA = -1
let dayAMs = 0
let dayB = -1
let dayBMs = 0

/**
 * The form nearly every producer sends, `YYYY-MM-DDTHH:MM:SS[.fff]` then `Z` or `±HH:MM`, read
 * without a regular expression: ingest parses two instants per event. Events of a batch mostly
 * share their days, so the validity and UTC midnight of the last two days are kept. Returns
 * undefined for any other shape (the general parser decides) and null for an impossible date.
 */
function parseFullInstant(text: string): number | null | undefined {
  const n = text.length
  if (n < 20 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined
  const t = text.charCodeAt(10)
  if (t !== 84 && t !== 116) return undefined
  const century = twoDigits(text, 0)
  const yy = twoDigits(text, 2)
  const month = twoDigits(text, 5)
  const day = twoDigits(text, 8)
  const hour = twoDigits(text, 11)
  const minute = twoDigits(text, 14)
  const second = twoDigits(text, 17)
  if (century < 1 || yy < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined
  const year = century * 100 + yy
  let i = 19
  let ms = 0
  if (text.charCodeAt(i) === 46) {
    const start = ++i
    let d = text.charCodeAt(i) - 48
    while (d >= 0 && d <= 9) {
      // Truncated to the millisecond, as the general parser does.
      if (i - start < 3) ms = ms * 10 + d
      d = text.charCodeAt(++i) - 48
    }
    const count = i - start
    if (count < 1 || count > 9) return undefined
    if (count === 1) ms *= 100
    else if (count === 2) ms *= 10
  }
  let offset = 0
  const zone = text.charCodeAt(i)
  if ((zone === 90 || zone === 122) && i + 1 === n) offset = 0
  else if ((zone === 43 || zone === 45) && i + 6 === n && text.charCodeAt(i + 3) === 58) {
    const oh = twoDigits(text, i + 1)
    const om = twoDigits(text, i + 4)
    if (oh < 0 || om < 0) return undefined
    if (oh > 23 || om > 59) return null
    offset = (zone === 45 ? -1 : 1) * (oh * 60 + om) * 60_000
  } else return undefined
  if (hour > 23 || minute > 59 || second > 59) return null
  const dayNumber = (year * 100 + month) * 100 + day
  let midnight: number
  if (dayNumber === dayA) midnight = dayAMs
  else if (dayNumber === dayB) midnight = dayBMs
  else {
    if (month < 1 || month > 12 || day < 1) return null
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
    if (day > (month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] as number))) return null
    midnight = Date.UTC(year, month - 1, day)
    dayB = dayA
    dayBMs = dayAMs
    dayA = dayNumber
    dayAMs = midnight
  }
  return midnight + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offset
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString()
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0')
}
