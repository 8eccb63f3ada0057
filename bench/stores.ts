/**
 * Where a run keeps its databases and what it does to them outside lateview: the raw-insert
 * baseline tables, the bulk load of the read stores, and the naive as-of query. This is the one
 * file of the benchmark that knows SQLite from PostgreSQL.
 */
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import pg from 'pg'
import { openEngine } from '../src/store/engine.js'
import { monthStart, nextMonth, partitionName } from '../src/store/postgres/partitions.js'
import { ROW_COLUMNS, type BareRow, type Row } from './data.js'
import type { EngineName } from './options.js'

/** A table with lateview's event columns and its unique (source, id) index, written without lateview. */
export interface RawSink {
  /** Inserts one batch in one transaction; rows already there (same seq or same source and id) are skipped. */
  insert(rows: Row[]): Promise<void>
  /** Inserts rows without seq (the database numbers them), as the bare HTTP route does. */
  insertBare(rows: BareRow[]): Promise<void>
  close(): Promise<void>
}

/** The naive report a user would write instead of lateview: GROUP BY over the events table. */
export interface NaiveRow {
  store: string
  channel: string
  revenueCents: number
  orders: number
  largestCents: number
  eventCount: number
}

export interface NaiveQuery {
  /** How the database runs it (EXPLAIN QUERY PLAN / EXPLAIN). */
  plan: string
  run(start: number, end: number, asOf: number): Promise<NaiveRow[]>
  /** Drops the indexes it needed. */
  close(): Promise<void>
}

export interface Backend {
  readonly engine: EngineName
  /** The LATEVIEW_DB of a named store of this run. */
  location(name: string): string
  /**
   * `copy` (PostgreSQL only): `insert` sends the rows with `COPY … FROM STDIN` instead, the rows
   * already stored (a re-sent duplicate carries the seq of the row it repeats) left out first,
   * as COPY cannot skip a conflict.
   */
  rawSink(name: string, options?: { allIndexes?: boolean; copy?: boolean }): Promise<RawSink>
  /**
   * Creates a lateview store and appends rows to its events table directly (cells are then
   * rebuilt by lateview on open); returns the number of events stored.
   */
  bulkLoad(location: string, rows: Iterable<Row>): Promise<number>
  naiveQuery(location: string): Promise<NaiveQuery>
  /** Rows of a lateview store's events table missing from a raw table, and the other way round. */
  compareRows(location: string, rawName: string): Promise<{ onlyInLateview: number; onlyInRaw: number }>
  /**
   * Waits until what a build step wrote is on disk: the writeback of a freshly loaded store
   * must not fall on the first measurements that follow it.
   */
  settle(location: string): Promise<void>
  /** Removes every database of the run. */
  cleanup(): Promise<void>
  readonly where: string
}

const RAW_COLUMNS_SQLITE = `seq integer primary key, source text not null, id text not null, type text not null, occurred_at integer not null,
  received_at integer not null, data text not null, retracts text, target_seq integer, eff_type text not null, eff_occurred_at integer not null`

/** The secondary indexes lateview's migrations create on events (for the informative "all indexes" baseline). */
const LATEVIEW_INDEXES = ['create index events_by_occurred_at on events (eff_occurred_at)', 'create index events_by_target on events (target_seq) where target_seq is not null']

const SIGN = `case when e.type = 'refund' then -1 else 1 end`

// ---------------------------------------------------------------- SQLite

export function sqliteBackend(keep: boolean): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'lateview-bench-'))
  const open = (file: string, pageSize?: number) => {
    const db = new BetterSqlite3(file)
    if (pageSize) db.pragma(`page_size = ${pageSize}`)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    return db
  }
  return {
    engine: 'sqlite',
    where: dir,
    location: (name) => join(dir, `${name}.db`),
    async rawSink(name, options = {}) {
      if (options.copy) throw new Error('COPY is PostgreSQL only')
      // The informative "lateview's layout" table also takes lateview's page size.
      const db = open(join(dir, `${name}.db`), options.allIndexes ? 16384 : undefined)
      db.exec(`create table events (${RAW_COLUMNS_SQLITE}, unique (source, id))`)
      if (options.allIndexes) for (const ddl of LATEVIEW_INDEXES) db.exec(ddl)
      const insert = db.prepare(`insert or ignore into events (${ROW_COLUMNS.join(', ')}) values (${ROW_COLUMNS.map(() => '?').join(', ')})`)
      const insertBare = db.prepare(
        `insert or ignore into events (${ROW_COLUMNS.slice(1).join(', ')}) values (${ROW_COLUMNS.slice(1)
          .map(() => '?')
          .join(', ')})`,
      )
      const many = db.transaction((rows: Row[]) => {
        for (const r of rows) insert.run(r)
      })
      const manyBare = db.transaction((rows: BareRow[]) => {
        for (const r of rows) insertBare.run(r)
      })
      return {
        async insert(rows) {
          many.immediate(rows)
        },
        async insertBare(rows) {
          manyBare.immediate(rows)
        },
        async close() {
          db.close()
        },
      }
    },
    async bulkLoad(location, rows) {
      const engine = await openEngine(location)
      await engine.close()
      const db = new BetterSqlite3(location)
      // A build step, not a measurement: durability does not matter here.
      db.pragma('synchronous = OFF')
      const insert = db.prepare(`insert or ignore into events (${ROW_COLUMNS.join(', ')}) values (${ROW_COLUMNS.map(() => '?').join(', ')})`)
      const many = db.transaction((chunk: Row[]) => {
        for (const r of chunk) insert.run(r)
      })
      let chunk: Row[] = []
      for (const r of rows) {
        chunk.push(r)
        if (chunk.length === 50_000) {
          many(chunk)
          chunk = []
        }
      }
      many(chunk)
      const n = (db.prepare('select count(*) as n from events').get() as { n: number }).n
      db.pragma('wal_checkpoint(TRUNCATE)')
      db.close()
      return n
    },
    async naiveQuery(location) {
      const db = open(location)
      db.exec('create index if not exists bench_naive_occurred on events (occurred_at)')
      db.exec('create index if not exists bench_naive_retracts on events (source, retracts) where retracts is not null')
      const amount = `round(json_extract(e.data, '$.amount') * 100)`
      const text = `
        select json_extract(e.data, '$.store') as store, json_extract(e.data, '$.channel') as channel,
          sum(${SIGN} * ${amount}) as revenueCents, sum(${SIGN}) as orders, max(${SIGN} * ${amount}) as largestCents, count(*) as eventCount
        from events e indexed by bench_naive_occurred
        where e.type in ('sale', 'refund') and e.occurred_at >= ? and e.occurred_at < ? and e.received_at <= ? and e.retracts is null
          and not exists (select 1 from events r where r.source = e.source and r.retracts = e.id and r.received_at <= ?)
        group by 1, 2`
      const stmt = db.prepare(text)
      const plan = (db.prepare(`explain query plan ${text}`).all(0, 0, 0, 0) as Array<{ detail: string }>).map((r) => r.detail).join('; ')
      return {
        plan,
        async run(start, end, asOf) {
          return (stmt.all(start, end, asOf, asOf) as NaiveRow[]).map((r) => ({ ...r, store: String(r.store), channel: String(r.channel) }))
        },
        async close() {
          db.exec('drop index if exists bench_naive_occurred')
          db.exec('drop index if exists bench_naive_retracts')
          db.close()
        },
      }
    },
    async compareRows(location, rawName) {
      const db = new BetterSqlite3(location, { readonly: true })
      try {
        db.prepare('attach database ? as raw').run(join(dir, `${rawName}.db`))
        const cols = ROW_COLUMNS.join(', ')
        const count = (a: string, b: string) => (db.prepare(`select count(*) as n from (select ${cols} from ${a}.events except select ${cols} from ${b}.events)`).get() as { n: number }).n
        return { onlyInLateview: count('main', 'raw'), onlyInRaw: count('raw', 'main') }
      } finally {
        db.close()
      }
    },
    async settle(location) {
      for (const file of [location, `${location}-wal`]) {
        if (!existsSync(file)) continue
        const fd = openSync(file, 'r+')
        try {
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
      }
    },
    async cleanup() {
      if (!keep) rmSync(dir, { recursive: true, force: true })
    },
  }
}

// ---------------------------------------------------------------- PostgreSQL

const PG_TYPES = ['bigint', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'bigint', 'text', 'bigint'] as const

/** A value in COPY's text format: \N for null, backslash, tab, newline and carriage return escaped. */
function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N'
  const text = String(v)
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c] as string) : text
}

/** What a pg `Submittable` is handed: the client's connection to the server. */
interface CopyConnection {
  query(text: string): void
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
}

/**
 * Runs `COPY … FROM STDIN` with `data` (COPY's text format) on a pg client, speaking the
 * protocol's copy-in messages through pg's submittable queries: pg-copy-streams, which does this
 * as a stream, is not a dependency of lateview.
 */
function copyIn(client: pg.Client, text: string, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: Error | null = null
    const ignore = () => undefined
    const submittable = {
      submit(connection: CopyConnection) {
        connection.query(text)
      },
      handleCopyInResponse(connection: CopyConnection) {
        connection.sendCopyFromChunk(Buffer.from(data))
        connection.endCopyFrom()
      },
      handleError(error: Error) {
        failure = error
      },
      handleReadyForQuery() {
        if (failure) reject(failure)
        else resolve()
      },
      handleCommandComplete: ignore,
      handleRowDescription: ignore,
      handleDataRow: ignore,
      handleEmptyQuery: ignore,
      handlePortalSuspended: ignore,
      handleCopyData: ignore,
    }
    client.query(submittable as unknown as pg.Submittable)
  })
}

/**
 * lateview's layout on PostgreSQL (migration 0010): events range-partitioned by the UTC month of
 * eff_occurred_at, primary key (eff_occurred_at, seq), and event_keys holding, across partitions,
 * the unique (source, id) and the primary key seq. A baseline writes into the same layout.
 */
const PG_LAYOUT = [
  `create table event_keys (seq bigint generated by default as identity primary key, source text not null, id text not null,
    eff_occurred_at bigint not null, received_at bigint not null, unique (source, id))`,
  `create table events (seq bigint not null, source text not null, id text not null, type text not null, occurred_at bigint not null,
    received_at bigint not null, data text not null, retracts text, target_seq bigint, eff_type text not null, eff_occurred_at bigint not null,
    primary key (eff_occurred_at, seq)) partition by range (eff_occurred_at)`,
]

/** lateview's secondary indexes on PostgreSQL's events (the occurrence index is its primary key's prefix). */
const PG_INDEXES = ['create index events_by_target on events (target_seq) where target_seq is not null', 'create index events_by_seq on events (seq)']

/** The key columns written to event_keys along with each event. */
const KEY_COLUMNS = ['seq', 'source', 'id', 'eff_occurred_at', 'received_at'] as const

/**
 * One multi-row insert of whole columns, into event_keys and events at once: the fastest way to
 * send rows with plain SQL in pg. A row whose seq or (source, id) is stored already is skipped
 * (of a key sent twice in a batch, the first: its keys row, and its receivedAt, name it).
 */
function unnestInsert(columns: readonly string[], types: readonly string[]): string {
  const keys = KEY_COLUMNS.filter((c) => columns.includes(c))
  const rows = `with r as (select * from unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) as r(${columns.join(', ')}))`
  const k = `k as (insert into event_keys (${keys.join(', ')}) select ${keys.join(', ')} from r on conflict do nothing returning seq, source, id, received_at)`
  const cols = columns.includes('seq') ? columns.join(', ') : `seq, ${columns.join(', ')}`
  return `${rows}, ${k} insert into events (${cols}) select ${cols.replace(/\b(\w+)\b/g, (c) => (c === 'seq' ? 'k.seq' : `r.${c}`))} from r join k on k.source = r.source and k.id = r.id and k.received_at = r.received_at on conflict do nothing`
}

/** Creates the month partitions of these rows' occurrences not yet created through this set (lateview's names). */
async function ensurePartitions(c: pg.Client, known: Set<number>, effOccurredAt: Iterable<number>): Promise<void> {
  for (const at of effOccurredAt) {
    const start = monthStart(at)
    if (known.has(start)) continue
    await c.query(`create table if not exists ${partitionName(start)} partition of events for values from (${start}) to (${nextMonth(start)})`)
    known.add(start)
  }
}

function transpose(rows: ReadonlyArray<readonly unknown[]>, width: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: width }, () => new Array(rows.length))
  rows.forEach((r, i) => {
    for (let c = 0; c < width; c++) (cols[c] as unknown[])[i] = r[c]
  })
  return cols
}

export async function postgresBackend(url: string, keep: boolean): Promise<Backend> {
  const prefix = `bench_${process.pid}`
  const schemas = new Set<string>()
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const schemaOf = (name: string) => {
    const s = `${prefix}_${name}`.toLowerCase().replace(/[^a-z0-9_]/g, '_')
    schemas.add(s)
    return s
  }
  const client = async (schema: string) => {
    const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` })
    await c.connect()
    return c
  }
  return {
    engine: 'postgres',
    where: `${url} schemas ${prefix}_*`,
    location(name) {
      const u = new URL(url)
      u.searchParams.set('schema', schemaOf(name))
      return u.toString()
    },
    async rawSink(name, options = {}) {
      const schema = schemaOf(name)
      await admin.query(`create schema ${schema}`)
      const c = await client(schema)
      for (const ddl of PG_LAYOUT) await c.query(ddl)
      if (options.allIndexes) for (const ddl of PG_INDEXES) await c.query(ddl)
      const months = new Set<number>()
      if (options.copy) {
        const text = `copy events (${ROW_COLUMNS.join(', ')}) from stdin`
        const keys = `copy event_keys (${KEY_COLUMNS.join(', ')}) from stdin`
        let stored = 0
        return {
          async insert(rows) {
            // New rows take increasing seqs; a duplicate, even of a row of this batch, an older one.
            const fresh: Row[] = []
            for (const r of rows) {
              if (r[0] <= stored) continue
              fresh.push(r)
              stored = r[0]
            }
            if (fresh.length === 0) return
            await ensurePartitions(
              c,
              months,
              fresh.map((r) => r[10]),
            )
            await c.query('begin')
            await copyIn(c, keys, `${fresh.map((r) => [r[0], r[1], r[2], r[10], r[5]].map(copyValue).join('\t')).join('\n')}\n`)
            await copyIn(c, text, `${fresh.map((r) => r.map(copyValue).join('\t')).join('\n')}\n`)
            await c.query('commit')
          },
          async insertBare() {
            throw new Error('the COPY sink takes rows with their seq')
          },
          async close() {
            await c.end()
          },
        }
      }
      const full = { name: `${schema}_raw`, text: unnestInsert(ROW_COLUMNS, PG_TYPES) }
      const bare = { name: `${schema}_bare`, text: unnestInsert(ROW_COLUMNS.slice(1), PG_TYPES.slice(1)) }
      return {
        async insert(rows) {
          await ensurePartitions(
            c,
            months,
            rows.map((r) => r[10]),
          )
          await c.query({ ...full, values: transpose(rows, 11) })
        },
        async insertBare(rows) {
          await ensurePartitions(
            c,
            months,
            rows.map((r) => r[9]),
          )
          await c.query({ ...bare, values: transpose(rows, 10) })
        },
        async close() {
          await c.end()
        },
      }
    },
    async bulkLoad(location, rows) {
      const engine = await openEngine(location)
      await engine.close()
      const schema = new URL(location).searchParams.get('schema') as string
      const c = await client(schema)
      // COPY in chunks of 50,000 rows: a third of the time of unnest inserts at 5M events. A
      // re-sent duplicate carries the seq of the row it repeats, and COPY cannot skip it: new rows
      // take increasing seqs, so a row whose seq is not above the last one sent is left out.
      const text = `copy events (${ROW_COLUMNS.join(', ')}) from stdin`
      const keys = `copy event_keys (${KEY_COLUMNS.join(', ')}) from stdin`
      const months = new Set<number>()
      const load = async (chunk: Row[]) => {
        await ensurePartitions(
          c,
          months,
          chunk.map((r) => r[10]),
        )
        await copyIn(c, keys, `${chunk.map((r) => [r[0], r[1], r[2], r[10], r[5]].map(copyValue).join('\t')).join('\n')}\n`)
        await copyIn(c, text, `${chunk.map((r) => r.map(copyValue).join('\t')).join('\n')}\n`)
      }
      try {
        await c.query('set synchronous_commit = off')
        let chunk: Row[] = []
        let stored = 0
        for (const r of rows) {
          if (r[0] <= stored) continue
          stored = r[0]
          chunk.push(r)
          if (chunk.length === 50_000) {
            await load(chunk)
            chunk = []
          }
        }
        if (chunk.length > 0) await load(chunk)
        // A store in steady state has statistics (autovacuum); a fresh bulk load does not yet.
        await c.query('analyze events, event_keys')
        return Number((await c.query('select count(*) as n from events')).rows[0].n)
      } finally {
        await c.end()
      }
    },
    async naiveQuery(location) {
      const schema = new URL(location).searchParams.get('schema') as string
      const c = await client(schema)
      await c.query('create index if not exists bench_naive_occurred on events (occurred_at)')
      await c.query('create index if not exists bench_naive_retracts on events (source, retracts) where retracts is not null')
      await c.query('analyze events')
      const amount = `round((e.data::jsonb ->> 'amount')::numeric * 100)`
      const text = `
        select e.data::jsonb ->> 'store' as store, e.data::jsonb ->> 'channel' as channel,
          sum(${SIGN} * ${amount}) as "revenueCents", sum(${SIGN}) as orders, max(${SIGN} * ${amount}) as "largestCents", count(*) as "eventCount"
        from events e
        where e.type in ('sale', 'refund') and e.occurred_at >= $1 and e.occurred_at < $2 and e.received_at <= $3 and e.retracts is null
          and not exists (select 1 from events r where r.source = e.source and r.retracts = e.id and r.received_at <= $3)
        group by 1, 2`
      const planRows = await c.query(`explain ${text}`, [0, 0, 0])
      return {
        plan: planRows.rows.map((r: Record<string, string>) => Object.values(r)[0]).join(' | '),
        async run(start, end, asOf) {
          const { rows } = await c.query({ name: 'naive', text, values: [start, end, asOf] })
          return rows.map((r: Record<string, unknown>) => ({
            store: String(r.store),
            channel: String(r.channel),
            revenueCents: Number(r.revenueCents),
            orders: Number(r.orders),
            largestCents: Number(r.largestCents),
            eventCount: Number(r.eventCount),
          }))
        },
        async close() {
          await c.query('drop index if exists bench_naive_occurred')
          await c.query('drop index if exists bench_naive_retracts')
          await c.end()
        },
      }
    },
    async compareRows(location, rawName) {
      const lateview = new URL(location).searchParams.get('schema') as string
      const raw = schemaOf(rawName)
      const cols = ROW_COLUMNS.join(', ')
      const count = async (a: string, b: string) => Number((await admin.query(`select count(*) as n from (select ${cols} from ${a}.events except select ${cols} from ${b}.events) d`)).rows[0].n)
      return { onlyInLateview: await count(lateview, raw), onlyInRaw: await count(raw, lateview) }
    },
    async settle(location) {
      // A store in steady state has been vacuumed (PostgreSQL's autovacuum runs after so many
      // inserts): without it, the first reads of a fresh bulk load set every row's hint bits, and
      // the autovacuum of millions of rows may start in the middle of a measurement.
      const schema = new URL(location).searchParams.get('schema')
      if (schema) await admin.query(`vacuum (analyze) ${schema}.events, ${schema}.event_keys`)
      await admin.query('checkpoint')
    },
    async cleanup() {
      try {
        if (!keep) for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`)
      } finally {
        await admin.end()
      }
    },
  }
}
