import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { dueAt } from '../../src/domain/lifecycle.js'
import { periodKeyOf, periodRange, type PeriodRange } from '../../src/domain/time.js'
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import { engines } from '../helpers/engines.js'
import { at, rejection, type RawEvent } from '../helpers/ingest-fixtures.js'
import { figures, summarise } from '../helpers/lifecycle.js'

const ZONE = 'Europe/Berlin'
const HOUR = 3_600_000

/** A day view and an hour view in Berlin, with the default schedule (flash 22:00 D, consolidate 03:00 D+1, close 03:30 D+3). */
const define = (name: string, granularity: 'day' | 'hour'): ViewDefinition =>
  parseViewDefinition(
    {
      name,
      eventTypes: ['sale'],
      timezone: ZONE,
      granularity,
      dimensions: ['store'],
      measures: { revenue: { sum: 'amount', decimals: 2 }, orders: { count: true } },
      expectedSources: { sources: ['shop-a', 'shop-b', 'shop-c'], by: 'PT6H' },
    },
    `${name}.json`,
  )
const DAILY = define('berlin_daily', 'day')
const HOURLY = define('berlin_hourly', 'hour')
const views = [DAILY, HOURLY]

/** A sale of shop `source` occurring and received at the given instants (ISO with offset). */
const sold = (id: string, source: string, amount: number, occurredAt: string, receivedAt: string): RawEvent => ({
  id,
  source: `shop-${source}`,
  type: 'sale',
  occurredAt,
  receivedAt,
  data: { store: source, amount },
})

const rangeOf = (view: ViewDefinition, key: string): PeriodRange => {
  const range = periodRange(key, view.timezone, view.granularity)
  if (!range) throw new Error(`${key} is not a period of ${view.name}`)
  return range
}
const iso = (ms: number) => new Date(ms).toISOString()
/** The UTC instants of a period's flash, consolidation and close. */
const schedule = (view: ViewDefinition, key: string) => {
  const range = rangeOf(view, key)
  return { flash: iso(dueAt(view, range, view.flash)), consolidate: iso(dueAt(view, range, view.consolidate)), close: iso(dueAt(view, range, view.close)) }
}

for (const factory of await engines()) {
  const test = suite(`lifecycle/dst (${factory.name})`)

  const fresh = (body: (lv: Lateview, clock: ManualClock) => Promise<void>) => async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(at('2026-01-01T00:00:00Z'))
      await body(await Lateview.fromEngine(engine, views, clock), clock)
    } finally {
      await engine.close()
    }
  }
  /** Live event counts per period (summed over the cells of each period), in period order. */
  const periodsOf = async (lv: Lateview, view: string) => {
    const counts = new Map<string, number>()
    for (const c of (await lv.realtime(view)).cells) counts.set(c.period, (counts.get(c.period) ?? 0) + c.eventCount)
    return [...counts]
  }

  test.after(async () => {
    await factory.cleanup()
  })

  test(
    '2026-10-25 has 25 hours: events at 00:30 and 23:30 local are in it; its jobs fall due at exact UTC instants',
    fresh(async (lv) => {
      const range = rangeOf(DAILY, '2026-10-25')
      assert.equal([iso(range.start), iso(range.end), (range.end - range.start) / HOUR], ['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 25])
      assert.equal(schedule(DAILY, '2026-10-25'), { flash: '2026-10-25T21:00:00.000Z', consolidate: '2026-10-26T02:00:00.000Z', close: '2026-10-28T02:30:00.000Z' })
      // The day before is in summer time; its consolidation, on the 25th at 03:00, is in winter time.
      assert.equal(schedule(DAILY, '2026-10-24'), { flash: '2026-10-24T20:00:00.000Z', consolidate: '2026-10-25T02:00:00.000Z', close: '2026-10-27T02:30:00.000Z' })

      await lv.ingest(
        [
          sold('e1', 'a', 1, '2026-10-24T23:59:00+02:00', '2026-10-24T22:00:00Z'),
          sold('e2', 'a', 10, '2026-10-25T00:30:00+02:00', '2026-10-24T22:31:00Z'),
          // 02:30 twice: in summer time, then an hour later in winter time.
          sold('e3', 'b', 100, '2026-10-25T02:30:00+02:00', '2026-10-25T00:31:00Z'),
          sold('e4', 'b', 1000, '2026-10-25T02:30:00+01:00', '2026-10-25T01:31:00Z'),
        ],
        { imported: true },
      )
      assert.equal(await lv.jobs.run('flash', { view: DAILY.name, now: at('2026-10-25T20:59:00Z'), trigger: 'cron' }), [])
      assert.equal(summarise(await lv.jobs.run('flash', { view: DAILY.name, now: at('2026-10-25T21:00:00Z'), trigger: 'cron' })), [
        ['flash', DAILY.name, '2026-10-25', 'published', 1, 'flash at cutoff seq 4'],
      ])
      const flash = await lv.report(DAILY.name, '2026-10-25')
      assert.equal([flash.eventCount, flash.completeness, flash.totals], [3, 2 / 3, { measures: { revenue: 1110, orders: 3 }, eventCount: 3 }])
      // What was known at the flash instant is exactly the flash, completeness included.
      assert.equal(figures(await lv.report(DAILY.name, '2026-10-25', { asOf: at('2026-10-25T21:00:00Z') })), figures(flash))

      await lv.ingest([sold('e5', 'c', 10000, '2026-10-25T23:30:00+01:00', '2026-10-25T22:31:00Z'), sold('e6', 'c', 100000, '2026-10-26T00:00:00+01:00', '2026-10-25T23:01:00Z')], { imported: true })
      assert.equal(await periodsOf(lv, DAILY.name), [
        ['2026-10-24', 1],
        ['2026-10-25', 4],
        ['2026-10-26', 1],
      ])
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: DAILY.name, now: at('2026-10-26T01:59:00Z'), trigger: 'cron' })), [
        ['consolidate', DAILY.name, '2026-10-24', 'published', 1, 'consolidated at cutoff seq 6'],
      ])
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: DAILY.name, now: at('2026-10-26T02:00:00Z'), trigger: 'cron' })), [
        ['consolidate', DAILY.name, '2026-10-25', 'published', 2, 'consolidated at cutoff seq 6'],
      ])
      const consolidated = await lv.report(DAILY.name, '2026-10-25')
      assert.equal([consolidated.kind, consolidated.eventCount, consolidated.completeness], ['consolidated', 4, 1])
      assert.equal(consolidated.rows, [
        { dims: { store: 'a' }, measures: { revenue: 10, orders: 1 }, eventCount: 1 },
        { dims: { store: 'b' }, measures: { revenue: 1100, orders: 2 }, eventCount: 2 },
        { dims: { store: 'c' }, measures: { revenue: 10000, orders: 1 }, eventCount: 1 },
      ])
      assert.equal((await lv.report(DAILY.name, '2026-10-24')).totals, { measures: { revenue: 1, orders: 1 }, eventCount: 1 })
      assert.equal((await lv.verifyRevisions()).differences, [])
    }),
  )

  test(
    '2026-03-29 has 23 hours: events at 00:30 and 23:30 local are in it; its jobs fall due at exact UTC instants',
    fresh(async (lv) => {
      const range = rangeOf(DAILY, '2026-03-29')
      assert.equal([iso(range.start), iso(range.end), (range.end - range.start) / HOUR], ['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', 23])
      assert.equal(schedule(DAILY, '2026-03-29'), { flash: '2026-03-29T20:00:00.000Z', consolidate: '2026-03-30T01:00:00.000Z', close: '2026-04-01T01:30:00.000Z' })
      assert.equal(schedule(DAILY, '2026-03-28'), { flash: '2026-03-28T21:00:00.000Z', consolidate: '2026-03-29T01:00:00.000Z', close: '2026-03-31T01:30:00.000Z' })

      await lv.ingest(
        [
          sold('e1', 'a', 1, '2026-03-28T23:59:00+01:00', '2026-03-28T23:00:00Z'),
          sold('e2', 'a', 10, '2026-03-29T00:30:00+01:00', '2026-03-28T23:31:00Z'),
          // The last minute of winter time and the first of summer time: one hour of wall clock apart, one minute of time.
          sold('e3', 'b', 100, '2026-03-29T01:59:00+01:00', '2026-03-29T01:00:00Z'),
          sold('e4', 'b', 1000, '2026-03-29T03:00:00+02:00', '2026-03-29T01:01:00Z'),
        ],
        { imported: true },
      )
      assert.equal(await lv.jobs.run('flash', { view: DAILY.name, now: at('2026-03-29T19:59:00Z'), trigger: 'cron' }), [])
      assert.equal(summarise(await lv.jobs.run('flash', { view: DAILY.name, now: at('2026-03-29T20:00:00Z'), trigger: 'cron' })), [
        ['flash', DAILY.name, '2026-03-29', 'published', 1, 'flash at cutoff seq 4'],
      ])
      assert.equal((await lv.report(DAILY.name, '2026-03-29')).totals, { measures: { revenue: 1110, orders: 3 }, eventCount: 3 })

      await lv.ingest([sold('e5', 'c', 10000, '2026-03-29T23:30:00+02:00', '2026-03-29T21:31:00Z'), sold('e6', 'c', 100000, '2026-03-30T00:00:00+02:00', '2026-03-29T22:01:00Z')], { imported: true })
      assert.equal(await periodsOf(lv, DAILY.name), [
        ['2026-03-28', 1],
        ['2026-03-29', 4],
        ['2026-03-30', 1],
      ])
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: DAILY.name, now: at('2026-03-30T00:59:00Z'), trigger: 'cron' })), [
        ['consolidate', DAILY.name, '2026-03-28', 'published', 1, 'consolidated at cutoff seq 6'],
      ])
      assert.equal(summarise(await lv.jobs.run('consolidate', { view: DAILY.name, now: at('2026-03-30T01:00:00Z'), trigger: 'cron' })), [
        ['consolidate', DAILY.name, '2026-03-29', 'published', 2, 'consolidated at cutoff seq 6'],
      ])
      const consolidated = await lv.report(DAILY.name, '2026-03-29')
      assert.equal([consolidated.kind, consolidated.eventCount, consolidated.totals], ['consolidated', 4, { measures: { revenue: 11110, orders: 4 }, eventCount: 4 }])
      assert.equal((await lv.verifyRevisions()).differences, [])
    }),
  )

  test(
    'hour view: the repeated hour 2026-10-25T02 holds events of both occurrences; the skipped hour 2026-03-29T02 does not exist',
    fresh(async (lv) => {
      const repeated = rangeOf(HOURLY, '2026-10-25T02')
      assert.equal([iso(repeated.start), iso(repeated.end)], ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z'])
      assert.equal([periodKeyOf(at('2026-10-24T23:59:59Z'), ZONE, 'hour'), periodKeyOf(at('2026-10-25T02:00:00Z'), ZONE, 'hour')], ['2026-10-25T01', '2026-10-25T03'])
      assert.equal(schedule(HOURLY, '2026-10-25T02'), { flash: '2026-10-25T21:00:00.000Z', consolidate: '2026-10-26T02:00:00.000Z', close: '2026-10-28T02:30:00.000Z' })
      assert.is(periodRange('2026-03-29T02', ZONE, 'hour'), null)

      await lv.ingest(
        [
          sold('h7', 'a', 0.5, '2026-03-29T01:59:00+01:00', '2026-03-29T01:00:00Z'),
          sold('h8', 'a', 0.25, '2026-03-29T03:00:00+02:00', '2026-03-29T01:01:00Z'),
          sold('h1', 'a', 1, '2026-10-25T01:59:00+02:00', '2026-10-25T00:00:00Z'),
          sold('h2', 'a', 10, '2026-10-25T02:15:00+02:00', '2026-10-25T00:16:00Z'),
          sold('h3', 'b', 100, '2026-10-25T02:45:00+02:00', '2026-10-25T00:46:00Z'),
          sold('h4', 'b', 1000, '2026-10-25T02:15:00+01:00', '2026-10-25T01:16:00Z'),
          sold('h5', 'c', 10000, '2026-10-25T02:59:00+01:00', '2026-10-25T01:59:30Z'),
          sold('h6', 'c', 100000, '2026-10-25T03:00:00+01:00', '2026-10-25T03:01:00Z'),
        ],
        { imported: true },
      )
      assert.equal(await periodsOf(lv, HOURLY.name), [
        ['2026-03-29T01', 1],
        ['2026-03-29T03', 1],
        ['2026-10-25T01', 1],
        ['2026-10-25T02', 4],
        ['2026-10-25T03', 1],
      ])
      // Published at the repeated hour's flash time: all four events, both occurrences.
      assert.equal(summarise(await lv.jobs.run('flash', { view: HOURLY.name, now: at('2026-10-25T21:00:00Z'), trigger: 'cron' })), [
        ['flash', HOURLY.name, '2026-10-25T01', 'published', 1, 'flash at cutoff seq 8'],
        ['flash', HOURLY.name, '2026-10-25T02', 'published', 1, 'flash at cutoff seq 8'],
        ['flash', HOURLY.name, '2026-10-25T03', 'published', 1, 'flash at cutoff seq 8'],
      ])
      const report = await lv.report(HOURLY.name, '2026-10-25T02')
      assert.equal(report.rows, [
        { dims: { store: 'a' }, measures: { revenue: 10, orders: 1 }, eventCount: 1 },
        { dims: { store: 'b' }, measures: { revenue: 1100, orders: 2 }, eventCount: 2 },
        { dims: { store: 'c' }, measures: { revenue: 10000, orders: 1 }, eventCount: 1 },
      ])
      assert.equal([report.eventCount, report.lateEventCount, report.completeness], [4, 0, 1])
      // h6 arrived a minute after its hour (03:00 to 04:00 winter time) had ended.
      assert.equal((await lv.report(HOURLY.name, '2026-10-25T03')).lateEventCount, 1)
      await rejection(() => lv.report(HOURLY.name, '2026-03-29T02'), 'LV_ERR_PERIOD_MALFORMED')
      await rejection(() => lv.jobs.run('flash', { view: HOURLY.name, period: '2026-03-29T02', now: at('2026-03-29T21:00:00Z'), trigger: 'manual' }), 'LV_ERR_PERIOD_MALFORMED')
      assert.equal((await lv.verifyRevisions()).differences, [])
    }),
  )

  test.run()
}
