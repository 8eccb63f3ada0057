import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Bucketer, GRANULARITIES, inPeriod, nextPeriodKey, parseDurationMs, parseInstant, parseInstantByPattern, periodKeyOf, periodRange, toIso, type Granularity } from '../../src/domain/time.js'

const HOUR = 3_600_000
const NY = 'America/New_York'
const BERLIN = 'Europe/Berlin'
const TAIPEI = 'Asia/Taipei'

/** Expected values are built from UTC wall clocks and the offsets in force, independently of luxon. */
const utc = (y: number, mo: number, d: number, h = 0, mi = 0): number => Date.UTC(y, mo - 1, d, h, mi)

// ---------------------------------------------------------------------------------------------
const dst = suite('time: DST days and hours')

dst('New York 2026-03-08 (spring forward) is 23 hours: 00:00 EST to 00:00 EDT', () => {
  assert.equal(periodRange('2026-03-08', NY, 'day'), { start: utc(2026, 3, 8, 5), end: utc(2026, 3, 9, 4) })
  assert.is(utc(2026, 3, 9, 4) - utc(2026, 3, 8, 5), 23 * HOUR)
})

dst('New York 2026-11-01 (fall back) is 25 hours: 00:00 EDT to 00:00 EST', () => {
  assert.equal(periodRange('2026-11-01', NY, 'day'), { start: utc(2026, 11, 1, 4), end: utc(2026, 11, 2, 5) })
})

dst('New York days next to the changes are 24 hours', () => {
  assert.equal(periodRange('2026-03-07', NY, 'day'), { start: utc(2026, 3, 7, 5), end: utc(2026, 3, 8, 5) })
  assert.equal(periodRange('2026-03-09', NY, 'day'), { start: utc(2026, 3, 9, 4), end: utc(2026, 3, 10, 4) })
  assert.equal(periodRange('2026-11-02', NY, 'day'), { start: utc(2026, 11, 2, 5), end: utc(2026, 11, 3, 5) })
})

dst('New York hours around spring forward: T02 does not exist', () => {
  assert.is(periodRange('2026-03-08T02', NY, 'hour'), null)
  assert.equal(periodRange('2026-03-08T01', NY, 'hour'), { start: utc(2026, 3, 8, 6), end: utc(2026, 3, 8, 7) })
  assert.equal(periodRange('2026-03-08T03', NY, 'hour'), { start: utc(2026, 3, 8, 7), end: utc(2026, 3, 8, 8) })
  assert.is(periodKeyOf(utc(2026, 3, 8, 6, 59), NY, 'hour'), '2026-03-08T01')
  assert.is(periodKeyOf(utc(2026, 3, 8, 7), NY, 'hour'), '2026-03-08T03')
  assert.is(nextPeriodKey('2026-03-08T01', NY, 'hour'), '2026-03-08T03')
})

dst('New York hours around fall back: T01 is one two-hour period', () => {
  assert.equal(periodRange('2026-11-01T01', NY, 'hour'), { start: utc(2026, 11, 1, 5), end: utc(2026, 11, 1, 7) })
  assert.is(periodKeyOf(utc(2026, 11, 1, 5, 30), NY, 'hour'), '2026-11-01T01') // 01:30 EDT
  assert.is(periodKeyOf(utc(2026, 11, 1, 6, 30), NY, 'hour'), '2026-11-01T01') // 01:30 EST
  assert.is(periodKeyOf(utc(2026, 11, 1, 7), NY, 'hour'), '2026-11-01T02')
  assert.is(nextPeriodKey('2026-11-01T00', NY, 'hour'), '2026-11-01T01')
  assert.is(nextPeriodKey('2026-11-01T01', NY, 'hour'), '2026-11-01T02')
})

dst('Berlin 2026-03-29 is 23 hours, 2026-10-25 is 25 hours', () => {
  assert.equal(periodRange('2026-03-29', BERLIN, 'day'), { start: utc(2026, 3, 28, 23), end: utc(2026, 3, 29, 22) })
  assert.equal(periodRange('2026-10-25', BERLIN, 'day'), { start: utc(2026, 10, 24, 22), end: utc(2026, 10, 25, 23) })
  assert.equal(periodRange('2026-03-28', BERLIN, 'day'), { start: utc(2026, 3, 27, 23), end: utc(2026, 3, 28, 23) })
  assert.equal(periodRange('2026-10-26', BERLIN, 'day'), { start: utc(2026, 10, 25, 23), end: utc(2026, 10, 26, 23) })
})

dst('Berlin skipped hour 2026-03-29T02 gives null; T01 and T03 are adjacent', () => {
  assert.is(periodRange('2026-03-29T02', BERLIN, 'hour'), null)
  assert.is(nextPeriodKey('2026-03-29T02', BERLIN, 'hour'), null)
  assert.equal(periodRange('2026-03-29T01', BERLIN, 'hour'), { start: utc(2026, 3, 29, 0), end: utc(2026, 3, 29, 1) })
  assert.equal(periodRange('2026-03-29T03', BERLIN, 'hour'), { start: utc(2026, 3, 29, 1), end: utc(2026, 3, 29, 2) })
  assert.is(periodKeyOf(utc(2026, 3, 29, 0, 59), BERLIN, 'hour'), '2026-03-29T01')
  assert.is(periodKeyOf(utc(2026, 3, 29, 1), BERLIN, 'hour'), '2026-03-29T03')
  assert.is(nextPeriodKey('2026-03-29T01', BERLIN, 'hour'), '2026-03-29T03')
})

dst('Berlin repeated hour 2026-10-25T02 is one period of exactly 2 hours', () => {
  const range = periodRange('2026-10-25T02', BERLIN, 'hour')
  assert.equal(range, { start: utc(2026, 10, 25, 0), end: utc(2026, 10, 25, 2) })
  assert.is(range && range.end - range.start, 2 * HOUR)
  assert.is(periodKeyOf(utc(2026, 10, 25, 0, 15), BERLIN, 'hour'), '2026-10-25T02') // 02:15 CEST
  assert.is(periodKeyOf(utc(2026, 10, 25, 1, 15), BERLIN, 'hour'), '2026-10-25T02') // 02:15 CET
  assert.is(periodKeyOf(utc(2026, 10, 25, 0) - 1, BERLIN, 'hour'), '2026-10-25T01')
  assert.is(periodKeyOf(utc(2026, 10, 25, 2), BERLIN, 'hour'), '2026-10-25T03')
  assert.equal(periodRange('2026-10-25T01', BERLIN, 'hour'), { start: utc(2026, 10, 24, 23), end: utc(2026, 10, 25, 0) })
  assert.equal(periodRange('2026-10-25T03', BERLIN, 'hour'), { start: utc(2026, 10, 25, 2), end: utc(2026, 10, 25, 3) })
  assert.is(nextPeriodKey('2026-10-25T02', BERLIN, 'hour'), '2026-10-25T03')
})

dst('the Bucketer maps both occurrences of the repeated hour to one key', () => {
  const b = new Bucketer(BERLIN, 'hour')
  assert.is(b.keyOf(utc(2026, 10, 25, 0, 15)), '2026-10-25T02')
  assert.is(b.keyOf(utc(2026, 10, 25, 1, 45)), '2026-10-25T02')
  assert.is(b.keyOf(utc(2026, 10, 25, 2)), '2026-10-25T03')
  assert.is(b.keyOf(utc(2026, 10, 25, 0, 15)), '2026-10-25T02')
  assert.equal(b.rangeOf('2026-10-25T02'), { start: utc(2026, 10, 25, 0), end: utc(2026, 10, 25, 2) })
})

dst.run()

// ---------------------------------------------------------------------------------------------
const chatham = suite('time: Pacific/Chatham (+12:45 standard, +13:45 daylight)')

// 2026-04-05, clocks go back at 03:45 +13:45 (= 14:00Z on 04-04) to 02:45 +12:45. Local wall clock:
//   02:00-03:00 +13:45 = 12:15Z-13:15Z (T02), 03:00-03:45 +13:45 = 13:15Z-14:00Z (T03),
//   02:45-03:00 +12:45 = 14:00Z-14:15Z (T02 again), 03:00-04:00 +12:45 = 14:15Z-15:15Z (T03 again).
// 2026-09-27, clocks go forward at 02:45 +12:45 (= 14:00Z on 09-26) to 03:45 +13:45:
//   02:00-02:45 +12:45 = 13:15Z-14:00Z (T02), 03:45-04:00 +13:45 = 14:00Z-14:15Z (T03), 04:00 +13:45 = 14:15Z.
const CHATHAM = 'Pacific/Chatham'

chatham('2026-04-05: hours 02 and 03 each happen twice, interleaved: two pieces each', () => {
  assert.equal(periodRange('2026-04-05T02', CHATHAM, 'hour'), {
    start: Date.UTC(2026, 3, 4, 12, 15),
    end: Date.UTC(2026, 3, 4, 14, 15),
    pieces: [
      { start: Date.UTC(2026, 3, 4, 12, 15), end: Date.UTC(2026, 3, 4, 13, 15) },
      { start: Date.UTC(2026, 3, 4, 14, 0), end: Date.UTC(2026, 3, 4, 14, 15) },
    ],
  })
  assert.equal(periodRange('2026-04-05T03', CHATHAM, 'hour'), {
    start: Date.UTC(2026, 3, 4, 13, 15),
    end: Date.UTC(2026, 3, 4, 15, 15),
    pieces: [
      { start: Date.UTC(2026, 3, 4, 13, 15), end: Date.UTC(2026, 3, 4, 14, 0) },
      { start: Date.UTC(2026, 3, 4, 14, 15), end: Date.UTC(2026, 3, 4, 15, 15) },
    ],
  })
  // The neighbours are one interval each: no `pieces` field at all.
  assert.equal(periodRange('2026-04-05T01', CHATHAM, 'hour'), { start: Date.UTC(2026, 3, 4, 11, 15), end: Date.UTC(2026, 3, 4, 12, 15) })
  assert.equal(periodRange('2026-04-05T04', CHATHAM, 'hour'), { start: Date.UTC(2026, 3, 4, 15, 15), end: Date.UTC(2026, 3, 4, 16, 15) })
  // The day is 25 hours, 00:00 +13:45 to 00:00 +12:45.
  assert.equal(periodRange('2026-04-05', CHATHAM, 'day'), { start: Date.UTC(2026, 3, 4, 10, 15), end: Date.UTC(2026, 3, 5, 11, 15) })
})

chatham('2026-04-05: keys on both sides of every piece boundary', () => {
  const sides: Array<[number, string, string]> = [
    [Date.UTC(2026, 3, 4, 12, 15), '2026-04-05T01', '2026-04-05T02'], // 02:00 +13:45
    [Date.UTC(2026, 3, 4, 13, 15), '2026-04-05T02', '2026-04-05T03'], // 03:00 +13:45
    [Date.UTC(2026, 3, 4, 14, 0), '2026-04-05T03', '2026-04-05T02'], // 03:45 +13:45 = 02:45 +12:45
    [Date.UTC(2026, 3, 4, 14, 15), '2026-04-05T02', '2026-04-05T03'], // 03:00 +12:45
    [Date.UTC(2026, 3, 4, 15, 15), '2026-04-05T03', '2026-04-05T04'], // 04:00 +12:45
  ]
  for (const [boundary, before, after] of sides) {
    assert.is(periodKeyOf(boundary - 1, CHATHAM, 'hour'), before, `before ${toIso(boundary)}`)
    assert.is(periodKeyOf(boundary, CHATHAM, 'hour'), after, `at ${toIso(boundary)}`)
    assert.is(new Bucketer(CHATHAM, 'hour').keyOf(boundary - 1), before)
    assert.is(new Bucketer(CHATHAM, 'hour').keyOf(boundary), after)
  }
  const t02 = periodRange('2026-04-05T02', CHATHAM, 'hour')
  assert.ok(t02)
  assert.ok(inPeriod(t02, Date.UTC(2026, 3, 4, 13, 15) - 1))
  assert.not.ok(inPeriod(t02, Date.UTC(2026, 3, 4, 13, 15)))
  assert.not.ok(inPeriod(t02, Date.UTC(2026, 3, 4, 14, 0) - 1))
  assert.ok(inPeriod(t02, Date.UTC(2026, 3, 4, 14, 0)))
  assert.ok(inPeriod(t02, Date.UTC(2026, 3, 4, 14, 15) - 1))
  assert.not.ok(inPeriod(t02, Date.UTC(2026, 3, 4, 14, 15)))
  assert.not.ok(inPeriod(t02, Date.UTC(2026, 3, 4, 12, 15) - 1))
  assert.is(nextPeriodKey('2026-04-05T01', CHATHAM, 'hour'), '2026-04-05T02')
  assert.is(nextPeriodKey('2026-04-05T03', CHATHAM, 'hour'), '2026-04-05T04')
})

chatham('2026-09-27: hour 02 is 45 minutes, hour 03 the 15 minutes 03:45-04:00 +13:45', () => {
  assert.equal(periodRange('2026-09-27T02', CHATHAM, 'hour'), { start: Date.UTC(2026, 8, 26, 13, 15), end: Date.UTC(2026, 8, 26, 14, 0) })
  assert.equal(periodRange('2026-09-27T03', CHATHAM, 'hour'), { start: Date.UTC(2026, 8, 26, 14, 0), end: Date.UTC(2026, 8, 26, 14, 15) })
  assert.equal(periodRange('2026-09-27T04', CHATHAM, 'hour'), { start: Date.UTC(2026, 8, 26, 14, 15), end: Date.UTC(2026, 8, 26, 15, 15) })
  assert.is(periodKeyOf(Date.UTC(2026, 8, 26, 14, 0) - 1, CHATHAM, 'hour'), '2026-09-27T02') // 02:44:59.999 +12:45
  assert.is(periodKeyOf(Date.UTC(2026, 8, 26, 14, 0), CHATHAM, 'hour'), '2026-09-27T03') // 03:45 +13:45
  assert.is(periodKeyOf(Date.UTC(2026, 8, 26, 14, 15) - 1, CHATHAM, 'hour'), '2026-09-27T03')
  assert.is(periodKeyOf(Date.UTC(2026, 8, 26, 14, 15), CHATHAM, 'hour'), '2026-09-27T04')
  assert.is(nextPeriodKey('2026-09-27T02', CHATHAM, 'hour'), '2026-09-27T03')
  assert.is(nextPeriodKey('2026-09-27T03', CHATHAM, 'hour'), '2026-09-27T04')
  // The day is 23 hours, 00:00 +12:45 to 00:00 +13:45.
  assert.equal(periodRange('2026-09-27', CHATHAM, 'day'), { start: Date.UTC(2026, 8, 26, 11, 15), end: Date.UTC(2026, 8, 27, 10, 15) })
})

chatham('Bucketer: a range asked first does not pull 02:50 +12:45 into hour 03', () => {
  const bucketer = new Bucketer(CHATHAM, 'hour')
  // The order that used to poison the cache: T03's range, an instant of T03, then 02:50 standard time.
  assert.ok(bucketer.rangeOf('2026-04-05T03'))
  assert.is(bucketer.keyOf(Date.UTC(2026, 3, 4, 13, 30)), '2026-04-05T03') // 03:15 +13:45
  const late = parseInstant('2026-04-05T02:50+12:45')
  assert.is(late, Date.UTC(2026, 3, 4, 14, 5))
  assert.is(bucketer.keyOf(late as number), '2026-04-05T02')
  assert.equal(bucketer.pieceOf(late as number), { key: '2026-04-05T02', start: Date.UTC(2026, 3, 4, 14, 0), end: Date.UTC(2026, 3, 4, 14, 15) })
  assert.equal(bucketer.pieceOf(Date.UTC(2026, 3, 4, 13, 30)), { key: '2026-04-05T03', start: Date.UTC(2026, 3, 4, 13, 15), end: Date.UTC(2026, 3, 4, 14, 0) })
  assert.is(bucketer.keyOf(Date.UTC(2026, 3, 4, 14, 15)), '2026-04-05T03')
  // Every minute of the morning, forwards then backwards, through one Bucketer.
  const minutes = Array.from({ length: 6 * 60 }, (_, i) => Date.UTC(2026, 3, 4, 11) + i * 60_000)
  for (const t of [...minutes, ...minutes.reverse()]) assert.is(bucketer.keyOf(t), periodKeyOf(t, CHATHAM, 'hour'), toIso(t))
})

chatham.run()

// ---------------------------------------------------------------------------------------------
const weeks = suite('time: ISO weeks and months')

weeks('keys across the 2026/2027 year end in Berlin', () => {
  assert.is(periodKeyOf(utc(2026, 12, 31, 12), BERLIN, 'week'), '2026-W53')
  assert.is(periodKeyOf(utc(2027, 1, 1, 12), BERLIN, 'week'), '2026-W53')
  assert.is(periodKeyOf(utc(2027, 1, 3, 22, 59), BERLIN, 'week'), '2026-W53') // Sun 23:59 CET
  assert.is(periodKeyOf(utc(2027, 1, 3, 23), BERLIN, 'week'), '2027-W01') // Mon 2027-01-04 00:00 CET
  assert.is(periodKeyOf(utc(2027, 1, 4, 12), BERLIN, 'week'), '2027-W01')
  assert.is(periodKeyOf(utc(2026, 12, 31, 12), BERLIN, 'day'), '2026-12-31')
  assert.is(periodKeyOf(utc(2026, 12, 31, 23), BERLIN, 'day'), '2027-01-01')
  assert.is(periodKeyOf(utc(2026, 12, 31, 23), BERLIN, 'month'), '2027-01')
})

weeks('2026-W53 exists and starts Monday 2026-12-28 00:00 local; 2025-W53 does not', () => {
  assert.equal(periodRange('2026-W53', BERLIN, 'week'), { start: utc(2026, 12, 27, 23), end: utc(2027, 1, 3, 23) })
  assert.is(new Date(utc(2026, 12, 28)).getUTCDay(), 1)
  assert.equal(periodRange('2027-W01', BERLIN, 'week'), { start: utc(2027, 1, 3, 23), end: utc(2027, 1, 10, 23) })
  assert.is(nextPeriodKey('2026-W52', BERLIN, 'week'), '2026-W53')
  assert.is(nextPeriodKey('2026-W53', BERLIN, 'week'), '2027-W01')
  assert.is(periodRange('2025-W53', BERLIN, 'week'), null)
  assert.is(nextPeriodKey('2025-W52', BERLIN, 'week'), '2026-W01')
  // 2026-W01 starts Monday 2025-12-29.
  assert.equal(periodRange('2026-W01', 'UTC', 'week'), { start: utc(2025, 12, 29), end: utc(2026, 1, 5) })
})

weeks('a week containing spring forward is 167 hours', () => {
  // 2026-W13: Monday 2026-03-23 to Monday 2026-03-30, Berlin.
  assert.equal(periodRange('2026-W13', BERLIN, 'week'), { start: utc(2026, 3, 22, 23), end: utc(2026, 3, 29, 22) })
})

weeks('months: February of leap year 2028 and the DST months', () => {
  assert.equal(periodRange('2028-02', TAIPEI, 'month'), { start: utc(2028, 1, 31, 16), end: utc(2028, 2, 29, 16) })
  assert.equal(periodRange('2028-02', 'UTC', 'month'), { start: utc(2028, 2, 1), end: utc(2028, 3, 1) })
  assert.is(utc(2028, 3, 1) - utc(2028, 2, 1), 29 * 24 * HOUR)
  assert.is(periodKeyOf(utc(2028, 2, 29, 23, 59), 'UTC', 'month'), '2028-02')
  assert.is(periodKeyOf(utc(2028, 2, 29, 16), TAIPEI, 'month'), '2028-03')

  const march = periodRange('2026-03', BERLIN, 'month')
  assert.equal(march, { start: utc(2026, 2, 28, 23), end: utc(2026, 3, 31, 22) })
  assert.is(march && (march.end - march.start) / HOUR, 743)
  const october = periodRange('2026-10', BERLIN, 'month')
  assert.equal(october, { start: utc(2026, 9, 30, 22), end: utc(2026, 10, 31, 23) })
  assert.is(october && (october.end - october.start) / HOUR, 745)
  const nyNov = periodRange('2026-11', NY, 'month')
  assert.is(nyNov && (nyNov.end - nyNov.start) / HOUR, 30 * 24 + 1)
  assert.is(nextPeriodKey('2026-12', BERLIN, 'month'), '2027-01')
})

weeks.run()

// ---------------------------------------------------------------------------------------------
const taipei = suite('time: Asia/Taipei (UTC+8, no DST)')

taipei('a day runs from 16:00Z to 16:00Z', () => {
  assert.equal(periodRange('2026-11-25', TAIPEI, 'day'), { start: utc(2026, 11, 24, 16), end: utc(2026, 11, 25, 16) })
  assert.is(periodKeyOf(utc(2026, 11, 24, 16), TAIPEI, 'day'), '2026-11-25')
  assert.is(periodKeyOf(utc(2026, 11, 24, 16) - 1, TAIPEI, 'day'), '2026-11-24')
  assert.is(periodKeyOf(utc(2026, 11, 25, 15, 59), TAIPEI, 'day'), '2026-11-25')
  assert.is(periodKeyOf(utc(2026, 11, 25, 5, 30), TAIPEI, 'hour'), '2026-11-25T13')
  assert.equal(periodRange('2026-11-25T13', TAIPEI, 'hour'), { start: utc(2026, 11, 25, 5), end: utc(2026, 11, 25, 6) })
  assert.is(nextPeriodKey('2026-11-25', TAIPEI, 'day'), '2026-11-26')
  assert.is(nextPeriodKey('2026-12-31', TAIPEI, 'day'), '2027-01-01')
  assert.is(nextPeriodKey('2026-11-25T23', TAIPEI, 'hour'), '2026-11-26T00')
})

taipei.run()

// ---------------------------------------------------------------------------------------------
const malformed = suite('time: malformed keys')

malformed('keys that name no period give null', () => {
  const cases: Array<[string, Granularity]> = [
    ['2026-13-01', 'day'],
    ['2026-11-31', 'day'],
    ['2026-02-29', 'day'],
    ['2026-00-10', 'day'],
    ['2026-11-25T24', 'hour'],
    ['2026-11-25T-1', 'hour'],
    ['2026-W00', 'week'],
    ['2026-W54', 'week'],
    ['2026-13', 'month'],
    ['2026-00', 'month'],
    // the right date in the wrong granularity's form
    ['2026-11-25', 'hour'],
    ['2026-11-25T13', 'day'],
    ['2026-11', 'day'],
    ['2026-W48', 'month'],
    ['2026-11-25', 'week'],
    ['2026-11-25', 'month'],
    // not zero-padded, stray characters
    ['2026-1-25', 'day'],
    ['2026-11-25 ', 'day'],
    ['2026-W8', 'week'],
    ['', 'day'],
    ['garbage', 'month'],
  ]
  for (const [key, granularity] of cases) {
    assert.is(periodRange(key, 'UTC', granularity), null, `${granularity} ${JSON.stringify(key)}`)
    assert.is(nextPeriodKey(key, 'UTC', granularity), null, `next ${granularity} ${JSON.stringify(key)}`)
  }
})

malformed('the leap day exists in 2028', () => {
  assert.equal(periodRange('2028-02-29', 'UTC', 'day'), { start: utc(2028, 2, 29), end: utc(2028, 3, 1) })
})

malformed.run()

// ---------------------------------------------------------------------------------------------
const parsing = suite('time: parseInstant and parseDurationMs')

parsing('parseInstant accepts Z and numeric offsets', () => {
  assert.is(parseInstant('2026-11-25T02:03:00Z'), utc(2026, 11, 25, 2, 3))
  assert.is(parseInstant('2026-11-25T10:03:00+08:00'), utc(2026, 11, 25, 2, 3))
  assert.is(parseInstant('2026-11-25T10:03:00+0800'), utc(2026, 11, 25, 2, 3))
  assert.is(parseInstant('2026-11-24T21:03:00-05:00'), utc(2026, 11, 25, 2, 3))
  assert.is(parseInstant('2026-11-25T02:03Z'), utc(2026, 11, 25, 2, 3))
})

parsing('parseInstant keeps fractional seconds to the millisecond', () => {
  assert.is(parseInstant('2026-11-25T02:03:04.5Z'), utc(2026, 11, 25, 2, 3) + 4500)
  assert.is(parseInstant('2026-11-25T02:03:04.123Z'), utc(2026, 11, 25, 2, 3) + 4123)
  assert.is(parseInstant('2026-11-25T10:03:04.123456+08:00'), utc(2026, 11, 25, 2, 3) + 4123)
})

parsing('fractions beyond the millisecond are truncated, never rounded, in every spelling', () => {
  const lastMs = Date.UTC(2026, 4, 31, 23, 59, 59, 999)
  assert.is(parseInstant('2026-05-31T23:59:59.999999999+0000'), lastMs)
  assert.is(parseInstantByPattern('2026-05-31T23:59:59.999999999+0000'), lastMs)
  for (const t of ['T', 't']) {
    for (const zone of ['Z', 'z', '+00:00', '+0000', '+00', '-00:00', '-0000', '-00']) {
      for (let digits = 3; digits <= 9; digits++) {
        const text = `2026-05-31${t}23:59:59.${'9'.repeat(digits)}${zone}`
        assert.is(parseInstant(text), lastMs, text)
        assert.is(parseInstantByPattern(text), lastMs, text)
      }
      // The same instant in another offset, with the long fraction: still not the next day.
      assert.is(parseInstant(`2026-06-01${t}12:44:59.999999999+12:45`), lastMs)
      assert.is(parseInstant(`2026-06-01${t}12:44:59.999999999+1245`), lastMs)
      // 1 and 2 digits are tenths and hundredths; no seconds is :00.000.
      const base = Date.UTC(2026, 4, 31, 23, 59)
      assert.is(parseInstant(`2026-05-31${t}23:59:07.5${zone}`), base + 7500)
      assert.is(parseInstant(`2026-05-31${t}23:59:07.05${zone}`), base + 7050)
      assert.is(parseInstant(`2026-05-31${t}23:59:07.0509${zone}`), base + 7050)
      assert.is(parseInstant(`2026-05-31${t}23:59:07.000999999${zone}`), base + 7000)
      assert.is(parseInstant(`2026-05-31${t}23:59${zone}`), base)
    }
  }
  assert.is(parseInstant('2026-11-25T02:03:04.1239Z'), utc(2026, 11, 25, 2, 3) + 4123)
  assert.is(parseInstant('2026-11-25T02:03:04.1239+0000'), utc(2026, 11, 25, 2, 3) + 4123)
})

parsing('every accepted spelling of one instant parses to the same millisecond', () => {
  const offsets = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })
  fc.assert(
    fc.property(
      // Often the last millisecond of a second, followed by nines: where rounding would carry over.
      fc.tuple(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }), fc.boolean()).map(([ms, last]) => (last ? Math.floor(ms / 1000) * 1000 + 999 : ms)),
      offsets,
      fc.oneof(fc.stringMatching(/^[0-9]{0,6}$/), fc.stringMatching(/^9{1,6}$/)),
      fc.constantFrom('T', 't'),
      fc.nat(),
      (ms, offsetMinutes, extra, t, pick) => {
        // The local wall clock of `ms` at that offset, written out from the UTC fields of a shifted Date.
        const local = new Date(ms + offsetMinutes * 60_000).toISOString()
        const day = local.slice(0, 10)
        const clock = local.slice(11, 19)
        const millis = local.slice(20, 23)
        const fractions = [`.${millis}${extra}`]
        const short = millis.replace(/0+$/, '')
        if (short !== '') fractions.push(`.${short}`)
        else fractions.push('', '.0', '.000000000')
        const sign = offsetMinutes < 0 ? '-' : '+'
        const hh = String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, '0')
        const mm = String(Math.abs(offsetMinutes) % 60).padStart(2, '0')
        const zones = [`${sign}${hh}:${mm}`, `${sign}${hh}${mm}`]
        if (mm === '00') zones.push(`${sign}${hh}`)
        if (offsetMinutes === 0) zones.push('Z', 'z', '-00:00')
        const fraction = fractions[pick % fractions.length] as string
        const zone = zones[Math.floor(pick / fractions.length) % zones.length] as string
        const texts = [`${day}${t}${clock}${fraction}${zone}`]
        if (millis === '000' && clock.endsWith(':00')) texts.push(`${day}${t}${clock.slice(0, 5)}${zone}`)
        for (const text of texts) {
          assert.is(parseInstant(text), ms, text)
          assert.is(parseInstantByPattern(text), ms, text)
        }
      },
    ),
    { numRuns: 5000 },
  )
})

parsing('parseInstant rejects date-only, no offset, impossible dates and garbage', () => {
  for (const bad of ['2026-11-25', '2026-11-25T10:03:00', '2026-11-25T10:03:00.000', '2026-02-30T10:00:00Z', '2026-11-25T25:00:00Z', '2026-11-25 10:03:00Z', 'yesterday', '', '1795572180000']) {
    assert.is(parseInstant(bad), null, bad)
  }
  assert.is(parseInstant(1795572180000), null)
  assert.is(parseInstant(null), null)
  assert.is(parseInstant(undefined), null)
  assert.is(parseInstant({}), null)
})

parsing('the fast path agrees with the general parser on full instants, valid or not', () => {
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'))
  const instant = fc
    .record({
      year: fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
      month: two(19),
      day: two(39),
      hour: two(29),
      minute: two(69),
      second: two(69),
      // Long fractions, and runs of nines that rounding would carry into the next second, day or year.
      fraction: fc.oneof(fc.constant(''), fc.stringMatching(/^\.[0-9]{0,11}$/), fc.stringMatching(/^\.[0-9]{0,3}9{1,8}$/)),
      t: fc.constantFrom('T', 't', ' '),
      zone: fc.oneof(
        fc.constantFrom('Z', 'z', '', 'ZZ', '+08', '+0800', '+08:00:00'),
        fc.tuple(fc.constantFrom('+', '-'), two(29), two(69)).map(([s, h, m]) => `${s}${h}:${m}`),
      ),
    })
    .map((p) => `${p.year}-${p.month}-${p.day}${p.t}${p.hour}:${p.minute}:${p.second}${p.fraction}${p.zone}`)
  fc.assert(
    fc.property(instant, (text) => {
      assert.is(parseInstant(text), parseInstantByPattern(text), text)
    }),
    { numRuns: 5000 },
  )
  assert.is(parseInstant('2026-11-25T10:03:04.1+08:00'), utc(2026, 11, 25, 2, 3) + 4100)
  assert.is(parseInstant('2026-12-31T23:59:59.999999999+00:00'), parseInstantByPattern('2026-12-31T23:59:59.999999999+0000'))
  assert.is(parseInstant('2026-12-31T23:59:59.999999999Z'), utc(2027, 1, 1) - 1)
  assert.is(parseInstant('2026-11-25T10:03:04.12-00:30'), utc(2026, 11, 25, 10, 33) + 4120)
  assert.is(parseInstant('2028-02-29T00:00:00z'), utc(2028, 2, 29))
  assert.is(parseInstant('2026-02-29T00:00:00Z'), null)
  assert.is(parseInstant('2026-11-25T10:03:00+24:00'), null)
})

parsing('the fast path remembers the last day without changing any answer: runs of instants on few days', () => {
  const two = (min: number, max: number) => fc.integer({ min, max }).map((n) => String(n).padStart(2, '0'))
  // Few distinct days (some impossible, like 02-29 of a common year or 04-31), many times each, in any order.
  const day = fc.tuple(fc.constantFrom('2024', '2026', '2100', '0100'), two(1, 12), fc.constantFrom('01', '28', '29', '30', '31'))
  const time = fc.tuple(two(0, 23), two(0, 59), two(0, 59), fc.constantFrom('', '.5', '.25', '.125', '.999999'), fc.constantFrom('Z', '+08:00', '-05:30', '+00:00'))
  const instants = fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), time), { minLength: 1, maxLength: 40 })
  fc.assert(
    fc.property(fc.array(day, { minLength: 3, maxLength: 3 }), instants, (days, picks) => {
      for (const [d, [h, mi, s, f, z]] of picks) {
        const [y, mo, dd] = days[d] as [string, string, string]
        const text = `${y}-${mo}-${dd}T${h}:${mi}:${s}${f}${z}`
        assert.is(parseInstant(text), parseInstantByPattern(text), text)
      }
    }),
    { numRuns: 2000 },
  )
})

parsing('parseDurationMs', () => {
  assert.is(parseDurationMs('PT6H'), 6 * HOUR)
  assert.is(parseDurationMs('P1D'), 24 * HOUR)
  assert.is(parseDurationMs('PT5M'), 5 * 60_000)
  assert.is(parseDurationMs('PT26H'), 26 * HOUR)
  assert.is(parseDurationMs('P2DT3H'), 51 * HOUR)
  for (const bad of ['6h', 'P0D', 'PT0S', '', 'P', 'PT', 'soon', '-PT6H']) {
    assert.is(parseDurationMs(bad), null, JSON.stringify(bad))
  }
})

parsing.run()

// ---------------------------------------------------------------------------------------------
const props = suite('time: properties')

const ZONES = ['UTC', NY, BERLIN, TAIPEI, 'Australia/Lord_Howe', CHATHAM]
const FROM = utc(2020, 1, 1)
const TO = utc(2030, 1, 1)

props('periodRange(periodKeyOf(t)) contains t and is exactly that key’s period', () => {
  fc.assert(
    fc.property(fc.integer({ min: FROM, max: TO }), (t) => {
      for (const zone of ZONES) {
        for (const granularity of GRANULARITIES) {
          const key = periodKeyOf(t, zone, granularity)
          const range = periodRange(key, zone, granularity)
          if (range === null) throw new Error(`no range for ${key} (${zone}, ${granularity}, t=${t})`)
          if (!(range.start <= t && t < range.end) || !inPeriod(range, t)) throw new Error(`${key} ${JSON.stringify(range)} misses ${t} (${zone})`)
          if (periodKeyOf(range.start, zone, granularity) !== key) throw new Error(`start of ${key} is not in it (${zone})`)
          if (periodKeyOf(range.end - 1, zone, granularity) !== key) throw new Error(`end-1 of ${key} is not in it (${zone})`)
          if (periodKeyOf(range.start - 1, zone, granularity) === key) throw new Error(`${key} starts too late (${zone})`)
          if (periodKeyOf(range.end, zone, granularity) === key) throw new Error(`${key} ends too early (${zone})`)
          if (nextPeriodKey(key, zone, granularity) !== periodKeyOf(range.end, zone, granularity)) throw new Error(`next of ${key} (${zone})`)
        }
      }
    }),
    { numRuns: 300 },
  )
})

props('the transition instants of every zone are bucketed consistently', () => {
  // Instants right at the Lord Howe half-hour changes (2026-04-05 02:00 +11 -> 01:30 +10:30 at 15:00Z,
  // 2026-10-04 02:00 +10:30 -> 02:30 +11 at 15:30Z) and the New York / Berlin changes, +-1 ms.
  const edges = [utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30), utc(2026, 3, 8, 7), utc(2026, 11, 1, 6), utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)]
  for (const edge of edges) {
    for (const t of [edge - 1, edge, edge + 1]) {
      for (const zone of ZONES) {
        for (const granularity of GRANULARITIES) {
          const range = periodRange(periodKeyOf(t, zone, granularity), zone, granularity)
          assert.ok(range && range.start <= t && t < range.end && inPeriod(range, t), `${zone} ${granularity} ${t}`)
        }
      }
    }
  }
  // Lord Howe: hour 01 repeats for half an hour, hour 02 lasts only half an hour on the spring change.
  assert.equal(periodRange('2026-04-05T01', 'Australia/Lord_Howe', 'hour'), { start: utc(2026, 4, 4, 14), end: utc(2026, 4, 4, 15, 30) })
  assert.equal(periodRange('2026-10-04T02', 'Australia/Lord_Howe', 'hour'), { start: utc(2026, 10, 3, 15, 30), end: utc(2026, 10, 3, 16) })
})

props('the cached Bucketer agrees with periodKeyOf on random sequences', () => {
  const step = fc.oneof(
    fc.integer({ min: -HOUR, max: 3 * HOUR }), // mostly in order, like live traffic
    fc.integer({ min: -40 * 24 * HOUR, max: 40 * 24 * HOUR }), // late and early stragglers
  )
  fc.assert(
    fc.property(
      fc.constantFrom(...ZONES),
      fc.constantFrom(...GRANULARITIES),
      fc.integer({ min: FROM, max: TO }),
      fc.array(step, { minLength: 1, maxLength: 60 }),
      (zone, granularity, start, steps) => {
        const bucketer = new Bucketer(zone, granularity)
        let t = start
        for (const s of steps) {
          t = Math.min(TO, Math.max(FROM, t + s))
          const cached = bucketer.keyOf(t)
          const direct = periodKeyOf(t, zone, granularity)
          if (cached !== direct) throw new Error(`${zone} ${granularity} t=${t}: bucketer ${cached}, periodKeyOf ${direct}`)
        }
      },
    ),
    { numRuns: 400 },
  )
})

props.run()
