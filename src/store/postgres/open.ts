import { Kysely, sql, type Transaction } from 'kysely'
import pg from 'pg'
import type { ViewProgram } from '../../domain/aggregate.js'
import type { StoredEvent } from '../../domain/event.js'
import { LateviewError } from '../../errors.js'
import type { Db } from '../db.js'
import type { AppendedEvent, CellWrite, Engine, Head, WriteTx } from '../engine.js'
import { Health, probeWrite } from '../faults.js'
import { overflowError } from '../int64.js'
import { runMigrations } from '../migrate.js'
import { addSlots, assertChanges, cellUpsert, eventRow, rowToEvent } from '../rows.js'
import { SLOT_COLUMNS, type Schema, type SlotColumn } from '../schema.js'
import { CurrentSchemaPostgresDialect } from './introspector.js'

const INT8_OID = 20

/** A PostgreSQL bigint as a number while that is exact, else as a bigint. */
function int8(value: string): number | bigint {
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : BigInt(value)
}

export async function openPostgres(location: string): Promise<Engine> {
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
    readonly db: Db

    constructor(readonly trx: Transaction<Schema>) {
      this.db = { engine: 'postgres', kysely: trx }
    }

    async head(): Promise<Head> {
      const row = await this.trx.selectFrom('events').select(['seq', 'received_at']).orderBy('seq', 'desc').limit(1).executeTakeFirst()
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
        const rows = await this.trx.selectFrom('events').selectAll().where('source', '=', source).where(sql<boolean>`id = any(${ids}::text[])`).execute()
        for (const row of rows) found.push(rowToEvent(row))
      }
      return found
    }

    async insertEvents(events: readonly AppendedEvent[]): Promise<void> {
      const rows = events.map(eventRow)
      for (let i = 0; i < rows.length; i += 2000) {
        await this.trx
          .insertInto('events')
          .values(rows.slice(i, i + 2000))
          .execute()
      }
    }

    async addToCells(program: ViewProgram, changes: CellWrite[]): Promise<void> {
      assertChanges(program, changes)
      const sums = addSlots(program)
      for (let i = 0; i < changes.length; i += 1000) {
        const upsert = cellUpsert(this.trx, program, changes.slice(i, i + 1000), 'postgres').returning(['period', 'dims_key', ...sums.map((s) => SLOT_COLUMNS[s] as SlotColumn)])
        const rows = (await upsert.execute()) as unknown as Array<Record<string, unknown>>
        for (const row of rows) {
          for (const slot of sums) if (row[SLOT_COLUMNS[slot] as string] === null) throw overflowError(program, slot, row.period as string, row.dims_key as string)
        }
      }
    }
  }

  const engine: Engine = {
    kind: 'postgres',
    db: { engine: 'postgres', kysely: db },
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
            .execute((trx) => fn({ engine: 'postgres', kysely: trx })),
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
