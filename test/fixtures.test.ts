import { createHash } from 'node:crypto'
import { DateTime } from 'luxon'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseEvent } from '../src/domain/event.js'
import {
  DEFAULT_FIXTURE_OPTIONS,
  FIXTURE_KINDS,
  FIXTURE_VIEWS,
  fixtureCounts,
  fixtureLines,
  generateFixture,
  resolveFixtureOptions,
  type FixtureEvent,
  type FixtureKind,
} from '../fixtures/generate.js'
import { Random } from '../fixtures/random.js'

const SECOND = 1000
const HOUR = 3_600_000
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

const ms = (iso: string): number => DateTime.fromISO(iso, { setZone: true }).toMillis()
const key = (e: FixtureEvent): string => `${e.source}\u0000${e.id}`
const body = (e: FixtureEvent): string => JSON.stringify({ type: e.type, occurredAt: e.occurredAt, data: e.data, retracts: e.retracts })

/** Splits a fixture into its roles, reading them off the events alone (ids, `retracts`, repeats). */
function roles(events: readonly FixtureEvent[]) {
  const seen = new Map<string, FixtureEvent>()
  const base: FixtureEvent[] = []
  const duplicates: Array<{ original: FixtureEvent; copy: FixtureEvent }> = []
  const retractions: FixtureEvent[] = []
  const corrections: FixtureEvent[] = []
  for (const e of events) {
    const earlier = seen.get(key(e))
    if (earlier) duplicates.push({ original: earlier, copy: e })
    else if (e.retracts !== undefined) retractions.push(e)
    else if (e.id.endsWith('-fix')) corrections.push(e)
    else base.push(e)
    if (!earlier) seen.set(key(e), e)
  }
  return { base, duplicates, retractions, corrections }
}

const small = { days: 2, events: 500 }
const fixtures = {
  retail: generateFixture('retail'),
  lab: generateFixture('lab'),
  retailSmall: generateFixture('retail', small),
  labSmall: generateFixture('lab', small),
}
const byKind = (kind: FixtureKind): FixtureEvent[] => fixtures[kind]

test('fixtures: same seed and options give the same output byte for byte', () => {
  for (const kind of FIXTURE_KINDS) {
    assert.is(JSON.stringify(generateFixture(kind)), JSON.stringify(byKind(kind)), kind)
    assert.is(JSON.stringify(generateFixture(kind, { seed: 42, days: 3 })), JSON.stringify(byKind(kind)), `${kind} with explicit defaults`)
  }
})

test('fixtures: a different seed gives a different output of the same size', () => {
  for (const kind of FIXTURE_KINDS) {
    const other = generateFixture(kind, { seed: 43 })
    assert.is(other.length, byKind(kind).length, kind)
    assert.is.not(JSON.stringify(other), JSON.stringify(byKind(kind)), kind)
  }
})

test('fixtures: the output is pinned, so figures other tests and the demo rely on stay put', () => {
  // Changing the generator on purpose means updating these hashes (and the figures built on them).
  const sha = (kind: FixtureKind): string =>
    createHash('sha256')
      .update([...fixtureLines(kind, { days: 1, events: 200 })].join('\n'))
      .digest('hex')
      .slice(0, 16)
  assert.equal({ retail: sha('retail'), lab: sha('lab') }, { retail: '34d27914971861e0', lab: 'ffe37413af028cec' })
})

test('fixtures: fixtureLines yields one JSON line per event, in the same order', () => {
  const lines = [...fixtureLines('retail', small)]
  assert.equal(
    lines,
    fixtures.retailSmall.map((e) => JSON.stringify(e)),
  )
  assert.ok(lines.every((line) => !line.includes('\n')))
})

test('fixtures: exact counts with { days: 2, events: 500 }', () => {
  assert.equal(fixtureCounts('retail', small), { base: 1000, duplicates: 5, retractions: 3, corrections: 2, total: 1010 })
  assert.equal(fixtureCounts('lab', small), { base: 1000, duplicates: 4, retractions: 2, corrections: 1, total: 1007 })
  for (const [kind, events] of [
    ['retail', fixtures.retailSmall],
    ['lab', fixtures.labSmall],
  ] as const) {
    const r = roles(events)
    const counts = fixtureCounts(kind, small)
    assert.is(events.length, counts.total, kind)
    assert.equal([r.base.length, r.duplicates.length, r.retractions.length, r.corrections.length], [1000, counts.duplicates, counts.retractions, counts.corrections], kind)
  }
})

test('fixtures: exact counts with the defaults (3 days of 2000)', () => {
  assert.equal(fixtureCounts('retail'), { base: 6000, duplicates: 30, retractions: 18, corrections: 9, total: 6057 })
  assert.equal(fixtureCounts('lab'), { base: 6000, duplicates: 24, retractions: 12, corrections: 6, total: 6042 })
  for (const kind of FIXTURE_KINDS) assert.is(byKind(kind).length, fixtureCounts(kind).total, kind)
})

test('fixtures: each requested day holds exactly `events` base events, in the view zone', () => {
  for (const kind of FIXTURE_KINDS) {
    const zone = FIXTURE_VIEWS[kind].timezone
    const perDay = new Map<string, number>()
    for (const e of roles(byKind(kind)).base) {
      const day = DateTime.fromMillis(ms(e.occurredAt), { zone }).toISODate() ?? ''
      perDay.set(day, (perDay.get(day) ?? 0) + 1)
    }
    assert.equal(Object.fromEntries(perDay), { '2026-11-02': 2000, '2026-11-03': 2000, '2026-11-04': 2000 }, kind)
  }
})

test('fixtures: every occurredAt falls on a requested day in the view zone, with that zone offset', () => {
  for (const kind of FIXTURE_KINDS) {
    const zone = FIXTURE_VIEWS[kind].timezone
    for (const e of byKind(kind)) {
      assert.match(e.occurredAt, ISO_WITH_OFFSET)
      assert.match(e.receivedAt, ISO_UTC)
      const local = DateTime.fromMillis(ms(e.occurredAt), { zone })
      assert.is(local.toISO(), e.occurredAt, `${kind} ${e.id}`)
      assert.ok(['2026-11-02', '2026-11-03', '2026-11-04'].includes(local.toISODate() ?? ''), `${kind} ${e.id} on ${local.toISODate()}`)
    }
  }
})

test('fixtures: days across a DST change keep to their own 23 or 25 hours', () => {
  // Europe/Berlin falls back on 2026-10-25 and springs forward on 2026-03-29.
  for (const start of ['2026-10-24', '2026-03-28']) {
    const events = generateFixture('lab', { start, days: 3, events: 300 })
    const days = new Map<string, number>()
    for (const e of roles(events).base) {
      const local = DateTime.fromMillis(ms(e.occurredAt), { zone: 'Europe/Berlin' })
      assert.is(local.toISO(), e.occurredAt)
      days.set(local.toISODate() ?? '', (days.get(local.toISODate() ?? '') ?? 0) + 1)
    }
    assert.equal([...days.values()], [300, 300, 300], start)
    assert.is(days.size, 3, start)
  }
})

test('fixtures: events are sorted by receivedAt, ties by source then id', () => {
  for (const events of Object.values(fixtures)) {
    for (let i = 1; i < events.length; i++) {
      const a = events[i - 1] as FixtureEvent
      const b = events[i] as FixtureEvent
      const order = ms(a.receivedAt) - ms(b.receivedAt) || (a.source < b.source ? -1 : a.source > b.source ? 1 : a.id < b.id ? -1 : 1)
      assert.ok(order < 0, `${a.id} before ${b.id}`)
    }
  }
})

test('fixtures: no receivedAt is earlier than its occurredAt', () => {
  for (const events of Object.values(fixtures)) {
    for (const e of events) assert.ok(ms(e.receivedAt) >= ms(e.occurredAt), `${e.source}/${e.id}`)
  }
})

test('fixtures: ids are unique per source, except the duplicates, which repeat once', () => {
  for (const events of Object.values(fixtures)) {
    const times = new Map<string, number>()
    for (const e of events) times.set(key(e), (times.get(key(e)) ?? 0) + 1)
    const repeated = [...times.values()].filter((n) => n > 1)
    assert.ok(repeated.every((n) => n === 2))
    assert.is(repeated.length, roles(events).duplicates.length)
  }
})

test('fixtures: duplicates have the identical body and arrive later', () => {
  for (const kind of FIXTURE_KINDS) {
    const { duplicates } = roles(byKind(kind))
    assert.is(duplicates.length, fixtureCounts(kind).duplicates)
    for (const { original, copy } of duplicates) {
      assert.is(body(copy), body(original))
      assert.is(copy.source, original.source)
      assert.ok(ms(copy.receivedAt) > ms(original.receivedAt))
    }
  }
})

test('fixtures: every retraction follows its target of the same source, which is retracted once', () => {
  for (const kind of FIXTURE_KINDS) {
    const events = byKind(kind)
    const position = new Map(events.map((e, i) => [key(e), i] as const))
    const { retractions, duplicates } = roles(events)
    const duplicated = new Set(duplicates.map((d) => key(d.original)))
    const targets = new Set<string>()
    for (const r of retractions) {
      const targetKey = `${r.source}\u0000${r.retracts}`
      const targetAt = position.get(targetKey)
      assert.ok(targetAt !== undefined, `${r.id}: target exists`)
      const target = events[targetAt ?? -1] as FixtureEvent
      assert.ok((targetAt ?? Infinity) < (position.get(key(r)) ?? -1), `${r.id}: target comes first`)
      assert.ok(ms(target.receivedAt) < ms(r.receivedAt))
      assert.is(r.id, `${target.id}-void`)
      assert.is(r.type, target.type)
      assert.is(r.occurredAt, target.occurredAt)
      assert.equal(r.data, {})
      assert.is(target.retracts, undefined, 'a retraction is never retracted')
      assert.not.ok(targets.has(targetKey), 'retracted once')
      assert.not.ok(duplicated.has(targetKey), 'a retracted event is not also re-sent')
      targets.add(targetKey)
    }
  }
})

test('fixtures: corrections re-post a retracted event after its retraction, with other figures', () => {
  for (const kind of FIXTURE_KINDS) {
    const events = byKind(kind)
    const byKey = new Map(events.map((e, i) => [key(e), { e, i }] as const))
    const { corrections } = roles(events)
    assert.is(corrections.length, fixtureCounts(kind).corrections)
    for (const fix of corrections) {
      const originalId = fix.id.slice(0, -'-fix'.length)
      const original = byKey.get(`${fix.source}\u0000${originalId}`)
      const retraction = byKey.get(`${fix.source}\u0000${originalId}-void`)
      const at = byKey.get(key(fix))?.i ?? -1
      assert.ok(original && retraction, fix.id)
      assert.ok((retraction?.i ?? Infinity) < at, `${fix.id} after its retraction`)
      assert.is(fix.type, original?.e.type)
      assert.is(fix.occurredAt, original?.e.occurredAt)
      if (kind === 'retail') {
        assert.is.not(fix.data.amount, original?.e.data.amount)
        assert.equal({ ...fix.data, amount: 0 }, { ...original?.e.data, amount: 0 })
      } else {
        assert.is(fix.data.positive, original?.e.data.positive === 1 ? 0 : 1)
      }
    }
  }
})

test('fixtures: every event passes lateview validation as an admin import', () => {
  for (const events of Object.values(fixtures)) {
    events.forEach((e, i) => {
      const parsed = parseEvent(JSON.parse(JSON.stringify(e)), i, true)
      assert.ok(parsed.ok, `${e.source}/${e.id}: ${parsed.ok ? '' : JSON.stringify(parsed.problems)}`)
    })
  }
})

test('fixtures: retail data, sources and ids fit daily_revenue', () => {
  const { base } = roles(fixtures.retail)
  for (const e of fixtures.retail) {
    assert.ok(['sale', 'refund'].includes(e.type))
    assert.match(e.source, /^(store-(00[1-9]|01[0-2])|online-(web|app))$/)
    if (e.retracts !== undefined) continue
    const { store, channel, amount } = e.data
    assert.equal(Object.keys(e.data), ['store', 'channel', 'amount'])
    assert.ok(typeof amount === 'number' && amount > 0 && Math.round(amount * 100) / 100 === amount, `amount ${amount}`)
    if (e.source.startsWith('store-')) assert.equal([store, channel], [e.source.slice(6), 'pos'])
    else assert.equal([store, channel], ['web', e.source.slice(7)])
  }
  for (const e of base) assert.match(e.id, e.type === 'refund' ? /^r-\d{8}-\d{6}$/ : /^s-\d{8}-\d{6}$/)
  const online = base.filter((e) => e.source.startsWith('online-')).length / base.length
  const refunds = base.filter((e) => e.type === 'refund').length / base.length
  assert.ok(online > 0.32 && online < 0.38, `online share ${online}`)
  assert.ok(refunds > 0.02 && refunds < 0.04, `refund share ${refunds}`)
})

test('fixtures: online events arrive 1 to 30 s after they occur, around the clock', () => {
  const online = roles(fixtures.retail).base.filter((e) => e.source.startsWith('online-'))
  const hours = new Set<number>()
  for (const e of online) {
    const lag = ms(e.receivedAt) - ms(e.occurredAt)
    assert.ok(lag >= 1 * SECOND && lag <= 30 * SECOND, `${e.id} lag ${lag}`)
    hours.add(DateTime.fromISO(e.occurredAt, { setZone: true }).hour)
  }
  assert.is(hours.size, 24)
})

test('fixtures: shop sales happen in opening hours and arrive as one nightly batch per store and day', () => {
  const zone = FIXTURE_VIEWS.retail.timezone
  const batches = new Map<string, number[]>()
  for (const e of roles(fixtures.retail).base.filter((x) => x.source.startsWith('store-'))) {
    const occurred = DateTime.fromMillis(ms(e.occurredAt), { zone })
    const received = DateTime.fromMillis(ms(e.receivedAt), { zone })
    assert.ok(occurred.hour >= 10 && occurred.hour < 22, `${e.id} at ${e.occurredAt}`)
    assert.ok(received.hour >= 1 && received.hour < 5, `${e.id} uploaded at ${received.toISO()}`)
    const daysLate = received.startOf('day').diff(occurred.startOf('day'), 'days').days
    const late = e.source === 'store-011' || e.source === 'store-012'
    assert.ok(late ? daysLate >= 2 && daysLate <= 4 : daysLate === 1 || daysLate === 2, `${e.source} ${daysLate} days late`)
    const batch = `${e.source} ${occurred.toISODate()}`
    batches.set(batch, [...(batches.get(batch) ?? []), ms(e.receivedAt)])
  }
  assert.is(batches.size, 12 * 3)
  for (const [batch, times] of batches) {
    const span = Math.max(...times) - Math.min(...times)
    assert.ok(span < 5 * 60 * SECOND, `${batch} spans ${span} ms`)
  }
})

test('fixtures: lab data, sources and lags fit daily_positive_tests', () => {
  const { base } = roles(fixtures.lab)
  const labs = new Set<string>()
  let withinTwoDays = 0
  for (const e of fixtures.lab) {
    assert.is(e.type, 'test_result')
    if (e.retracts !== undefined) continue
    const { lab, region, positive } = e.data
    assert.equal(Object.keys(e.data), ['lab', 'region', 'positive'])
    assert.is(e.source, `lab-${String(lab)}`)
    assert.ok(['north', 'south', 'west', 'east'].includes(String(region)))
    assert.ok(positive === 0 || positive === 1)
    labs.add(e.source)
  }
  for (const e of base) {
    assert.match(e.id, /^t-\d{8}-\d{6}$/)
    const lag = ms(e.receivedAt) - ms(e.occurredAt)
    assert.ok(lag >= 2 * HOUR && lag <= 5 * 24 * HOUR, `${e.id} lag ${lag}`)
    if (lag <= 48 * HOUR) withinTwoDays++
  }
  assert.equal([...labs].sort(), ['lab-berlin', 'lab-cologne', 'lab-hamburg', 'lab-leipzig', 'lab-munich'])
  const positives = base.filter((e) => e.data.positive === 1).length / base.length
  assert.ok(positives >= 0.08 && positives <= 0.15, `positivity ${positives}`)
  assert.ok(withinTwoDays / base.length > 0.7, `within two days ${withinTwoDays / base.length}`)
})

test('fixtures: options are validated, and undefined means the default', () => {
  assert.equal(resolveFixtureOptions({ days: undefined, seed: 7 }), { ...DEFAULT_FIXTURE_OPTIONS, seed: 7 })
  for (const bad of [{ days: 0 }, { days: 1.5 }, { events: -1 }, { seed: 0.5 }, { start: '2026-02-30' }, { start: '2026-1-2' }]) {
    assert.throws(
      () => generateFixture('retail', bad),
      (e: unknown) => e instanceof RangeError,
      JSON.stringify(bad),
    )
  }
  assert.equal(generateFixture('lab', { events: 0 }), [])
})

test('random: a seed gives one sequence; helpers stay in range', () => {
  const a = new Random(42)
  const b = new Random(42)
  const xs = Array.from({ length: 5 }, () => a.uint32())
  assert.equal(
    xs,
    Array.from({ length: 5 }, () => b.uint32()),
  )
  assert.is.not(new Random(43).uint32(), xs[0])
  assert.is.not(new Random(42).derive('x').uint32(), new Random(42).derive('y').uint32())
  const r = new Random(1)
  const ints = new Set<number>()
  for (let i = 0; i < 2000; i++) {
    const n = r.int(-2, 2)
    assert.ok(Number.isInteger(n) && n >= -2 && n <= 2)
    ints.add(n)
    const f = r.next()
    assert.ok(f >= 0 && f < 1)
  }
  assert.is(ints.size, 5)
  const sample = r.sample(10, 10)
  assert.equal(sample, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  const some = r.sample(1000, 50)
  assert.is(new Set(some).size, 50)
  assert.is(
    r.weighted([
      ['never', 0],
      ['always', 1],
    ] as const),
    'always',
  )
  let sum = 0
  for (let i = 0; i < 10_000; i++) sum += r.gaussian(10, 2)
  assert.ok(Math.abs(sum / 10_000 - 10) < 0.1)
})

test.run()
