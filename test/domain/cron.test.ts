/**
 * One reading of cron: the scheduler of `serve` (node-cron ticking, CronSchedule deciding) and
 * the demo and replays (CronSchedule on simulated minutes) ask the same object the same
 * question, so the expressions below are tested once for both. node-cron 4.2.1 read `1-7` as
 * Mondays and Sundays and `SAT-SUN` as every day; lateview's own matcher refused `MON-SUN`.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CronSchedule, cronIsValid } from '../../src/domain/cron.js'
import { parseViewDefinition } from '../../src/domain/view.js'

const test = suite('cron')
const MINUTE = 60_000
const DAY = 86_400_000

/** The instants (ISO, UTC) at which `expression` fires in [from, from + span), minute by minute as a replay steps. */
function firings(expression: string, zone: string, from: string, spanMs: number): string[] {
  const cron = new CronSchedule(expression, zone)
  const out: string[] = []
  const start = Date.parse(from)
  for (let t = start; t < start + spanMs; t += MINUTE) if (cron.firesInMinute(t)) out.push(new Date(t).toISOString())
  return out
}

/** The weekdays (UTC, of a week from Monday 2026-11-30) on which a midnight-UTC expression fires. */
function weekdays(expression: string): string[] {
  const names = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
  return firings(expression, 'UTC', '2026-11-30T00:00:00Z', 7 * DAY).map((iso) => names[Math.floor((Date.parse(iso) - Date.parse('2026-11-30T00:00:00Z')) / DAY)] as string)
}

test('day-of-week names and ranges: MON-SUN and 1-7 are every day, SAT-SUN the weekend, 0 and 7 Sunday', () => {
  const every = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
  assert.equal(weekdays('0 0 * * MON-SUN'), every)
  assert.equal(weekdays('0 0 * * 1-7'), every)
  assert.equal(weekdays('0 0 * * 0-6'), every)
  assert.equal(weekdays('0 0 * * SAT-SUN'), ['Sat', 'Sun'])
  assert.equal(weekdays('0 0 * * MON-FRI'), ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'])
  assert.equal(weekdays('0 0 * * 0'), ['Sun'])
  assert.equal(weekdays('0 0 * * 7'), ['Sun'])
  assert.equal(weekdays('0 0 * * MON,WED,FRI'), ['Mon', 'Wed', 'Fri'])
})

test('*/15 * * * MON-SUN fires 96 times a day, on the quarter hours', () => {
  const day = firings('*/15 * * * MON-SUN', 'Asia/Taipei', '2026-11-24T16:00:00Z', DAY)
  assert.is(day.length, 96)
  assert.equal(day.slice(0, 3), ['2026-11-24T16:00:00.000Z', '2026-11-24T16:15:00.000Z', '2026-11-24T16:30:00.000Z'])
})

test('in the view time zone, across a change of clocks: 22:00 Berlin is 21:00Z in winter and 20:00Z in summer; 02:30 does not exist on the day clocks go forward, and happens twice when they go back', () => {
  assert.equal(firings('0 22 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', 2 * DAY), ['2026-03-28T21:00:00.000Z', '2026-03-29T20:00:00.000Z'])
  assert.equal(firings('30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', 2 * DAY), ['2026-03-28T01:30:00.000Z'])
  assert.equal(firings('30 2 * * *', 'Europe/Berlin', '2026-10-25T00:00:00Z', DAY), ['2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z'])
})

test('a seconds field: the scheduler ticks every second; a replay minute fires when any of its seconds does, the same answer second by second', () => {
  const cron = new CronSchedule('30 */10 * * * *', 'UTC')
  assert.is(cron.tick, '* * * * * *')
  assert.is(new CronSchedule('*/10 * * * *', 'UTC').tick, '* * * * *')
  assert.ok(cron.firesAt(Date.parse('2026-11-25T10:20:30.400Z')))
  assert.not.ok(cron.firesAt(Date.parse('2026-11-25T10:20:00Z')))
  assert.ok(cron.firesInMinute(Date.parse('2026-11-25T10:20:00Z')))
  assert.not.ok(cron.firesInMinute(Date.parse('2026-11-25T10:21:00Z')))
  // Every minute of a day, the minute question agrees with the seconds the scheduler would tick.
  const start = Date.parse('2026-11-25T00:00:00Z')
  for (let t = start; t < start + DAY; t += MINUTE) {
    let any = false
    for (let s = 0; s < 60; s++) any ||= cron.firesAt(t + s * 1000)
    assert.is(cron.firesInMinute(t), any)
  }
})

test('a five-field expression: the scheduler tick at second 0 of a minute and the replay minute agree, over a day in three zones', () => {
  for (const zone of ['UTC', 'Europe/Berlin', 'America/New_York']) {
    for (const expression of ['*/15 * * * MON-SUN', '0 22 * * *', '5,35 8-18 * * MON,WED,FRI', '0 0 L * *', '*/7 * * * *']) {
      const cron = new CronSchedule(expression, zone)
      const start = Date.parse('2026-11-30T00:00:00Z')
      for (let t = start; t < start + DAY; t += MINUTE) assert.is(cron.firesAt(t + 250), cron.firesInMinute(t), `${expression} ${zone} ${new Date(t).toISOString()}`)
    }
  }
})

test('what a view file may hold: the same grammar validates', () => {
  for (const ok of ['*/15 * * * MON-SUN', '0 22 * * *', '0 0 1 JAN,JUL *', '30 */10 * * * *', '0 3 L * *']) assert.ok(cronIsValid(ok), ok)
  for (const bad of ['', 'every 15 minutes', '61 * * * *', '* * * *', '0 25 * * *', '0 0 * * FUNDAY', '* * * * * * *']) assert.not.ok(cronIsValid(bad), bad)
  const view = (every: string) =>
    parseViewDefinition(
      {
        name: 'v',
        eventTypes: ['sale'],
        timezone: 'UTC',
        granularity: 'day',
        dimensions: [],
        measures: { n: { count: true } },
        rebuild: { every, windowDays: 7 },
      },
      'v.json',
    )
  assert.is(view('*/15 * * * MON-SUN').rebuild?.every, '*/15 * * * MON-SUN')
  assert.throws(() => view('61 * * * *'), /rebuild\.every/)
})

test.run()
