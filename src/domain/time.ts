/**
 * Time in lateview: period keys, the instants a period covers in a view's time zone (with every
 * clock change handled), ISO 8601 instants and durations, and the range of years lateview takes.
 * One file because period keys and their ranges are two sides of one bijection, tested together
 * around every DST rule; the parsers of instants and durations are the small rest.
 */
import { DateTime, Duration, IANAZone, Info, type Zone } from 'luxon'

/** How a view cuts event time into periods. */
export type Granularity = 'hour' | 'day' | 'week' | 'month'

export const GRANULARITIES: readonly Granularity[] = ['hour', 'day', 'week', 'month']

/** A half-open interval of UTC epoch milliseconds. */
export interface Interval {
  start: number
  end: number
}

/**
 * The instants of a period: from `start`, its first instant, to `end`, the end (exclusive) of its
 * last. Clock changes can cut a period in several intervals (a wall-clock hour that happens twice
 * with another hour in between); only then is `pieces` present: sorted, disjoint, maximal.
 */
export interface PeriodRange extends Interval {
  pieces?: readonly Interval[]
}

/** A maximal interval of instants that share one period key. */
export interface PeriodPiece extends Interval {
  key: string
}

const KEY_PATTERNS: Record<Granularity, RegExp> = {
  hour: /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/,
  day: /^(\d{4})-(\d{2})-(\d{2})$/,
  week: /^(\d{4})-W(\d{2})$/,
  month: /^(\d{4})-(\d{2})$/,
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Whether luxon and Intl know the zone. */
export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone)
}

/**
 * Parses an ISO 8601 duration (`PT6H`, `P1D`) into milliseconds; null when malformed or not
 * positive. Days count as 24 hours here: durations measure lag and deadlines, not calendar days.
 */
export function parseDurationMs(iso: string): number | null {
  const ms = isoDurationMs(iso)
  return ms !== null && ms > 0 ? ms : null
}

/** An ISO 8601 duration of zero or more (`PT0S`, `PT24H`) in ms, or null. */
export function parseNonNegativeDurationMs(iso: string): number | null {
  const ms = isoDurationMs(iso)
  return ms !== null && ms >= 0 ? ms : null
}

function isoDurationMs(iso: string): number | null {
  // luxon reads a bare `P` or `PT` as zero; ISO 8601 asks for at least one figure.
  if (typeof iso !== 'string' || !/^P/.test(iso) || /^PT?$/.test(iso)) return null
  const duration = Duration.fromISO(iso)
  if (!duration.isValid) return null
  const ms = duration.shiftTo('milliseconds').milliseconds
  return Number.isFinite(ms) ? ms : null
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
 * Exactly the instants whose key is `key`: those whose local wall-clock time falls in the
 * period's wall-clock span. Days are 23 or 25 hours long on DST changes; an hour repeated when
 * clocks fall back is one period, in one piece or, when another hour comes between its two
 * occurrences (Pacific/Chatham), in two. Null for a malformed key or one no instant has (an hour
 * skipped when clocks go forward).
 */
export function periodRange(key: string, zone: string, granularity: Granularity): PeriodRange | null {
  const span = wallClockSpan(key, granularity)
  // Keys are local dates: those of the years 1900 to 2999 (see INSTANT_RANGE) name periods.
  if (!span || span[0] < INSTANT_RANGE.start || span[1] > INSTANT_RANGE.end) return null
  const timeline = timelineOf(zone)
  if (!timeline) return null
  const pieces = instantsOfWallClock(timeline, span[0], span[1])
  const first = pieces[0]
  if (first === undefined) return null
  if (pieces.length === 1) return first
  return { start: first.start, end: (pieces[pieces.length - 1] as Interval).end, pieces }
}

/** Whether the instant `ms` belongs to the period (inside one of its pieces). */
export function inPeriod(range: PeriodRange, ms: number): boolean {
  if (!(ms >= range.start && ms < range.end)) return false
  const pieces = range.pieces
  if (pieces === undefined) return true
  for (const piece of pieces) if (ms < piece.end) return ms >= piece.start
  return false
}

/** The intervals of a period: its `pieces`, or the range itself when it is one interval. */
export function piecesOf(range: PeriodRange): readonly Interval[] {
  return range.pieces ?? [range]
}

/** The key of the period that follows `key`: the key at the end of its last piece. */
export function nextPeriodKey(key: string, zone: string, granularity: Granularity): string | null {
  const range = periodRange(key, zone, granularity)
  return range ? periodKeyOf(range.end, zone, granularity) : null
}

/**
 * The wall-clock span a key names, in local epoch ms (`Date.UTC` of the local fields): an hour,
 * a day, an ISO week from Monday to Monday, a month from the 1st to the 1st. Null when malformed.
 */
function wallClockSpan(key: string, granularity: Granularity): [number, number] | null {
  const match = KEY_PATTERNS[granularity].exec(key)
  if (!match) return null
  const year = Number(match[1])
  if (granularity === 'week') {
    const week = Number(match[2])
    if (week < 1 || week > 53) return null
    const jan4 = civilMs(year, 1, 4)
    const monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY + (week - 1) * 7 * DAY
    // Week 53 exists only when its Thursday is still in the year.
    if (new Date(monday + 3 * DAY).getUTCFullYear() !== year) return null
    return [monday, monday + 7 * DAY]
  }
  const month = Number(match[2])
  if (month < 1 || month > 12) return null
  if (granularity === 'month') return [civilMs(year, month, 1), month === 12 ? civilMs(year + 1, 1, 1) : civilMs(year, month + 1, 1)]
  const day = Number(match[3])
  if (day < 1 || day > daysInMonth(year, month)) return null
  const midnight = civilMs(year, month, day)
  if (granularity === 'day') return [midnight, midnight + DAY]
  const hour = Number(match[4])
  return hour > 23 ? null : [midnight + hour * HOUR, midnight + (hour + 1) * HOUR]
}

/** Epoch ms of a proleptic Gregorian date at 00:00 UTC. */
function civilMs(year: number, month: number, day: number): number {
  if (year >= 100) return Date.UTC(year, month - 1, day)
  // Date.UTC maps years 0-99 to 1900-1999.
  return new Date(0).setUTCFullYear(year, month - 1, day)
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] as number)
}

/**
 * Offsets in force over one chunk of time: `offsets[0]` (ms) from the chunk's start, `offsets[i + 1]`
 * from the instant `at[i]`.
 */
interface Chunk {
  at: number[]
  offsets: number[]
}

/** What is known of one zone's offsets over time, filled in chunk by chunk as periods are asked. */
interface Timeline {
  zone: Zone
  /** A text that changes exactly when the offset does, much cheaper than the offset; null for a fixed offset. */
  probe: ((ms: number) => string) | null
  chunks: Map<number, Chunk>
}

/**
 * Chunks are scanned whole, a probe every `SCAN_STEP`, then bisected to the millisecond where the
 * offset changes. Two changes less than a step apart that cancel out would go unseen; in tzdb no
 * zone has had two changes less than six days apart since 1900, so a day leaves a wide margin.
 */
const CHUNK_MS = 64 * DAY
const SCAN_STEP = DAY
/** Chunks a timeline keeps before it starts over: far more than ever asked, but keys come from requests. */
const CHUNKS_KEPT = 4096
/** More than any offset from UTC: the instants of a wall-clock span lie within this of it. */
const MAX_OFFSET = DAY

const timelines = new Map<string, Timeline | null>()

/** The zone's timeline, or null when luxon does not know the zone. */
function timelineOf(name: string): Timeline | null {
  let timeline = timelines.get(name)
  if (timeline === undefined) {
    const zone = Info.normalizeZone(name)
    timeline = null
    if (zone.isValid) {
      let probe: ((ms: number) => string) | null = null
      if (zone.type === 'iana') {
        const format = new Intl.DateTimeFormat('en-US', { timeZone: zone.name, timeZoneName: 'longOffset' })
        probe = (ms) => {
          const text = format.format(ms)
          return text.slice(text.lastIndexOf('GMT'))
        }
      } else if (!zone.isUniversal) probe = (ms) => String(zone.offset(ms))
      timeline = { zone, probe, chunks: new Map() }
    }
    timelines.set(name, timeline)
  }
  return timeline
}

/** The offset luxon applies at `ms`, in ms: keys come from luxon, so ranges must use the same offsets. */
function offsetAt(zone: Zone, ms: number): number {
  return Math.round(zone.offset(ms) * MINUTE)
}

/** The chunk `index` of a timeline with a probe, scanned on first use. */
function chunkOf(timeline: Timeline, probe: (ms: number) => string, index: number): Chunk {
  let chunk = timeline.chunks.get(index)
  if (chunk !== undefined) return chunk
  const start = index * CHUNK_MS
  const end = start + CHUNK_MS
  chunk = { at: [], offsets: [offsetAt(timeline.zone, start)] }
  let before = start
  let beforeText = probe(start)
  for (let t = start + SCAN_STEP; t <= end; t += SCAN_STEP) {
    const text = probe(t)
    // Several changes may fall in one step: find each first instant that differs until `t` is reached.
    while (beforeText !== text) {
      let lo = before
      let hi = t
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2)
        if (probe(mid) === beforeText) lo = mid
        else hi = mid
      }
      // A change right at `end` is the next chunk's starting offset.
      if (hi >= end) break
      const offset = offsetAt(timeline.zone, hi)
      if (offset !== chunk.offsets[chunk.offsets.length - 1]) {
        chunk.at.push(hi)
        chunk.offsets.push(offset)
      }
      before = hi
      beforeText = probe(hi)
    }
    before = t
    beforeText = text
  }
  if (timeline.chunks.size >= CHUNKS_KEPT) timeline.chunks.clear()
  timeline.chunks.set(index, chunk)
  return chunk
}

/**
 * The instants t with `from <= t + offset(t) < to` as sorted, disjoint, maximal intervals. Over a
 * stretch of constant offset o they are [from - o, to - o) cut to the stretch.
 */
function instantsOfWallClock(timeline: Timeline, from: number, to: number): Interval[] {
  const pieces: Interval[] = []
  const add = (stretchStart: number, stretchEnd: number, offset: number): void => {
    const start = Math.max(stretchStart, from - offset)
    const end = Math.min(stretchEnd, to - offset)
    if (start >= end) return
    const last = pieces[pieces.length - 1]
    // Adjacent stretches (across a chunk boundary, or a change that moves no key) make one piece.
    if (last !== undefined && last.end === start) last.end = end
    else pieces.push({ start, end })
  }
  const probe = timeline.probe
  if (probe === null) {
    add(-Infinity, Infinity, offsetAt(timeline.zone, from))
    return pieces
  }
  const last = Math.floor((to + MAX_OFFSET - 1) / CHUNK_MS)
  for (let index = Math.floor((from - MAX_OFFSET) / CHUNK_MS); index <= last; index++) {
    const { at, offsets } = chunkOf(timeline, probe, index)
    let stretchStart = index * CHUNK_MS
    for (let i = 0; i < at.length; i++) {
      add(stretchStart, at[i] as number, offsets[i] as number)
      stretchStart = at[i] as number
    }
    add(stretchStart, (index + 1) * CHUNK_MS, offsets[at.length] as number)
  }
  return pieces
}

/**
 * Buckets instants into period keys, remembering the last few pieces (maximal intervals of one
 * key, never a whole period's span, which may enclose another period's instants): events mostly
 * arrive in time order, so nearly every lookup is two comparisons instead of a time-zone conversion.
 */
export class Bucketer {
  /** The piece of the last lookup, apart so that a hit on it costs two comparisons. */
  #last: PeriodPiece = { key: '', start: 0, end: 0 }
  /** Pieces found before, most recently found first. */
  readonly #recent: PeriodPiece[] = []
  readonly #ranges = new Map<string, PeriodRange | null>()

  constructor(
    readonly zone: string,
    readonly granularity: Granularity,
  ) {}

  /** The period key of an instant, the same as `periodKeyOf` whatever was asked before. */
  keyOf(ms: number): string {
    const last = this.#last
    if (ms >= last.start && ms < last.end) return last.key
    return this.pieceOf(ms).key
  }

  /** The maximal interval of instants around `ms` that share its key (shared: do not change it). */
  pieceOf(ms: number): Readonly<PeriodPiece> {
    const last = this.#last
    if (ms >= last.start && ms < last.end) return last
    for (const piece of this.#recent) {
      if (ms >= piece.start && ms < piece.end) return (this.#last = piece)
    }
    const key = periodKeyOf(ms, this.zone, this.granularity)
    const range = this.rangeOf(key)
    let found: Interval | undefined
    if (range) for (const piece of piecesOf(range)) if (ms >= piece.start && ms < piece.end) found = piece
    // Only for an instant luxon cannot place (an unknown zone, not a finite number): nothing to remember.
    if (found === undefined) return { key, start: ms, end: ms + 1 }
    const piece = { key, start: found.start, end: found.end }
    this.#recent.unshift(piece)
    if (this.#recent.length > 8) this.#recent.pop()
    return (this.#last = piece)
  }

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
  if (day > daysInMonth(year, month)) return null
  // Truncated to the millisecond on the digits: never rounded (into the next day, even), as the fast path does.
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3))
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
    if (day > daysInMonth(year, month)) return null
    midnight = Date.UTC(year, month - 1, day)
    dayB = dayA
    dayBMs = dayAMs
    dayA = dayNumber
    dayAMs = midnight
  }
  return midnight + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offset
}

/** The ISO 8601 text of an instant, in UTC. */
/**
 * The instants lateview takes (occurrence, receipt, as-of, a job's now) and the periods it
 * reports on: the years 1900 to 2999. Outside them a date is a typo or a placeholder (0000-01-01,
 * 9999-12-31), and a report of year 0 would be a figure about nothing.
 */
export const INSTANT_RANGE: Readonly<Interval> = Object.freeze({ start: Date.UTC(1900, 0, 1), end: Date.UTC(3000, 0, 1) })

/** Whether an instant lies in the years lateview takes (see INSTANT_RANGE). */
export function inInstantRange(ms: number): boolean {
  return ms >= INSTANT_RANGE.start && ms < INSTANT_RANGE.end
}

/** The words for an instant field's form, in messages. */
export const INSTANT_FORM = 'an ISO 8601 instant with an offset or Z, in the years 1900 to 2999'

/** An instant given as text: its epoch ms, or null when malformed or outside the years lateview takes. */
export function parseInstantInRange(text: unknown): number | null {
  const ms = parseInstant(text)
  return ms !== null && inInstantRange(ms) ? ms : null
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString()
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0')
}
