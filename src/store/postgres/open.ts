import { Kysely, sql, type Transaction } from 'kysely'
import pg from 'pg'
import type { ViewProgram } from '../../domain/aggregate.js'
import type { StoredEvent } from '../../domain/event.js'
import { LateviewError } from '../../errors.js'
import type { Db } from '../db.js'
import type { AppendedEvent, BatchStart, CellWrite, Engine, Head, WriteTx } from '../engine.js'
import { Health, probeWrite } from '../faults.js'
import { overflowError } from '../int64.js'
import { runMigrations } from '../migrate.js'
import { exactRows, queryRows } from '../db.js'
import { addSlots, assertChanges, eventRow, rowToEvent } from '../rows.js'
import { SLOT_COLUMNS, type EventsTable, type Schema } from '../schema.js'
import { CurrentSchemaPostgresDialect } from './introspector.js'
import { EventPartitions } from './partitions.js'
import { retrying } from './retry.js'

const INT8_OID = 20

/** The write transactions' lock, sent with their begin (see `writer` below). */
const WRITE_LOCK = "select pg_advisory_xact_lock(hashtext(current_schema() || ':lateview:ingest'))"

/** Rows per multi-row statement of a batch. */
const CHUNK = 1000

const EVENT_COLUMNS = ['seq', 'source', 'id', 'type', 'occurred_at', 'received_at', 'data', 'retracts', 'target_seq', 'eff_type', 'eff_occurred_at'] as const satisfies ReadonlyArray<keyof EventsTable>
const EVENT_TYPES = ['bigint', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'bigint', 'text', 'bigint']
/**
 * One statement writes a chunk of events into their month partitions and their keys into
 * event_keys (see schema.ts), whose unique (source, id) and primary key seq hold across partitions.
 */
function eventsInsert(columns: readonly string[], types: readonly string[]): string {
  return (
    `with r as (select * from unnest(${types.map((t) => `?::${t}[]`).join(', ')}) as r(${columns.join(', ')})), ` +
    'k as (insert into event_keys (seq, source, id, eff_occurred_at, received_at) select seq, source, id, eff_occurred_at, received_at from r) ' +
    `insert into events (${columns.join(', ')}) select * from r`
  )
}
const EVENTS_INSERT = eventsInsert(EVENT_COLUMNS, EVENT_TYPES)
/** A chunk holding an event with attributes sends their column too; any other leaves it to its default (NULL). */
const EVENTS_WITH_ATTRIBUTES = [...EVENT_COLUMNS, 'attributes'] as const
const EVENTS_INSERT_WITH_ATTRIBUTES = eventsInsert(EVENTS_WITH_ATTRIBUTES, [...EVENT_TYPES, 'text'])

/**
 * The upsert of a view's cells from whole columns (`excluded` holds the change). A sum that
 * leaves the int64 range is computed as numeric first and becomes null, returned, rather than an
 * error that names no measure: the caller turns it into LV_ERR_MEASURE_OVERFLOW.
 */
function cellsUpsert(program: ViewProgram): string {
  const slots = program.ops.map((_, i) => SLOT_COLUMNS[i] as string)
  const set = program.ops.map((op, i) => {
    const col = slots[i] as string
    const cur = `cells.${col}`
    const add = `excluded.${col}`
    if (op !== 'add') return `${col} = case when ${add} is null then ${cur} when ${cur} is null or ${add} ${op === 'min' ? '<' : '>'} ${cur} then ${add} else ${cur} end`
    return `${col} = case when abs(coalesce(${cur}, 0)::numeric + coalesce(${add}, 0)) <= 9223372036854775807 then coalesce(${cur}, 0) + coalesce(${add}, 0) end`
  })
  const sums = addSlots(program).map((i) => slots[i] as string)
  return (
    `insert into cells (view, period, dims_key, event_count${slots.map((c) => `, ${c}`).join('')}) ` +
    `select ?::text, u.* from unnest(?::text[], ?::text[], ?::bigint[]${slots.map(() => ', ?::bigint[]').join('')}) as u ` +
    `on conflict (view, period, dims_key) do update set event_count = cells.event_count + excluded.event_count${set.map((x) => `, ${x}`).join('')} ` +
    `returning period, dims_key${sums.map((c) => `, ${c}`).join('')}`
  )
}

/** A PostgreSQL bigint as a number while that is exact, else as a bigint. */
function int8(value: string): number | bigint {
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : BigInt(value)
}

export interface PostgresOptions {
  /**
   * A streaming replica, for reads (see ../reads.ts): nothing is created or migrated on it, and
   * a connection that does not come within 2 s fails, so that reads turn to the primary.
   */
  standby?: boolean
}

export async function openPostgres(location: string, options: PostgresOptions = {}): Promise<Engine> {
  const url = new URL(location)
  const schema = url.searchParams.get('schema')
  url.searchParams.delete('schema')
  // `?pgbouncer=true`: the URL names a transaction pooler, which keeps no session for lateview.
  const pooler = url.searchParams.get('pgbouncer')
  url.searchParams.delete('pgbouncer')
  if (pooler !== null && pooler !== 'true' && pooler !== 'false') {
    throw new LateviewError('LV_ERR_CONFIG_INVALID', `LATEVIEW_DB: pgbouncer=${JSON.stringify(pooler)} must be true or false`)
  }
  const pooled = pooler === 'true'
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
  if (schema && !options.standby) {
    const client = new pg.Client({ connectionString: url.toString() })
    await client.connect()
    try {
      await createSchema(client, schema)
    } finally {
      await client.end()
    }
  }
  const pool = new pg.Pool({
    connectionString: url.toString(),
    types,
    max: 10,
    ...(options.standby ? { connectionTimeoutMillis: 2000 } : {}),
    // Behind a transaction pooler a session setting would stay on whichever server connection
    // took it: every transaction sets the schema instead (./pooled.ts).
    ...(schema && !pooled ? { options: `-c search_path=${schema}` } : {}),
  })
  const db = new Kysely<Schema>({ dialect: new CurrentSchemaPostgresDialect({ pool }, schema && pooled ? { schemaPerTransaction: schema } : {}) })
  // Write transactions, on the same pool: one writer at a time (a seq becomes visible only after
  // every smaller seq is committed). The lock is taken by the round trip that begins the
  // transaction; the statements after it (the head first) take their snapshots once it is held.
  const writer = new Kysely<Schema>({ dialect: new CurrentSchemaPostgresDialect({ pool }, { ...(schema && pooled ? { schemaPerTransaction: schema } : {}), onBegin: WRITE_LOCK }) })
  let retries = 0
  // A name per statement text: pg prepares a named statement on each connection once.
  const names = new Map<string, string>()
  const prepared = async <R>(text: string, params: readonly unknown[]): Promise<R[]> => {
    let name = names.get(text)
    if (name === undefined) names.set(text, (name = `lateview_${names.size}`))
    return (await pool.query({ name, text, values: [...params] })).rows as R[]
  }
  const health = new Health()
  // A client whose connection the server or the network dropped (a restart, a terminated
  // backend) must not crash the process: its query fails, and the pool replaces it.
  pool.on('error', () => undefined)
  pool.on('connect', (client) => client.on('error', () => undefined))

  const partitions = new EventPartitions()

  class PgWriteTx implements WriteTx {
    readonly db: Db
    /** Month partitions this transaction created, known to exist once it commits. */
    readonly createdMonths: number[] = []

    constructor(readonly trx: Transaction<Schema>) {
      this.db = { engine: 'postgres', kysely: trx }
    }

    async head(): Promise<Head> {
      const row = await this.trx.selectFrom('event_keys').select(['seq', 'received_at']).orderBy('seq', 'desc').limit(1).executeTakeFirst()
      return row ? { seq: row.seq, receivedAt: row.received_at } : { seq: 0, receivedAt: 0 }
    }

    async batchStart(): Promise<BatchStart> {
      const [row] = await queryRows<{ seq: number | null; received_at: number | null; versions: number; missing: boolean }>(
        this.db,
        'select h.seq, h.received_at, (select count(*) from view_versions)::int as versions, ' +
          "exists (select 1 from alerts where kind = 'MissingData' and status = 'firing') as missing " +
          'from (select 1) one left join (select seq, received_at from event_keys order by seq desc limit 1) h on true',
      )
      if (!row) throw new Error('batch start: no row')
      return {
        head: row.seq === null ? { seq: 0, receivedAt: 0 } : { seq: row.seq, receivedAt: row.received_at as number },
        definitionVersions: row.versions,
        missingDataFiring: row.missing,
      }
    }

    async findEvents(keys: ReadonlyArray<{ source: string; id: string }>): Promise<StoredEvent[]> {
      if (keys.length === 0) return []
      // One statement for the whole batch: each key probes the unique (source, id) index of
      // event_keys, then the primary key (eff_occurred_at, seq) of the one partition it names
      // (the lateral subqueries keep the planner from a hash join over the tables).
      const rows = await queryRows<EventsTable>(
        this.db,
        'select e.* from unnest(?::text[], ?::text[]) as q(source, id) ' +
          'cross join lateral (select seq, eff_occurred_at from event_keys k where k.source = q.source and k.id = q.id limit 1) k ' +
          'cross join lateral (select * from events where events.eff_occurred_at = k.eff_occurred_at and events.seq = k.seq) e',
        [keys.map((k) => k.source), keys.map((k) => k.id)],
      )
      return rows.map(rowToEvent)
    }

    async insertEvents(events: readonly AppendedEvent[]): Promise<void> {
      const all = events.map(eventRow)
      this.createdMonths.push(
        ...(await partitions.ensure(
          this.db,
          all.map((r) => r.eff_occurred_at),
        )),
      )
      // One insert of whole columns per 1,000 events: a multi-row VALUES binds 11 parameters per row.
      for (let i = 0; i < all.length; i += CHUNK) {
        const rows = all.slice(i, i + CHUNK)
        const attributes = rows.some((r) => r.attributes !== null)
        const columns: ReadonlyArray<keyof EventsTable> = attributes ? EVENTS_WITH_ATTRIBUTES : EVENT_COLUMNS
        await queryRows(
          this.db,
          attributes ? EVENTS_INSERT_WITH_ATTRIBUTES : EVENTS_INSERT,
          columns.map((c) => rows.map((r) => r[c])),
        )
      }
    }

    async addToCells(program: ViewProgram, changes: CellWrite[]): Promise<void> {
      assertChanges(program, changes)
      const sums = addSlots(program)
      const slots = program.ops.length
      const text = cellsUpsert(program)
      for (let i = 0; i < changes.length; i += CHUNK) {
        const chunk = changes.slice(i, i + CHUNK)
        const params: unknown[] = [program.name, chunk.map((c) => c.period), chunk.map((c) => c.dimsKey), chunk.map((c) => c.state.eventCount)]
        for (let s = 0; s < slots; s++) params.push(chunk.map((c) => c.state.slots[s] ?? null))
        const rows = await exactRows<Record<string, unknown>>(this.db, text, params)
        for (const row of rows) {
          for (const slot of sums) if (row[SLOT_COLUMNS[slot] as string] === null) throw overflowError(program, slot, row.period as string, row.dims_key as string)
        }
      }
    }
  }

  const engine: Engine = {
    kind: 'postgres',
    // Behind a transaction pooler a named statement would be prepared on one server connection
    // and run on another: there every statement goes through Kysely, unnamed.
    db: pooled ? { engine: 'postgres', kysely: db } : { engine: 'postgres', kysely: db, prepared },
    async migrate() {
      // Kysely's migrator takes an advisory lock: processes starting together migrate once.
      // Its bookkeeping tables are looked up in every schema unless it is told which one:
      // without this, a database holding another lateview schema would never migrate this one.
      const { rows } = await sql<{ name: string }>`select current_schema() as name`.execute(db)
      await runMigrations(db, 'postgres', rows[0]?.name)
    },
    async write(fn) {
      // A deadlock or a serialization failure aborts the whole transaction, which is run again
      // (a bounded number of times, then LV_ERR_STORE_BUSY): `fn` keeps nothing from an attempt.
      return health.guard(
        () =>
          retrying(
            () =>
              writer.transaction().execute(async (trx) => {
                const tx = new PgWriteTx(trx)
                const result = await fn(tx)
                return { result, created: tx.createdMonths }
              }),
            {
              onRetry: () => {
                retries++
              },
            },
          ).then(({ result, created }) => {
            // Only a committed attempt's partitions exist: a rolled-back one took its own along.
            partitions.remember(created)
            return result
          }),
        true,
      )
    },
    retried() {
      return retries
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
    async single(fn) {
      return health.guard(() => fn(engine.db), false)
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
 * `create schema if not exists`, which two processes starting together can both run: the loser
 * then fails on the catalog's unique index (23505) although the schema exists, and goes on.
 */
async function createSchema(client: pg.Client, schema: string): Promise<void> {
  try {
    await client.query(`create schema if not exists ${schema}`)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code !== '23505' && code !== '42P06') throw error
    const { rowCount } = await client.query('select 1 from pg_namespace where nspname = $1', [schema])
    if (rowCount !== 1) throw error
  }
}
