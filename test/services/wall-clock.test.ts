/**
 * Periods are keyed by the local wall clock on every path: ingest and Realtime (however events
 * are batched), revisions, as-of reads and jobs, in zones whose offsets and shifts are not whole
 * hours; and an instant is kept to the millisecond, its fraction truncated, so it never moves into
 * the next period and every spelling of it is the same event.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import { getEvent } from '../../src/store/events.js'
import { engines } from '../helpers/engines.js'
import { at } from '../helpers/ingest-fixtures.js'
import { summarise } from '../helpers/lifecycle.js'

/** Pacific/Chatham: +13:45 in summer, +12:45 in winter; clocks go back at 03:45 on 2026-04-05 and forward at 02:45 on 2026-09-27. */
const CHATHAM = parseViewDefinition(
  { name: 'chatham', eventTypes: ['reading'], timezone: 'Pacific/Chatham', granularity: 'hour', dimensions: [], measures: { n: { count: true }, v: { sum: 'value', decimals: 0 } } },
  'chatham.json',
)
const DAYS = parseViewDefinition({ name: 'days', eventTypes: ['reading'], timezone: 'UTC', granularity: 'day', dimensions: [], measures: { n: { count: true } } }, 'days.json')

const reading = (id: string, occurredAt: string, value = 1) => ({ id, source: 'probe', type: 'reading', occurredAt, data: { value }, receivedAt: '2026-10-01T00:00:00Z' })

// 2026-04-05 local 02:50 happens twice: at +13:45 (13:05Z on 04-04) and at +12:45 (14:05Z); 03:10 +13:45 (13:25Z) lies between.
const FALL_BACK = [reading('first-0250', '2026-04-05T02:50:00+13:45', 1), reading('between-0310', '2026-04-05T03:10:00+13:45', 10), reading('second-0250', '2026-04-05T02:50:00+12:45', 100)]

for (const factory of await engines()) {
  const test = suite(`services/wall-clock periods (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  const fresh = (body: (lv: Lateview, clock: ManualClock) => Promise<void>) => async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(at('2026-10-01T00:00:00Z'))
      await body(await Lateview.fromEngine(engine, [CHATHAM, DAYS], clock), clock)
    } finally {
      await engine.close()
    }
  }
  const cells = async (lv: Lateview) => (await lv.realtime('chatham', { from: '2026-04-05T02', to: '2026-04-05T03' })).cells.map((c) => [c.period, c.measures.v, c.eventCount])

  for (const [label, batches] of [
    ['one batch', [FALL_BACK]],
    ['one event per batch', FALL_BACK.map((e) => [e])],
    ['the later hour first', [[FALL_BACK[1], FALL_BACK[2]], [FALL_BACK[0]]]],
  ] as const) {
    test(
      `Chatham, clocks going back: both 02:50s count in hour 02 and 03:10 in hour 03 (${label})`,
      fresh(async (lv) => {
        for (const batch of batches) await lv.ingest([...batch], { imported: true })
        assert.equal(await cells(lv), [
          ['2026-04-05T02', 101, 2],
          ['2026-04-05T03', 10, 1],
        ])
        // Revisions and as-of reads bucket the same way, and verify agrees.
        assert.equal(summarise(await lv.jobs.run('consolidate', { view: 'chatham', period: '2026-04-05T02', now: at('2026-10-01T00:00:00Z'), trigger: 'manual' })), [
          ['consolidate', 'chatham', '2026-04-05T02', 'published', 1, 'consolidated at cutoff seq 3'],
        ])
        const revision = await lv.report('chatham', '2026-04-05T02')
        assert.equal([revision.rows, revision.eventCount], [[{ dims: {}, measures: { n: 2, v: 101 }, eventCount: 2 }], 2])
        const asOf = await lv.report('chatham', '2026-04-05T03', { asOf: at('2026-10-01T00:00:00Z') })
        assert.equal(asOf.rows, [{ dims: {}, measures: { n: 1, v: 10 }, eventCount: 1 }])
        const { realtime, revisions } = await lv.verifyStore()
        assert.equal([realtime.differences, revisions.differences], [[], []])
      }),
    )
  }

  test(
    'Chatham, clocks going forward: the 15-minute hour 03 and the 45-minute hour 02 are periods every path can read',
    fresh(async (lv) => {
      await lv.ingest([reading('a', '2026-09-27T02:40:00+12:45', 1), reading('b', '2026-09-27T03:50:00+13:45', 2), reading('c', '2026-09-27T04:00:00+13:45', 4)], { imported: true })
      assert.equal(
        (await lv.realtime('chatham', { from: '2026-09-27T02', to: '2026-09-27T04' })).cells.map((c) => [c.period, c.measures.v]),
        [
          ['2026-09-27T02', 1],
          ['2026-09-27T03', 2],
          ['2026-09-27T04', 4],
        ],
      )
      for (const job of ['flash', 'consolidate', 'close'] as const) {
        const [run] = await lv.jobs.run(job, { view: 'chatham', period: '2026-09-27T03', now: at('2026-10-01T00:00:00Z'), trigger: 'manual' })
        assert.ok(run && run.outcome !== 'failed', JSON.stringify(run))
      }
      const final = await lv.report('chatham', '2026-09-27T03')
      assert.equal([final.status, final.rows], ['final', [{ dims: {}, measures: { n: 1, v: 2 }, eventCount: 1 }]])
      assert.equal((await lv.report('chatham', '2026-09-27T03', { asOf: at('2026-10-01T00:00:00Z') })).rows, final.rows)
    }),
  )

  test(
    'a fraction beyond the millisecond is truncated: 23:59:59.999999999 counts on its own day, and every spelling is the same event',
    fresh(async (lv) => {
      const spelled = (occurredAt: string) => ({ id: 'edge', source: 'probe', type: 'reading', occurredAt, data: { value: 1 }, receivedAt: '2026-10-01T00:00:00Z' })
      const first = await lv.ingest([spelled('2026-05-31T23:59:59.999999999+0000')], { imported: true })
      assert.is(first.accepted, 1)
      assert.equal(
        (await lv.realtime('days')).cells.map((c) => c.period),
        ['2026-05-31'],
      )
      for (const spelling of ['2026-05-31T23:59:59.999+00:00', '2026-05-31T23:59:59.9999Z', '2026-06-01T09:44:59.999999+09:45', '2026-05-31t23:59:59.999z', '2026-05-31T23:59:59.999+00']) {
        const again = await lv.ingest([spelled(spelling)], { imported: true })
        assert.equal([again.accepted, again.duplicates], [0, 1], spelling)
      }
      assert.is(new Date((await getEvent(lv.engine.db, 'probe', 'edge'))?.occurredAt as number).toISOString(), '2026-05-31T23:59:59.999Z')
    }),
  )

  test.run()
}
