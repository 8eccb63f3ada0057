/**
 * The lag sketch behind GET /v1/sources (store/sources.ts, migration 0008): its buckets, what
 * migration 0008 builds from stored events against what ingest keeps, and a property holding the
 * figures of any window to a direct computation from the events.
 */
import BetterSqlite3 from 'better-sqlite3'
import fc from 'fast-check'
import { Kysely, Migrator, sql, SqliteDialect } from 'kysely'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { ingest } from '../../src/services/ingest.js'
import { sourceLateness, type SourceLateness } from '../../src/services/sources.js'
import { eventRow, openEngine, type AppendedEvent, type Engine } from '../../src/store/engine.js'
import { migrations } from '../../src/store/migrations.js'
import { CurrentSchemaPostgresDialect } from '../../src/store/postgres/introspector.js'
import type { Schema } from '../../src/store/schema.js'
import { countBuckets, HOUR_MS, lagBucket, lagBucketCeiling, MAX_PARTS, sumBuckets } from '../../src/store/sources.js'
import { engines } from '../helpers/engines.js'
import { storeLocations, type StoreLocation } from '../helpers/store-locations.js'

const NUM_RUNS = Number(process.env.LATEVIEW_PROPERTY_RUNS ?? 25)
const MIN = 60_000
const DAY = 86_400_000
/** occurredAt may lie this far after receivedAt (producer clock skew): the most negative lag. */
const SKEW = 5 * MIN
const T0 = Date.parse('2026-11-26T00:00:00Z')

/** Lags on and around the edges of buckets: 2^k - 1, 2^k and 2^k + 1, both signs. */
function edgeLags(maxBits: number): number[] {
  const lags = [0, 1, 2, 127, 128, 129, 254, 255, 256, 257, 258, 383, 384, 1000, 60_000, 86_400_000]
  for (let k = 9; k <= maxBits; k++) lags.push(2 ** k - 1, 2 ** k, 2 ** k + 1)
  return [...lags, ...lags.filter((l) => l > 0 && l <= SKEW).map((l) => -l)]
}

/** A lag's bucket and the largest lag that bucket holds. */
function bucketOf(lag: number): { bucket: number; ceiling: number } {
  const bucket = lagBucket(lag)
  return { bucket, ceiling: lagBucketCeiling(bucket) }
}

// Before any suite runs: uvu starts running the suites queued so far at its first turn of the event loop.
const factories = await engines()
const locations = await storeLocations()

const buckets = suite('store/sources: lag buckets')

buckets('below 256 ms every lag is its own bucket; above, a bucket is narrower than 1/128 of any lag in it', () => {
  for (let lag = -300; lag <= 300; lag++) {
    if (Math.abs(lag) < 256) assert.equal(bucketOf(lag), { bucket: lag, ceiling: lag })
  }
  // [2^e, 2^(e+1)) is cut into 128 buckets of 2^(e-7): 256 and 257 share one, 258 starts the next.
  assert.equal([256, 257, 258, 511, 512, 515, 516].map(lagBucket), [256, 256, 257, 383, 384, 384, 385])
  assert.equal([256, 257, 383, 384].map(lagBucketCeiling), [257, 259, 511, 515])
  assert.equal(
    [-256, -257, -258, -515].map((l) => bucketOf(l)),
    [
      { bucket: -256, ceiling: -256 },
      { bucket: -256, ceiling: -256 },
      { bucket: -257, ceiling: -258 },
      { bucket: -384, ceiling: -512 },
    ],
  )
  // One hour: 3,600,000 in [2^21, 2^22), buckets of 2^14 = 16,384 ms: [3,588,096, 3,604,479].
  assert.equal(bucketOf(3_600_000), { bucket: 14 * 128 + 219, ceiling: 3_604_479 })
  for (const lag of edgeLags(52)) {
    const { bucket, ceiling } = bucketOf(lag)
    assert.ok(ceiling >= lag && ceiling - lag < Math.max(1, Math.abs(lag) / 128), `lag ${lag}: ceiling ${ceiling}`)
    assert.is(lagBucket(ceiling), bucket, `lag ${lag}: its ceiling ${ceiling} is in another bucket`)
    assert.is(lagBucket(ceiling + 1), bucket + 1, `lag ${lag}: ${ceiling + 1} is not in the next bucket`)
  }
})

buckets('buckets order as lags do, and a ceiling is less than 1/128 of the lag above it (property)', () => {
  const lag = fc.oneof(fc.integer({ min: -SKEW, max: 1000 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 52 }), fc.constantFrom(...edgeLags(52)))
  fc.assert(
    fc.property(lag, lag, (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a]
      if (lagBucket(lo) > lagBucket(hi)) return false
      const ceiling = lagBucketCeiling(lagBucket(a))
      return ceiling >= a && (Math.abs(a) < 256 ? ceiling === a : ceiling - a < Math.abs(a) / 128)
    }),
    { numRuns: 2000 },
  )
})

buckets('a batch counts its buckets once each, whatever their range', () => {
  assert.equal(countBuckets([]), [])
  assert.equal(countBuckets([300, -5, 300, 0, -5, 300]), [300, 3, -5, 2, 0, 1])
  // Counting leaves nothing behind for the next batch.
  assert.equal(countBuckets([300]), [300, 1])
  // Beyond any lag two instants can be apart: counted all the same.
  assert.equal(countBuckets([9000, 1, 9000, -9000]), [-9000, 1, 1, 1, 9000, 2])
  assert.equal(countBuckets([1]), [1, 1])
})

buckets.run()

/** An event of a generated history, received in arrival order. */
interface Arrival {
  id: string
  source: string
  receivedAt: number
  lag: number
  /** For a retraction: the id it voids (same source). */
  retracts?: string
}

function toItem(a: Arrival): Record<string, unknown> {
  return {
    id: a.id,
    source: a.source,
    type: 'sale',
    occurredAt: new Date(a.receivedAt - a.lag).toISOString(),
    receivedAt: new Date(a.receivedAt).toISOString(),
    data: {},
    ...(a.retracts !== undefined ? { retracts: a.retracts } : {}),
  }
}

/** Ingests arrivals as an import (no views), in batches of the given sizes (the rest in one). */
async function put(engine: Engine, arrivals: Arrival[], sizes: number[] = []): Promise<void> {
  const clock = new ManualClock(T0)
  let i = 0
  for (const size of [...sizes, arrivals.length]) {
    const batch = arrivals.slice(i, i + Math.max(1, size))
    if (batch.length === 0) break
    await ingest(engine, [], clock, batch.map(toItem), { imported: true })
    i += batch.length
  }
}

type Row = { hour: number; source: string; events: number; max_lag: number; last_received_at: number; buckets: number[] }

/** The sketch, each row's parts summed: what ingest keeps and what migration 0008 builds may differ only in how the parts are cut. */
async function sketchRows(engine: Engine): Promise<Row[]> {
  const rows = await engine.db.kysely.selectFrom('source_lags').selectAll().orderBy('hour').orderBy('source').execute()
  return rows.map((r) => {
    assert.ok(Number(r.parts) >= 1 && Number(r.parts) < MAX_PARTS, `${r.hour} ${r.source}: ${r.parts} parts`)
    const buckets = sumBuckets(JSON.parse(`[${r.buckets}]`) as number[])
    return { hour: Number(r.hour), source: r.source, events: Number(r.events), max_lag: Number(r.max_lag), last_received_at: Number(r.last_received_at), buckets }
  })
}

/** Builds the sketch again from the store's events, as migration 0008 does for a store from before it. */
async function rebuild(engine: Engine): Promise<void> {
  const sketch = (await migrations(engine.kind).getMigrations())['0008_source_lags']
  if (!sketch) throw new Error('no migration 0008_source_lags')
  await sql`drop table source_lags`.execute(engine.db.kysely)
  await sketch.up(engine.db.kysely as Kysely<unknown>)
}

/** The events-table rows of arrivals, as ingest would append them from seq 1. */
function appended(arrivals: Arrival[]): AppendedEvent[] {
  const seqs = new Map<string, number>()
  return arrivals.map((a, i) => {
    seqs.set(a.id, i + 1)
    const target = a.retracts === undefined ? null : arrivals[(seqs.get(a.retracts) as number) - 1]
    const event = { source: a.source, id: a.id, type: 'sale', occurredAt: a.receivedAt - a.lag, data: {}, retracts: a.retracts ?? null }
    return { seq: i + 1, receivedAt: a.receivedAt, event, target: target ? { seq: seqs.get(target.id) as number, type: 'sale', occurredAt: target.receivedAt - target.lag } : null }
  })
}

/**
 * A store as lateview left it before migration 0008: every migration before it run, events
 * appended, no sketch. Returns its LATEVIEW_DB.
 */
async function storeBefore0008(location: StoreLocation, arrivals: Arrival[]): Promise<string> {
  const where = location.next()
  let db: Kysely<Schema>
  let schema: string | undefined
  if (location.name === 'sqlite') db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: new BetterSqlite3(where) }) })
  else {
    const url = new URL(where)
    schema = url.searchParams.get('schema') as string
    url.searchParams.delete('schema')
    const pool = new pg.Pool({ connectionString: url.toString(), options: `-c search_path=${schema}` })
    // The store's own dialect: Kysely's introspector reads every schema of the database, and fails
    // when another test drops its schema meanwhile ("schema … does not exist").
    db = new Kysely<Schema>({ dialect: new CurrentSchemaPostgresDialect({ pool }) })
    await sql`create schema ${sql.id(schema)}`.execute(db)
  }
  try {
    const all = await migrations(location.name).getMigrations()
    const before = Object.fromEntries(Object.entries(all).filter(([name]) => name < '0008'))
    const migrator = new Migrator({ db, provider: { getMigrations: async () => before }, ...(schema ? { migrationTableSchema: schema } : {}) })
    const { error } = await migrator.migrateToLatest()
    if (error) throw error
    // The rows as that store held them: without the columns of later migrations (0014's attributes).
    const rows = appended(arrivals).map((a) => {
      const { attributes: _attributes, ...row } = eventRow(a)
      return row
    })
    await db.insertInto('events').values(rows).execute()
  } finally {
    await db.destroy()
  }
  return where
}

/** Nearest rank, exactly: the smallest lag with at least num/den of the lags at or below it. */
function exactPercentile(sorted: number[], num: number, den: number): number {
  const rank = Math.max(1, Math.ceil((num * sorted.length) / den))
  return sorted[rank - 1] as number
}

/** What GET /v1/sources must say, computed from the arrivals: the whole hours [from, to] of receivedAt. */
function expected(arrivals: Arrival[], now: number, windowMs: number): Map<string, { count: number; max: number; last: number; p50: number; p99: number }> {
  const hour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS
  const from = hour(now - windowMs)
  const to = hour(now)
  const lags = new Map<string, { lags: number[]; last: number }>()
  for (const a of arrivals) {
    if (a.retracts !== undefined || hour(a.receivedAt) < from || hour(a.receivedAt) > to) continue
    const s = lags.get(a.source) ?? { lags: [], last: a.receivedAt }
    s.lags.push(a.lag)
    s.last = Math.max(s.last, a.receivedAt)
    lags.set(a.source, s)
  }
  const out = new Map<string, { count: number; max: number; last: number; p50: number; p99: number }>()
  for (const [source, s] of lags) {
    const sorted = s.lags.sort((x, y) => x - y)
    out.set(source, { count: sorted.length, max: sorted[sorted.length - 1] as number, last: s.last, p50: exactPercentile(sorted, 1, 2), p99: exactPercentile(sorted, 99, 100) })
  }
  return out
}

/** The documented precision: never below the exact nearest rank, less than 1/128 of its magnitude above, never above the max. */
function withinPrecision(reported: number, exact: number, max: number): boolean {
  if (reported < exact || reported > max) return false
  return Math.abs(exact) < 256 ? reported === exact : reported - exact < Math.abs(exact) / 128
}

function assertFigures(got: SourceLateness[], want: ReturnType<typeof expected>, context: string): void {
  assert.equal(
    got.map((s) => s.source),
    [...want.keys()].sort(),
    context,
  )
  for (const s of got) {
    const w = want.get(s.source) as NonNullable<ReturnType<ReturnType<typeof expected>['get']>>
    assert.equal([s.count, s.maxLagMs, s.lastReceivedAt], [w.count, w.max, new Date(w.last).toISOString()], `${context}: ${s.source}`)
    assert.ok(withinPrecision(s.p50LagMs, w.p50, w.max), `${context}: ${s.source} p50 ${s.p50LagMs}, exact ${w.p50}`)
    assert.ok(withinPrecision(s.p99LagMs, w.p99, w.max), `${context}: ${s.source} p99 ${s.p99LagMs}, exact ${w.p99}`)
  }
}

for (const factory of factories) {
  const location = locations.find((l) => l.name === factory.name) as StoreLocation
  const test = suite(`store/sources (${factory.name})`)
  test.after(async () => {
    await factory.cleanup()
    await location.cleanup()
  })

  test('migration 0008 builds, from the events on every bucket edge, exactly the rows ingest keeps', async () => {
    const engine = await factory.open()
    try {
      // Lags on every bucket edge up to 2^41 ms (70 years), spread over hours and sources.
      const arrivals: Arrival[] = []
      let at = T0 - 30 * HOUR_MS - 1
      edgeLags(41).forEach((lag, k) => {
        arrivals.push({ id: `e${k}`, source: `s${k % 3}`, receivedAt: at, lag })
        at += k % 7 === 0 ? HOUR_MS - 1 : 1
      })
      at = T0
      for (let k = 0; k < 300; k++) {
        arrivals.push({ id: `late${k}`, source: `s${k % 4}`, receivedAt: at, lag: (k * 7919) % (3 * DAY) })
        if (k % 10 === 0) arrivals.push({ id: `void${k}`, source: `s${k % 4}`, receivedAt: at, lag: 0, retracts: `late${k}` })
        at += 17 * MIN
      }
      // The largest lag there can be: from the first instant of 1900 to the last of 2999.
      const last = Date.parse('2999-12-31T23:59:59.999Z')
      arrivals.push({ id: 'ages', source: 's0', receivedAt: last, lag: last - Date.parse('1900-01-01T00:00:00.000Z') })
      await put(engine, arrivals, [100, 1, 250, 333])
      const kept = await sketchRows(engine)
      assert.ok(kept.length > 100 && kept.some((r) => r.max_lag < 0))
      assert.is(
        kept.reduce((n, r) => n + r.events, 0),
        arrivals.filter((a) => a.retracts === undefined).length,
      )
      await rebuild(engine)
      assert.equal(await sketchRows(engine), kept)
      const all = last - (arrivals[0] as Arrival).receivedAt
      assertFigures((await sourceLateness(engine.db, last, all)).sources, expected(arrivals, last, all), 'every arrival')
    } finally {
      await engine.close()
    }
  })

  test('a store from before migration 0008 gets, when lateview opens it, the sketch ingest would have kept', async () => {
    const arrivals: Arrival[] = []
    for (let k = 0; k < 400; k++) {
      arrivals.push({ id: `e${k}`, source: `s${k % 5}`, receivedAt: T0 + k * 7 * MIN, lag: ((k * 104_729) % (2 * DAY)) - (k % 9 === 0 ? 60_000 : 0) })
      if (k % 11 === 3) arrivals.push({ id: `v${k}`, source: `s${k % 5}`, receivedAt: T0 + k * 7 * MIN, lag: 0, retracts: `e${k}` })
    }
    const upgraded = await openEngine(await storeBefore0008(location, arrivals))
    const kept = await factory.open()
    try {
      const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(upgraded.db.kysely)
      assert.equal(
        rows.map((r) => r.name),
        Object.keys(await migrations(factory.name).getMigrations()).sort(),
      )
      await put(kept, arrivals, [1, 50, 120])
      const built = await sketchRows(upgraded)
      assert.ok(built.length > 200)
      assert.equal(built, await sketchRows(kept))
      const now = T0 + 400 * 7 * MIN
      for (const windowMs of [HOUR_MS, DAY, 4 * DAY]) {
        const figures = (await sourceLateness(upgraded.db, now, windowMs)).sources
        assert.equal(figures, (await sourceLateness(kept.db, now, windowMs)).sources)
        assertFigures(figures, expected(arrivals, now, windowMs), `window ${windowMs}`)
      }
      // And ingest goes on adding to what the migration built.
      const more: Arrival[] = [{ id: 'after', source: 's1', receivedAt: now, lag: 123_456 }]
      await put(upgraded, more)
      await put(kept, more)
      assert.equal(await sketchRows(upgraded), await sketchRows(kept))
    } finally {
      await upgraded.close()
      await kept.close()
    }
  })

  test(`a row ${MAX_PARTS} batches have appended to has its parts summed into one; the figures stay exact`, async () => {
    const engine = await factory.open()
    try {
      const arrivals: Arrival[] = []
      for (let k = 0; k < 3 * MAX_PARTS + 5; k++) arrivals.push({ id: `e${k}`, source: 'one', receivedAt: T0 + k, lag: 1000 + ((k * 37) % 20) * 300 })
      const partsAfter: number[] = []
      for (const a of arrivals) {
        await put(engine, [a])
        const row = await engine.db.kysely.selectFrom('source_lags').select(['parts', 'buckets']).executeTakeFirstOrThrow()
        partsAfter.push(Number(row.parts))
        // Summed: each bucket once, ascending.
        const pairs = JSON.parse(`[${row.buckets}]`) as number[]
        if (Number(row.parts) === 1) assert.equal(pairs, sumBuckets(pairs))
      }
      // 1, 2, …, 15, then the 16th batch is summed with them into one part.
      assert.equal(partsAfter.slice(0, MAX_PARTS + 2), [...Array.from({ length: MAX_PARTS - 1 }, (_, i) => i + 1), 1, 2, 3])
      const row = await engine.db.kysely.selectFrom('source_lags').select(['buckets', 'events']).executeTakeFirstOrThrow()
      assert.is(Number(row.events), arrivals.length)
      const now = T0 + HOUR_MS - 1
      assertFigures((await sourceLateness(engine.db, now, 1)).sources, expected(arrivals, now, 1), 'one hour')
      const kept = await sketchRows(engine)
      await rebuild(engine)
      assert.equal(await sketchRows(engine), kept)
    } finally {
      await engine.close()
    }
  })

  test('a window reads only the sketch of the hours it overlaps, a page at a time', async () => {
    const engine = await factory.open()
    try {
      // 600 sources an hour for 3 hours: more rows than a page, in every hour.
      const arrivals: Arrival[] = []
      for (let h = 0; h < 3; h++)
        for (let s = 0; s < 600; s++) arrivals.push({ id: `h${h}-${s}`, source: `src-${String(s).padStart(3, '0')}`, receivedAt: T0 + h * HOUR_MS + s, lag: 1000 * (h + 1) + s })
      await put(engine, arrivals)
      const now = T0 + 2 * HOUR_MS + 30 * MIN
      for (const windowMs of [1, HOUR_MS, HOUR_MS + 30 * MIN, 2 * HOUR_MS + 30 * MIN, 3 * HOUR_MS]) {
        const got = await sourceLateness(engine.db, now, windowMs)
        assertFigures(got.sources, expected(arrivals, now, windowMs), `window ${windowMs}`)
      }
      const one = (await sourceLateness(engine.db, now, 1)).sources[0]
      assert.equal(one && [one.source, one.count, one.p50LagMs, one.maxLagMs], ['src-000', 1, 3000, 3000])
      const report = await sourceLateness(engine.db, T0 + 30 * MIN, HOUR_MS)
      assert.equal([report.from, report.to], [new Date(T0 - HOUR_MS).toISOString(), new Date(T0 + HOUR_MS).toISOString()])
    } finally {
      await engine.close()
    }
  })

  /** A generated history: each step an arrival (or a retraction of an earlier one) some time after the last. */
  const step = fc.record({
    source: fc.constantFrom('a', 'b', 'c'),
    lag: fc.oneof(fc.integer({ min: -SKEW, max: SKEW }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom(...edgeLags(40))),
    // Often none, sometimes to an hour's last instant or first: arrivals on both sides of an edge.
    gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 * MIN }), fc.constantFrom(HOUR_MS - 1, HOUR_MS, 1)),
    retract: fc.option(fc.nat(), { freq: 6 }),
  })
  const query = fc.record({
    at: fc.integer({ min: -HOUR_MS, max: 30 * HOUR_MS }),
    windowMs: fc.oneof(fc.integer({ min: 1, max: 2 * DAY }), fc.constantFrom(1, HOUR_MS - 1, HOUR_MS, HOUR_MS + 1, DAY)),
  })

  test('count, max and last arrival per source equal a direct computation; p50 and p99 are within 1/128 of the exact nearest rank (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 6 }),
        fc.array(query, { minLength: 1, maxLength: 6 }),
        async (steps, sizes, queries) => {
          const arrivals: Arrival[] = []
          const voided = new Set<string>()
          let at = T0
          steps.forEach((s, k) => {
            at += s.gap
            const originals = arrivals.filter((a) => a.retracts === undefined && !voided.has(a.id))
            const target = s.retract === null || originals.length === 0 ? undefined : originals[s.retract % originals.length]
            if (target) {
              voided.add(target.id)
              arrivals.push({ id: `v${k}`, source: target.source, receivedAt: at, lag: 0, retracts: target.id })
            } else arrivals.push({ id: `e${k}`, source: s.source, receivedAt: at, lag: s.lag })
          })
          const engine = await factory.open()
          try {
            await put(engine, arrivals, sizes)
            for (const q of queries) {
              const now = T0 + q.at
              assertFigures((await sourceLateness(engine.db, now, q.windowMs)).sources, expected(arrivals, now, q.windowMs), `now T0+${q.at}, window ${q.windowMs}`)
            }
            const kept = await sketchRows(engine)
            await rebuild(engine)
            assert.equal(await sketchRows(engine), kept, 'migration 0008 builds what ingest kept')
          } finally {
            await engine.close()
          }
        },
      ),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    )
  })

  test.run()
}
