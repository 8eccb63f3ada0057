import type { Db } from './db.js'
import { queryRows } from './engine.js'
import type { SourceLagsTable } from './schema.js'

/**
 * The lag sketch of GET /v1/sources (table `source_lags`, migration 0008): per UTC hour of
 * receivedAt and source, exact count, largest lag and latest receivedAt, and a count per lag
 * bucket. Buckets are log-linear: a lag of magnitude below 256 ms has a bucket of its own; above,
 * each power of two [2^e, 2^(e+1)) is cut into 128 buckets of 2^(e-7) ms, so a bucket [low, high]
 * has high - low < low / 128. A negative lag (occurredAt up to 5 minutes after receivedAt) takes
 * the bucket of its magnitude, negated. Migration 0008 computes the same buckets in SQL.
 */

export const HOUR_MS = 3_600_000

/** Buckets per power of two above the exact range: 2^7. */
const SUB_BITS = 7
const SUB_BUCKETS = 1 << SUB_BITS
/** Magnitudes below this have a bucket each. */
const EXACT_BELOW = 2 * SUB_BUCKETS
/** The widest bucket is 2^45 ms; only lags beyond 2^53 ms (which no two instants of 4-digit years are apart) would need wider. */
const MAX_SHIFT = 45

/** Start of the UTC hour holding `ms`. */
export function hourOf(ms: number): number {
  return ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS)
}

function magnitudeBucket(m: number): number {
  if (m < EXACT_BELOW) return m
  // The exponent from clz32, never Math.log2: a float log can round 2^k - 1 up to k. Below 2^31
  // (24 days) integer operations do: this runs for every event ingested.
  if (m < 2 ** 31) {
    const shift = 31 - Math.clz32(m) - SUB_BITS
    return (shift << SUB_BITS) + (m >>> shift)
  }
  const shift = Math.min(62 - Math.clz32(Math.floor(m / 2 ** 31)) - SUB_BITS, MAX_SHIFT)
  return shift * SUB_BUCKETS + Math.floor(m / 2 ** shift)
}

/** The bucket of a lag (integer ms); buckets order as their lags do. */
export function lagBucket(lagMs: number): number {
  return lagMs < 0 ? -magnitudeBucket(-lagMs) : magnitudeBucket(lagMs)
}

/** The magnitudes [low, high] of a magnitude bucket. */
function magnitudeRange(b: number): [number, number] {
  if (b < EXACT_BELOW) return [b, b]
  const shift = Math.min(Math.floor(b / SUB_BUCKETS) - 1, MAX_SHIFT)
  const sub = b - shift * SUB_BUCKETS
  return [sub * 2 ** shift, (sub + 1) * 2 ** shift - 1]
}

/** The largest lag (ms) a bucket holds. */
export function lagBucketCeiling(bucket: number): number {
  return bucket < 0 ? -magnitudeRange(-bucket)[0] : magnitudeRange(bucket)[1]
}

/** Parts a row's buckets may hold: ingest then sums them into one (`compact`). */
export const MAX_PARTS = 16

/** A (hour, source) row of the sketch, its buckets as `[bucket, count, …]` (a bucket may repeat). */
export interface SourceHour {
  hour: number
  source: string
  events: number
  maxLag: number
  lastReceivedAt: number
  buckets: number[]
}

/** What a batch adds to one (hour, source) row. */
export interface SourceHourChange {
  hour: number
  source: string
  events: number
  maxLag: number
  lastReceivedAt: number
  /** `[bucket, count, …]`, each bucket once, in any order. */
  buckets: number[]
}

/** The stored text of `[bucket, count, …]`: the numbers comma-separated, without brackets. */
function bucketText(pairs: number[]): string {
  return JSON.stringify(pairs).slice(1, -1)
}

function parseBuckets(text: string): number[] {
  return JSON.parse(`[${text}]`) as number[]
}

function toSourceHour(r: Pick<SourceLagsTable, 'hour' | 'source' | 'events' | 'max_lag' | 'last_received_at' | 'buckets'>): SourceHour {
  return { hour: Number(r.hour), source: r.source, events: Number(r.events), maxLag: Number(r.max_lag), lastReceivedAt: Number(r.last_received_at), buckets: parseBuckets(r.buckets) }
}

const COLUMNS = 'hour, source, events, max_lag, last_received_at, buckets, parts'

/** Appends a change to its row as one more part. The larger of two values as `case`: SQLite's max() is PostgreSQL's greatest(). */
const APPEND =
  'on conflict (hour, source) do update set events = source_lags.events + excluded.events, ' +
  'max_lag = case when excluded.max_lag > source_lags.max_lag then excluded.max_lag else source_lags.max_lag end, ' +
  'last_received_at = case when excluded.last_received_at > source_lags.last_received_at then excluded.last_received_at else source_lags.last_received_at end, ' +
  "buckets = source_lags.buckets || ',' || excluded.buckets, parts = source_lags.parts + 1"

/**
 * `addToSourceLags` on PostgreSQL in one statement: every change is appended, and the statement
 * returns the buckets of the rows that reached MAX_PARTS, which are then summed into one part
 * (one more statement, for about one batch in fifteen that touches a row). The rows end as the
 * read-then-write of SQLite leaves them: the same counts, and the same sum of the same buckets.
 */
async function addToSourceLagsPostgres(db: Db, changes: readonly SourceHourChange[]): Promise<void> {
  const column = <K extends keyof SourceHourChange>(k: K) => changes.map((c) => c[k])
  const full = await queryRows<{ hour: number; source: string; buckets: string }>(
    db,
    'with added as (' +
      `insert into source_lags (${COLUMNS}) select h, s, e, m, l, b, 1 from unnest(?::bigint[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[]) as u(h, s, e, m, l, b) ${APPEND} ` +
      `returning hour, source, parts, buckets) select hour, source, buckets from added where parts >= ${MAX_PARTS}`,
    [column('hour'), column('source'), column('events'), column('maxLag'), column('lastReceivedAt'), changes.map((c) => bucketText(c.buckets))],
  )
  if (full.length === 0) return
  await queryRows(db, 'update source_lags t set buckets = u.b, parts = 1 from unnest(?::bigint[], ?::text[], ?::text[]) as u(h, s, b) where t.hour = u.h and t.source = u.s', [
    full.map((r) => r.hour),
    full.map((r) => r.source),
    full.map((r) => bucketText(sumBuckets(parseBuckets(r.buckets)))),
  ])
}

/**
 * Adds a batch's changes (one per (hour, source)) to the sketch, inside the write transaction.
 * Counts add up, and the batch's buckets are appended to the row's as one more part: a batch
 * costs what it adds, however large the rows it adds to, and no row's buckets are read. Only
 * the number of parts is: a row that would reach MAX_PARTS has its parts and the batch's summed
 * into one instead, which bounds what a read parses. (RETURNING would tell the parts without a
 * read, but costs SQLite more than the read.)
 */
export async function addToSourceLags(db: Db, changes: readonly SourceHourChange[]): Promise<void> {
  if (changes.length === 0) return
  if (db.engine === 'postgres') return addToSourceLagsPostgres(db, changes)
  const key = (hour: number, source: string) => `${hour}\u0000${source}`
  const parts = new Map<string, number>()
  for (const c of changes) {
    const [row] = await queryRows<{ parts: number }>(db, 'select parts from source_lags where hour = ? and source = ?', [c.hour, c.source])
    if (row) parts.set(key(c.hour, c.source), row.parts)
  }
  const appended: SourceHourChange[] = []
  const summed: SourceHourChange[] = []
  for (const c of changes) ((parts.get(key(c.hour, c.source)) ?? 0) + 1 < MAX_PARTS ? appended : summed).push(c)
  for (const c of appended) {
    await queryRows(db, `insert into source_lags (${COLUMNS}) values (?, ?, ?, ?, ?, ?, 1) ${APPEND}`, [c.hour, c.source, c.events, c.maxLag, c.lastReceivedAt, bucketText(c.buckets)])
  }
  for (const c of summed) {
    const [row] = await queryRows<SourceLagsTable>(db, `select ${COLUMNS} from source_lags where hour = ? and source = ?`, [c.hour, c.source])
    if (!row) throw new Error(`source_lags: the row of ${c.source} at ${c.hour} is gone`)
    const old = toSourceHour(row)
    await queryRows(db, 'update source_lags set events = ?, max_lag = ?, last_received_at = ?, buckets = ?, parts = 1 where hour = ? and source = ?', [
      old.events + c.events,
      Math.max(old.maxLag, c.maxLag),
      Math.max(old.lastReceivedAt, c.lastReceivedAt),
      bucketText(sumBuckets([...old.buckets, ...c.buckets])),
      c.hour,
      c.source,
    ])
  }
}

/** Buckets are above -SPAN and below SPAN for any lag below 2^53 ms in magnitude. */
const SPAN = 6144
/** Counts by bucket + SPAN while one list is counted; all zero otherwise. */
const scratch = new Int32Array(2 * SPAN)

/**
 * `[bucket, count, …]` of a list of buckets, each bucket once, in the order first seen. It runs
 * for every event ingested: counting in a typed array costs a fraction of a Map's hashing.
 */
export function countBuckets(list: readonly number[]): number[] {
  for (const b of list) if (!(b > -SPAN && b < SPAN)) return sumBuckets(list.flatMap((x) => [x, 1]))
  const distinct: number[] = []
  for (const b of list) {
    const n = scratch[b + SPAN] as number
    scratch[b + SPAN] = n + 1
    if (n === 0) distinct.push(b)
  }
  const pairs = new Array<number>(2 * distinct.length)
  for (let i = 0; i < distinct.length; i++) {
    const b = distinct[i] as number
    pairs[2 * i] = b
    pairs[2 * i + 1] = scratch[b + SPAN] as number
    scratch[b + SPAN] = 0
  }
  return pairs
}

/** `[bucket, count, …]` with each bucket once, ascending. */
export function sumBuckets(pairs: readonly number[]): number[] {
  const counts = new Map<number, number>()
  for (let i = 0; i < pairs.length; i += 2) counts.set(pairs[i] as number, (counts.get(pairs[i] as number) ?? 0) + (pairs[i + 1] as number))
  const out: number[] = []
  for (const b of [...counts.keys()].sort((x, y) => x - y)) out.push(b, counts.get(b) as number)
  return out
}

/**
 * Up to `limit` rows of the sketch with hour in [fromHour, toHour], in (hour, source) order,
 * after the row `after` (null: from the first): a page of a read that yields between pages.
 */
export async function sourceLagPage(db: Db, fromHour: number, toHour: number, after: { hour: number; source: string } | null, limit: number): Promise<SourceHour[]> {
  const columns = 'hour, source, events, max_lag, last_received_at, buckets'
  const rows = after
    ? await queryRows<SourceLagsTable>(db, `select ${columns} from source_lags where (hour, source) > (?, ?) and hour <= ? order by hour, source limit ?`, [after.hour, after.source, toHour, limit])
    : await queryRows<SourceLagsTable>(db, `select ${columns} from source_lags where hour >= ? and hour <= ? order by hour, source limit ?`, [fromHour, toHour, limit])
  return rows.map(toSourceHour)
}
