import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Bucketer, GRANULARITIES, inPeriod, periodKeyOf, periodRange, type Granularity, type PeriodRange } from '../../src/domain/time.js'

/**
 * Every zone Intl knows, every granularity: keys, ranges and pieces held to an oracle that reads
 * local wall-clock fields from Intl alone, written without luxon and without the code under test.
 */

const ZONES = [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])]
const FROM = Date.UTC(2020, 0, 1)
const TO = Date.UTC(2031, 0, 1)
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** Offsets are sampled this far apart to find changes: finer than the code under test, and no zone has had two changes less than six days apart. */
const SAMPLE_STEP = 12 * HOUR
/** Around each change: ± 1 ms, minutes, quarter hours, hours, a day. */
const NEAR = [0, 1, MINUTE, 15 * MINUTE, 30 * MINUTE, 45 * MINUTE, HOUR, 90 * MINUTE, 2 * HOUR, 3 * HOUR, DAY].flatMap((d) => (d === 0 ? [0, -1] : [d, -d - 1, -d]))

type Keys = Record<Granularity, string>

/** Fails the test with a message (uvu's `unreachable`, typed so that TypeScript narrows after it). */
function fail(message: string): never {
  assert.unreachable(message)
  throw new Error(message)
}

const two = (n: number): string => String(n).padStart(2, '0')

/** The ISO week key of a calendar date: the week (Monday to Sunday) belongs to the year of its Thursday. */
function isoWeekKey(year: number, month: number, day: number): string {
  const dayNumber = Date.UTC(year, month - 1, day) / DAY
  const fromMonday = (((dayNumber + 3) % 7) + 7) % 7 // 1970-01-01 was a Thursday
  const thursday = dayNumber - fromMonday + 3
  const weekYear = new Date(thursday * DAY).getUTCFullYear()
  const week = Math.floor((thursday - Date.UTC(weekYear, 0, 1) / DAY) / 7) + 1
  return `${weekYear}-W${two(week)}`
}

/** One zone's wall clock, read with Intl only. */
class Oracle {
  readonly #fields: Intl.DateTimeFormat
  readonly #offset: Intl.DateTimeFormat

  constructor(readonly zone: string) {
    this.#fields = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
    this.#offset = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
  }

  /** The four keys of an instant. */
  keys(ms: number): Keys {
    let year = 0
    let month = 0
    let day = 0
    let hour = 0
    for (const part of this.#fields.formatToParts(ms)) {
      if (part.type === 'year') year = Number(part.value)
      else if (part.type === 'month') month = Number(part.value)
      else if (part.type === 'day') day = Number(part.value)
      else if (part.type === 'hour') hour = Number(part.value)
    }
    const date = `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}`
    return { hour: `${date}T${two(hour)}`, day: date, week: isoWeekKey(year, month, day), month: date.slice(0, 7) }
  }

  key(ms: number, granularity: Granularity): string {
    return this.keys(ms)[granularity]
  }

  /** The offset as Intl writes it (`GMT+12:45`): changes exactly when the offset does. */
  offsetText(ms: number): string {
    const text = this.#offset.format(ms)
    return text.slice(text.lastIndexOf('GMT'))
  }

  /** Every instant in [from, to) where the offset changes, to the millisecond. */
  transitions(from: number, to: number): number[] {
    const found: number[] = []
    let before = from
    let beforeText = this.offsetText(from)
    for (let t = from + SAMPLE_STEP; t < to; t += SAMPLE_STEP) {
      const text = this.offsetText(t)
      while (beforeText !== text) {
        let lo = before
        let hi = t
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2)
          if (this.offsetText(mid) === beforeText) lo = mid
          else hi = mid
        }
        found.push(hi)
        before = hi
        beforeText = this.offsetText(hi)
      }
      before = t
      beforeText = text
    }
    return found
  }
}

/** One zone under test: its oracle, a long-lived Bucketer per granularity, the ranges already checked. */
class ZoneCheck {
  readonly oracle: Oracle
  readonly bucketers: Record<Granularity, Bucketer>
  readonly #checked = new Set<string>()

  constructor(readonly zone: string) {
    this.oracle = new Oracle(zone)
    this.bucketers = { hour: new Bucketer(zone, 'hour'), day: new Bucketer(zone, 'day'), week: new Bucketer(zone, 'week'), month: new Bucketer(zone, 'month') }
  }

  /** Every check of one instant, in every granularity. */
  instant(t: number): void {
    const keys = this.oracle.keys(t)
    for (const granularity of GRANULARITIES) {
      const key = keys[granularity]
      const where = () => `${this.zone} ${granularity} at ${new Date(t).toISOString()} (${t})`
      const direct = periodKeyOf(t, this.zone, granularity)
      if (direct !== key) assert.is(direct, key, `periodKeyOf, ${where()}`)
      const bucketer = this.bucketers[granularity]
      const cached = bucketer.keyOf(t)
      if (cached !== key) assert.is(cached, key, `Bucketer.keyOf, ${where()}`)
      const range = periodRange(key, this.zone, granularity)
      if (range === null || !inPeriod(range, t)) fail(`periodRange(${key}) = ${JSON.stringify(range)} misses it, ${where()}`)
      const piece = bucketer.pieceOf(t)
      const pieces = range.pieces ?? [range]
      if (piece.key !== key || !pieces.some((p) => p.start === piece.start && p.end === piece.end) || !(piece.start <= t && t < piece.end)) {
        fail(`Bucketer.pieceOf gives ${JSON.stringify(piece)}, not a piece of ${key} ${JSON.stringify(range)} around it, ${where()}`)
      }
      const id = `${granularity} ${key}`
      if (!this.#checked.has(id)) {
        this.#checked.add(id)
        this.range(key, granularity, range)
      }
    }
  }

  /** The pieces of a range are sorted, disjoint and maximal, and each holds only the key. */
  range(key: string, granularity: Granularity, range: PeriodRange): void {
    const where = `${this.zone} ${granularity} ${key} ${JSON.stringify(range)}`
    const pieces = range.pieces ?? [range]
    if (range.pieces && range.pieces.length < 2) fail(`pieces present for one interval: ${where}`)
    assert.is(range.start, pieces[0]?.start, where)
    assert.is(range.end, pieces[pieces.length - 1]?.end, where)
    let previousEnd = -Infinity
    for (const { start, end } of pieces) {
      // Strictly after the previous one: touching pieces would be one.
      if (!(previousEnd < start && start < end)) fail(`pieces not sorted, disjoint and non-empty: ${where}`)
      previousEnd = end
      if (this.oracle.key(start - 1, granularity) === key) fail(`the piece at ${start} could start earlier: ${where}`)
      if (this.oracle.key(end, granularity) === key) fail(`the piece ending ${end} could end later: ${where}`)
      const quarter = (end - start) / 4
      for (const t of [start, start + Math.floor(quarter), start + Math.floor(2 * quarter), start + Math.floor(3 * quarter), end - 1]) {
        if (this.oracle.key(t, granularity) !== key) fail(`${t} (${new Date(t).toISOString()}) is in a piece but not in the period: ${where}`)
      }
    }
  }
}

const zones = suite('zones: every IANA zone, 2020-2030, against Intl')

const checks = new Map(ZONES.map((zone) => [zone, new ZoneCheck(zone)]))
const transitions = new Map([...checks].map(([zone, check]) => [zone, check.oracle.transitions(FROM, TO)]))

zones('the oracle finds the known changes', () => {
  assert.is(transitions.get('Pacific/Chatham')?.length, 22)
  assert.ok(transitions.get('Pacific/Chatham')?.includes(Date.UTC(2026, 3, 4, 14)))
  assert.ok(transitions.get('Pacific/Chatham')?.includes(Date.UTC(2026, 8, 26, 14)))
  assert.ok(transitions.get('Australia/Lord_Howe')?.includes(Date.UTC(2026, 3, 4, 15)))
  assert.is(transitions.get('Asia/Tokyo')?.length, 0)
  assert.is(transitions.get('UTC')?.length, 0)
})

zones('keys, ranges and pieces around every offset change', () => {
  for (const [zone, check] of checks) {
    for (const transition of transitions.get(zone) ?? []) {
      for (const delta of NEAR) check.instant(transition + delta)
    }
  }
})

zones('keys, ranges and pieces at random instants in every zone', () => {
  let seed = 20260405
  for (const check of checks.values()) {
    fc.assert(
      fc.property(fc.integer({ min: FROM, max: TO - 1 }), (t) => check.instant(t)),
      { seed: seed++, numRuns: 16 },
    )
  }
})

zones.run()
