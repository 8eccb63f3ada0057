/**
 * PostgreSQL's events table, range-partitioned by the UTC month of eff_occurred_at (migration
 * 0010): the statements lateview runs for a day's as-of read, consolidation and diff, and for its
 * lookups by (source, id), are captured as sent to the server and run again under EXPLAIN
 * ANALYZE: only the partition of the day's month is read. And a store left at migration 0009
 * comes out of 0010 with every row, index and figure it had. SQLite keeps its one table.
 */
import { Kysely, Migrator, sql } from 'kysely'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { openEngine } from '../../src/store/engine.js'
import { migrations } from '../../src/store/migrations.js'
import { CurrentSchemaPostgresDialect } from '../../src/store/postgres/introspector.js'
import type { Schema } from '../../src/store/schema.js'
import { TEST_PG_URL } from '../helpers/engines.js'
import { at, retraction, sale, shippedViews, type RawEvent } from '../helpers/ingest-fixtures.js'
import { storeLocations, type StoreLocation } from '../helpers/store-locations.js'

const views = shippedViews()
const REVENUE = 'daily_revenue'
/** Day D of the retail chain (Asia/Taipei, UTC+8 all year): wholly in November, UTC. */
const D = '2026-11-25'
const tpe = (local: string) => at(`${local}+08:00`)

const sold = (id: string, amount: number, occurred: string, received: string, store = '001'): RawEvent =>
  sale(id, amount, { source: `store-${store}`, store, occurredAt: `${occurred}+08:00`, receivedAt: `${received}+08:00` })

/**
 * Events in October, November and December, D's among them with a retraction, and the Taipei day
 * 2026-12-01, which begins on 30 November UTC: its events lie in two partitions.
 */
const HISTORY: RawEvent[] = [
  sold('oct-1', 11, '2026-10-15T10:00:00', '2026-10-15T10:01:00'),
  sold('oct-2', 12, '2026-10-31T23:30:00', '2026-10-31T23:31:00', '002'),
  sold('d-1', 100, `${D}T09:00:00`, `${D}T09:01:00`),
  sold('d-2', 200, `${D}T10:00:00`, `${D}T10:01:00`, '002'),
  sold('d-3', 300, `${D}T11:00:00`, `${D}T11:01:00`),
  retraction('void-d-2', 'd-2', { source: 'store-002', occurredAt: `${D}T12:00:00+08:00`, receivedAt: `${D}T12:01:00+08:00` }),
  sold('dec1-early', 40, '2026-12-01T02:00:00', '2026-12-01T02:01:00'),
  sold('dec1-late', 50, '2026-12-01T20:00:00', '2026-12-01T20:01:00'),
  sold('dec-1', 60, '2026-12-10T10:00:00', '2026-12-10T10:01:00'),
]

/** A late sale of D and a retraction of d-3, received after D was consolidated. */
const LATE: RawEvent[] = [
  sold('d-late', 1000, `${D}T20:00:00`, '2026-12-10T11:00:00', '003'),
  retraction('void-d-3', 'd-3', { occurredAt: '2026-12-10T11:30:00+08:00', receivedAt: '2026-12-10T11:30:00+08:00' }),
]

/** Statements as pg sends them (a COPY's own query), while `capturing`. */
interface Sent {
  text: string
  values: unknown[]
}
const sent: Sent[] = []
let capturing = false
const clientProto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
const originalQuery = clientProto.query
clientProto.query = function (this: unknown, ...args: unknown[]) {
  if (capturing && typeof args[0] === 'string') sent.push({ text: args[0], values: (args[1] as unknown[] | undefined) ?? [] })
  // A COPY … TO STDOUT (src/store/postgres/copy.ts) is an object holding its text: its query is what reads.
  const copied = capturing ? /^copy \((.*)\) to stdout$/s.exec((args[0] as { text?: unknown } | null)?.text as string) : null
  if (copied) sent.push({ text: copied[1] as string, values: [] })
  return originalQuery.apply(this, args)
}

/** The statements `run` sends to the server. */
async function statementsOf(run: () => Promise<unknown>): Promise<Sent[]> {
  sent.length = 0
  capturing = true
  try {
    await run()
  } finally {
    capturing = false
  }
  return sent.splice(0)
}

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Actual Loops'?: number
  Plans?: PlanNode[]
}

/** The partitions of events a plan reads (a node actually run), and those it names at all. */
function partitionsOf(node: PlanNode, read = new Set<string>(), named = new Set<string>()): { read: Set<string>; named: Set<string> } {
  const relation = node['Relation Name']
  if (relation?.startsWith('events_y')) {
    named.add(relation)
    if ((node['Actual Loops'] ?? 0) > 0) read.add(relation)
  }
  for (const child of node.Plans ?? []) partitionsOf(child, read, named)
  return { read, named }
}

/**
 * Runs each statement of `statements` that reads events again under EXPLAIN ANALYZE (a read has
 * no effect), with its own parameters, and returns per statement the partitions it read.
 */
async function partitionsRead(client: pg.Client, statements: Sent[]): Promise<Array<{ text: string; read: string[]; named: string[] }>> {
  const out: Array<{ text: string; read: string[]; named: string[] }> = []
  for (const s of statements) {
    if (!/\bevents\b/.test(s.text) || !/^\s*(select|with)\b/i.test(s.text) || /\b(insert|update|delete)\b/i.test(s.text)) continue
    const { rows } = await client.query(`explain (analyze, format json) ${s.text}`, s.values)
    const plan = (rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]?.Plan as PlanNode
    const { read, named } = partitionsOf(plan)
    out.push({ text: s.text, read: [...read].sort(), named: [...named].sort() })
  }
  return out
}

/** Asserts that every statement read only `allowed` partitions, and that together they read `expected`. */
function assertOnly(found: Array<{ text: string; read: string[] }>, allowed: string[], expected: string[], what: string): void {
  assert.ok(found.length > 0, `${what}: no statement read events`)
  for (const f of found)
    assert.ok(
      f.read.every((p) => allowed.includes(p)),
      `${what}: ${f.text} read ${f.read.join(', ')}`,
    )
  assert.equal([...new Set(found.flatMap((f) => f.read))].sort(), expected, what)
}

const locations = await storeLocations()
const location = locations.find((l) => l.name === 'postgres')

if (location) {
  const test = suite('store/partitions (postgres)')
  test.after(async () => {
    clientProto.query = originalQuery
    await location.cleanup()
  })

  const schemaOf = (where: string) => new URL(where).searchParams.get('schema') as string
  const sideClient = async (schema: string) => {
    const client = new pg.Client({ connectionString: TEST_PG_URL, options: `-c search_path=${schema}` })
    await client.connect()
    return client
  }

  test('a day’s as-of read, consolidation, diff and lookups by (source, id) read only its month’s partition', async () => {
    const where = location.next()
    const clock = new ManualClock(tpe(`${D}T08:00:00`))
    const lv = await Lateview.open({ db: where, views, clock })
    const client = await sideClient(schemaOf(where))
    try {
      await lv.ingest(HISTORY, { imported: true })
      const { rows: partitions } = await client.query(`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'events'::regclass order by 1`)
      assert.equal(
        partitions.map((r) => r.name),
        ['events_y2026m10', 'events_y2026m11', 'events_y2026m12'],
      )
      const nov = ['events_y2026m11']

      const consolidation = await statementsOf(async () => {
        const runs = await lv.jobs.run('consolidate', { view: REVENUE, period: D, now: tpe('2026-11-26T03:00:00'), trigger: 'cron' })
        assert.equal(
          runs.map((r) => [r.outcome, r.revision]),
          [['published', 1]],
        )
      })
      assertOnly(await partitionsRead(client, consolidation), nov, nov, 'consolidation')

      await lv.ingest(LATE, { imported: true })

      const asOf = await statementsOf(async () => {
        // What was known on 26 November: d-1 and d-3 (d-2 voided).
        const doc = await lv.report(REVENUE, D, { asOf: tpe('2026-11-26T12:00:00') })
        assert.equal([doc.cutoffSeq, doc.eventCount, doc.totals.measures.revenue], [6, 2, 400])
      })
      assertOnly(await partitionsRead(client, asOf), nov, nov, 'as-of read')

      const diff = await statementsOf(async () => {
        const d = await lv.diff(REVENUE, D, { revision: 1 }, { asOf: tpe('2026-12-10T12:00:00') })
        assert.equal(d.changes.flatMap((c) => c.events.map((e) => e.id)).sort(), ['d-late', 'void-d-3'])
      })
      assertOnly(await partitionsRead(client, diff), nov, nov, 'diff')

      const lookups = await statementsOf(async () => {
        const found = await lv.event('store-001', 'd-3')
        assert.equal([found?.event.seq, found?.retractedBy?.id], [5, 'void-d-3'])
        // A batch of duplicates: found by (source, id), nothing written.
        const again = await lv.ingest([HISTORY[3], HISTORY[4]], { imported: true })
        assert.equal([again.accepted, again.duplicates], [0, 2])
      })
      assertOnly(await partitionsRead(client, lookups), nov, nov, 'lookups by (source, id)')

      // A Taipei day that begins on 30 November UTC reads its two months' partitions.
      const twoMonths = await statementsOf(async () => {
        const doc = await lv.report(REVENUE, '2026-12-01', { asOf: tpe('2026-12-10T12:00:00') })
        assert.equal([doc.eventCount, doc.totals.measures.revenue], [2, 90])
      })
      assertOnly(await partitionsRead(client, twoMonths), ['events_y2026m11', 'events_y2026m12'], ['events_y2026m11', 'events_y2026m12'], 'a day across two months')
    } finally {
      await client.end()
      await lv.close()
    }
  })

  test('a month’s partition is created once by processes racing, and again after a rolled-back batch created it', async () => {
    const where = location.next()
    const clock = new ManualClock(tpe('2027-03-01T12:00:00'))
    const [a, b] = [await Lateview.open({ db: where, views, clock }), await Lateview.open({ db: where, views, clock })]
    const client = await sideClient(schemaOf(where))
    const partitions = async () =>
      (await client.query(`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'events'::regclass order by 1`)).rows.map((r) => r.name)
    try {
      // A batch that creates February's partition, then fails: the partition goes with it.
      const boom = new Error('boom')
      const failed = a.engine.write(async (tx) => {
        const event = { source: 'store-001', id: 'gone', type: 'sale', occurredAt: tpe('2027-02-10T10:00:00'), data: {}, retracts: null }
        await tx.insertEvents([{ seq: 1, receivedAt: tpe('2027-02-10T10:01:00'), event, target: null }])
        assert.equal(await partitions(), [])
        throw boom
      })
      await failed.then(
        () => assert.unreachable('the write should fail'),
        (error) => assert.is(error, boom),
      )
      assert.equal(await partitions(), [])
      const late = (id: string, store: string, occurred: string) => sale(id, 1, { source: `store-${store}`, store, occurredAt: `${occurred}+08:00` })
      // The process whose rolled-back batch created February's partition creates it again.
      assert.is((await a.ingest([late('feb-solo', '003', '2027-02-11T10:00:00')])).accepted, 1)
      // Both processes receive (live) an event of February and one of March at once.
      const results = await Promise.all([a, b].map((lv, i) => lv.ingest([late(`feb-${i}`, `00${i + 1}`, '2027-02-10T10:00:00'), late(`mar-${i}`, `00${i + 1}`, '2027-03-01T10:00:00')])))
      assert.equal(
        results.map((r) => r.accepted),
        [2, 2],
      )
      assert.equal(await partitions(), ['events_y2027m02', 'events_y2027m03'])
      assert.equal((await client.query('select tableoid::regclass::text as p, count(*)::int as n from events group by 1 order by 1')).rows, [
        { p: 'events_y2027m02', n: 3 },
        { p: 'events_y2027m03', n: 2 },
      ])
      assert.equal((await client.query('select seq from event_keys order by seq')).rows, [{ seq: '1' }, { seq: '2' }, { seq: '3' }, { seq: '4' }, { seq: '5' }])
    } finally {
      await client.end()
      await a.close()
      await b.close()
    }
  })

  /** Every row of every table of a schema (the migrator's own left out), to compare two stores. */
  const tablesOf = async (client: pg.Client, schema: string): Promise<string[]> =>
    (
      await client.query(
        `select table_name as name from information_schema.tables where table_schema = $1 and table_type in ('BASE TABLE') and table_name not like 'kysely%' and table_name not like 'events_y%'
         union select 'events' order by 1`,
        [schema],
      )
    ).rows.map((r) => r.name as string)
  const indexesOf = async (client: pg.Client, schema: string): Promise<string[]> =>
    (await client.query(`select tablename || ': ' || replace(indexdef, $1 || '.', '') as def from pg_indexes where schemaname = $1 order by 1`, [schema])).rows.map((r) => r.def as string)

  test('migration 0010 partitions the events of a store left at 0009, keeping every row, seq, index and figure', async () => {
    // The reference: a store made by lateview as it is, with revisions, retractions and late events.
    const reference = location.next()
    const clock = new ManualClock(tpe(`${D}T08:00:00`))
    const ref = await Lateview.open({ db: reference, views, clock })
    await ref.ingest(HISTORY, { imported: true })
    await ref.jobs.run('consolidate', { view: REVENUE, period: D, now: tpe('2026-11-26T03:00:00'), trigger: 'cron' })
    await ref.ingest(LATE, { imported: true })
    assert.equal(
      (await ref.jobs.run('close', { view: REVENUE, period: D, now: tpe('2026-12-10T12:00:00'), trigger: 'cron' })).map((r) => [r.outcome, r.revision]),
      [['published', 2]],
    )

    // The same rows in a store left at migration 0009: events in one table, no event_keys.
    const before = location.next()
    const [refSchema, schema] = [schemaOf(reference), schemaOf(before)]
    const pool = new pg.Pool({ connectionString: TEST_PG_URL, options: `-c search_path=${schema}` })
    const old = new Kysely<Schema>({ dialect: new CurrentSchemaPostgresDialect({ pool }) })
    const client = await sideClient(schema)
    try {
      await sql`create schema ${sql.id(schema)}`.execute(old)
      const all = await migrations('postgres').getMigrations()
      const upTo0009 = Object.fromEntries(Object.entries(all).filter(([name]) => name < '0010'))
      const { error } = await new Migrator({ db: old, provider: { getMigrations: async () => upTo0009 }, migrationTableSchema: schema }).migrateToLatest()
      if (error) throw error
      const tables = await tablesOf(client, schema)
      assert.ok(!tables.includes('event_keys'))
      assert.is((await client.query(`select relkind from pg_class where oid = 'events'::regclass`)).rows[0].relkind, 'r')
      for (const table of tables) {
        const columns = (await client.query('select column_name as c from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position', [schema, table])).rows
          .map((r) => `"${r.c}"`)
          .join(', ')
        await client.query(`insert into ${schema}.${table} (${columns}) select ${columns} from ${refSchema}.${table}`)
      }
      assert.is(Number((await client.query('select count(*) as n from events')).rows[0].n), HISTORY.length + LATE.length)
    } finally {
      await old.destroy()
    }

    const migrated = await Lateview.open({ db: before, views, clock })
    try {
      // Every row of every table, event_keys included, is the reference's: no more, no fewer.
      const tables = await tablesOf(client, schema)
      assert.equal(tables, await tablesOf(client, refSchema))
      assert.ok(tables.includes('event_keys'))
      for (const table of tables) {
        const count = async (a: string, b: string) => Number((await client.query(`select count(*) as n from (select * from ${a}.${table} except all select * from ${b}.${table}) d`)).rows[0].n)
        assert.equal([table, await count(schema, refSchema), await count(refSchema, schema)], [table, 0, 0])
      }
      // The same partitions, holding the same events, and the same indexes.
      const partitionRows = async (s: string) =>
        (await client.query(`select tableoid::regclass::text as p, count(*) as n from ${s}.events group by 1 order by 1`)).rows.map((r) => [r.p.replace(`${s}.`, ''), Number(r.n)])
      assert.equal(await partitionRows(schema), [
        ['events_y2026m10', 2],
        ['events_y2026m11', 7],
        ['events_y2026m12', 2],
      ])
      assert.equal(await partitionRows(refSchema), await partitionRows(schema))
      assert.equal(await indexesOf(client, schema), await indexesOf(client, refSchema))

      // Every figure: revisions, as-of reads, a diff, Realtime, and a recomputation of every revision.
      for (const lv of [migrated, ref]) assert.equal((await lv.verifyRevisions()).differences, [])
      assert.equal(await migrated.revisions(REVENUE, D), await ref.revisions(REVENUE, D))
      for (const asOf of ['2026-11-25T10:30:00', '2026-11-26T12:00:00', '2026-12-10T12:00:00']) {
        assert.equal(await migrated.report(REVENUE, D, { asOf: tpe(asOf) }), await ref.report(REVENUE, D, { asOf: tpe(asOf) }))
      }
      const revenue = (await migrated.revisions(REVENUE, D)).revisions.map((r) => [r.revision, r.cutoffSeq, r.totals.measures.revenue])
      assert.equal(revenue, [
        [1, 6, 400],
        [2, 11, 1100],
      ])
      assert.equal(await migrated.diff(REVENUE, D, { revision: 1 }, { revision: 2 }), await ref.diff(REVENUE, D, { revision: 1 }, { revision: 2 }))
      assert.equal(await migrated.realtime(REVENUE), await ref.realtime(REVENUE))
      assert.equal(await migrated.event('store-001', 'd-3'), await ref.event('store-001', 'd-3'))

      // Ingest goes on: a duplicate is recognised, seqs continue, a new month gets its partition.
      const next = await migrated.ingest([HISTORY[2], sold('jan-1', 7, '2027-01-05T10:00:00', '2027-01-05T10:01:00')], { imported: true })
      assert.equal([next.accepted, next.duplicates, next.firstSeq], [1, 1, 12])
      assert.equal((await partitionRows(schema)).at(-1), ['events_y2027m01', 1])
    } finally {
      await client.end()
      await migrated.close()
      await ref.close()
    }
  })

  test.run()
}

const sqliteLocation = locations.find((l) => l.name === 'sqlite') as StoreLocation
const onSqlite = suite('store/partitions (sqlite)')
onSqlite.after(() => sqliteLocation.cleanup())
onSqlite('SQLite keeps its one events table: migration 0010 changes nothing there', async () => {
  const engine = await openEngine(sqliteLocation.next())
  try {
    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name like 'event%' order by name`.execute(engine.db.kysely)
    assert.equal(
      tables.rows.map((r) => r.name),
      ['events'],
    )
  } finally {
    await engine.close()
  }
})
onSqlite.run()
