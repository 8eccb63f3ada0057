/**
 * The benchmark's data: the retail fixture (fixtures/generate.ts) as one long stream in arrival
 * order, cut into batches, optionally with random UUIDv4 ids, and converted to the exact rows
 * lateview's ingest writes to its `events` table (so raw inserts write the same rows).
 */
import { randomUUID } from 'node:crypto'
import { DateTime } from 'luxon'
import { FIXTURE_VIEWS, generateFixture, type FixtureEvent } from '../fixtures/generate.js'
import { parseInstant } from '../src/domain/time.js'

export const SEED = 42
export const START = '2025-01-01'
export const BATCH = 1000
const ZONE = FIXTURE_VIEWS.retail.timezone
/** Days generated at once; more than the latest arrival (4 days late, then a retraction up to 2 days later). */
const CHUNK_DAYS = 20
const DAY = 86_400_000
/** How long ids are remembered for duplicates and retractions (they come at most ~7 days later). */
const MEMORY_MS = 12 * DAY

export interface StreamOptions {
  perDay: number
  days: number
  /** Stop after this many events. */
  limit?: number
}

/** Local calendar date `start` + n days. */
export function addDays(start: string, n: number): string {
  return DateTime.fromISO(start, { zone: 'UTC' }).plus({ days: n }).toISODate() as string
}

/** UTC ms of local midnight starting the given calendar date in the retail view's zone. */
export function localMidnight(date: string): number {
  return DateTime.fromISO(date, { zone: ZONE }).toMillis()
}

/** The period keys (local days) of a store generated over `days` days. */
export function periodKeys(days: number): string[] {
  return Array.from({ length: days }, (_, i) => addDays(START, i))
}

type Timed = { e: FixtureEvent; r: number }

function byArrival(a: Timed, b: Timed): number {
  return a.r - b.r || (a.e.source < b.e.source ? -1 : a.e.source > b.e.source ? 1 : 0) || (a.e.id < b.e.id ? -1 : a.e.id > b.e.id ? 1 : 0)
}

/**
 * The retail fixture over `days` days, generated `CHUNK_DAYS` at a time (a whole 5M-event
 * fixture does not fit in memory) and merged back into one arrival order: an event of a later
 * chunk is never received before that chunk's first local midnight, so everything earlier is final.
 */
export function* fixtureStream(options: StreamOptions): Generator<FixtureEvent> {
  let pending: Timed[] = []
  let emitted = 0
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  for (let first = 0; first < options.days; first += CHUNK_DAYS) {
    const days = Math.min(CHUNK_DAYS, options.days - first)
    const chunk = generateFixture('retail', { days, events: options.perDay, seed: SEED, start: addDays(START, first) }).map((e) => ({ e, r: Date.parse(e.receivedAt) }))
    const merged = pending.length === 0 ? chunk : [...pending, ...chunk].sort(byArrival)
    const final = first + days >= options.days ? Number.POSITIVE_INFINITY : localMidnight(addDays(START, first + days))
    let i = 0
    for (; i < merged.length && (merged[i] as Timed).r < final; i++) {
      if (emitted++ >= limit) return
      yield (merged[i] as Timed).e
    }
    pending = merged.slice(i)
  }
}

/** Consecutive batches of `size` from a stream. */
export function* batches<T>(items: Iterable<T>, size = BATCH): Generator<T[]> {
  let batch: T[] = []
  for (const item of items) {
    batch.push(item)
    if (batch.length === size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

/** A map of recent events by (source, id), forgetting those received long before the newest. */
class RecentMap<V extends { receivedAt: number }> {
  readonly #map = new Map<string, V>()
  #sinceTrim = 0

  get(key: string): V | undefined {
    return this.#map.get(key)
  }

  set(key: string, value: V): void {
    this.#map.set(key, value)
    if (++this.#sinceTrim < 50_000) return
    this.#sinceTrim = 0
    const horizon = value.receivedAt - MEMORY_MS
    for (const [k, v] of this.#map) {
      if (v.receivedAt >= horizon) break
      this.#map.delete(k)
    }
  }
}

const key = (source: string, id: string) => `${source}\u0000${id}`

/** Replaces every event id by a random UUIDv4, the same one for a re-sent duplicate and in `retracts`. */
export class UuidIds {
  readonly #ids = new RecentMap<{ id: string; receivedAt: number }>()

  map(e: FixtureEvent): FixtureEvent {
    const receivedAt = Date.parse(e.receivedAt)
    const k = key(e.source, e.id)
    let known = this.#ids.get(k)
    if (!known) {
      known = { id: randomUUID(), receivedAt }
      this.#ids.set(k, known)
    }
    const out: FixtureEvent = { ...e, id: known.id }
    if (e.retracts !== undefined) {
      const target = this.#ids.get(key(e.source, e.retracts))
      if (!target) throw new Error(`retraction ${e.id} of an unknown event ${e.retracts}`)
      out.retracts = target.id
    }
    return out
  }
}

/** A row of lateview's `events` table, in column order (see ROW_COLUMNS). */
export type Row = [
  seq: number,
  source: string,
  id: string,
  type: string,
  occurredAt: number,
  receivedAt: number,
  data: string,
  retracts: string | null,
  targetSeq: number | null,
  effType: string,
  effOccurredAt: number,
]

export const ROW_COLUMNS = ['seq', 'source', 'id', 'type', 'occurred_at', 'received_at', 'data', 'retracts', 'target_seq', 'eff_type', 'eff_occurred_at'] as const

function instant(text: string): number {
  const ms = parseInstant(text)
  if (ms === null) throw new Error(`not an instant: ${text}`)
  return ms
}

/**
 * Turns events (in arrival order) into the rows lateview's import writes: seqs from 1, a
 * duplicate carrying the seq of the row it repeats (so an `insert or ignore` skips it), a
 * retraction with its target's seq, type and occurrence time.
 */
export class RowConverter {
  #seq = 0
  readonly #known = new RecentMap<{ seq: number; type: string; occurredAt: number; receivedAt: number }>()

  row(e: FixtureEvent): Row {
    const occurredAt = instant(e.occurredAt)
    const receivedAt = instant(e.receivedAt)
    const k = key(e.source, e.id)
    const seen = this.#known.get(k)
    const seq = seen ? seen.seq : ++this.#seq
    let target: { seq: number; type: string; occurredAt: number } | null = null
    if (e.retracts !== undefined) {
      const t = this.#known.get(key(e.source, e.retracts))
      if (!t) throw new Error(`retraction ${e.id} of an unknown event ${e.retracts}`)
      target = t
    }
    if (!seen) this.#known.set(k, { seq, type: e.type, occurredAt, receivedAt })
    return [seq, e.source, e.id, e.type, occurredAt, receivedAt, JSON.stringify(e.data), e.retracts ?? null, target?.seq ?? null, target?.type ?? e.type, target?.occurredAt ?? occurredAt]
  }
}

/** What the bare HTTP route stores for an item: no seq (the database assigns it), no lookups. */
export function bareRow(item: Record<string, unknown>, receivedAt: number): BareRow {
  const occurredAt = instant(String(item.occurredAt))
  const type = String(item.type)
  return [String(item.source), String(item.id), type, occurredAt, receivedAt, JSON.stringify(item.data ?? {}), typeof item.retracts === 'string' ? item.retracts : null, null, type, occurredAt]
}

export type BareRow = [
  source: string,
  id: string,
  type: string,
  occurredAt: number,
  receivedAt: number,
  data: string,
  retracts: string | null,
  targetSeq: number | null,
  effType: string,
  effOccurredAt: number,
]

/** A batch as the HTTP client sends it. */
export interface HttpBatch {
  /** The earlier batch holding an event this batch retracts (the client waits for it), or -1. */
  dep: number
  /** The newest receivedAt of the batch: the server clock when it is sent. */
  newest: number
  events: number
  /** The JSON array as a producer sends it (without receivedAt). */
  body: string
}

/** Cuts events into the request bodies of HTTP ingest, noting which batch each depends on. */
export function* httpBatches(events: Iterable<FixtureEvent>): Generator<HttpBatch> {
  const batchOf = new RecentMap<{ batch: number; receivedAt: number }>()
  let n = 0
  for (const batch of batches(events)) {
    let dep = -1
    let newest = 0
    const items = batch.map((e) => {
      const receivedAt = Date.parse(e.receivedAt)
      newest = Math.max(newest, receivedAt)
      if (e.retracts !== undefined) {
        const t = batchOf.get(key(e.source, e.retracts))
        if (t && t.batch < n) dep = Math.max(dep, t.batch)
      }
      if (!batchOf.get(key(e.source, e.id))) batchOf.set(key(e.source, e.id), { batch: n, receivedAt })
      const { receivedAt: _r, ...item } = e
      return item
    })
    yield { dep, newest, events: items.length, body: JSON.stringify(items) }
    n++
  }
}
