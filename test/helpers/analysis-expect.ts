/**
 * What the revision-analysis endpoints must answer, computed by the oracle from the README's
 * definitions, and the comparisons: exact values as numbers, statistics rounded to 6
 * significant digits (either neighbour when the exact value sits on a half-way point).
 */
import type { FastifyInstance } from 'fastify'
import { isDeepStrictEqual } from 'node:util'
import * as assert from 'uvu/assert'
import {
  babs,
  dayEnd,
  decimalNumber,
  decimalText,
  durationMs,
  localAt,
  nearestRank,
  type Oracle,
  plusLag,
  Rational,
  releaseStats,
  type ReleaseStats,
  scaledOf,
  sixDigitCandidates,
  sumOf,
} from './analysis-oracle.js'

export const DEFAULT_LAGS = ['-PT2H', 'PT0S', 'PT3H', 'PT6H', 'PT12H', 'P1D', 'P2D', 'P3D', 'P7D']
export const RELEASE_KINDS = ['flash', 'consolidated', 'revision', 'final', 'restatement'] as const

export interface PublishedRevision {
  revision: number
  kind: string
  cutoffSeq: number
  computedAt: string
  trigger: string | null
  viewVersion: number
  eventCount: number
  totals: { measures: Record<string, number | null>; eventCount: number }
}

export async function getJson(app: FastifyInstance, url: string): Promise<Record<string, unknown>> {
  const res = await app.inject({ method: 'GET', url })
  // A request failing mid-test takes the disagreements recorded so far with it, not into the next test.
  if (res.statusCode !== 200) settle(`GET ${url}: ${res.statusCode} ${res.body.slice(0, 500)}; before it`)
  assert.is(res.statusCode, 200, `GET ${url}: ${res.statusCode} ${res.body.slice(0, 500)}`)
  return res.json() as Record<string, unknown>
}

/** Every period's published revisions, as GET …/periods/:p/revisions lists them. */
export async function publishedRevisions(app: FastifyInstance, view: string, periods: string[]): Promise<Map<string, PublishedRevision[]>> {
  const out = new Map<string, PublishedRevision[]>()
  for (const p of periods) out.set(p, (await getJson(app, `/v1/views/${view}/periods/${p}/revisions`)).revisions as PublishedRevision[])
  return out
}

// --- comparisons ---------------------------------------------------------------------------------

/**
 * Comparisons record every disagreement rather than stopping at the first, so that one run
 * reports them all; `settle()` fails the test with the list.
 */
const failures: string[] = []

export const soft = {
  ok(condition: unknown, message: string): void {
    if (!condition) failures.push(message)
  },
  is(actual: unknown, expected: unknown, message: string): void {
    if (actual !== expected) failures.push(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
  },
  equal(actual: unknown, expected: unknown, message: string): void {
    if (!isDeepStrictEqual(actual, expected)) failures.push(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
  },
}

/** Fails with every disagreement recorded since the last call (the first 40 spelled out). */
export function settle(label: string): void {
  const all = failures.splice(0)
  if (all.length === 0) return
  assert.unreachable(`${label}: ${all.length} disagreement(s)\n  ${all.slice(0, 40).join('\n  ')}${all.length > 40 ? `\n  … and ${all.length - 40} more` : ''}`)
}

/** A statistic: null when `exact` is, else the exact value rounded to 6 significant digits. */
export function expectSix(actual: unknown, exact: Rational | null, label: string, sqrt = false): void {
  if (exact === null) {
    soft.is(actual, null, `${label}: expected null, got ${JSON.stringify(actual)}`)
    return
  }
  const candidates = sixDigitCandidates(exact, sqrt)
  const shown = sqrt ? `sqrt(${exact.toNumber()})` : `${exact.toString()} ≈ ${exact.toNumber()}`
  soft.ok(typeof actual === 'number' && candidates.some((c) => c === actual), `${label}: expected ${candidates.join(' or ')} (exact ${shown}, 6 significant digits), got ${JSON.stringify(actual)}`)
}

/** An exact value: the number the exact decimal numeral reads as, or null. */
export function expectExact(actual: unknown, units: bigint | null, decimals: number, label: string): void {
  const want = units === null ? null : decimalNumber(units, decimals)
  soft.ok(actual === want, `${label}: expected ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`)
}

/** Two instants equal (ISO texts in any offset). */
export function expectInstant(actual: unknown, ms: number, label: string): void {
  soft.ok(typeof actual === 'string' && Date.parse(actual) === ms, `${label}: expected ${new Date(ms).toISOString()}, got ${JSON.stringify(actual)}`)
}

/** An ISO 8601 duration equal to `ms`. */
export function expectDuration(actual: unknown, ms: number, label: string): void {
  let got: number | null = null
  try {
    got = typeof actual === 'string' ? durationMs(actual) : null
  } catch {
    got = null
  }
  soft.ok(got === ms, `${label}: expected a duration of ${ms} ms (${msText(ms)}), got ${JSON.stringify(actual)}`)
}

function msText(ms: number): string {
  const s = ms / 1000
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`
}

/** A value of a published totals row as scaled units. */
export const unitsOf = (value: number | null | undefined, decimals: number): bigint | null => (value === null || value === undefined ? null : scaledOf(value, decimals))

// --- accuracy ---------------------------------------------------------------------------------

export interface AccuracyOptions {
  measure: string
  decimals: number
  against: 'final' | 'latest'
  periods: string[]
  /** What a measure means under a definition version (kind, field, decimals), null when missing. */
  meaning: (version: number) => string | null
}

export interface ExpectedPeriodRelease {
  revision: number
  value: bigint | null
  r: bigint | null
  publishedAt: string
  excluded: boolean
}

export interface ExpectedAccuracy {
  releases: ReleaseStats[]
  excluded: Array<{ period: string; kind: string }>
  periods: Array<{ period: string; benchmark: bigint | null; releases: Record<string, ExpectedPeriodRelease> }>
}

export function expectedAccuracy(revisions: Map<string, PublishedRevision[]>, o: AccuracyOptions): ExpectedAccuracy {
  const pairs = new Map<string, Array<{ v: bigint; b: bigint }>>()
  const excluded: Array<{ period: string; kind: string }> = []
  const periods: ExpectedAccuracy['periods'] = []
  for (const period of o.periods) {
    const revs = revisions.get(period) ?? []
    if (revs.length === 0) continue
    const bench = o.against === 'final' ? revs.find((r) => r.kind === 'final') : revs[revs.length - 1]
    const b = bench ? unitsOf(bench.totals.measures[o.measure], o.decimals) : null
    const entry: ExpectedAccuracy['periods'][number] = { period, benchmark: b, releases: {} }
    for (const kind of RELEASE_KINDS) {
      const first = revs.find((r) => r.kind === kind)
      if (!first) continue
      const v = unitsOf(first.totals.measures[o.measure], o.decimals)
      const differs = bench !== undefined && o.meaning(first.viewVersion) !== o.meaning(bench.viewVersion)
      entry.releases[kind] = { revision: first.revision, value: v, r: b !== null && v !== null && !differs ? b - v : null, publishedAt: first.computedAt, excluded: differs }
      if (!bench || b === null || v === null) continue
      if (differs) {
        excluded.push({ period, kind })
        continue
      }
      const list = pairs.get(kind) ?? []
      list.push({ v, b })
      pairs.set(kind, list)
    }
    periods.push(entry)
  }
  const releases = RELEASE_KINDS.filter((k) => (pairs.get(k)?.length ?? 0) > 0).map((k) => releaseStats(k, pairs.get(k) ?? [], o.decimals))
  return { releases, excluded, periods }
}

/** Compares the release statistics of an accuracy answer with the oracle's. */
export function compareReleases(answer: Record<string, unknown>, expected: ExpectedAccuracy, label: string): void {
  const releases = answer.releases as Array<Record<string, unknown>>
  soft.ok(Array.isArray(releases), `${label}: releases is not an array`)
  if (!Array.isArray(releases)) return
  soft.equal(releases.map((r) => r.kind).sort(), expected.releases.map((r) => r.kind).sort(), `${label}: the release kinds listed (a kind no period has is not listed)`)
  for (const want of expected.releases) {
    const got = releases.find((r) => r.kind === want.kind)
    if (!got) continue
    const l = `${label} ${want.kind}`
    soft.is(got.n, want.n, `${l}: n`)
    expectSix(got.meanRevision, want.meanRevision, `${l} meanRevision`)
    expectSix(got.meanAbsRevision, want.meanAbsRevision, `${l} meanAbsRevision`)
    expectSix(got.relativeMeanAbsRevision, want.relativeMeanAbsRevision, `${l} relativeMeanAbsRevision`)
    expectSix(got.minRevision, want.minRevision, `${l} minRevision`)
    expectSix(got.maxRevision, want.maxRevision, `${l} maxRevision`)
    expectSix(got.stdRevision, want.variance, `${l} stdRevision`, true)
    expectSix(got.accuracy, want.accuracy, `${l} accuracy`)
    expectSix(got.withinOnePercent, want.withinOnePercent, `${l} withinOnePercent`)
  }
}

/** Compares the per-period values of an accuracy answer with the published revisions. */
export function comparePeriods(answer: Record<string, unknown>, expected: ExpectedAccuracy, decimals: number, label: string): void {
  const periods = answer.periods as Array<Record<string, unknown>>
  soft.ok(Array.isArray(periods), `${label}: periods is not an array`)
  if (!Array.isArray(periods)) return
  for (const want of expected.periods) {
    const got = periods.find((p) => p.period === want.period)
    // A period without a benchmark may be left out; one with a benchmark is listed.
    if (!got) {
      soft.ok(want.benchmark === null, `${label}: period ${want.period} (benchmark ${want.benchmark}) is not listed`)
      continue
    }
    expectExact(got.benchmark, want.benchmark, decimals, `${label} ${want.period} benchmark`)
    const rel = (got.releases ?? {}) as Record<string, Record<string, unknown>>
    soft.equal(Object.keys(rel).sort(), Object.keys(want.releases).sort(), `${label} ${want.period}: the releases it had`)
    for (const [kind, w] of Object.entries(want.releases)) {
      const g = rel[kind]
      if (!g) continue
      expectExact(g.value, w.value, decimals, `${label} ${want.period} ${kind} value (revision ${w.revision})`)
      if (!w.excluded) expectExact(g.revision, w.r, decimals, `${label} ${want.period} ${kind} revision (b − v)`)
      expectInstant(g.publishedAt, Date.parse(w.publishedAt), `${label} ${want.period} ${kind} publishedAt (computedAt of revision ${w.revision})`)
    }
  }
  for (const got of periods)
    soft.ok(
      expected.periods.some((p) => p.period === got.period),
      `${label}: period ${String(got.period)} listed but not in range or without revisions`,
    )
}

// --- vintages ---------------------------------------------------------------------------------

export interface VintageOptions {
  measure: string
  decimals: number
  against: 'final' | 'latest'
  periods: string[]
  lags: string[]
  filter?: Record<string, string>
}

export interface ExpectedVintageRow {
  period: string
  benchmark: bigint | null
  benchmarkEvents: number | null
  values: Array<{ lag: string; knownAt: number; value: bigint | null; share: Rational | null; events: number }>
}

export function expectedVintages(oracle: Oracle, revisions: Map<string, PublishedRevision[]>, o: VintageOptions): ExpectedVintageRow[] {
  const zone = oracle.view.zone
  const filter = o.filter ?? {}
  return o.periods.map((period) => {
    let benchmark: bigint | null = null
    let benchmarkEvents: number | null = null
    const revs = revisions.get(period) ?? []
    const final = revs.find((r) => r.kind === 'final')
    const k = o.against === 'final' ? (final ? final.cutoffSeq : null) : oracle.headSeq
    if (k !== null) {
      const known = oracle.report(period, k, filter)
      benchmark = known.values[o.measure] ?? null
      benchmarkEvents = known.eventCount
    }
    const values = o.lags.map((lag) => {
      const knownAt = plusLag(dayEnd(period, zone), lag, zone)
      const known = oracle.knownAt(period, knownAt, filter)
      const value = known.values[o.measure] ?? null
      const share = benchmark === null || benchmark === 0n || value === null ? null : new Rational(value, benchmark)
      return { lag, knownAt, value, share, events: known.eventCount }
    })
    return { period, benchmark, benchmarkEvents, values }
  })
}

export function compareVintages(answer: Record<string, unknown>, expected: ExpectedVintageRow[], o: VintageOptions, label: string): void {
  soft.equal(answer.lags, o.lags, `${label}: lags`)
  soft.is(answer.measure, o.measure, `${label}: measure`)
  const rows = answer.rows as Array<Record<string, unknown>>
  if (!Array.isArray(rows)) {
    soft.ok(false, `${label}: rows is not an array`)
    return
  }
  soft.equal(
    rows.map((r) => r.period),
    expected.map((r) => r.period),
    `${label}: the periods, in order`,
  )
  for (const want of expected) {
    const got = rows.find((r) => r.period === want.period)
    if (!got) continue
    expectExact(got.benchmark, want.benchmark, o.decimals, `${label} ${want.period} benchmark`)
    const values = (got.values ?? []) as Array<Record<string, unknown>>
    soft.equal(
      values.map((v) => v.lag),
      o.lags,
      `${label} ${want.period}: lags`,
    )
    want.values.forEach((w, i) => {
      const g = values[i]
      if (!g) return
      const l = `${label} ${want.period} lag ${w.lag}`
      expectInstant(g.knownAt, w.knownAt, `${l} knownAt`)
      expectExact(g.value, w.value, o.decimals, `${l} value`)
      expectSix(g.share, w.share, `${l} share`)
    })
  }
}

// --- completeness ------------------------------------------------------------------------------

const QUANTILES: Array<[string, number, number]> = [
  ['p10', 10, 100],
  ['p50', 50, 100],
  ['p90', 90, 100],
]

function distribution(shares: Rational[]): Record<string, Rational> | null {
  if (shares.length === 0) return null
  const sorted = [...shares].sort((a, b) => a.cmp(b))
  const out: Record<string, Rational> = { min: sorted[0] as Rational }
  for (const [name, qn, qd] of QUANTILES) out[name] = nearestRank(sorted, qn, qd)
  return out
}

export interface ExpectedCompleteness {
  points: Array<{ lag: string; value: Record<string, Rational> | null; events: Record<string, Rational> | null }>
  sources: Array<{ source: string; count: number; lagP50: number; lagP90: number; lagP99: number; lagMax: number }>
}

export function expectedCompleteness(oracle: Oracle, rows: ExpectedVintageRow[], from: string, to: string): ExpectedCompleteness {
  const counted = rows.filter((r) => r.benchmark !== null && r.benchmark !== 0n)
  const lags = rows[0]?.values.map((v) => v.lag) ?? []
  const points = lags.map((lag, i) => ({
    lag,
    value: distribution(counted.map((r) => new Rational((r.values[i] as { value: bigint }).value, r.benchmark as bigint))),
    events: distribution(counted.map((r) => new Rational(BigInt((r.values[i] as { events: number }).events), BigInt(r.benchmarkEvents as number)))),
  }))
  const bySource = new Map<string, number[]>()
  for (const e of oracle.eventsOfRange(from, to)) {
    const lags = bySource.get(e.source) ?? []
    lags.push(e.receivedMs - e.occurredMs)
    bySource.set(e.source, lags)
  }
  const sources = [...bySource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([source, lags]) => {
      const sorted = [...lags].sort((a, b) => a - b)
      return {
        source,
        count: sorted.length,
        lagP50: nearestRank(sorted, 50, 100),
        lagP90: nearestRank(sorted, 90, 100),
        lagP99: nearestRank(sorted, 99, 100),
        lagMax: sorted[sorted.length - 1] as number,
      }
    })
  return { points, sources }
}

export function compareCompleteness(answer: Record<string, unknown>, expected: ExpectedCompleteness, label: string): void {
  const points = answer.points as Array<Record<string, unknown>>
  if (!Array.isArray(points)) {
    soft.ok(false, `${label}: points is not an array`)
    return
  }
  soft.equal(
    points.map((p) => p.lag),
    expected.points.map((p) => p.lag),
    `${label}: lags of the points`,
  )
  expected.points.forEach((want, i) => {
    const got = points[i]
    if (!got) return
    for (const side of ['value', 'events'] as const) {
      const w = want[side]
      const g = got[side] as Record<string, unknown> | null
      if (w === null) {
        soft.ok(g === null || Object.values(g).every((x) => x === null), `${label} ${want.lag} ${side}: no period counts, expected nulls`)
        continue
      }
      for (const q of ['min', 'p10', 'p50', 'p90']) expectSix(g?.[q], w[q] as Rational, `${label} lag ${want.lag} ${side}.${q}`)
    }
  })
  const sources = answer.sources as Array<Record<string, unknown>>
  if (!Array.isArray(sources)) {
    soft.ok(false, `${label}: sources is not an array`)
    return
  }
  soft.equal(
    sources.map((s) => s.source).sort(),
    expected.sources.map((s) => s.source),
    `${label}: sources`,
  )
  for (const want of expected.sources) {
    const got = sources.find((s) => s.source === want.source)
    if (!got) continue
    const l = `${label} source ${want.source}`
    soft.is(got.count, want.count, `${l} count`)
    expectDuration(got.lagP50, want.lagP50, `${l} lagP50`)
    expectDuration(got.lagP90, want.lagP90, `${l} lagP90`)
    expectDuration(got.lagP99, want.lagP99, `${l} lagP99`)
    expectDuration(got.lagMax, want.lagMax, `${l} lagMax`)
  }
}

// --- close advice --------------------------------------------------------------------------------

export interface CloseOptions {
  measure: string
  decimals: number
  periods: string[]
  closeAt: string
  /** The server's now: a close after it is computed with what is known now and flagged. */
  now: number
  target: Rational
  /** The target as a fraction for nearest rank (e.g. 999/1000). */
  targetRank: [number, number]
}

export interface ExpectedCandidate {
  afterDays: number
  at: string
  n: number
  periodsRestated: number
  shareRestated: Rational | null
  sumAbs: Rational
  meanAbs: Rational | null
  maxAbs: bigint
  valueKnown: Rational | null
  incomplete: boolean
  relSum: Rational | null
  relMean: Rational | null
  relMax: Rational | null
  relOfMax: Rational | null
}

export interface ExpectedCloseAdvice {
  candidates: ExpectedCandidate[]
  recommended: number | null
  sla: Array<{ source: string; suggested: number }>
}

export function expectedCloseAdvice(oracle: Oracle, o: CloseOptions): ExpectedCloseAdvice {
  const zone = oracle.view.zone
  const head = oracle.headSeq
  const periods = o.periods.filter((p) => oracle.events.some((e) => e.retracts === undefined && oracle.periodOf(e) === p))
  const benchmarks = new Map(periods.map((p) => [p, oracle.report(p, head).values[o.measure] as bigint]))
  const candidates: ExpectedCandidate[] = []
  for (let n = 1; n <= 14; n++) {
    // Only periods whose close at D+n has come are judged; the others make the candidate incomplete.
    const judged = periods.filter((p) => localAt(p, n, o.closeAt, zone) <= o.now)
    const sumAbsB = sumOf(judged.map((p) => Rational.of(babs(benchmarks.get(p) as bigint), o.decimals)))
    let restated = 0
    let maxAbs = 0n
    let sumAbs = 0n
    const incomplete = judged.length < periods.length
    const ratios: Rational[] = []
    let relOfMax: Rational | null = null
    for (const p of judged) {
      const v = oracle.knownAt(p, localAt(p, n, o.closeAt, zone)).values[o.measure] as bigint
      const d = babs((benchmarks.get(p) as bigint) - v)
      if (d !== 0n) restated++
      const b = babs(benchmarks.get(p) as bigint)
      if (b !== 0n) ratios.push(new Rational(d, b))
      if (d > maxAbs) {
        maxAbs = d
        relOfMax = b === 0n ? null : new Rational(d, b)
      }
      sumAbs += d
    }
    const N = BigInt(judged.length)
    candidates.push({
      afterDays: n,
      at: `D+${n} ${o.closeAt}`,
      n: judged.length,
      periodsRestated: restated,
      shareRestated: N === 0n ? null : new Rational(BigInt(restated), N),
      sumAbs: Rational.of(sumAbs, o.decimals),
      meanAbs: N === 0n ? null : Rational.of(sumAbs, o.decimals).div(new Rational(N)),
      maxAbs,
      valueKnown: sumAbsB.isZero() ? null : new Rational(1n).sub(Rational.of(sumAbs, o.decimals).div(sumAbsB)),
      incomplete,
      relSum: sumAbsB.isZero() ? null : Rational.of(sumAbs, o.decimals).div(sumAbsB),
      relMean: ratios.length === 0 ? null : sumOf(ratios).div(new Rational(BigInt(ratios.length))),
      relMax: ratios.length === 0 ? null : ([...ratios].sort((x, y) => y.cmp(x))[0] as Rational),
      relOfMax: maxAbs === 0n ? new Rational(0n) : relOfMax,
    })
  }
  const recommended = candidates.find((c) => c.valueKnown !== null && c.valueKnown.cmp(o.target) >= 0)?.afterDays ?? null
  const bySource = new Map<string, number[]>()
  for (const e of oracle.eventsOfRange(o.periods[0] as string, o.periods[o.periods.length - 1] as string)) {
    const lags = bySource.get(e.source) ?? []
    lags.push(e.receivedMs - e.occurredMs)
    bySource.set(e.source, lags)
  }
  const sla = [...bySource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([source, lags]) => {
      const sorted = [...lags].sort((a, b) => a - b)
      const lag = nearestRank(sorted, o.targetRank[0], o.targetRank[1])
      return { source, suggested: Math.max(1, Math.ceil(lag / 60_000)) * 60_000 }
    })
  return { candidates, recommended, sla }
}

export function compareCloseAdvice(answer: Record<string, unknown>, expected: ExpectedCloseAdvice, o: CloseOptions, label: string): void {
  const candidates = answer.candidates as Array<Record<string, unknown>>
  if (!Array.isArray(candidates)) {
    soft.ok(false, `${label}: candidates is not an array`)
    return
  }
  soft.equal(
    candidates.map((c) => c.afterDays),
    expected.candidates.map((c) => c.afterDays),
    `${label}: candidates 1 … 14`,
  )
  for (const want of expected.candidates) {
    const got = candidates.find((c) => c.afterDays === want.afterDays)
    if (!got) continue
    const l = `${label} afterDays ${want.afterDays}`
    soft.is(got.at, want.at, `${l} at`)
    soft.is(got.n, want.n, `${l} n (periods whose close has come)`)
    soft.is(got.periodsRestated, want.periodsRestated, `${l} periodsRestated`)
    soft.is(got.incomplete, want.incomplete, `${l} incomplete`)
    if (want.meanAbs === null) {
      // No period's close at D+n has come yet: nothing to judge.
      soft.equal([got.shareRestated, got.meanAbsRestatement, got.maxAbsRestatement, got.valueKnown], [null, null, null, null], `${l}: no period judged, no figure`)
      continue
    }
    expectSix(got.shareRestated, want.shareRestated, `${l} shareRestated`)
    expectExact(got.maxAbsRestatement, want.maxAbs, o.decimals, `${l} maxAbsRestatement`)
    // "exact values": a mean that is a finite decimal is shown exactly; one that is not (a mean
    // of cents over 15 periods) cannot be, but is shown at least to the measure's precision
    // (within half a unit of its last decimal), never rounded to fewer digits than a value has.
    const mean = got.meanAbsRestatement
    const terminating = isFiniteDecimal(want.meanAbs)
    const meanOk = typeof mean === 'number' && (terminating ? mean === Number(rationalDecimalText(want.meanAbs)) : scaledOf(mean, 30) !== null && withinHalfUnit(mean, want.meanAbs, o.decimals))
    soft.ok(
      meanOk,
      `${l} meanAbsRestatement: expected ${terminating ? rationalDecimalText(want.meanAbs) : `${want.meanAbs.toNumber()} to at least ${o.decimals} decimals`} (Σ|b − v| / n = ${want.meanAbs.toString()}), got ${JSON.stringify(mean)}`,
    )
    // "…Relative": the mean and the largest of |b − v| / |b| over the periods with b ≠ 0.
    const meanRel = [want.relMean].flatMap((x) => (x === null ? [null] : sixDigitCandidates(x)))
    soft.ok(
      meanRel.includes(got.meanAbsRestatementRelative as number | null),
      `${l} meanAbsRestatementRelative: expected one of ${JSON.stringify(meanRel)}, got ${JSON.stringify(got.meanAbsRestatementRelative)}`,
    )
    const maxRel = [want.relMax].flatMap((x) => (x === null ? [null] : sixDigitCandidates(x)))
    soft.ok(
      maxRel.includes(got.maxAbsRestatementRelative as number | null),
      `${l} maxAbsRestatementRelative: expected one of ${JSON.stringify(maxRel)}, got ${JSON.stringify(got.maxAbsRestatementRelative)}`,
    )
    expectSix(got.valueKnown, want.valueKnown, `${l} valueKnown`)
  }
  if (expected.recommended === null) soft.is(answer.recommended, null, `${label}: recommended`)
  else {
    const rec = answer.recommended as Record<string, unknown> | null
    soft.ok(rec !== null && typeof rec === 'object', `${label}: recommended is null, expected afterDays ${expected.recommended}`)
    if (rec) soft.equal({ afterDays: rec.afterDays, at: rec.at }, { afterDays: expected.recommended, at: `D+${expected.recommended} ${o.closeAt}` }, `${label}: recommended`)
  }
  const sla = answer.sla as Array<Record<string, unknown>>
  if (!Array.isArray(sla)) {
    soft.ok(false, `${label}: sla is not an array`)
    return
  }
  soft.equal(
    sla.map((s) => s.source).sort(),
    expected.sla.map((s) => s.source),
    `${label}: sla sources`,
  )
  for (const want of expected.sla) {
    const got = sla.find((s) => s.source === want.source)
    if (!got) continue
    expectDuration(got.suggested, want.suggested, `${label} sla ${want.source} suggested`)
  }
}

/** A rational rounded half away from zero to `decimals`, as scaled units. */
export function roundHalfAway(x: Rational, decimals: number): bigint {
  const scaled = x.mul(new Rational(10n ** BigInt(decimals)))
  const negative = scaled.n < 0n
  const a = negative ? -scaled.n : scaled.n
  const q = a / scaled.d
  const rem = a - q * scaled.d
  const units = rem * 2n >= scaled.d ? q + 1n : q
  return negative ? -units : units
}

/** Whether a rational has a finite decimal expansion (its denominator is 2^a 5^b). */
export function isFiniteDecimal(x: Rational): boolean {
  let d = x.d
  while (d % 2n === 0n) d /= 2n
  while (d % 5n === 0n) d /= 5n
  return d === 1n
}

/** The finite decimal expansion of a rational that has one. */
export function rationalDecimalText(x: Rational): string {
  for (let k = 0; k <= 40; k++) {
    const scaled = x.mul(new Rational(10n ** BigInt(k)))
    if (scaled.d === 1n) return decimalText(scaled.n, k)
  }
  throw new Error(`${x.toString()} has no short finite decimal expansion`)
}

/** |shown − exact| ≤ half a unit of the `decimals`-th decimal, compared exactly. */
function withinHalfUnit(shown: number, exact: Rational, decimals: number): boolean {
  const diff = Rational.of(scaledOf(shown, 30), 30).sub(exact).abs()
  return diff.cmp(new Rational(1n, 2n * 10n ** BigInt(decimals))) <= 0
}
