import { createHash } from 'node:crypto'
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'

/**
 * One set of migrations for both engines. What they need from the engine is the name of the
 * 64-bit integer type (SQLite's `integer` is 64-bit and makes `seq` the rowid), and in one place
 * whether SQLite needs a guard PostgreSQL has built in.
 */
export function migrations(engine: 'sqlite' | 'postgres'): MigrationProvider {
  const int64 = engine === 'sqlite' ? 'integer' : 'bigint'
  const all: Record<string, Migration> = {
    '0001_events_and_cells': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('events')
          .addColumn('seq', int64, (c) => c.primaryKey())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('occurred_at', int64, (c) => c.notNull())
          .addColumn('received_at', int64, (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('retracts', 'text')
          .addColumn('target_seq', int64)
          .addColumn('eff_type', 'text', (c) => c.notNull())
          .addColumn('eff_occurred_at', int64, (c) => c.notNull())
          .addUniqueConstraint('events_source_id', ['source', 'id'])
          .execute()
        // Reading a period (as-of, verify, min/max repair) is a range scan on this index.
        await db.schema.createIndex('events_by_occurrence').on('events').columns(['eff_type', 'eff_occurred_at', 'seq']).execute()
        await db.schema.createIndex('events_by_target').on('events').column('target_seq').where(sql.ref('target_seq'), 'is not', null).execute()

        let cells = db.schema
          .createTable('cells')
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('period', 'text', (c) => c.notNull())
          .addColumn('dims_key', 'text', (c) => c.notNull())
          .addColumn('event_count', int64, (c) => c.notNull())
        for (let i = 0; i < 16; i++) cells = cells.addColumn(`m${i}`, int64)
        await cells.addPrimaryKeyConstraint('cells_pk', ['view', 'period', 'dims_key']).execute()

        await db.schema
          .createTable('view_state')
          .addColumn('view', 'text', (c) => c.primaryKey())
          .addColumn('version', int64, (c) => c.notNull())
          .addColumn('definition', 'text', (c) => c.notNull())
          .addColumn('updated_at', int64, (c) => c.notNull())
          .execute()
      },
    },
    '0002_revisions_and_jobs': {
      async up(db: Kysely<unknown>) {
        // As-of queries find the last seq received at or before an instant.
        await db.schema.createIndex('events_by_received').on('events').columns(['received_at', 'seq']).execute()

        await db.schema
          .createTable('revisions')
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('period', 'text', (c) => c.notNull())
          .addColumn('revision', int64, (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('cutoff_seq', int64, (c) => c.notNull())
          .addColumn('cutoff_received_at', int64)
          .addColumn('computed_at', int64, (c) => c.notNull())
          .addColumn('trigger', 'text', (c) => c.notNull())
          .addColumn('event_count', int64, (c) => c.notNull())
          .addColumn('late_event_count', int64, (c) => c.notNull())
          .addColumn('completeness', 'double precision')
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('view_version', int64, (c) => c.notNull())
          .addColumn('totals', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('revisions_pk', ['view', 'period', 'revision'])
          .execute()

        // Copy-on-write: a row holds a cell's figures for revisions [from_revision, to_revision).
        let cells = db.schema
          .createTable('revision_cells')
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('period', 'text', (c) => c.notNull())
          .addColumn('dims_key', 'text', (c) => c.notNull())
          .addColumn('from_revision', int64, (c) => c.notNull())
          .addColumn('to_revision', int64)
          .addColumn('event_count', int64, (c) => c.notNull())
        for (let i = 0; i < 16; i++) cells = cells.addColumn(`m${i}`, int64)
        await cells.addPrimaryKeyConstraint('revision_cells_pk', ['view', 'period', 'dims_key', 'from_revision']).execute()

        await db.schema
          .createTable('periods')
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('period', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('latest_revision', int64, (c) => c.notNull())
          .addColumn('latest_cutoff_seq', int64, (c) => c.notNull())
          .addColumn('dirty_since_seq', int64)
          .addColumn('updated_at', int64, (c) => c.notNull())
          .addPrimaryKeyConstraint('periods_pk', ['view', 'period'])
          .execute()
        await db.schema.createIndex('periods_dirty').on('periods').columns(['view', 'dirty_since_seq']).execute()

        await db.schema
          .createTable('job_runs')
          .addColumn('id', int64, (c) => c.primaryKey())
          .addColumn('job', 'text', (c) => c.notNull())
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('period', 'text', (c) => c.notNull())
          .addColumn('now', int64, (c) => c.notNull())
          .addColumn('trigger', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('revision', int64)
          .addColumn('detail', 'text')
          .addColumn('started_at', int64, (c) => c.notNull())
          .addColumn('duration_ms', 'double precision', (c) => c.notNull())
          .execute()
        await db.schema.createIndex('job_runs_by_key').on('job_runs').columns(['job', 'view', 'period', 'outcome']).execute()
      },
    },
    '0003_alerts_and_webhooks': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('alerts')
          .addColumn('id', int64, (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('view', 'text')
          .addColumn('period', 'text')
          .addColumn('source', 'text')
          .addColumn('created_at', int64, (c) => c.notNull())
          .addColumn('resolved_at', int64)
          .addColumn('data', 'text', (c) => c.notNull())
          // Alerts that must fire once per subject (MissingData per view, period and source).
          .addColumn('once_key', 'text', (c) => c.unique())
          .execute()
        await db.schema.createIndex('alerts_by_kind').on('alerts').columns(['kind', 'status', 'id']).execute()

        await db.schema
          .createTable('webhooks')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('kinds', 'text')
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('created_at', int64, (c) => c.notNull())
          .addColumn('disabled_at', int64)
          .addColumn('disabled_reason', 'text')
          .addColumn('deleted_at', int64)
          .execute()

        await db.schema
          .createTable('deliveries')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('webhook_id', 'text', (c) => c.notNull())
          .addColumn('alert_id', int64, (c) => c.notNull())
          .addColumn('event', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', int64, (c) => c.notNull())
          .addColumn('cycle_attempts', int64, (c) => c.notNull())
          .addColumn('next_attempt_at', int64, (c) => c.notNull())
          .addColumn('lease_until', int64)
          .addColumn('created_at', int64, (c) => c.notNull())
          .addColumn('delivered_at', int64)
          .addColumn('last_status_code', int64)
          .addColumn('last_error', 'text')
          .execute()
        await db.schema.createIndex('deliveries_due').on('deliveries').columns(['status', 'next_attempt_at']).execute()
        await db.schema.createIndex('deliveries_by_webhook').on('deliveries').columns(['webhook_id', 'created_at']).execute()

        await db.schema
          .createTable('delivery_attempts')
          .addColumn('delivery_id', 'text', (c) => c.notNull())
          .addColumn('attempt', int64, (c) => c.notNull())
          .addColumn('at', int64, (c) => c.notNull())
          .addColumn('status_code', int64)
          .addColumn('error', 'text')
          .addColumn('duration_ms', 'double precision', (c) => c.notNull())
          .addPrimaryKeyConstraint('delivery_attempts_pk', ['delivery_id', 'attempt'])
          .execute()
      },
    },
    '0004_leaner_event_indexes': {
      async up(db: Kysely<unknown>) {
        // Every index on events is paid for by every insert. receivedAt never decreases along
        // seq, so the cutoff of an instant is a binary search over the primary key; and a period
        // scan needs only the occurrence range (the type is read from the row it visits anyway).
        await db.schema.dropIndex('events_by_received').execute()
        await db.schema.dropIndex('events_by_occurrence').execute()
        await db.schema.createIndex('events_by_occurred_at').on('events').column('eff_occurred_at').execute()
      },
    },
    '0005_view_versions': {
      async up(db: Kysely<unknown>) {
        // Every definition a view has had, so that a revision is read under its own forever.
        await db.schema
          .createTable('view_versions')
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('version', int64, (c) => c.notNull())
          .addColumn('definition', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('effective_from', int64, (c) => c.notNull())
          .addPrimaryKeyConstraint('view_versions_pk', ['view', 'version'])
          .execute()
        // The definitions in force until now are the first ones known; older ones were not kept.
        const { rows } = await sql<{ view: string; version: number | string; definition: string; updated_at: number | string }>`select view, version, definition, updated_at from view_state`.execute(
          db,
        )
        for (const r of rows) {
          const hash = createHash('sha256').update(r.definition).digest('hex')
          await sql`insert into view_versions (view, version, definition, hash, effective_from) values (${r.view}, ${Number(r.version)}, ${r.definition}, ${hash}, ${Number(r.updated_at)})`.execute(db)
        }
        // The version a period's latest figures were computed (or confirmed) under.
        await db.schema.alterTable('periods').addColumn('view_version', int64).execute()
        await sql`update periods set view_version = (select r.view_version from revisions r where r.view = periods.view and r.period = periods.period and r.revision = periods.latest_revision)`.execute(
          db,
        )
      },
    },
    '0006_exact_cells': {
      async up(db: Kysely<unknown>) {
        // A sum past int64 makes SQLite store a REAL instead (PostgreSQL raises an error): a check
        // per slot turns that into an error naming the slot, so a batch is refused, never rounded.
        if (engine !== 'sqlite') return
        let cells = db.schema
          .createTable('cells_exact')
          .addColumn('view', 'text', (c) => c.notNull())
          .addColumn('period', 'text', (c) => c.notNull())
          .addColumn('dims_key', 'text', (c) => c.notNull())
          .addColumn('event_count', int64, (c) => c.notNull())
        for (let i = 0; i < 16; i++) cells = cells.addColumn(`m${i}`, int64)
        cells = cells.addPrimaryKeyConstraint('cells_pk', ['view', 'period', 'dims_key'])
        for (let i = 0; i < 16; i++) cells = cells.addCheckConstraint(`cells_m${i}_exact`, sql`typeof(${sql.ref(`m${i}`)}) in ('integer', 'null')`)
        await cells.execute()
        const columns = ['view', 'period', 'dims_key', 'event_count', ...Array.from({ length: 16 }, (_, i) => `m${i}`)].join(', ')
        await sql.raw(`insert into cells_exact (${columns}) select ${columns} from cells`).execute(db)
        await db.schema.dropTable('cells').execute()
        await db.schema.alterTable('cells_exact').renameTo('cells').execute()
      },
    },
    '0007_delivery_lease_tokens': {
      async up(db: Kysely<unknown>) {
        // lease_until cannot tell two leases of a delivery apart (two claims may set the same
        // instant), so a dispatcher whose lease ran out could record over its successor's outcome.
        await db.schema.alterTable('deliveries').addColumn('lease_token', 'text').execute()
      },
    },
    '0008_source_lags': {
      async up(db: Kysely<unknown>) {
        // GET /v1/sources read every event of its window; ingest now keeps a sketch of lags per
        // (UTC hour of receivedAt, source), and this builds it once from the events already stored.
        // The bucket of a lag is written out here rather than imported, so that this migration
        // keeps doing what it did whatever store/sources.ts (lagBucket, which it equals) becomes.
        await db.schema
          .createTable('source_lags')
          .addColumn('hour', int64, (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('events', int64, (c) => c.notNull())
          .addColumn('max_lag', int64, (c) => c.notNull())
          .addColumn('last_received_at', int64, (c) => c.notNull())
          .addColumn('buckets', 'text', (c) => c.notNull())
          .addColumn('parts', int64, (c) => c.notNull())
          .addPrimaryKeyConstraint('source_lags_pk', ['hour', 'source'])
          .execute()
        // Magnitudes below 256 ms are their own bucket; [2^e, 2^(e+1)) has 128 of 2^(e-7) ms each.
        const magnitude = (m: string) => {
          let text = `case when ${m} < 256 then ${m}`
          for (let shift = 1; shift < 45; shift++) text += ` when ${m} < ${2 ** (shift + 8)} then ${128 * shift} + ${m} / ${2 ** shift}`
          return `${text} else ${128 * 45} + ${m} / ${2 ** 45} end`
        }
        const bucket = `(case when lag < 0 then -1 else 1 end) * (${magnitude('abs(lag)')})`
        const hour = 'received_at - (((received_at % 3600000) + 3600000) % 3600000)'
        const list = engine === 'sqlite' ? `group_concat(bucket || ',' || n, ',' order by bucket)` : `string_agg(bucket::text || ',' || n::text, ',' order by bucket)`
        await sql
          .raw(
            `insert into source_lags (hour, source, events, max_lag, last_received_at, buckets, parts)
             select hour, source, sum(n), max(max_lag), max(latest), ${list}, 1
             from (
               select hour, source, ${bucket} as bucket, count(*) as n, max(lag) as max_lag, max(received_at) as latest
               from (select ${hour} as hour, source, received_at, received_at - occurred_at as lag from events where target_seq is null) e
               group by hour, source, bucket
             ) b
             group by hour, source`,
          )
          .execute(db)
      },
    },
    '0009_store_probe': {
      async up(db: Kysely<unknown>) {
        // Readiness after a full disk: a probe writes (and removes) a batch-sized row here.
        await db.schema
          .createTable('store_probe')
          .addColumn('id', int64, (c) => c.primaryKey())
          .addColumn('filler', 'text', (c) => c.notNull())
          .execute()
      },
    },
    '0010_partitioned_events': {
      async up(db: Kysely<unknown>) {
        // PostgreSQL: events becomes range-partitioned by the UTC month of eff_occurred_at, the
        // column period reads filter on, so a period's reads touch its month(s) alone; a retraction
        // carries its target's eff_occurred_at and lies in its target's partition. A partitioned
        // table's unique constraints must include the partition key, so what must hold across
        // partitions moves to event_keys: unique (source, id), and seq (its primary key) with the
        // receivedAt of cutoffs and the occurrence that names the partition. SQLite keeps its table.
        // Month partitions are written out here rather than imported (see store/postgres/partitions.ts).
        if (engine !== 'postgres') return
        const month = (ms: number) => Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), 1)
        const next = (start: number) => Date.UTC(new Date(start).getUTCFullYear(), new Date(start).getUTCMonth() + 1, 1)
        const name = (start: number) => {
          const year = new Date(start).getUTCFullYear()
          return `events_y${year < 0 ? 'n' : ''}${String(Math.abs(year)).padStart(4, '0')}m${String(new Date(start).getUTCMonth() + 1).padStart(2, '0')}`
        }
        await sql`alter table events rename to events_unpartitioned`.execute(db)
        await db.schema
          .createTable('events')
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('occurred_at', 'bigint', (c) => c.notNull())
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('retracts', 'text')
          .addColumn('target_seq', 'bigint')
          .addColumn('eff_type', 'text', (c) => c.notNull())
          .addColumn('eff_occurred_at', 'bigint', (c) => c.notNull())
          .modifyEnd(sql`partition by range (eff_occurred_at)`)
          .execute()
        // One partition per month holding an event, found month by month on the occurrence index.
        let from: number | null = null
        for (;;) {
          const { rows } = await sql<{ at: number | string | null }>`select min(eff_occurred_at) as at from events_unpartitioned where eff_occurred_at >= ${from ?? Number.MIN_SAFE_INTEGER}`.execute(
            db,
          )
          const at = rows[0]?.at ?? null
          if (at === null) break
          const start = month(Number(at))
          await sql.raw(`create table ${name(start)} partition of events for values from (${start}) to (${next(start)})`).execute(db)
          from = next(start)
        }
        const columns = 'seq, source, id, type, occurred_at, received_at, data, retracts, target_seq, eff_type, eff_occurred_at'
        await sql.raw(`insert into events (${columns}) select ${columns} from events_unpartitioned`).execute(db)
        await db.schema
          .createTable('event_keys')
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('eff_occurred_at', 'bigint', (c) => c.notNull())
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          .execute()
        await sql`insert into event_keys (seq, source, id, eff_occurred_at, received_at) select seq, source, id, eff_occurred_at, received_at from events_unpartitioned`.execute(db)
        await db.schema.dropTable('events_unpartitioned').execute()
        // The indexes, built once the rows are in. events_by_occurred_at is the primary key's prefix.
        await sql`alter table event_keys add constraint event_keys_pkey primary key (seq)`.execute(db)
        await sql`alter table event_keys add constraint events_source_id unique (source, id)`.execute(db)
        await sql`alter table events add constraint events_pkey primary key (eff_occurred_at, seq)`.execute(db)
        await db.schema.createIndex('events_by_target').on('events').column('target_seq').where(sql.ref('target_seq'), 'is not', null).execute()
        await sql`analyze events, event_keys`.execute(db)
      },
    },
    '0011_events_by_seq': {
      async up(db: Kysely<unknown>) {
        // PostgreSQL: a scan in seq order (a rebuild, a verification) reads a stretch of seqs from
        // this index of each partition, merged, instead of every row of the stretch's occurrence
        // span sorted (late events make that span weeks). Seqs grow, so an insert appends at the
        // index's right edge. A partition attached later gets it built. SQLite's seq is the rowid.
        if (engine !== 'postgres') return
        await db.schema.createIndex('events_by_seq').on('events').column('seq').execute()
      },
    },
    '0012_webhook_secrets': {
      async up(db: Kysely<unknown>) {
        // A subscription's secrets after the one it was created with (webhooks.secret), one row per
        // rotation, never updated. A rotation keeps every older secret signing until its
        // `previous_until`, so a receiver can switch secrets without missing a delivery.
        await db.schema
          .createTable('webhook_secrets')
          .addColumn('webhook_id', 'text', (c) => c.notNull())
          .addColumn('version', int64, (c) => c.notNull())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('created_at', int64, (c) => c.notNull())
          .addColumn('previous_until', int64, (c) => c.notNull())
          .addPrimaryKeyConstraint('webhook_secrets_pk', ['webhook_id', 'version'])
          .execute()
      },
    },
    '0013_job_runs_by_start': {
      async up(db: Kysely<unknown>) {
        // Every scrape of /metrics reads the last run of each job and view that did not fail
        // (lateview_job_last_success_timestamp_seconds): from the newest end of this index.
        await db.schema.createIndex('job_runs_by_start').on('job_runs').columns(['job', 'view', 'started_at', 'id']).execute()
      },
    },
    '0014_event_attributes': {
      async up(db: Kysely<unknown>) {
        // The CloudEvents attributes kept with an event (subject, dataschema, datacontenttype,
        // extensions) as JSON text; null for the events without any, every event stored until now
        // among them. A nullable column without a default is added without rewriting a row, on
        // both engines; on PostgreSQL every month partition takes it from the partitioned table,
        // and a partition created later (`create table … (like events)`) has it.
        await db.schema.alterTable('events').addColumn('attributes', 'text').execute()
      },
    },
  }
  return { getMigrations: async () => all }
}
