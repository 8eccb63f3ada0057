import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  closeCandidate,
  DEFAULT_LAGS,
  exactMean,
  formatDuration,
  meaningChange,
  measureIndex,
  nearestRank,
  parseAgainst,
  parseLag,
  parseLags,
  parseTarget,
  recommendedClose,
  releaseStatistics,
  revisionOf,
  roundStat,
  scheduleLag,
  shareOf,
  sourceLags,
  spreadOf,
  suggestedSla,
  type Exact,
} from '../../src/domain/analysis.js'
import { Decimal } from '../../src/domain/decimal.js'
import { periodRange, type PeriodRange } from '../../src/domain/time.js'
import { parseViewDefinition, type MeasureDefinition } from '../../src/domain/view.js'
import { LateviewError } from '../../src/errors.js'

const HOUR = 3_600_000
const utc = (y: number, mo: number, d: number, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h, mi)
/** A value of 2 decimals, written as cents. */
const cents = (n: number): Exact => ({ scaled: n, decimals: 2 })

function throwsQuery(fn: () => unknown, label: string): void {
  try {
    fn()
  } catch (error) {
    assert.instance(error, LateviewError, label)
    assert.is((error as LateviewError).code, 'LV_ERR_QUERY_INVALID', label)
    assert.is((error as LateviewError).status, 400, label)
    return
  }
  assert.unreachable(`${label}: no error`)
}

// ---------------------------------------------------------------------------------------------
const stats = suite('analysis: numbers')

stats('roundStat keeps 6 significant digits and no -0', () => {
  assert.is(roundStat(0.9475000000000001), 0.9475)
  assert.is(roundStat(2 / 3), 0.666667)
  assert.is(roundStat(1234567.8), 1234570)
  assert.is(roundStat(-0.000123456789), -0.000123457)
  assert.is(Object.is(roundStat(-0), 0), true)
  assert.is(roundStat(0), 0)
})

stats('nearestRank: the smallest value with at least q of the values at or below it', () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  assert.equal(
    [0.1, 0.5, 0.9, 0.99, 0.999, 1].map((q) => nearestRank(ten, q)),
    [1, 5, 9, 10, 10, 10],
  )
  // 0.1 × 30 is 3 exactly as a rational: rank 3, whatever a product rounds to.
  const thirty = Array.from({ length: 30 }, (_, i) => i + 1)
  assert.equal(
    [0.1, 0.5, 0.9].map((q) => nearestRank(thirty, q)),
    [3, 15, 27],
  )
  assert.is(nearestRank([7], 0.1), 7)
  assert.is(nearestRank([], 0.5), null)
  // 999 of 1000 at or below: rank 999.
  const thousand = Array.from({ length: 1000 }, (_, i) => i + 1)
  assert.is(nearestRank(thousand, 0.999), 999)
})

stats('shares are value / benchmark to 6 digits, null without a benchmark or with a 0 one', () => {
  assert.is(shareOf(cents(100), cents(300)), 0.333333)
  assert.is(shareOf({ scaled: 1, decimals: 0 }, { scaled: 1000, decimals: 3 }), 1)
  assert.is(shareOf(cents(5), cents(0)), null)
  assert.is(shareOf(null, cents(10)), null)
  assert.is(shareOf(cents(10), null), null)
  assert.equal(spreadOf([0.5, 1, 0.25]), { min: 0.25, p10: 0.25, p50: 0.5, p90: 1 })
  assert.equal(spreadOf([]), { min: null, p10: null, p50: null, p90: null })
})

// ---------------------------------------------------------------------------------------------
const accuracy = suite('analysis: accuracy by release')

accuracy('statistics of four periods, exact sums, each figure divided once', () => {
  const pairs = [
    { value: cents(9000), benchmark: cents(10000) }, // r = 10
    { value: cents(10550), benchmark: cents(10000) }, // r = -5.5
    { value: cents(0), benchmark: cents(0) }, // r = 0, b = 0: no accuracy term
    { value: cents(19950), benchmark: cents(20000) }, // r = 0.5
  ]
  assert.equal(releaseStatistics('flash', pairs), {
    kind: 'flash',
    n: 4,
    meanRevision: 1.25,
    meanAbsRevision: 4,
    relativeMeanAbsRevision: 0.04,
    minRevision: -5.5,
    maxRevision: 10,
    // Deviations 8.75, -6.75, -1.25, -0.75: variance 124.25 / 4 = 31.0625.
    stdRevision: 5.57337,
    // (0.9 + 0.945 + 0.9975) / 3
    accuracy: 0.9475,
    // |r| <= 1% of |b|: the period of 0 and the last one.
    withinOnePercent: 0.5,
  })
  assert.is(releaseStatistics('flash', []), null)
})

accuracy('periods of different decimals are compared at the finer one; all-zero benchmarks give nulls', () => {
  const mixed = releaseStatistics('final', [
    { value: { scaled: 1, decimals: 0 }, benchmark: { scaled: 2, decimals: 0 } },
    { value: { scaled: 1, decimals: 3 }, benchmark: { scaled: 2, decimals: 3 } },
  ])
  assert.is(mixed?.meanRevision, 0.5005)
  assert.is(mixed?.relativeMeanAbsRevision, 0.5)
  assert.is(mixed?.minRevision, 0.001)
  const zeros = releaseStatistics('flash', [{ value: cents(100), benchmark: cents(0) }])
  assert.is(zeros?.relativeMeanAbsRevision, null)
  assert.is(zeros?.accuracy, null)
  assert.is(zeros?.withinOnePercent, 0)
  assert.is(zeros?.meanRevision, -1)
})

accuracy('a revision is b − v exactly, beyond what a double holds', () => {
  const big = revisionOf({ value: { scaled: 1n, decimals: 2 } as unknown as Exact, benchmark: { scaled: 2n ** 60n, decimals: 2 } as unknown as Exact })
  assert.equal(big, { scaled: 2n ** 60n - 1n, decimals: 2 })
  assert.equal(revisionOf({ value: cents(1), benchmark: { scaled: 1, decimals: 0 } }), { scaled: 99, decimals: 2 })
})

accuracy('a measure compares across definitions only with the same kind, field and decimals', () => {
  const m = (decimals: number, kind: MeasureDefinition['kind'] = 'sum'): MeasureDefinition => ({ name: 'revenue', kind, field: 'amount', decimals })
  assert.is(meaningChange('revenue', { version: 1, measure: m(2) }, { version: 2, measure: m(2) }), null)
  assert.is(meaningChange('revenue', { version: 1, measure: m(2) }, { version: 2, measure: m(3) }), 'measure revenue changed its decimals between version 1 (2) and version 2 (3)')
  assert.is(meaningChange('revenue', { version: 1, measure: m(2) }, { version: 2, measure: m(2, 'max') }), 'measure revenue changed its kind between version 1 (sum) and version 2 (max)')
  assert.is(meaningChange('revenue', { version: 1, measure: undefined }, { version: 2, measure: m(2) }), 'measure revenue is not in version 1')
})

// ---------------------------------------------------------------------------------------------
const lags = suite('analysis: lags')

const BERLIN = 'Europe/Berlin'
/** 2026-03-28 in Berlin: the day before clocks go forward, so the next day has 23 hours. */
const march28 = periodRange('2026-03-28', BERLIN, 'day') as PeriodRange

lags('a lag is added to the end of the period on the local calendar: P1D over a 23-hour day is 23 hours', () => {
  assert.is(march28.end, utc(2026, 3, 28, 23))
  const at = (lag: string) => parseLag(lag, BERLIN).knownAt(march28)
  assert.is(at('PT0S'), utc(2026, 3, 28, 23))
  assert.is(at('P1D'), utc(2026, 3, 29, 22))
  assert.is(at('PT24H'), utc(2026, 3, 29, 23))
  assert.is(at('-PT2H'), utc(2026, 3, 28, 21))
  assert.is(at('-P1DT2H'), utc(2026, 3, 27, 21))
  assert.is(at('P1DT3H30M'), utc(2026, 3, 30, 1, 30))
  assert.is(at('PT1.5S'), utc(2026, 3, 28, 23) + 1500)
  assert.is(at('P1W'), utc(2026, 4, 4, 22))
})

lags('anything but an ISO 8601 duration is a 400 with LV_ERR_QUERY_INVALID', () => {
  for (const bad of ['', 'P', 'PT', 'P1DT', '1D', 'pt3h', 'P1.5D', '--PT1H', '+PT1H', 'PT1.2345S', 'PT1H ', 'P1Y2']) throwsQuery(() => parseLag(bad, BERLIN), bad)
  throwsQuery(() => parseLags('PT1H,,P1D', BERLIN), 'an empty lag')
  throwsQuery(() => parseLags(Array.from({ length: 51 }, () => 'PT1H').join(','), BERLIN), '51 lags')
})

lags('the default lags, and a list as given (trimmed)', () => {
  assert.equal(
    parseLags(undefined, BERLIN).map((l) => l.text),
    [...DEFAULT_LAGS],
  )
  assert.equal(
    parseLags('-PT2H, P3D', BERLIN).map((l) => l.text),
    ['-PT2H', 'P3D'],
  )
})

lags('a scheduled step as a lag: D+N at the local time, as the jobs reach it', () => {
  const view = parseViewDefinition({ name: 'v', eventTypes: ['sale'], timezone: BERLIN, granularity: 'day', dimensions: [], measures: { n: { count: true } } }, 'v.json')
  const consolidate = scheduleLag(view, view.consolidate)
  assert.is(consolidate.text, 'D+1 03:00')
  // 03:00 on the 29th is after the clocks went forward: CEST, UTC+2.
  assert.is(consolidate.knownAt(march28), utc(2026, 3, 29, 1))
  assert.is(scheduleLag(view, view.close).text, 'D+3 03:30')
})

lags('durations print in hours, minutes and seconds', () => {
  assert.is(formatDuration(0), 'PT0S')
  assert.is(formatDuration(26 * HOUR + 3 * 60_000 + 4500), 'PT26H3M4.5S')
  assert.is(formatDuration(-2000), '-PT2S')
  assert.is(formatDuration(60_000), 'PT1M')
  assert.is(formatDuration(250), 'PT0.25S')
  assert.is(formatDuration(48 * HOUR), 'PT48H')
})

// ---------------------------------------------------------------------------------------------
const close = suite('analysis: close advice and SLA')

close('a candidate close: restatements, their sizes and the value known', () => {
  const periods = [
    { value: cents(9000), benchmark: cents(10000), closeAt: 10 },
    { value: cents(5000), benchmark: cents(5000), closeAt: 20 },
    { value: cents(-500), benchmark: cents(0), closeAt: 5 },
  ]
  const { sums, ...candidate } = closeCandidate({ afterDays: 3, at: '03:30' }, periods, 15)
  // The second period's close (20) is after now (15): it is left out, and the candidate incomplete.
  assert.equal(candidate, {
    afterDays: 3,
    at: 'D+3 03:30',
    n: 2,
    periodsRestated: 2,
    shareRestated: 1,
    meanAbsRestatement: 7.5,
    maxAbsRestatement: 10,
    meanAbsRestatementRelative: 0.1,
    maxAbsRestatementRelative: 0.1,
    valueKnown: 0.85,
    incomplete: true,
  })
  assert.equal(sums, { lost: 1500n, total: 10000n })
  // Once every close has come, all three are judged.
  const { sums: all, ...later } = closeCandidate({ afterDays: 3, at: '03:30' }, periods, 20)
  assert.equal([later.n, later.periodsRestated, later.shareRestated, later.meanAbsRestatement, later.valueKnown, later.incomplete], [3, 2, 0.666667, 5, 0.9, false])
  assert.equal(all, { lost: 1500n, total: 15000n })
  // Before any close, nothing is judged.
  const { sums: none, ...early } = closeCandidate({ afterDays: 3, at: '03:30' }, periods, 4)
  assert.equal([early.n, early.shareRestated, early.meanAbsRestatement, early.maxAbsRestatement, early.valueKnown, early.incomplete], [0, null, null, null, null, true])
  assert.equal(none, { lost: 0n, total: 0n })
})

close('a mean restatement is exact when it is a finite decimal, else kept to 6 more decimals than the measure', () => {
  assert.is(exactMean(89_371n, 4, 2), 223.4275)
  assert.is(exactMean(100n, 3, 2), 0.33333333)
  assert.is(exactMean(200n, 3, 2), 0.66666667)
  assert.is(exactMean(-5n, 2, 0), -2.5)
  assert.is(exactMean(1n, 1024, 0), 0.0009765625)
  assert.equal(exactMean(2n ** 70n, 1, 2), new Decimal('11805916207174113034.24'))
})

close('a missing value counts as 0 and differs from any benchmark; no period gives nulls', () => {
  const { sums, ...candidate } = closeCandidate({ afterDays: 1, at: '03:30' }, [{ value: null, benchmark: cents(250), closeAt: 0 }], 1)
  assert.is(candidate.periodsRestated, 1)
  assert.is(candidate.maxAbsRestatement, 2.5)
  assert.is(candidate.valueKnown, 0)
  const none = closeCandidate({ afterDays: 1, at: '03:30' }, [], 1)
  assert.equal([none.shareRestated, none.meanAbsRestatement, none.maxAbsRestatement, none.valueKnown, none.incomplete], [null, null, null, null, false])
})

close('the recommended close is the earliest whose value known reaches the target exactly', () => {
  const candidate = (afterDays: number, lost: number, total: number) =>
    closeCandidate({ afterDays, at: '03:30' }, [{ value: { scaled: total - lost, decimals: 0 }, benchmark: { scaled: total, decimals: 0 }, closeAt: 0 }], 1)
  // 1 − 1/1000 is 0.999 exactly: reached.
  assert.equal(recommendedClose([candidate(1, 2, 1000), candidate(2, 1, 1000), candidate(3, 0, 1000)], 0.999), { afterDays: 2, at: 'D+2 03:30' })
  assert.equal(recommendedClose([candidate(1, 1001, 1_000_000)], 0.999), null)
  assert.equal(recommendedClose([candidate(1, 1, 1000)], 1), null)
  assert.equal(recommendedClose([], 0.5), null)
})

close('a source: nearest-rank lags; the SLA is the target quantile rounded up to a whole minute, at least one', () => {
  const lagsMs = [61_000, 0, 30_000]
  assert.equal(sourceLags('store-001', lagsMs), { source: 'store-001', count: 3, lagP50: 'PT30S', lagP90: 'PT1M1S', lagP99: 'PT1M1S', lagMax: 'PT1M1S' })
  assert.is(suggestedSla(lagsMs, 0.999), 'PT2M')
  assert.is(suggestedSla(lagsMs, 0.5), 'PT1M')
  // sla.bySource takes no zero duration: events on time (or occurring after arrival) suggest PT1M.
  assert.is(suggestedSla([-30_000], 0.999), 'PT1M')
  assert.is(suggestedSla([0, 0], 0.999), 'PT1M')
  assert.is(suggestedSla([2 * HOUR], 0.999), 'PT2H')
})

// ---------------------------------------------------------------------------------------------
const query = suite('analysis: query values')

query('against, target and measure: values or 400s', () => {
  assert.is(parseAgainst(undefined, 'final'), 'final')
  assert.is(parseAgainst('latest', 'final'), 'latest')
  throwsQuery(() => parseAgainst('first', 'final'), 'against=first')
  assert.is(parseTarget(undefined), 0.999)
  assert.is(parseTarget('0.95'), 0.95)
  assert.is(parseTarget('1'), 1)
  for (const bad of ['0', '1.5', '', '.', 'abc', '-0.5', '1e-3', '0.9 ']) throwsQuery(() => parseTarget(bad), `target=${bad}`)
  const view = parseViewDefinition({ name: 'v', eventTypes: ['sale'], timezone: 'UTC', granularity: 'day', dimensions: [], measures: { revenue: { sum: 'amount' }, n: { count: true } } }, 'v.json')
  assert.is(measureIndex(view, undefined), 0)
  assert.is(measureIndex(view, 'n'), 1)
  throwsQuery(() => measureIndex(view, 'nope'), 'measure=nope')
})

query('exact values show as numbers, or Decimals past what a double holds', () => {
  const candidate = closeCandidate({ afterDays: 1, at: '03:30' }, [{ value: { scaled: 0, decimals: 2 }, benchmark: { scaled: 2n ** 60n, decimals: 2 } as unknown as Exact, closeAt: 0 }], 1)
  assert.instance(candidate.maxAbsRestatement, Decimal)
  assert.is(String(candidate.maxAbsRestatement), '11529215046068469.76')
})

stats.run()
accuracy.run()
lags.run()
close.run()
query.run()
