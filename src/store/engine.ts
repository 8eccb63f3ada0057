import type { CellState, ViewProgram } from '../domain/aggregate.js'
import type { NewEvent, StoredEvent } from '../domain/event.js'
import { piecesOf, type PeriodRange } from '../domain/time.js'
import type { LateviewError } from '../errors.js'
import { forEachPaged, forEachParsedPage } from './postgres/scan.js'
import { openPostgres } from './postgres/open.js'
import type { Db } from './db.js'
import type { EventsTable } from './schema.js'
import { forEachPage, forEachRangePage, forEachRow } from './sqlite/scan.js'
import { openSqlite } from './sqlite/open.js'

export { storeError } from './faults.js'
export { exactRows, marks, queryRows, type Db } from './db.js'
export { eventRow, rowToEvent } from './rows.js'

/**
 * The contract of a store engine, SQLite (`./sqlite/`) or PostgreSQL (`./postgres/`): how to
 * connect, how a write transaction is serialised, the integer type, and the hot-path statements
 * (prepared and synchronous on SQLite, multi-row on PostgreSQL). Everything else in the store is
 * portable Kysely. Which engine a connection runs on is passed along with it (`Db`), never
 * inferred from a database object.
 */
export interface Engine {
  readonly kind: 'sqlite' | 'postgres'
  readonly db: Db
  /** Brings the schema up to date. */
  migrate(): Promise<void>
  /** Runs `fn` in the one write transaction at a time: seq order is commit order. */
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>
  /** Runs reads that must see one consistent state. */
  snapshot<T>(fn: (db: Db) => Promise<T>): Promise<T>
  /**
   * Runs a read of ONE statement outside any transaction (a single statement sees one consistent
   * state by itself): on PostgreSQL no BEGIN and COMMIT round trips, on SQLite once no write
   * transaction holds the connection. Errors are translated as `snapshot`'s are.
   */
  single<T>(fn: (db: Db) => Promise<T>): Promise<T>
  /**
   * The store failure last met (disk full, store unreachable) while no write has succeeded since,
   * or null. `probe` first tries a small committed write, which clears it when the store takes
   * writes again: readiness follows the store, not the traffic.
   */
  failure(probe?: boolean): Promise<LateviewError | null>
  /** Write transactions run again after a conflict with a concurrent one (PostgreSQL 40001, 40P01) since the store was opened. */
  retried?(): number
  close(): Promise<void>
}

export interface Head {
  seq: number
  receivedAt: number
}

/**
 * An event as ingest admits it: its seq and receivedAt, and for a retraction the event it voids
 * (whose type and occurrence it counts under).
 */
export interface AppendedEvent {
  seq: number
  receivedAt: number
  event: Pick<NewEvent, 'source' | 'id' | 'type' | 'occurredAt' | 'data' | 'retracts' | 'dataJson' | 'attributes'>
  target: { seq: number; type: string; occurredAt: number } | null
}

/** A cell's new absolute state or its change, as upserted into `cells`. */
export interface CellWrite {
  period: string
  dimsKey: string
  state: CellState
}

/** What every ingest batch reads first: one round trip on PostgreSQL. */
export interface BatchStart {
  head: Head
  /** The number of stored view definition versions (see ViewCatalog.assertCurrent). */
  definitionVersions: number
  /** Whether any MissingData alert is firing (the batch may resolve it). */
  missingDataFiring: boolean
}

/** What a write transaction offers beyond portable queries on `db`. */
export interface WriteTx {
  readonly db: Db
  head(): Promise<Head>
  /** The head and what an ingest batch checks before it writes, read together. */
  batchStart(): Promise<BatchStart>
  /** Stored events with these (source, id) keys. */
  findEvents(keys: ReadonlyArray<{ source: string; id: string }>): Promise<StoredEvent[]>
  /** Appends admitted events (their seqs above the head, increasing). */
  insertEvents(events: readonly AppendedEvent[]): Promise<void>
  /** Adds changes to cells (sums add, min/max combine), creating missing cells. */
  addToCells(program: ViewProgram, changes: CellWrite[]): Promise<void>
}

/** What a scan of the events table selects. */
export interface EventScan {
  /** Events counting under these types (a retraction counts under its target's type). */
  types: readonly string[]
  /**
   * Only events counting in this occurrence range (a retraction: its target's occurrence); a
   * period made of several pieces (a wall-clock hour that happens twice, apart) reads each piece.
   */
  range?: PeriodRange
  maxSeq: number
  afterSeq?: number
  /** Leave retractions out. */
  originalsOnly?: boolean
  /** Rows in any order (saves a sort when the caller does not need seq order). */
  unordered?: boolean
  /** Read `id` and `retracts` too (otherwise '' and null: wide scans skip them). */
  withIds?: boolean
  /**
   * Hand each event's data already parsed, as `parsed` (and `data` as ''): on SQLite the scan
   * then reads a page of rows as one JSON text, which costs a third of reading them row by row.
   */
  parse?: boolean
}

/**
 * A scanned event row; without `withIds` its `id` is '' and `retracts` null; with `parse` its
 * `data` is '' and `parsed` holds it.
 */
export type ScanRow = Pick<EventsTable, 'seq' | 'source' | 'id' | 'type' | 'occurred_at' | 'received_at' | 'data' | 'retracts' | 'target_seq'> & {
  parsed?: Record<string, unknown>
}

/** Opens the store named by `LATEVIEW_DB`: a file path (SQLite) or a `postgres://` URL. */
export async function openEngine(location: string): Promise<Engine> {
  const engine = /^postgres(ql)?:\/\//.test(location) ? await openPostgres(location) : openSqlite(location)
  try {
    await engine.migrate()
  } catch (error) {
    await engine.close()
    throw error
  }
  return engine
}

/**
 * Calls `visit` for every event of a scan, in seq order, without holding them all: on SQLite one
 * prepared statement iterated synchronously (nothing can interleave with it), elsewhere keyset
 * pages. This is the hot path of as-of reports, publication, verification and rebuilds.
 */
export async function forEachEvent(db: Db, scan: EventScan, visit: (row: ScanRow) => void): Promise<void> {
  if (scan.types.length === 0) return
  if (db.engine === 'postgres') return scan.parse ? forEachParsedPage(db.kysely, scan, visit) : forEachPaged(db.kysely, scan, visit)
  const statements = db.statements
  if (scan.parse && scan.range && scan.unordered) {
    for (const piece of piecesOf(scan.range)) forEachRangePage(statements, scan, piece, visit)
    return
  }
  if (scan.parse) return forEachPage(statements, scan, visit)
  forEachRow(statements, scan, visit)
}
