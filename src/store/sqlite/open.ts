import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import type { ViewProgram } from '../../domain/aggregate.js'
import type { StoredEvent } from '../../domain/event.js'
import type { AppendedEvent, BatchStart, CellWrite, Engine, Head, WriteTx } from '../engine.js'
import { Health, probeWrite } from '../faults.js'
import { overflowError } from '../int64.js'
import { runMigrations } from '../migrate.js'
import type { Db, SqliteDb } from '../db.js'
import { assertChanges, attributesJson, cellUpsert, rowToEvent } from '../rows.js'
import type { EventsTable, Schema } from '../schema.js'
import { NewestIds } from './newest.js'
import { Statements } from './statements.js'

/**
 * Opens a SQLite database: one better-sqlite3 connection, its statements kept (`Statements`),
 * write transactions run on it directly (begin immediate: one writer at a time).
 */
export function openSqlite(location: string): Engine {
  if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true })
  const raw = new BetterSqlite3(location)
  // Only a new database takes it: 16 KiB pages make appends to events and its indexes touch
  // fewer pages per batch (measured: about a fifth less insert time than the default 4 KiB).
  raw.pragma('page_size = 16384')
  raw.pragma('journal_mode = WAL')
  // Every acknowledged batch survives a power cut, not only a crash.
  raw.pragma('synchronous = FULL')
  raw.pragma('busy_timeout = 5000')
  const statements = new Statements(raw)
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: statements.forKysely() }) })
  const onThis: SqliteDb = { engine: 'sqlite', kysely: db, statements }
  const health = new Health()
  /** The cell upsert's text per view: compiling it with Kysely for every batch is measurable. */
  const upsertSql = new WeakMap<ViewProgram, string>()
  const prepared = (text: string): BetterSqlite3.Statement => statements.get(text)

  /** The newest id stored per source, for `findEvents`. */
  const newestIds = new NewestIds()

  class SqliteWriteTx implements WriteTx {
    /** Per source, the id JavaScript puts highest among this transaction's inserts. */
    readonly inserted = new Map<string, string>()
    readonly db: Db

    constructor(kysely: Kysely<Schema>) {
      this.db = { engine: 'sqlite', kysely, statements }
    }

    async head(): Promise<Head> {
      const row = prepared('select seq, received_at from events order by seq desc limit 1').get() as { seq: number; received_at: number } | undefined
      return row ? { seq: row.seq, receivedAt: row.received_at } : { seq: 0, receivedAt: 0 }
    }

    async batchStart(): Promise<BatchStart> {
      // Prepared statements run synchronously: three of them cost less than one combined.
      const versions = prepared('select count(*) as n from view_versions').get() as { n: number }
      const missing = prepared("select 1 as one from alerts where kind = 'MissingData' and status = 'firing' limit 1").get()
      return { head: await this.head(), definitionVersions: versions.n, missingDataFiring: missing !== undefined }
    }

    async findEvents(keys: ReadonlyArray<{ source: string; id: string }>): Promise<StoredEvent[]> {
      const version = (statements.get('pragma data_version', 'arrays').get() as [number])[0]
      const pairs = newestIds.toProbe(keys, version, prepared('select max(id) as id from events where source = ?'))
      if (pairs.length === 0) return []
      // One statement probing the (source, id) index for every key: a call into SQLite per key
      // costs more than the probe itself.
      const stmt = prepared('select e.* from json_each(?) k join events e on e.source = k.value ->> 0 and e.id = k.value ->> 1')
      return (stmt.all(JSON.stringify(pairs)) as EventsTable[]).map(rowToEvent)
    }

    async insertEvents(events: readonly AppendedEvent[]): Promise<void> {
      const stmt = prepared('insert into events (seq, source, id, type, occurred_at, received_at, data, retracts, target_seq, eff_type, eff_occurred_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      // Most events have no attributes: their column is left to its default (NULL), not bound.
      const withAttributes = prepared(
        'insert into events (seq, source, id, type, occurred_at, received_at, data, retracts, target_seq, eff_type, eff_occurred_at, attributes) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      const inserted = this.inserted
      // Bound straight from the event: no row object per event.
      for (const a of events) {
        const e = a.event
        const t = a.target
        const data = e.dataJson ?? JSON.stringify(e.data)
        if (e.attributes !== undefined) {
          const attributes = attributesJson(e)
          if (t === null) withAttributes.run(a.seq, e.source, e.id, e.type, e.occurredAt, a.receivedAt, data, e.retracts, null, e.type, e.occurredAt, attributes)
          else withAttributes.run(a.seq, e.source, e.id, e.type, e.occurredAt, a.receivedAt, data, e.retracts, t.seq, t.type, t.occurredAt, attributes)
        } else if (t === null) stmt.run(a.seq, e.source, e.id, e.type, e.occurredAt, a.receivedAt, data, e.retracts, null, e.type, e.occurredAt)
        else stmt.run(a.seq, e.source, e.id, e.type, e.occurredAt, a.receivedAt, data, e.retracts, t.seq, t.type, t.occurredAt)
        const high = inserted.get(e.source)
        if (high === undefined || e.id > high) inserted.set(e.source, e.id)
      }
    }

    async addToCells(program: ViewProgram, changes: CellWrite[]): Promise<void> {
      if (changes.length === 0) return
      assertChanges(program, changes)
      let text = upsertSql.get(program)
      if (text === undefined) upsertSql.set(program, (text = cellUpsert(this.db.kysely, program, [changes[0] as CellWrite]).compile().sql))
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
    db: onThis,
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
              newestIds.raise(tx.inserted)
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
      return health.guard(() => db.transaction().execute((trx) => fn({ engine: 'sqlite', kysely: trx, statements })), false)
    },
    async single(fn) {
      // The connection held: a write transaction in progress on it is waited for, never seen.
      return health.guard(() => db.connection().execute((conn) => fn({ engine: 'sqlite', kysely: conn, statements })), false)
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
