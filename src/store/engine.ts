import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {
  CompiledQuery,
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  sql,
  type DatabaseIntrospector,
  type DatabaseMetadataOptions,
  type SchemaMetadata,
  type SqliteDatabase,
  type TableMetadata,
  type Transaction,
} from 'kysely'
import pg from 'pg'
import type { CellState, ViewProgram } from '../domain/aggregate.js'
import type { NewEvent, StoredEvent } from '../domain/event.js'
import { piecesOf, type Interval, type PeriodRange } from '../domain/time.js'
import { LateviewError } from '../errors.js'
import { migrations } from './migrations.js'
import { assertStorable, overflowError } from './int64.js'
import { SLOT_COLUMNS, type CellsTable, type EventsTable, type Schema, type SlotColumn } from './schema.js'

/**
 * The one place that knows SQLite from PostgreSQL: how to connect, how a write transaction is
 * serialised, the integer type, and the hot-path statements (prepared and synchronous on
 * SQLite, multi-row on PostgreSQL). Everything else in the store is portable Kysely.
 */
export interface Engine {
  readonly kind: 'sqlite' | 'postgres'
  readonly db: Kysely<Schema>
  /** Brings the schema up to date. */
  migrate(): Promise<void>
  /** Runs `fn` in the one write transaction at a time: seq order is commit order. */
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>
  /** Runs reads that must see one consistent state. */
  snapshot<T>(fn: (db: Kysely<Schema>) => Promise<T>): Promise<T>
  /**
   * The store failure last met (disk full, store unreachable) while no write has succeeded since,
   * or null. `probe` first tries a small committed write, which clears it when the store takes
   * writes again: readiness follows the store, not the traffic.
   */
  failure(probe?: boolean): Promise<LateviewError | null>
  close(): Promise<void>
}

/**
 * A driver error as lateview's: a full disk (SQLite SQLITE_FULL, PostgreSQL 53100), a store out
 * of reach (a lost or refused connection, a server shutting down, an I/O error), or a busy
 * SQLite file. Null for anything else (a bug, reported as such).
 */
export function storeError(error: unknown): LateviewError | null {
  if (error instanceof LateviewError) return error
  const e = error as { code?: unknown; message?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : String(error)
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new LateviewError('LV_ERR_STORE_BUSY', 'The SQLite database is locked by another writer')
  if (code === 'SQLITE_FULL' || code === '53100') return new LateviewError('LV_ERR_STORE_FULL', `the store's disk is full: ${message}`)
  const unreachable =
    code.startsWith('SQLITE_IOERR') ||
    code === 'SQLITE_CANTOPEN' ||
    /^(08|57P0)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)
  return unreachable ? new LateviewError('LV_ERR_STORE_UNAVAILABLE', `the store cannot be reached: ${message}`) : null
}

/** The failure state every engine keeps: set by a failing operation, cleared by a committed write. */
class Health {
  #failure: LateviewError | null = null

  /** Runs `op`, turning a driver error into lateview's and remembering a store failure. */
  async guard<T>(op: () => Promise<T>, write: boolean): Promise<T> {
    try {
      const result = await op()
      if (write) this.#failure = null
      return result
    } catch (error) {
      const translated = storeError(error)
      if (translated && (translated.code === 'LV_ERR_STORE_FULL' || translated.code === 'LV_ERR_STORE_UNAVAILABLE')) this.#failure = translated
      throw translated ?? error
    }
  }

  async failure(probe: boolean, write: () => Promise<void>): Promise<LateviewError | null> {
    if (this.#failure !== null && probe) await this.guard(write, true).catch(() => undefined)
    return this.#failure
  }
}

/** What a probe writes: about as much as an ingest batch, so that ready means a batch fits again. */
const PROBE_FILLER = 'x'.repeat(1024 * 1024)

/** A committed write of a batch's size, then its removal (two small transactions). */
async function probeWrite(engine: Engine): Promise<void> {
  await engine.write(async (tx) => {
    await queryRows(tx.db, 'delete from store_probe')
    await queryRows(tx.db, 'insert into store_probe (id, filler) values (1, ?)', [PROBE_FILLER])
  })
  await engine.write((tx) => queryRows(tx.db, 'delete from store_probe'))
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
  event: Pick<NewEvent, 'source' | 'id' | 'type' | 'occurredAt' | 'data' | 'retracts' | 'dataJson'>
  target: { seq: number; type: string; occurredAt: number } | null
}

/** The events-table row of an appended event. */
export function eventRow(a: AppendedEvent): EventsTable {
  const e = a.event
  const t = a.target
  return {
    seq: a.seq,
    source: e.source,
    id: e.id,
    type: e.type,
    occurred_at: e.occurredAt,
    received_at: a.receivedAt,
    data: e.dataJson ?? JSON.stringify(e.data),
    retracts: e.retracts,
    target_seq: t === null ? null : t.seq,
    eff_type: t === null ? e.type : t.type,
    eff_occurred_at: t === null ? e.occurredAt : t.occurredAt,
  }
}

/** A cell's new absolute state or its change, as upserted into `cells`. */
export interface CellWrite {
  period: string
  dimsKey: string
  state: CellState
}

/** What a write transaction offers beyond portable queries on `db`. */
export interface WriteTx {
  readonly db: Kysely<Schema>
  head(): Promise<Head>
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

/** Code units whose UTF-16 order differs from the UTF-8 byte order SQLite compares text by. */
const ORDER_DIFFERS = /[\ud800-\uffff]/

/**
 * The newest id stored for a source (null: none); `comparable` when it is also the highest in
 * JavaScript's order, so that an id JavaScript puts above it is not stored.
 */
interface NewestId {
  max: string | null
  comparable: boolean
}

/**
 * Moves a source's known newest id up to `id`, the highest in JavaScript's order of the rows this
 * connection just committed for it. The highest of all then stays the highest in JavaScript's
 * order, whatever its code units. An entry not comparable stays as it is: every id is probed.
 */
function raiseNewest(known: Map<string, NewestId>, source: string, id: string): void {
  const t = known.get(source)
  if (t === undefined || (t.max !== null && !t.comparable)) return
  if (t.max === null || id > t.max) known.set(source, { max: id, comparable: true })
}

/** The better-sqlite3 handle behind each Kysely instance this module hands out for SQLite. */
const sqliteHandles = new WeakMap<object, BetterSqlite3.Database>()
/** Statements prepared once per database, by text (scans' under `arrays:` + text). */
const keptStatements = new WeakMap<BetterSqlite3.Database, Map<string, BetterSqlite3.Statement>>()

/**
 * The statement of `text`, prepared once per database. `arrays` for scans: arrays, not objects,
 * from the driver, as building rows in JS is twice as fast for wide scans.
 */
function statementOf(raw: BetterSqlite3.Database, text: string, mode: 'objects' | 'arrays' | 'exact' = 'objects'): BetterSqlite3.Statement {
  let cache = keptStatements.get(raw)
  if (!cache) keptStatements.set(raw, (cache = new Map()))
  const key = `${mode}:${text}`
  let stmt = cache.get(key)
  if (!stmt) {
    stmt = raw.prepare(text)
    if (mode === 'arrays') stmt.raw(true)
    else if (mode === 'exact' && stmt.reader) stmt.safeIntegers(true)
    cache.set(key, stmt)
  }
  return stmt
}

/** `?, ?, …`: n parameters, for an `in` list. */
export function marks(n: number): string {
  return new Array(n).fill('?').join(', ')
}

/**
 * Runs a small statement written once for both engines, its parameters as `?` (none inside a
 * literal), and returns its rows. On SQLite the statement is prepared once per connection and
 * run directly: Kysely builds and compiles a query on every call, which costs more than running
 * the small queries of every ingest batch. On PostgreSQL it goes through Kysely's driver, the
 * parameters numbered `$1`, `$2`, ….
 */
export async function queryRows<R>(db: Kysely<Schema>, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return runRows<R>(db, text, params, 'objects')
}

/**
 * `queryRows` for rows holding measure state: every integer comes back exact, as a bigint on
 * SQLite (the caller normalizes it) and, past 2^53, on PostgreSQL (see the int8 parser).
 */
export async function exactRows<R>(db: Kysely<Schema>, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return runRows<R>(db, text, params, 'exact')
}

async function runRows<R>(db: Kysely<Schema>, text: string, params: readonly unknown[], mode: 'objects' | 'exact'): Promise<R[]> {
  const raw = sqliteHandles.get(db)
  if (raw) {
    const stmt = statementOf(raw, text, mode)
    if (stmt.reader) return stmt.all(...params) as R[]
    stmt.run(...params)
    return []
  }
  let n = 0
  const numbered = db.getExecutor().adapter instanceof SqliteAdapter ? text : text.replace(/\?/g, () => `$${++n}`)
  return (await db.executeQuery<R>(CompiledQuery.raw(numbered, [...params]))).rows
}

function scanSql(scan: EventScan): { where: string; params: unknown[] } {
  const params: unknown[] = [...scan.types]
  let where = `eff_type in (${marks(scan.types.length)})`
  if (scan.range) {
    const pieces = piecesOf(scan.range)
    where += ` and (${pieces.map(() => 'eff_occurred_at >= ? and eff_occurred_at < ?').join(' or ')})`
    for (const piece of pieces) params.push(piece.start, piece.end)
  }
  where += ' and seq <= ?'
  params.push(scan.maxSeq)
  if (scan.afterSeq !== undefined) {
    where += ' and seq > ?'
    params.push(scan.afterSeq)
  }
  if (scan.originalsOnly) where += ' and target_seq is null'
  return { where, params }
}

/**
 * Calls `visit` for every event of a scan, in seq order, without holding them all: on SQLite one
 * prepared statement iterated synchronously (nothing can interleave with it), elsewhere keyset
 * pages. This is the hot path of as-of reports, publication, verification and rebuilds.
 */
export async function forEachEvent(db: Kysely<Schema>, scan: EventScan, visit: (row: ScanRow) => void): Promise<void> {
  if (scan.types.length === 0) return
  const raw = sqliteHandles.get(db)
  if (raw && scan.parse && scan.range && scan.unordered) {
    for (const piece of piecesOf(scan.range)) forEachRangePage(raw, scan, piece, visit)
    return
  }
  if (raw && scan.parse) return forEachPage(raw, scan, visit)
  if (raw) {
    const { where, params } = scanSql(scan)
    const columns = `seq, source, type, occurred_at, received_at, data, target_seq${scan.withIds ? ', id, retracts' : ''}`
    // A scan of everything reads the table in rowid order; a period reads its index range.
    const text = `select ${columns} from events${scan.range ? '' : ' not indexed'} where ${where}${scan.unordered ? '' : ' order by seq'}`
    const stmt = statementOf(raw, text, 'arrays')
    for (const r of stmt.iterate(...params) as IterableIterator<unknown[]>) {
      visit({
        seq: r[0] as number,
        source: r[1] as string,
        type: r[2] as string,
        occurred_at: r[3] as number,
        received_at: r[4] as number,
        data: r[5] as string,
        target_seq: r[6] as number | null,
        id: scan.withIds ? (r[7] as string) : '',
        retracts: scan.withIds ? (r[8] as string | null) : null,
      })
    }
    return
  }
  let after = scan.afterSeq ?? 0
  for (;;) {
    let q = db
      .selectFrom('events')
      .select(['seq', 'source', 'id', 'type', 'occurred_at', 'received_at', 'data', 'retracts', 'target_seq'])
      .where('eff_type', 'in', [...scan.types])
      .where('seq', '<=', scan.maxSeq)
      .where('seq', '>', after)
    const range = scan.range
    if (range) q = q.where((eb) => eb.or(piecesOf(range).map((p) => eb.and([eb('eff_occurred_at', '>=', p.start), eb('eff_occurred_at', '<', p.end)]))))
    if (scan.originalsOnly) q = q.where('target_seq', 'is', null)
    const rows = await q.orderBy('seq').limit(10_000).execute()
    if (scan.parse) for (const row of rows) visit({ ...row, parsed: JSON.parse(row.data) as Record<string, unknown>, data: '' })
    else for (const row of rows) visit(row)
    if (rows.length < 10_000) return
    after = (rows[rows.length - 1] as ScanRow).seq
  }
}

/** Rows per page of a `parse` scan on SQLite (a page is one string of about 90 bytes a row). */
const PAGE_ROWS = 1000

/**
 * The SQLite side of a `parse` scan: pages of rows in seq order, each page one JSON array built
 * by SQLite (the stored data is JSON text already and goes in verbatim), parsed by one
 * JSON.parse. Better-sqlite3 spends about a microsecond crossing into JavaScript per row and
 * column; per page it is one string. JSON.parse of the data inside the page gives exactly what
 * JSON.parse of each row's data would.
 */
function forEachPage(raw: BetterSqlite3.Database, scan: EventScan, visit: (row: ScanRow) => void): void {
  // The page's own lower bound replaces afterSeq: given two, SQLite seeks by the first and
  // filters by the second, which would read the window again for every page.
  const { where, params } = scanSql({ ...scan, afterSeq: undefined })
  // A page is `[seq, source, type, occurred_at, received_at - occurred_at, data, (target_seq), (id, retracts), ...]`
  // flattened. concat_ws builds each row in one allocation (`||` copies at every step); it skips
  // NULLs, so the nullable columns go through json_quote. Less text is less to build and parse:
  // a type among the scan's is its index there (a retraction's own type is quoted), and
  // received_at is told from occurred_at (a few digits; both are integers, the sum is exact).
  const targets = !scan.originalsOnly
  const width = 6 + (targets ? 1 : 0) + (scan.withIds ? 2 : 0)
  const typeIndex = `case type${scan.types.map((_, i) => ` when ? then ${i}`).join('')} else json_quote(type) end`
  const extra = `${targets ? ', json_quote(target_seq)' : ''}${scan.withIds ? ', json_quote(id), json_quote(retracts)' : ''}`
  const text =
    `select count(*), max(seq), '[' || group_concat(concat_ws(',', seq, json_quote(source), ${typeIndex}, occurred_at, received_at - occurred_at, data${extra}), ',') || ']' ` +
    `from (select seq, source, type, occurred_at, received_at, data, target_seq, id, retracts from events${scan.range ? '' : ' not indexed'} ` +
    `where ${where} and seq > ? order by seq limit ${PAGE_ROWS})`
  const stmt = statementOf(raw, text, 'arrays')
  const types = scan.types
  let after = scan.afterSeq ?? Number.MIN_SAFE_INTEGER
  for (;;) {
    const [count, last, page] = stmt.get(...types, ...params, after) as [number, number | null, string | null]
    if (count === 0 || last === null || page === null) return
    const values = JSON.parse(page) as unknown[]
    let previous = after
    for (let i = 0; i < values.length; i += width) {
      const seq = values[i] as number
      // The subquery's order reaches group_concat in practice; a page out of order would
      // break every caller's cutoffs, so it is refused rather than trusted.
      if (seq <= previous) throw new Error(`events scan: seq ${seq} after ${previous}`)
      previous = seq
      const type = values[i + 2] as number | string
      const occurredAt = values[i + 3] as number
      const more = i + (targets ? 7 : 6)
      visit({
        seq,
        source: values[i + 1] as string,
        type: typeof type === 'number' ? (types[type] as string) : type,
        occurred_at: occurredAt,
        received_at: occurredAt + (values[i + 4] as number),
        data: '',
        parsed: values[i + 5] as Record<string, unknown>,
        target_seq: targets ? (values[i + 6] as number | null) : null,
        id: scan.withIds ? (values[more] as string) : '',
        retracts: scan.withIds ? (values[more + 1] as string | null) : null,
      })
    }
    if (count < PAGE_ROWS) return
    after = last
  }
}

/**
 * A `parse` scan of one occurrence range in any order, on SQLite (a report of a period): pages
 * in the index's own order, (eff_occurred_at, seq), each page a seek where the last one ended,
 * read as one JSON text as in `forEachPage`. Paging a range by seq instead would sort the whole
 * range for every page.
 */
function forEachRangePage(raw: BetterSqlite3.Database, scan: EventScan, range: Interval, visit: (row: ScanRow) => void): void {
  const { where, params } = scanSql({ ...scan, range: undefined })
  const ids = scan.withIds ? ', json_quote(id), json_quote(retracts)' : ''
  const width = scan.withIds ? 10 : 8
  // A page is `[eff_occurred_at, seq, source, type, occurred_at, received_at, target_seq, data, (id, retracts), ...]` flattened.
  const text =
    `select count(*), '[' || group_concat(concat_ws(',', eff_occurred_at, seq, json_quote(source), json_quote(type), occurred_at, received_at, json_quote(target_seq), data${ids}), ',') || ']' ` +
    `from (select * from events where ${where} and eff_occurred_at < ? and (eff_occurred_at, seq) > (?, ?) order by eff_occurred_at, seq limit ${PAGE_ROWS})`
  const stmt = statementOf(raw, text, 'arrays')
  // The cursor starts just before the range: (start, smallest seq).
  let at = range.start
  let seq = Number.MIN_SAFE_INTEGER
  for (;;) {
    const [count, page] = stmt.get(...params, range.end, at, seq) as [number, string | null]
    if (count === 0 || page === null) return
    const values = JSON.parse(page) as unknown[]
    for (let i = 0; i < values.length; i += width) {
      const rowAt = values[i] as number
      const rowSeq = values[i + 1] as number
      if (rowAt < at || (rowAt === at && rowSeq <= seq)) throw new Error(`events scan: (${rowAt}, ${rowSeq}) after (${at}, ${seq})`)
      at = rowAt
      seq = rowSeq
      visit({
        seq: rowSeq,
        source: values[i + 2] as string,
        type: values[i + 3] as string,
        occurred_at: values[i + 4] as number,
        received_at: values[i + 5] as number,
        target_seq: values[i + 6] as number | null,
        data: '',
        parsed: values[i + 7] as Record<string, unknown>,
        id: scan.withIds ? (values[i + 8] as string) : '',
        retracts: scan.withIds ? (values[i + 9] as string | null) : null,
      })
    }
    if (count < PAGE_ROWS) return
  }
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

export function rowToEvent(row: EventsTable): StoredEvent {
  return {
    seq: row.seq,
    id: row.id,
    source: row.source,
    type: row.type,
    occurredAt: row.occurred_at,
    receivedAt: row.received_at,
    data: JSON.parse(row.data) as Record<string, unknown>,
    retracts: row.retracts,
    targetSeq: row.target_seq,
  }
}

/**
 * The upsert of one view's cells; `excluded` holds the change. A sum that leaves the int64 range
 * is caught: SQLite turns it into a REAL, which the slot's check constraint (migration 0006)
 * refuses by name; PostgreSQL (the sum computed as numeric first) turns it into null here,
 * returned, rather than an error that names no measure.
 */
function cellUpsert(db: Kysely<Schema>, program: ViewProgram, changes: CellWrite[], engine: 'sqlite' | 'postgres') {
  const ops = program.ops
  const rows = changes.map((c) => {
    const row: Partial<CellsTable> = { view: program.name, period: c.period, dims_key: c.dimsKey, event_count: c.state.eventCount }
    ops.forEach((_, i) => {
      row[SLOT_COLUMNS[i] as keyof CellsTable] = (c.state.slots[i] ?? null) as never
    })
    return row as CellsTable
  })
  return db
    .insertInto('cells')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['view', 'period', 'dims_key']).doUpdateSet((eb) => {
        const set: Record<string, unknown> = { event_count: eb('cells.event_count', '+', eb.ref('excluded.event_count')) }
        ops.forEach((op, i) => {
          const col = SLOT_COLUMNS[i] as string
          const cur = sql.ref(`cells.${col}`)
          const add = sql.ref(`excluded.${col}`)
          if (op !== 'add') set[col] = sql`case when ${add} is null then ${cur} when ${cur} is null or ${add} ${sql.raw(op === 'min' ? '<' : '>')} ${cur} then ${add} else ${cur} end`
          else if (engine === 'sqlite') set[col] = sql`coalesce(${cur}, 0) + coalesce(${add}, 0)`
          else set[col] = sql`case when abs(coalesce(${cur}, 0)::numeric + coalesce(${add}, 0)) <= 9223372036854775807 then coalesce(${cur}, 0) + coalesce(${add}, 0) end`
        })
        return set as never
      }),
    )
}

/** The slots that add up (sums, counts, an avg's two): the ones a batch can push out of range. */
function addSlots(program: ViewProgram): number[] {
  return program.ops.flatMap((op, i) => (op === 'add' ? [i] : []))
}

/** A change that is itself out of range is refused before anything is bound. */
function assertChanges(program: ViewProgram, changes: CellWrite[]): void {
  for (const c of changes) assertStorable(program, c.period, c.dimsKey, c.state)
}

// ---------------------------------------------------------------- SQLite

function openSqlite(location: string): Engine {
  if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true })
  const raw = new BetterSqlite3(location)
  // Only a new database takes it: 16 KiB pages make appends to events and its indexes touch
  // fewer pages per batch (measured: about a fifth less insert time than the default 4 KiB).
  raw.pragma('page_size = 16384')
  raw.pragma('journal_mode = WAL')
  // Every acknowledged batch survives a power cut, not only a crash.
  raw.pragma('synchronous = FULL')
  raw.pragma('busy_timeout = 5000')
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: keepingStatements(raw) }) })
  sqliteHandles.set(db, raw)
  const health = new Health()
  const statements = new Map<string, BetterSqlite3.Statement>()
  /** The cell upsert's text per view: compiling it with Kysely for every batch is measurable. */
  const upsertSql = new WeakMap<ViewProgram, string>()
  const prepared = (text: string): BetterSqlite3.Statement => {
    let stmt = statements.get(text)
    if (!stmt) {
      stmt = raw.prepare(text)
      statements.set(text, stmt)
    }
    return stmt
  }

  /**
   * The newest id stored per source, as `findEvents` last read it or this connection's committed
   * inserts moved it (see `raiseNewest`). It holds
   * while no other connection has committed, which PRAGMA data_version tells: its value changes
   * only for commits of other connections. A value too high is harmless (more ids are probed);
   * one too low would let a stored id pass as new, and cannot arise: every insert of this
   * connection goes through `insertEvents`.
   */
  const newestIds = { version: -1, bySource: new Map<string, NewestId>() }

  class SqliteWriteTx implements WriteTx {
    /** Per source, the id JavaScript puts highest among this transaction's inserts. */
    readonly inserted = new Map<string, string>()

    constructor(readonly db: Kysely<Schema>) {
      sqliteHandles.set(db, raw)
    }

    async head(): Promise<Head> {
      const row = prepared('select seq, received_at from events order by seq desc limit 1').get() as { seq: number; received_at: number } | undefined
      return row ? { seq: row.seq, receivedAt: row.received_at } : { seq: 0, receivedAt: 0 }
    }

    async findEvents(keys: ReadonlyArray<{ source: string; id: string }>): Promise<StoredEvent[]> {
      // Most producers number their events increasingly: an id above the newest id stored for
      // its source cannot be stored, and needs no probe. SQLite orders text by UTF-8 bytes, that
      // is by code point; JavaScript by UTF-16 code unit. Where the newest id has no code unit
      // from U+D800 up, an id JavaScript puts above it is above it by code point too: at the
      // first unit that differs, any larger unit (a surrogate, or U+E000 and up) stands for a
      // larger code point than one below U+D800. Elsewhere every id is probed. The newest ids
      // are remembered between batches (`newestIds`).
      const version = prepared('pragma data_version').pluck().get() as number
      if (version !== newestIds.version) {
        newestIds.bySource.clear()
        newestIds.version = version
      }
      const top = newestIds.bySource
      const pairs: string[][] = []
      for (const k of keys) {
        let t = top.get(k.source)
        if (t === undefined) {
          const max = (prepared('select max(id) as id from events where source = ?').get(k.source) as { id: string | null }).id
          top.set(k.source, (t = { max, comparable: max !== null && !ORDER_DIFFERS.test(max) }))
        }
        if (t.max === null || (t.comparable && k.id > t.max)) continue
        pairs.push([k.source, k.id])
      }
      if (pairs.length === 0) return []
      // One statement probing the (source, id) index for every key: a call into SQLite per key
      // costs more than the probe itself.
      const stmt = prepared('select e.* from json_each(?) k join events e on e.source = k.value ->> 0 and e.id = k.value ->> 1')
      return (stmt.all(JSON.stringify(pairs)) as EventsTable[]).map(rowToEvent)
    }

    async insertEvents(events: readonly AppendedEvent[]): Promise<void> {
      const stmt = prepared('insert into events (seq, source, id, type, occurred_at, received_at, data, retracts, target_seq, eff_type, eff_occurred_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      const inserted = this.inserted
      // Bound straight from the event: no row object per event.
      for (const a of events) {
        const e = a.event
        const t = a.target
        const data = e.dataJson ?? JSON.stringify(e.data)
        if (t === null) stmt.run(a.seq, e.source, e.id, e.type, e.occurredAt, a.receivedAt, data, e.retracts, null, e.type, e.occurredAt)
        else stmt.run(a.seq, e.source, e.id, e.type, e.occurredAt, a.receivedAt, data, e.retracts, t.seq, t.type, t.occurredAt)
        const high = inserted.get(e.source)
        if (high === undefined || e.id > high) inserted.set(e.source, e.id)
      }
    }

    async addToCells(program: ViewProgram, changes: CellWrite[]): Promise<void> {
      if (changes.length === 0) return
      assertChanges(program, changes)
      let text = upsertSql.get(program)
      if (text === undefined) upsertSql.set(program, (text = cellUpsert(this.db, program, [changes[0] as CellWrite], 'sqlite').compile().sql))
      const stmt = prepared(text)
      const n = program.ops.length
      for (const c of changes) {
        const params: unknown[] = [program.name, c.period, c.dimsKey, c.state.eventCount]
        for (let i = 0; i < n; i++) params.push(c.state.slots[i] ?? null)
        try {
          stmt.run(params)
        } catch (error) {
          const exceeded = /CHECK constraint failed: cells_m(\d+)_exact/.exec((error as Error).message)
          if (exceeded) throw overflowError(program, Number(exceeded[1]), c.period, c.dimsKey)
          throw error
        }
      }
    }
  }

  const engine: Engine = {
    kind: 'sqlite',
    db,
    async migrate() {
      await runMigrations(db, 'sqlite')
    },
    async write(fn) {
      return health.guard(
        () =>
          db.connection().execute(async (conn) => {
            // The connection is held: statements go to better-sqlite3 directly, prepared once.
            prepared('begin immediate').run()
            try {
              const tx = new SqliteWriteTx(conn)
              const result = await fn(tx)
              prepared('commit').run()
              for (const [source, id] of tx.inserted) raiseNewest(newestIds.bySource, source, id)
              return result
            } catch (error) {
              if (raw.inTransaction) prepared('rollback').run()
              throw error
            }
          }),
        true,
      )
    },
    async snapshot(fn) {
      return health.guard(
        () =>
          db.transaction().execute((trx) => {
            sqliteHandles.set(trx, raw)
            return fn(trx)
          }),
        false,
      )
    },
    failure(probe = false) {
      return health.failure(probe, () => probeWrite(engine))
    },
    async close() {
      await db.destroy()
    },
  }
  return engine
}

/**
 * better-sqlite3 as Kysely sees it, with prepared statements kept by their text: Kysely prepares
 * every query anew, which costs more than running most of lateview's small queries. A statement
 * still being iterated is not handed out twice.
 */
function keepingStatements(raw: BetterSqlite3.Database): SqliteDatabase {
  const kept = new Map<string, BetterSqlite3.Statement>()
  return {
    close: () => raw.close(),
    prepare(text: string) {
      const found = kept.get(text)
      if (found && !found.busy) {
        // Most recently used last: the first entry is the one to drop when full.
        kept.delete(text)
        kept.set(text, found)
        return found
      }
      const stmt = raw.prepare(text)
      if (!found) {
        if (kept.size >= 500) kept.delete(kept.keys().next().value as string)
        kept.set(text, stmt)
      }
      return stmt
    },
  }
}

// ---------------------------------------------------------------- PostgreSQL

const INT8_OID = 20

/** A PostgreSQL bigint as a number while that is exact, else as a bigint. */
function int8(value: string): number | bigint {
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : BigInt(value)
}

/**
 * Kysely's migrator asks whether its bookkeeping tables exist by introspecting every schema of
 * the database, with `has_schema_privilege(<name>)` per schema: start-up then slows down with
 * every other schema in the database, and fails with "schema … does not exist" when another
 * schema is dropped meanwhile. lateview looks only at its own schema.
 */
class CurrentSchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db)
  }
}

/** Names of the schema and tables in `current_schema()`: all the migrator needs (no columns). */
class CurrentSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select current_schema() as name`.execute(this.db)
    return rows
  }

  async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; kind: string }>`
      select c.relname as name, n.nspname as schema, c.relkind as kind
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'v', 'p')
      order by c.relname`.execute(this.db)
    const internal = [DEFAULT_MIGRATION_TABLE, DEFAULT_MIGRATION_LOCK_TABLE]
    return rows.filter((r) => options.withInternalKyselyTables || !internal.includes(r.name)).map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v', columns: [] }))
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables(options) }
  }
}

async function openPostgres(location: string): Promise<Engine> {
  const url = new URL(location)
  const schema = url.searchParams.get('schema')
  url.searchParams.delete('schema')
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new LateviewError('LV_ERR_CONFIG_INVALID', `LATEVIEW_DB: schema ${JSON.stringify(schema)} must be lower-case letters, digits and _`)
  }
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      // Seqs and instants are far below 2^53; a measure's sum may not be, and is kept exact.
      if (oid === INT8_OID) return int8
      return pg.types.getTypeParser(oid, format as 'text')
    },
  }
  if (schema) {
    const client = new pg.Client({ connectionString: url.toString() })
    await client.connect()
    try {
      await client.query(`create schema if not exists ${schema}`)
    } finally {
      await client.end()
    }
  }
  const pool = new pg.Pool({
    connectionString: url.toString(),
    types,
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  })
  const db = new Kysely<Schema>({ dialect: new CurrentSchemaPostgresDialect({ pool }) })
  const health = new Health()
  // A client whose connection the server or the network dropped (a restart, a terminated
  // backend) must not crash the process: its query fails, and the pool replaces it.
  pool.on('error', () => undefined)
  pool.on('connect', (client) => client.on('error', () => undefined))

  class PgWriteTx implements WriteTx {
    constructor(readonly db: Transaction<Schema>) {}

    async head(): Promise<Head> {
      const row = await this.db.selectFrom('events').select(['seq', 'received_at']).orderBy('seq', 'desc').limit(1).executeTakeFirst()
      return row ? { seq: row.seq, receivedAt: row.received_at } : { seq: 0, receivedAt: 0 }
    }

    async findEvents(keys: ReadonlyArray<{ source: string; id: string }>): Promise<StoredEvent[]> {
      const bySource = new Map<string, string[]>()
      for (const k of keys) {
        const ids = bySource.get(k.source) ?? []
        ids.push(k.id)
        bySource.set(k.source, ids)
      }
      const found: StoredEvent[] = []
      for (const [source, ids] of bySource) {
        const rows = await this.db.selectFrom('events').selectAll().where('source', '=', source).where(sql<boolean>`id = any(${ids}::text[])`).execute()
        for (const row of rows) found.push(rowToEvent(row))
      }
      return found
    }

    async insertEvents(events: readonly AppendedEvent[]): Promise<void> {
      const rows = events.map(eventRow)
      for (let i = 0; i < rows.length; i += 2000) {
        await this.db
          .insertInto('events')
          .values(rows.slice(i, i + 2000))
          .execute()
      }
    }

    async addToCells(program: ViewProgram, changes: CellWrite[]): Promise<void> {
      assertChanges(program, changes)
      const sums = addSlots(program)
      for (let i = 0; i < changes.length; i += 1000) {
        const upsert = cellUpsert(this.db, program, changes.slice(i, i + 1000), 'postgres').returning(['period', 'dims_key', ...sums.map((s) => SLOT_COLUMNS[s] as SlotColumn)])
        const rows = (await upsert.execute()) as unknown as Array<Record<string, unknown>>
        for (const row of rows) {
          for (const slot of sums) if (row[SLOT_COLUMNS[slot] as string] === null) throw overflowError(program, slot, row.period as string, row.dims_key as string)
        }
      }
    }
  }

  const engine: Engine = {
    kind: 'postgres',
    db,
    async migrate() {
      // Kysely's migrator takes an advisory lock: processes starting together migrate once.
      // Its bookkeeping tables are looked up in every schema unless it is told which one:
      // without this, a database holding another lateview schema would never migrate this one.
      const { rows } = await sql<{ name: string }>`select current_schema() as name`.execute(db)
      await runMigrations(db, 'postgres', rows[0]?.name)
    },
    async write(fn) {
      return health.guard(
        () =>
          db.transaction().execute(async (trx) => {
            // One writer at a time: a seq becomes visible only after every smaller seq is committed.
            await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ':lateview:ingest'))`.execute(trx)
            return fn(new PgWriteTx(trx))
          }),
        true,
      )
    },
    async snapshot(fn) {
      return health.guard(
        () =>
          db
            .transaction()
            .setIsolationLevel('repeatable read')
            .execute((trx) => fn(trx)),
        false,
      )
    },
    failure(probe = false) {
      return health.failure(probe, () => probeWrite(engine))
    },
    async close() {
      await db.destroy()
    },
  }
  return engine
}

async function runMigrations(db: Kysely<Schema>, engine: 'sqlite' | 'postgres', migrationTableSchema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: migrations(engine), ...(migrationTableSchema ? { migrationTableSchema } : {}) })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? String(error)}`)
  }
}
