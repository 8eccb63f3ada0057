/**
 * An independent oracle for revision analysis (accuracy, vintages, completeness, close advice),
 * written from the README's definitions in plain loops over the test's own list of events. It
 * uses no lateview code: exact values are BigInt integers scaled by 10^decimals, statistics are
 * exact rationals rounded to 6 significant digits only at the end, and local calendars come
 * from luxon directly.
 */
import { DateTime, Duration } from 'luxon'

// --- exact decimals ------------------------------------------------------------------------

/** `10^n` as a BigInt. */
export const pow10 = (n: number): bigint => 10n ** BigInt(n)

/**
 * A decimal numeral (as JavaScript prints a number, or as a JSON numeral) as an integer scaled
 * by 10^decimals, rounded half away from zero from its decimal digits.
 */
export function scaledOf(value: number | string, decimals: number): bigint {
  const text = typeof value === 'number' ? String(value) : value
  const m = /^(-)?(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text)
  if (!m) throw new Error(`not a decimal numeral: ${text}`)
  const negative = m[1] === '-'
  let digits = `${m[2]}${m[3] ?? ''}`
  const exponent = -(m[3] ?? '').length + Number(m[4] ?? 0)
  // digits × 10^exponent, scaled to decimals.
  let shift = exponent + decimals
  let units: bigint
  if (shift >= 0) units = BigInt(digits) * pow10(shift)
  else {
    shift = -shift
    if (digits.length <= shift) digits = digits.padStart(shift + 1, '0')
    const kept = BigInt(digits.slice(0, digits.length - shift))
    const dropped = digits.slice(digits.length - shift)
    // Half away from zero: the first dropped digit decides.
    units = kept + (Number(dropped[0]) >= 5 ? 1n : 0n)
  }
  return negative ? -units : units
}

/** An integer scaled by 10^decimals as the shortest decimal numeral (no trailing zeros, no exponent). */
export function decimalText(units: bigint, decimals: number): string {
  const negative = units < 0n
  const abs = negative ? -units : units
  const s = abs.toString().padStart(decimals + 1, '0')
  const int = s.slice(0, s.length - decimals)
  const frac = s.slice(s.length - decimals).replace(/0+$/, '')
  return `${negative ? '-' : ''}${int}${frac ? `.${frac}` : ''}`
}

/** An exact value as the API shows it in JSON: the number its numeral reads as. */
export const decimalNumber = (units: bigint, decimals: number): number => Number(decimalText(units, decimals))

export const babs = (x: bigint): bigint => (x < 0n ? -x : x)

// --- exact rationals -------------------------------------------------------------------------

function gcd(a: bigint, b: bigint): bigint {
  a = babs(a)
  b = babs(b)
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

export class Rational {
  readonly n: bigint
  readonly d: bigint
  constructor(n: bigint, d: bigint = 1n) {
    if (d === 0n) throw new Error('division by zero in the oracle')
    if (d < 0n) {
      n = -n
      d = -d
    }
    const g = gcd(n, d) || 1n
    this.n = n / g
    this.d = d / g
  }
  static of(units: bigint, decimals: number): Rational {
    return new Rational(units, pow10(decimals))
  }
  add(o: Rational): Rational {
    return new Rational(this.n * o.d + o.n * this.d, this.d * o.d)
  }
  sub(o: Rational): Rational {
    return new Rational(this.n * o.d - o.n * this.d, this.d * o.d)
  }
  mul(o: Rational): Rational {
    return new Rational(this.n * o.n, this.d * o.d)
  }
  div(o: Rational): Rational {
    return new Rational(this.n * o.d, this.d * o.n)
  }
  abs(): Rational {
    return new Rational(babs(this.n), this.d)
  }
  cmp(o: Rational): number {
    const l = this.n * o.d
    const r = o.n * this.d
    return l < r ? -1 : l > r ? 1 : 0
  }
  isZero(): boolean {
    return this.n === 0n
  }
  toNumber(): number {
    return Number(this.n) / Number(this.d)
  }
  toString(): string {
    return this.d === 1n ? `${this.n}` : `${this.n}/${this.d}`
  }
}

export const ZERO = new Rational(0n)
export const ONE = new Rational(1n)
export const sumOf = (xs: Rational[]): Rational => xs.reduce((a, b) => a.add(b), ZERO)

function isqrt(y: bigint): bigint {
  if (y < 2n) return y
  let x = BigInt(Math.floor(Math.sqrt(Number(y))))
  while (x * x > y) x--
  while ((x + 1n) * (x + 1n) <= y) x++
  return x
}

/**
 * The values a correct "rounded to 6 significant digits" can take for an exact quantity:
 * one, or two when the quantity lies on (or, for a float computation, within 1e-7 of a unit of
 * the sixth digit from) a half-way point. `sqrt` rounds the square root of `x` instead.
 */
export function sixDigitCandidates(x: Rational, sqrt = false): number[] {
  if (x.isZero()) return [0]
  if (sqrt && x.n < 0n) throw new Error('sqrt of a negative')
  const negative = x.n < 0n
  const a = x.abs()
  // Find k with 10^5 <= value × 10^k < 10^6.
  const mag = sqrt ? Math.sqrt(a.toNumber()) : a.toNumber()
  let k = 5 - Math.floor(Math.log10(mag))
  const scaled = (kk: number): Rational => {
    const f = kk >= 0 ? new Rational(pow10(sqrt ? 2 * kk : kk)) : new Rational(1n, pow10(sqrt ? -2 * kk : -kk))
    return a.mul(f)
  }
  const floorOf = (kk: number): bigint => {
    const s = scaled(kk)
    return sqrt ? isqrt(s.n / s.d) : s.n / s.d
  }
  for (let guard = 0; guard < 4; guard++) {
    const q = floorOf(k)
    if (q < 100000n) k++
    else if (q >= 1000000n) k--
    else break
  }
  const q = floorOf(k)
  const s = scaled(k)
  // Compare the value with q + 1/2 (for sqrt: s with (q + 1/2)^2), with a float-noise margin.
  const half = new Rational(2n * q + 1n, 2n)
  const target = sqrt ? half.mul(half) : half
  const diff = s.sub(target)
  const margin = sqrt ? new Rational(2n * q + 1n, 10_000_000n) : new Rational(1n, 10_000_000n)
  const toNum = (units: bigint): number => Number(`${negative ? '-' : ''}${units}e${-k}`)
  if (diff.abs().cmp(margin) <= 0) return [toNum(q), toNum(q + 1n)]
  return [toNum(diff.n > 0n ? q + 1n : q)]
}

// --- percentiles -----------------------------------------------------------------------------

/** Nearest rank: the smallest value with at least q (= qn/qd) of the values at or below it. */
export function nearestRank<T>(sorted: T[], qn: number, qd: number): T {
  if (sorted.length === 0) throw new Error('nearest rank of nothing')
  // The rank ceil(n × q), in integers.
  const rank = Math.floor((sorted.length * qn + qd - 1) / qd)
  return sorted[Math.max(1, rank) - 1] as T
}

// --- durations and local calendars -------------------------------------------------------------

/** An ISO 8601 duration of weeks, days, hours, minutes and seconds as milliseconds (a day = 24 h). */
export function durationMs(text: string): number {
  const m = /^(-)?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:[.,](\d{1,3})\d*)?S)?)?$/.exec(text)
  if (!m || text === 'P' || text.endsWith('T')) throw new Error(`not an ISO duration of days and time: ${text}`)
  const ms =
    Number(m[2] ?? 0) * 7 * 86_400_000 +
    Number(m[3] ?? 0) * 86_400_000 +
    Number(m[4] ?? 0) * 3_600_000 +
    Number(m[5] ?? 0) * 60_000 +
    Number(m[6] ?? 0) * 1000 +
    Number((m[7] ?? '').padEnd(3, '0') || 0)
  return m[1] ? -ms : ms
}

/** `t` plus a (possibly negative) ISO duration, calendar parts on the local calendar of `zone`. */
export function plusLag(t: number, lag: string, zone: string): number {
  const negative = lag.startsWith('-')
  const d = Duration.fromISO(negative ? lag.slice(1) : lag)
  if (!d.isValid) throw new Error(`bad lag ${lag}`)
  const start = DateTime.fromMillis(t, { zone })
  return (negative ? start.minus(d) : start.plus(d)).toMillis()
}

export interface Zone {
  zone: string
}

/** The local date (a day period key) of an instant. */
export const dayOf = (t: number, zone: string): string => DateTime.fromMillis(t, { zone }).toISODate() as string

export const dayStart = (day: string, zone: string): number => DateTime.fromISO(day, { zone }).startOf('day').toMillis()
export const dayEnd = (day: string, zone: string): number => DateTime.fromISO(day, { zone }).startOf('day').plus({ days: 1 }).toMillis()

/** Local `day + n days` at `hh:mm`. */
export function localAt(day: string, plusDays: number, hhmm: string, zone: string): number {
  const [hour, minute] = hhmm.split(':').map(Number) as [number, number]
  return DateTime.fromISO(day, { zone }).plus({ days: plusDays }).set({ hour, minute, second: 0, millisecond: 0 }).toMillis()
}

/** The day keys from `from` to `to`, inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = []
  for (let d = DateTime.fromISO(from, { zone: 'UTC' }); (d.toISODate() as string) <= to; d = d.plus({ days: 1 })) out.push(d.toISODate() as string)
  return out
}

// --- the events and what was known of a period -------------------------------------------------

export interface MeasureDef {
  name: string
  kind: 'sum' | 'count' | 'max'
  field: string | null
  decimals: number
}

export interface OracleView {
  zone: string
  eventTypes: string[]
  dimensions: string[]
  measures: MeasureDef[]
  sign: Record<string, number>
}

/** An event as the test sent it, with the seq the store gave it. */
export interface StoredEvent {
  seq: number
  id: string
  source: string
  type: string
  occurredAt: string
  receivedAt: string
  occurredMs: number
  receivedMs: number
  data?: Record<string, unknown>
  retracts?: string
}

export interface Known {
  /** measure name → exact value (scaled units), null for a max without values. */
  values: Record<string, bigint | null>
  eventCount: number
}

export class Oracle {
  readonly events: StoredEvent[]
  readonly #retractionSeq = new Map<number, number>()

  constructor(
    readonly view: OracleView,
    events: StoredEvent[],
  ) {
    this.events = [...events].sort((a, b) => a.seq - b.seq)
    const bySourceId = new Map(this.events.map((e) => [`${e.source}\u0000${e.id}`, e]))
    for (const e of this.events) {
      if (e.retracts === undefined) continue
      const original = bySourceId.get(`${e.source}\u0000${e.retracts}`)
      if (!original) throw new Error(`retraction ${e.id} of an unknown event`)
      this.#retractionSeq.set(original.seq, e.seq)
    }
  }

  get headSeq(): number {
    return this.events.reduce((m, e) => Math.max(m, e.seq), 0)
  }

  periodOf(e: StoredEvent): string {
    return dayOf(e.occurredMs, this.view.zone)
  }

  /** The last seq received at or before `t` (0 before any). */
  seqAt(t: number): number {
    let k = 0
    for (const e of this.events) if (e.receivedMs <= t && e.seq > k) k = e.seq
    return k
  }

  measure(name: string): MeasureDef {
    const m = this.view.measures.find((x) => x.name === name)
    if (!m) throw new Error(`no measure ${name}`)
    return m
  }

  /** Report(V, P, K) reduced to its totals, over the events matching `filter` (dimension values). */
  report(period: string, k: number, filter: Record<string, string> = {}): Known {
    const values: Record<string, bigint | null> = {}
    for (const m of this.view.measures) values[m.name] = m.kind === 'max' ? null : 0n
    let eventCount = 0
    for (const e of this.events) {
      if (e.seq > k || e.retracts !== undefined) continue
      if (!this.view.eventTypes.includes(e.type)) continue
      if (this.periodOf(e) !== period) continue
      const voidedAt = this.#retractionSeq.get(e.seq)
      if (voidedAt !== undefined && voidedAt <= k) continue
      const data = e.data ?? {}
      if (Object.entries(filter).some(([key, want]) => String(data[key] ?? null) !== want)) continue
      eventCount++
      const sign = BigInt(this.view.sign[e.type] ?? 1)
      for (const m of this.view.measures) {
        if (m.kind === 'count') {
          values[m.name] = (values[m.name] as bigint) + sign
          continue
        }
        const raw = data[m.field as string]
        if (raw === undefined || raw === null) continue
        const v = sign * scaledOf(raw as number, m.decimals)
        if (m.kind === 'sum') values[m.name] = (values[m.name] as bigint) + v
        else {
          const cur = values[m.name] ?? null
          if (cur === null || v > cur) values[m.name] = v
        }
      }
    }
    return { values, eventCount }
  }

  knownAt(period: string, t: number, filter: Record<string, string> = {}): Known {
    return this.report(period, this.seqAt(t), filter)
  }

  /** The events of periods in [from, to] that are not retractions. */
  eventsOfRange(from: string, to: string): StoredEvent[] {
    return this.events.filter((e) => e.retracts === undefined && this.view.eventTypes.includes(e.type) && this.periodOf(e) >= from && this.periodOf(e) <= to)
  }
}

// --- statistics as the README defines them ------------------------------------------------------

export interface ReleaseStats {
  kind: string
  n: number
  meanRevision: Rational
  meanAbsRevision: Rational
  relativeMeanAbsRevision: Rational | null
  minRevision: Rational
  maxRevision: Rational
  /** The population variance: stdRevision is its square root. */
  variance: Rational
  accuracy: Rational | null
  withinOnePercent: Rational
}

/** The statistics of one release kind over pairs (v, b) of exact scaled values. */
export function releaseStats(kind: string, pairs: Array<{ v: bigint; b: bigint }>, decimals: number): ReleaseStats {
  const n = pairs.length
  const N = new Rational(BigInt(n))
  const rs = pairs.map(({ v, b }) => Rational.of(b - v, decimals))
  const bs = pairs.map(({ b }) => Rational.of(b, decimals))
  const mean = sumOf(rs).div(N)
  const sumAbsR = sumOf(rs.map((r) => r.abs()))
  const sumAbsB = sumOf(bs.map((b) => b.abs()))
  const variance = sumOf(rs.map((r) => r.sub(mean).mul(r.sub(mean)))).div(N)
  const nonZero = pairs.filter((p) => p.b !== 0n)
  const accuracy = nonZero.length === 0 ? null : sumOf(nonZero.map(({ v, b }) => ONE.sub(new Rational(babs(b - v), babs(b))))).div(new Rational(BigInt(nonZero.length)))
  const within = pairs.filter(({ v, b }) => babs(b - v) * 100n <= babs(b)).length
  const sorted = [...rs].sort((a, b) => a.cmp(b))
  return {
    kind,
    n,
    meanRevision: mean,
    meanAbsRevision: sumAbsR.div(N),
    relativeMeanAbsRevision: sumAbsB.isZero() ? null : sumAbsR.div(sumAbsB),
    minRevision: sorted[0] as Rational,
    maxRevision: sorted[n - 1] as Rational,
    variance,
    accuracy,
    withinOnePercent: new Rational(BigInt(within), BigInt(n)),
  }
}
