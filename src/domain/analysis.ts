/**
 * Revision analysis, pure: how far each release of a period was from its benchmark, the lags a
 * vintage is taken at, the nearest-rank percentiles of the completeness curve and of sources'
 * lags, what each candidate close would have cost in restatements, and the SLA each source has
 * kept. The figures are defined in the README ("Revision analysis"); the values they start from
 * (a revision's total, the total known at an instant) are read by services/analysis.ts.
 *
 * Per-period values stay exact (integers scaled by 10^decimals, as the measures are kept); the
 * statistics over periods are floating-point, rounded to 6 significant digits by `roundStat`.
 */
import { DateTime } from 'luxon'
import { LateviewError } from '../errors.js'
import type { Amount } from './aggregate.js'
import { amount, normalize, numeral, parseNumeral, type Scaled } from './decimal.js'
import { dueAt } from './lifecycle.js'
import type { PeriodRange } from './time.js'
import type { MeasureDefinition, ScheduleAt, ViewDefinition } from './view.js'

/** The release kinds analysed, in the order of a period's life. */
export const RELEASE_KINDS = ['flash', 'consolidated', 'revision', 'final', 'restatement'] as const
export type ReleaseKind = (typeof RELEASE_KINDS)[number]

/** What a release is compared with: the period's final revision, or its latest one. */
export type Against = 'final' | 'latest'

/** The lags of a vintage or completeness answer when none are given. */
export const DEFAULT_LAGS = ['-PT2H', 'PT0S', 'PT3H', 'PT6H', 'PT12H', 'P1D', 'P2D', 'P3D', 'P7D'] as const
/** How many periods an answer covers when `from` is not given. */
export const DEFAULT_PERIODS = 30
/** The share of the value (close advice) or of the events (SLA) a recommendation must reach. */
export const DEFAULT_TARGET = 0.999
/** Candidate closes: D+1 … D+14 at the view's close time. */
export const CLOSE_CANDIDATE_DAYS = 14
/** Most lags one request may ask for. */
export const MAX_LAGS = 50

const MINUTE = 60_000

/** An exact value: `scaled` / 10^decimals. */
export interface Exact {
  scaled: Scaled
  decimals: number
}

/** What a reader sees of an exact value. */
export function shownExact(x: Exact | null): Amount | null {
  return x === null ? null : amount(x.scaled, x.decimals)
}

function big(x: Exact, decimals: number): bigint {
  return BigInt(x.scaled) * 10n ** BigInt(decimals - x.decimals)
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x
}

/** x / 10^decimals as a floating-point number. */
function real(x: bigint, decimals: number): number {
  return Number(x) / 10 ** decimals
}

/** Whether two exact values (or two missing ones) are equal. */
export function sameExact(a: Exact | null, b: Exact | null): boolean {
  if (a === null || b === null) return a === b
  const d = Math.max(a.decimals, b.decimals)
  return big(a, d) === big(b, d)
}

/** A statistic as answers show it: 6 significant digits (and no -0). */
export function roundStat(x: number): number {
  return x === 0 || !Number.isFinite(x) ? 0 : Number(x.toPrecision(6)) + 0
}

/**
 * The nearest-rank q-quantile of ascending values: the value of rank k, the smallest k with
 * k / n ≥ q (k at least 1), so the smallest value with at least a share q of the values at or
 * below it. The comparison is of k / n with q as written, never of a product rounded up. Null
 * for no values.
 */
export function nearestRank<T>(sorted: readonly T[], q: number): T | null {
  const n = sorted.length
  if (n === 0) return null
  let k = Math.min(n, Math.max(1, Math.ceil(q * n)))
  while (k > 1 && (k - 1) / n >= q) k--
  while (k < n && k / n < q) k++
  return sorted[k - 1] as T
}

// ---------------------------------------------------------------------------------------------
// Lags

/** A lag after the end of a period: its text and the instant it names for a period. */
export interface Lag {
  text: string
  knownAt(range: PeriodRange): number
}

const DURATION = /^(-)?P(?:(\d{1,6})Y)?(?:(\d{1,6})M)?(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,9})M)?(?:(\d{1,9}(?:\.\d{1,3})?)S)?)?$/

function invalid(message: string): LateviewError {
  return new LateviewError('LV_ERR_QUERY_INVALID', message)
}

/**
 * A lag written as an ISO 8601 duration, possibly negative (`-PT2H`, `PT0S`, `P1DT6H`): added
 * to the end of a period in the view's zone, years, months, weeks and days on the local
 * calendar (P1D after a day that ends at a DST change is the next local midnight), hours,
 * minutes and seconds as elapsed time. A 400-class error for anything else.
 */
export function parseLag(text: string, zone: string): Lag {
  const m = DURATION.exec(text)
  if (!m || text.endsWith('T') || m.slice(2).every((part) => part === undefined)) {
    throw invalid(`lag ${JSON.stringify(text)} is not an ISO 8601 duration such as PT3H, P1D or -PT2H`)
  }
  const sign = m[1] === '-' ? -1 : 1
  const n = (i: number) => sign * Number(m[i] ?? 0)
  const seconds = n(8)
  const duration = {
    years: n(2),
    months: n(3),
    weeks: n(4),
    days: n(5),
    hours: n(6),
    minutes: n(7),
    seconds: Math.trunc(seconds),
    milliseconds: Math.round((seconds - Math.trunc(seconds)) * 1000),
  }
  return { text, knownAt: (range) => DateTime.fromMillis(range.end, { zone }).plus(duration).toMillis() }
}

/** A comma-separated list of lags (default `DEFAULT_LAGS`), at most `MAX_LAGS`. */
export function parseLags(text: string | undefined, zone: string): Lag[] {
  if (text === undefined) return DEFAULT_LAGS.map((l) => parseLag(l, zone))
  const parts = text.split(',').map((p) => p.trim())
  if (parts.length > MAX_LAGS) throw invalid(`at most ${MAX_LAGS} lags`)
  return parts.map((p) => parseLag(p, zone))
}

/** The instant of a scheduled step (`afterDays` at `at`) as a lag: `D+N HH:MM`, as the jobs reach it. */
export function scheduleLag(view: ViewDefinition, schedule: ScheduleAt): Lag {
  return { text: scheduleText(schedule), knownAt: (range) => dueAt(view, range, schedule) }
}

/** `D+N HH:MM`. */
export function scheduleText(schedule: ScheduleAt): string {
  return `D+${schedule.afterDays} ${schedule.at}`
}

/** Milliseconds as an ISO 8601 duration in hours, minutes and seconds: `PT26H3M`, `PT0.25S`, `-PT2S`, `PT0S`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return 'PT0S'
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(Math.round(ms))
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / MINUTE)
  rest -= minutes * MINUTE
  const seconds = rest / 1000
  return `${sign}PT${hours > 0 ? `${hours}H` : ''}${minutes > 0 ? `${minutes}M` : ''}${seconds > 0 ? `${seconds}S` : ''}`
}

// ---------------------------------------------------------------------------------------------
// Query values

/** `against`: final or latest (the given default when absent). */
export function parseAgainst(text: string | undefined, fallback: Against): Against {
  if (text === undefined) return fallback
  if (text !== 'final' && text !== 'latest') throw invalid(`against=${JSON.stringify(text)}: use final or latest`)
  return text
}

/** `target`: a share in (0, 1], written as a plain decimal number. */
export function parseTarget(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TARGET
  const value = Number(text)
  if (!/^(0|1)?(\.\d{1,15})?$/.test(text) || text === '' || text === '.' || !(value > 0 && value <= 1)) throw invalid(`target=${JSON.stringify(text)}: a share above 0 and at most 1, e.g. 0.999`)
  return value
}

/** The index of a measure of the view by name (the first one by default), or a 400-class error. */
export function measureIndex(view: ViewDefinition, name: string | undefined): number {
  if (name === undefined) return 0
  const i = view.measures.findIndex((m) => m.name === name)
  if (i < 0) throw invalid(`measure=${JSON.stringify(name)} is not a measure of view ${view.name} (${view.measures.map((m) => m.name).join(', ')})`)
  return i
}

/**
 * Why a measure's values under two definitions do not compare (missing in one, or its kind,
 * field or decimals changed), or null when they give it the same meaning.
 */
export function meaningChange(name: string, a: { version: number; measure: MeasureDefinition | undefined }, b: { version: number; measure: MeasureDefinition | undefined }): string | null {
  for (const side of [a, b]) if (!side.measure) return `measure ${name} is not in version ${side.version}`
  const x = a.measure as MeasureDefinition
  const y = b.measure as MeasureDefinition
  for (const key of ['kind', 'field', 'decimals'] as const) {
    if (x[key] !== y[key]) return `measure ${name} changed its ${key} between version ${a.version} (${x[key]}) and version ${b.version} (${y[key]})`
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Accuracy

/** One period of a release: its value and the benchmark, under definitions that agree on the measure. */
export interface RevisionPair {
  value: Exact
  benchmark: Exact
}

/** b − v, exact. */
export function revisionOf(pair: RevisionPair): Exact {
  const d = Math.max(pair.value.decimals, pair.benchmark.decimals)
  return { scaled: normalize(big(pair.benchmark, d) - big(pair.value, d)), decimals: d }
}

export interface ReleaseStatistics {
  kind: string
  n: number
  meanRevision: number
  meanAbsRevision: number
  relativeMeanAbsRevision: number | null
  minRevision: number
  maxRevision: number
  stdRevision: number
  accuracy: number | null
  withinOnePercent: number
}

/**
 * The statistics of a release over its periods (null for none): sums are exact, each figure is
 * divided once at the end and rounded to 6 significant digits.
 */
export function releaseStatistics(kind: string, pairs: readonly RevisionPair[]): ReleaseStatistics | null {
  const n = pairs.length
  if (n === 0) return null
  const d = Math.max(...pairs.map((p) => Math.max(p.value.decimals, p.benchmark.decimals)))
  let sum = 0n
  let sumAbs = 0n
  let sumSquares = 0n
  let sumAbsBenchmark = 0n
  let min: bigint | null = null
  let max: bigint | null = null
  let accuracySum = 0
  let accuracyCount = 0
  let within = 0
  for (const p of pairs) {
    const b = big(p.benchmark, d)
    const r = b - big(p.value, d)
    sum += r
    sumAbs += abs(r)
    sumSquares += r * r
    sumAbsBenchmark += abs(b)
    if (min === null || r < min) min = r
    if (max === null || r > max) max = r
    if (b !== 0n) {
      accuracySum += 1 - Number(abs(r)) / Number(abs(b))
      accuracyCount++
    }
    if (100n * abs(r) <= abs(b)) within++
  }
  const variance = BigInt(n) * sumSquares - sum * sum
  return {
    kind,
    n,
    meanRevision: roundStat(real(sum, d) / n),
    meanAbsRevision: roundStat(real(sumAbs, d) / n),
    relativeMeanAbsRevision: sumAbsBenchmark === 0n ? null : roundStat(Number(sumAbs) / Number(sumAbsBenchmark)),
    minRevision: roundStat(real(min as bigint, d)),
    maxRevision: roundStat(real(max as bigint, d)),
    stdRevision: roundStat(Math.sqrt(Number(variance)) / n / 10 ** d),
    accuracy: accuracyCount === 0 ? null : roundStat(accuracySum / accuracyCount),
    withinOnePercent: roundStat(within / n),
  }
}

// ---------------------------------------------------------------------------------------------
// Vintages and completeness

/** value / benchmark, rounded to 6 significant digits; null when either is missing or the benchmark is 0. */
export function shareOf(value: Exact | null, benchmark: Exact | null): number | null {
  if (value === null || benchmark === null) return null
  const d = Math.max(value.decimals, benchmark.decimals)
  const b = big(benchmark, d)
  return b === 0n ? null : roundStat(Number(big(value, d)) / Number(b))
}

/** The spread of shares over periods: the smallest and the nearest-rank 10th, 50th and 90th percentiles. */
export interface Spread {
  min: number | null
  p10: number | null
  p50: number | null
  p90: number | null
}

export function spreadOf(shares: readonly number[]): Spread {
  const sorted = [...shares].sort((a, b) => a - b)
  return { min: sorted[0] ?? null, p10: nearestRank(sorted, 0.1), p50: nearestRank(sorted, 0.5), p90: nearestRank(sorted, 0.9) }
}

/** A source's lags (receivedAt − occurredAt, ms) as ISO durations: count, nearest-rank p50, p90, p99 and the largest. */
export interface SourceLags {
  source: string
  count: number
  lagP50: string
  lagP90: string
  lagP99: string
  lagMax: string
}

export function sourceLags(source: string, lags: readonly number[]): SourceLags {
  const sorted = [...lags].sort((a, b) => a - b)
  const at = (q: number) => formatDuration(nearestRank(sorted, q) ?? 0)
  return { source, count: sorted.length, lagP50: at(0.5), lagP90: at(0.9), lagP99: at(0.99), lagMax: formatDuration(sorted[sorted.length - 1] ?? 0) }
}

/**
 * The SLA a source has kept: the nearest-rank `target` quantile of its lags rounded up to a whole
 * minute, at least one minute (`sla.bySource` takes no zero duration), as an ISO duration.
 */
export function suggestedSla(lags: readonly number[], target: number): string {
  const sorted = [...lags].sort((a, b) => a - b)
  const lag = nearestRank(sorted, target) ?? 0
  return formatDuration(Math.max(1, Math.ceil(lag / MINUTE)) * MINUTE)
}

// ---------------------------------------------------------------------------------------------
// Close advice

/** A period as a candidate close sees it: the value known at the close, and the benchmark. */
export interface ClosedPeriod {
  value: Exact | null
  benchmark: Exact
  /** The candidate close's instant for this period. */
  closeAt: number
}

export interface CloseCandidate {
  afterDays: number
  at: string
  /** The periods judged: those whose close at this candidate lies at or before now. */
  n: number
  periodsRestated: number
  shareRestated: number | null
  meanAbsRestatement: Amount | null
  maxAbsRestatement: Amount | null
  meanAbsRestatementRelative: number | null
  maxAbsRestatementRelative: number | null
  valueKnown: number | null
  incomplete: boolean
}

/** Decimals kept beyond a measure's own when a mean of its values is no finite decimal. */
export const MEAN_EXTRA_DECIMALS = 6

/**
 * sum / 10^decimals / n as an exact value when it is a finite decimal (n has no prime factor but
 * 2 and 5), otherwise rounded half away from zero to MEAN_EXTRA_DECIMALS more decimals.
 */
export function exactMean(sum: bigint, n: number, decimals: number): Amount {
  let rest = n
  let twos = 0
  let fives = 0
  while (rest % 2 === 0) {
    rest /= 2
    twos++
  }
  while (rest % 5 === 0) {
    rest /= 5
    fives++
  }
  const extra = rest === 1 ? Math.max(twos, fives) : MEAN_EXTRA_DECIMALS
  const numerator = sum * 10n ** BigInt(extra)
  const count = BigInt(n)
  let q = numerator / count
  const r = numerator % count
  if (2n * abs(r) >= count) q += numerator < 0n ? -1n : 1n
  return parseNumeral(decimalText(q, decimals + extra))
}

/** x / 10^decimals as a numeral, any number of decimals. */
function decimalText(x: bigint, decimals: number): string {
  const digits = abs(x)
    .toString()
    .padStart(decimals + 1, '0')
  const whole = digits.slice(0, digits.length - decimals)
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '')
  return `${x < 0n ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`
}

/** A candidate as computed: the answer's fields and the exact sums its `valueKnown` comes from. */
export interface ComputedCandidate extends CloseCandidate {
  /** Σ|b − v| and Σ|b|, scaled alike. */
  sums: { lost: bigint; total: bigint }
}

/**
 * What closing at D+N (`schedule`) would have cost over the periods whose close at D+N has come
 * (at or before `now`): a period needs a restatement when the value known at its close differs
 * from the benchmark; a missing value (a min, max or avg without one) counts as 0 in the sizes.
 * `valueKnown` = 1 − Σ|b − v| / Σ|b|. A period whose close is still ahead is left out, and the
 * candidate is `incomplete`: judging it by what is known now would make a late close look
 * perfect for the newest periods, by construction.
 */
export function closeCandidate(schedule: ScheduleAt, all: readonly ClosedPeriod[], now: number): ComputedCandidate {
  const periods = all.filter((p) => p.closeAt <= now)
  const n = periods.length
  const d = Math.max(0, ...periods.map((p) => Math.max(p.benchmark.decimals, p.value?.decimals ?? 0)))
  let restated = 0
  let lost = 0n
  let total = 0n
  let max = 0n
  let relativeSum = 0
  let relativeCount = 0
  let relativeMax: number | null = null
  const incomplete = periods.length < all.length
  for (const p of periods) {
    const b = big(p.benchmark, d)
    const v = p.value === null ? 0n : big(p.value, d)
    if (!sameExact(p.value, p.benchmark)) restated++
    const gap = abs(b - v)
    lost += gap
    total += abs(b)
    if (gap > max) max = gap
    if (b !== 0n) {
      const relative = Number(gap) / Number(abs(b))
      relativeSum += relative
      relativeCount++
      relativeMax = relativeMax === null || relative > relativeMax ? relative : relativeMax
    }
  }
  return {
    afterDays: schedule.afterDays,
    at: scheduleText(schedule),
    n,
    periodsRestated: restated,
    shareRestated: n === 0 ? null : roundStat(restated / n),
    meanAbsRestatement: n === 0 ? null : exactMean(lost, n, d),
    maxAbsRestatement: n === 0 ? null : amount(normalize(max), d),
    meanAbsRestatementRelative: relativeCount === 0 ? null : roundStat(relativeSum / relativeCount),
    maxAbsRestatementRelative: relativeMax === null ? null : roundStat(relativeMax),
    valueKnown: total === 0n ? null : roundStat(1 - Number(lost) / Number(total)),
    incomplete,
    sums: { lost, total },
  }
}

/** The earliest candidate whose value known, exactly, reaches the target; null when none does. */
export function recommendedClose(candidates: readonly ComputedCandidate[], target: number): { afterDays: number; at: string } | null {
  // The target as the decimal it was written as: p / 10^k.
  const text = numeral(target)
  const dot = text.indexOf('.')
  const p = BigInt(text.replace('.', ''))
  const q = 10n ** BigInt(dot < 0 ? 0 : text.length - dot - 1)
  const found = candidates.find(({ sums }) => sums.total !== 0n && q * (sums.total - sums.lost) >= p * sums.total)
  return found ? { afterDays: found.afterDays, at: found.at } : null
}
