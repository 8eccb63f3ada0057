import type { Db } from './db.js'
import { sql } from 'kysely'
import { emptyCell, sameCell, type CellState, type ViewProgram } from '../domain/aggregate.js'
import { normalize } from '../domain/decimal.js'
import type { PeriodStatus } from '../domain/lifecycle.js'
import { hotRows } from './db.js'
import { exactRows, marks, queryRows, type Head, type WriteTx } from './engine.js'
import { seqTable } from './events.js'
import { assertStorable } from './int64.js'
import { SLOT_COLUMNS, type JobRunsTable, type PeriodsTable, type RevisionCellsTable, type RevisionsTable } from './schema.js'

/** A row of measure state read with `exactRows` as a cell state: slots normalized, counts as numbers. */
export function stateOf(row: Record<string, unknown>, slotCount: number): CellState {
  const state = emptyCell(slotCount)
  state.eventCount = Number(row.event_count)
  for (let i = 0; i < slotCount; i++) {
    const v = row[SLOT_COLUMNS[i] as string] as number | bigint | null
    state.slots[i] = v === null ? null : normalize(v)
  }
  return state
}

/** The latest revision of a period, or null when it has none. */
export async function latestRevision(db: Db, view: string, period: string): Promise<RevisionsTable | null> {
  const row = await db.kysely.selectFrom('revisions').selectAll().where('view', '=', view).where('period', '=', period).orderBy('revision', 'desc').limit(1).executeTakeFirst()
  return row ?? null
}

/**
 * What a publication reads first, under the write lock: the head, the period's latest revision
 * and its state row. On PostgreSQL one statement (the rows as JSON: their numbers are far below 2^53).
 */
export async function publishStart(tx: WriteTx, view: string, period: string): Promise<{ head: Head; latest: RevisionsTable | null; state: PeriodsTable | null }> {
  if (tx.db.engine !== 'postgres') return { head: await tx.head(), latest: await latestRevision(tx.db, view, period), state: await periodRow(tx.db, view, period) }
  const [row] = await queryRows<{ seq: number | null; received_at: number | null; latest: RevisionsTable | null; state: PeriodsTable | null }>(
    tx.db,
    'select h.seq, h.received_at, ' +
      '(select to_json(r) from revisions r where r.view = ? and r.period = ? order by r.revision desc limit 1) as latest, ' +
      '(select to_json(p) from periods p where p.view = ? and p.period = ?) as state ' +
      'from (select 1) one left join (select seq, received_at from event_keys order by seq desc limit 1) h on true',
    [view, period, view, period],
  )
  if (!row) throw new Error('publish start: no row')
  return { head: row.seq === null ? { seq: 0, receivedAt: 0 } : { seq: row.seq, receivedAt: row.received_at as number }, latest: row.latest, state: row.state }
}

/** One revision's metadata, or null. */
export async function getRevision(db: Db, view: string, period: string, revision: number): Promise<RevisionsTable | null> {
  const row = await db.kysely.selectFrom('revisions').selectAll().where('view', '=', view).where('period', '=', period).where('revision', '=', revision).executeTakeFirst()
  return row ?? null
}

/** Every revision of a period, oldest first. */
export async function listRevisions(db: Db, view: string, period: string): Promise<RevisionsTable[]> {
  return db.kysely.selectFrom('revisions').selectAll().where('view', '=', view).where('period', '=', period).orderBy('revision').execute()
}

/** What a check of a revision against its recomputation needs: everything but its cutoff's receivedAt, kind, trigger and time. */
export type RevisionSummary = Pick<RevisionsTable, 'view' | 'period' | 'revision' | 'cutoff_seq' | 'hash' | 'event_count' | 'late_event_count' | 'completeness' | 'view_version' | 'totals'>

/** Every revision of these views (at least one), by revision number: what verification recomputes. */
export async function revisionSummaries(db: Db, views: string[]): Promise<RevisionSummary[]> {
  return db.kysely
    .selectFrom('revisions')
    .select(['view', 'period', 'revision', 'cutoff_seq', 'hash', 'event_count', 'late_event_count', 'completeness', 'view_version', 'totals'])
    .where('view', 'in', views)
    .orderBy('revision')
    .execute()
}

/** The periods of a view that have at least one revision, in key order. */
export async function revisedPeriods(db: Db, view: string): Promise<string[]> {
  const rows = await db.kysely.selectFrom('revisions').select('period').distinct().where('view', '=', view).orderBy('period').execute()
  return rows.map((r) => r.period)
}

/** The cells of one revision, by dims key: one indexed query over the copy-on-write rows, exact. */
export async function revisionCells(db: Db, view: string, period: string, revision: number, slotCount: number): Promise<Map<string, CellState>> {
  const rows = await exactRows<RevisionCellsTable>(db, 'select * from revision_cells where view = ? and period = ? and from_revision <= ? and (to_revision is null or to_revision > ?)', [
    view,
    period,
    revision,
    revision,
  ])
  const cells = new Map<string, CellState>()
  for (const row of rows) cells.set(row.dims_key, stateOf(row as unknown as Record<string, unknown>, slotCount))
  return cells
}

/**
 * Writes revision `meta.revision` with these cells. Cells equal to the `previous` revision's keep
 * their row; changed or vanished cells close their row at this revision; new figures open a row.
 * Without `previous` (a revision under another definition) every open row is closed. A figure
 * an int64 column cannot hold is refused (LV_ERR_MEASURE_OVERFLOW) rather than stored wrong.
 */
export async function insertRevision(db: Db, meta: RevisionsTable, cells: Map<string, CellState>, previous: Map<string, CellState> | null, program: ViewProgram): Promise<void> {
  await writeRevision(db, meta, cells, previous, program, null)
}

const REVISION_COLUMNS = [
  'view',
  'period',
  'revision',
  'kind',
  'cutoff_seq',
  'cutoff_received_at',
  'computed_at',
  'trigger',
  'event_count',
  'late_event_count',
  'completeness',
  'hash',
  'view_version',
  'totals',
] as const satisfies ReadonlyArray<keyof RevisionsTable>
const PERIOD_COLUMNS = ['view', 'period', 'status', 'latest_revision', 'latest_cutoff_seq', 'dirty_since_seq', 'updated_at', 'view_version'] as const satisfies ReadonlyArray<keyof PeriodsTable>

/**
 * `insertRevision`, and the period's state row put (see `putPeriodRow`) when one is given. On
 * PostgreSQL all of it is one statement (data-modifying CTEs, the opened cells as columns); the
 * rows it closes and opens are those of `insertRevision`.
 */
export async function writeRevision(
  db: Db,
  meta: RevisionsTable,
  cells: Map<string, CellState>,
  previous: Map<string, CellState> | null,
  program: ViewProgram,
  period: PeriodsTable | null,
): Promise<void> {
  const slotCount = program.ops.length
  for (const [dimsKey, cell] of cells) assertStorable(program, meta.period, dimsKey, cell)
  const closing: string[] = []
  for (const [dimsKey, before] of previous ?? []) {
    const after = cells.get(dimsKey)
    if (!after || !sameCell(after, before)) closing.push(dimsKey)
  }
  const opening: Array<[string, CellState]> = []
  for (const [dimsKey, after] of cells) {
    const before = previous?.get(dimsKey)
    if (!(before && sameCell(after, before))) opening.push([dimsKey, after])
  }
  if (db.engine === 'postgres') {
    const slots = SLOT_COLUMNS.slice(0, slotCount) as string[]
    const params: unknown[] = REVISION_COLUMNS.map((c) => meta[c])
    // Without `previous` every open row closes; else the changed and vanished ones.
    params.push(meta.revision, meta.view, meta.period, previous === null, closing)
    params.push(
      meta.view,
      meta.period,
      meta.revision,
      opening.map(([k]) => k),
      opening.map(([, c]) => c.eventCount),
    )
    for (let i = 0; i < slotCount; i++) params.push(opening.map(([, c]) => c.slots[i] ?? null))
    let text =
      `with rev as (insert into revisions (${REVISION_COLUMNS.join(', ')}) values (${marks(REVISION_COLUMNS.length)})), ` +
      'closed as (update revision_cells set to_revision = ? where view = ? and period = ? and to_revision is null and (?::boolean or dims_key = any(?::text[]))), ' +
      `opened as (insert into revision_cells (view, period, dims_key, from_revision, to_revision, event_count${slots.map((c) => `, ${c}`).join('')}) ` +
      `select ?::text, ?::text, u.dims_key, ?::bigint, null, u.event_count${slots.map((c) => `, u.${c}`).join('')} ` +
      `from unnest(?::text[], ?::bigint[]${slots.map(() => ', ?::bigint[]').join('')}) as u(dims_key, event_count${slots.map((c) => `, ${c}`).join('')}))`
    if (period) {
      params.push(...PERIOD_COLUMNS.map((c) => period[c]))
      text +=
        `, per as (insert into periods (${PERIOD_COLUMNS.join(', ')}) values (${marks(PERIOD_COLUMNS.length)}) ` +
        `on conflict (view, period) do update set ${PERIOD_COLUMNS.slice(2)
          .map((c) => `${c} = excluded.${c}`)
          .join(', ')})`
    }
    await queryRows(db, `${text} select 1`, params)
    return
  }
  await db.kysely.insertInto('revisions').values(meta).execute()
  if (previous === null) {
    await db.kysely.updateTable('revision_cells').set({ to_revision: meta.revision }).where('view', '=', meta.view).where('period', '=', meta.period).where('to_revision', 'is', null).execute()
  }
  const rows = opening.map(([dimsKey, after]) => {
    const row: Record<string, unknown> = { view: meta.view, period: meta.period, dims_key: dimsKey, from_revision: meta.revision, to_revision: null, event_count: after.eventCount }
    for (let i = 0; i < slotCount; i++) row[SLOT_COLUMNS[i] as string] = after.slots[i] ?? null
    return row as unknown as RevisionCellsTable
  })
  for (let i = 0; i < closing.length; i += 500) {
    await db.kysely
      .updateTable('revision_cells')
      .set({ to_revision: meta.revision })
      .where('view', '=', meta.view)
      .where('period', '=', meta.period)
      .where('to_revision', 'is', null)
      .where('dims_key', 'in', closing.slice(i, i + 500))
      .execute()
  }
  for (let i = 0; i < rows.length; i += 500)
    await db.kysely
      .insertInto('revision_cells')
      .values(rows.slice(i, i + 500))
      .execute()
  if (period) await putPeriodRow(db, period)
}

/** The state row of a period, or null while it is open. */
export async function periodRow(db: Db, view: string, period: string): Promise<PeriodsTable | null> {
  // Every read of a latest report asks this: on PostgreSQL a prepared statement (its columns
  // named: a prepared `*` fails once a migration changes the table), a third of the time.
  if (db.engine === 'postgres' && db.prepared) {
    const text = 'select view, period, status, latest_revision, latest_cutoff_seq, dirty_since_seq, updated_at, view_version from periods where view = $1 and period = $2'
    return (await db.prepared<PeriodsTable>(text, [view, period]))[0] ?? null
  }
  return (await db.kysely.selectFrom('periods').selectAll().where('view', '=', view).where('period', '=', period).executeTakeFirst()) ?? null
}

/** A period's status and latest revision (null while it has none), and the newest seq, read together. */
export interface PeriodAtHead {
  status: PeriodsTable['status'] | null
  latestRevision: number | null
  head: number
}

/**
 * The period's status and latest revision with the newest seq of the store, in ONE statement: a
 * statement sees one consistent state, so the seq is the one the period row is current at
 * (outside a transaction too, see Engine.single). A prepared statement on PostgreSQL's own handle.
 */
export async function periodAtHead(db: Db, view: string, period: string): Promise<PeriodAtHead> {
  const text =
    `select h.head, p.status, p.latest_revision from (select coalesce((select seq from ${seqTable(db)} order by seq desc limit 1), 0) as head) h ` +
    'left join periods p on p.view = ? and p.period = ?'
  const [row] = await hotRows<{ head: number; status: PeriodsTable['status'] | null; latest_revision: number | null }>(db, text, [view, period])
  if (!row) throw new Error('period at head: no row')
  return { status: row.status, latestRevision: row.latest_revision, head: Number(row.head) }
}

export async function putPeriodRow(db: Db, row: PeriodsTable): Promise<void> {
  if (db.engine === 'postgres') {
    const set = PERIOD_COLUMNS.slice(2).map((c) => `${c} = excluded.${c}`)
    const text = `insert into periods (${PERIOD_COLUMNS.join(', ')}) values (${marks(PERIOD_COLUMNS.length)}) on conflict (view, period) do update set ${set.join(', ')}`
    await queryRows(
      db,
      text,
      PERIOD_COLUMNS.map((c) => row[c]),
    )
    return
  }
  await db.kysely.deleteFrom('periods').where('view', '=', row.view).where('period', '=', row.period).execute()
  await db.kysely.insertInto('periods').values(row).execute()
}

/** Periods of a view by status, with dirty ones listed. */
export async function periodRows(db: Db, view: string): Promise<PeriodsTable[]> {
  return db.kysely.selectFrom('periods').selectAll().where('view', '=', view).orderBy('period').execute()
}

/**
 * Marks periods that already have a revision as changed since it: `firstSeq` maps each touched
 * period to the first seq of the batch that landed in it (an earlier mark is kept). Returns the
 * state rows of the touched periods that have one.
 */
export async function markDirty(db: Db, view: string, firstSeq: ReadonlyMap<string, number>): Promise<PeriodsTable[]> {
  const periods = [...firstSeq.keys()]
  if (db.engine === 'postgres' && periods.length > 0) {
    // One statement: the rows as they were before the update (its snapshot), the clean ones marked.
    return queryRows<PeriodsTable>(
      db,
      'with k as (select * from unnest(?::text[], ?::bigint[]) as k(period, seq)), ' +
        'marked as (update periods p set dirty_since_seq = k.seq from k where p.view = ? and p.period = k.period and p.dirty_since_seq is null) ' +
        'select p.* from periods p join k on p.period = k.period where p.view = ?',
      [periods, periods.map((p) => firstSeq.get(p) as number), view, view],
    )
  }
  const marked: PeriodsTable[] = []
  for (let i = 0; i < periods.length; i += 500) {
    const chunk = periods.slice(i, i + 500)
    const rows = await queryRows<PeriodsTable>(db, `select * from periods where view = ? and period in (${marks(chunk.length)})`, [view, ...chunk])
    for (const row of rows) {
      if (row.dirty_since_seq !== null) continue
      await queryRows(db, 'update periods set dirty_since_seq = ? where view = ? and period = ?', [firstSeq.get(row.period) as number, view, row.period])
    }
    marked.push(...rows)
  }
  return marked
}

/** Dirty periods of a view (changed after their latest revision). */
export async function dirtyPeriods(db: Db, view: string): Promise<PeriodsTable[]> {
  return db.kysely.selectFrom('periods').selectAll().where('view', '=', view).where('dirty_since_seq', 'is not', null).orderBy('period').execute()
}

/** The periods the rebuilder looks at: dirty ones, and provisional ones last computed under another definition version. */
export async function periodsToRebuild(db: Db, view: string, version: number): Promise<PeriodsTable[]> {
  return db.kysely
    .selectFrom('periods')
    .selectAll()
    .where('view', '=', view)
    .where((eb) => eb.or([eb('dirty_since_seq', 'is not', null), eb.and([eb('status', '=', 'provisional'), eb('view_version', '<>', version)])]))
    .orderBy('period')
    .execute()
}

/** `below-threshold`: a rebuild whose figures moved, but no measure's total past the view's `rebuild.minChange`. */
export type JobOutcome = 'published' | 'unchanged' | 'below-threshold' | 'skipped' | 'failed'

/** Records one job run on one period. */
export async function recordJobRun(db: Db, run: Omit<JobRunsTable, 'id'>): Promise<JobRunsTable> {
  if (db.engine === 'postgres') {
    // One statement: the next id is read by the insert (writers hold the write lock).
    const columns = ['job', 'view', 'period', 'now', 'trigger', 'outcome', 'revision', 'detail', 'started_at', 'duration_ms'] as const
    const types = ['text', 'text', 'text', 'bigint', 'text', 'text', 'bigint', 'text', 'bigint', 'double precision']
    const [row] = await queryRows<{ id: number }>(
      db,
      `insert into job_runs (id, ${columns.join(', ')}) select coalesce(max(id), 0) + 1, ${types.map((t) => `?::${t}`).join(', ')} from job_runs returning id`,
      columns.map((c) => run[c]),
    )
    return { ...run, id: (row as { id: number }).id }
  }
  const last = await db.kysely.selectFrom('job_runs').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst()
  const row = { ...run, id: (last?.id ?? 0) + 1 }
  await db.kysely.insertInto('job_runs').values(row).execute()
  return row
}

/** Whether a job already ran to completion (published or unchanged) for a period. */
export async function jobDone(db: Db, job: string, view: string, period: string): Promise<boolean> {
  const row = await db.kysely
    .selectFrom('job_runs')
    .select('id')
    .where('job', '=', job)
    .where('view', '=', view)
    .where('period', '=', period)
    .where('outcome', 'in', ['published', 'unchanged'])
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}

/**
 * When the last run that did not fail ended (started_at + duration_ms, epoch ms), for each of
 * these (job, view) pairs that has one: one statement, each pair read from the newest end of
 * job_runs_by_start.
 */
export async function lastSuccessfulRuns(db: Db, pairs: ReadonlyArray<{ job: string; view: string }>): Promise<Array<{ job: string; view: string; endedAt: number }>> {
  const found: Array<{ job: string; view: string; endedAt: number }> = []
  const one = "select * from (select job, view, started_at, duration_ms from job_runs where job = ? and view = ? and outcome <> 'failed' order by started_at desc, id desc limit 1) as last"
  for (let i = 0; i < pairs.length; i += 200) {
    const chunk = pairs.slice(i, i + 200)
    const rows = await queryRows<{ job: string; view: string; started_at: number; duration_ms: number }>(
      db,
      chunk.map(() => one).join(' union all '),
      chunk.flatMap((p) => [p.job, p.view]),
    )
    for (const r of rows) found.push({ job: r.job, view: r.view, endedAt: Number(r.started_at) + Number(r.duration_ms) })
  }
  return found
}

export interface JobRunQuery {
  job?: string
  view?: string
  period?: string
  limit: number
}

/** Recent job runs, newest first. */
export async function listJobRuns(db: Db, query: JobRunQuery): Promise<JobRunsTable[]> {
  let q = db.kysely.selectFrom('job_runs').selectAll()
  if (query.job) q = q.where('job', '=', query.job)
  if (query.view) q = q.where('view', '=', query.view)
  if (query.period) q = q.where('period', '=', query.period)
  return q.orderBy('id', 'desc').limit(query.limit).execute()
}

/**
 * The last seq received at or before `at` (0 if none), and its receivedAt. Seqs are contiguous
 * and receivedAt never decreases along them (live ingest stamps max(now, newest); an import is
 * refused when it goes backwards), so a binary search over the primary key finds it: about 23
 * point reads at 5M events, and no index on received_at for every insert to maintain.
 */
export async function cutoffAt(db: Db, at: number): Promise<{ seq: number; receivedAt: number | null }> {
  if (db.engine === 'postgres') return cutoffAtPostgres(db, at)
  const head = await db.kysely.selectFrom(seqTable(db)).select(['seq', 'received_at']).orderBy('seq', 'desc').limit(1).executeTakeFirst()
  if (!head) return { seq: 0, receivedAt: null }
  if (head.received_at <= at) return { seq: head.seq, receivedAt: head.received_at }
  // Invariant: seq lo (0 stands for "before everything") was received by `at`; head.seq was not.
  let lo = { seq: 0, receivedAt: null as number | null }
  let hi = head.seq
  while (hi - lo.seq > 1) {
    const mid = lo.seq + Math.floor((hi - lo.seq) / 2)
    const row = await db.kysely.selectFrom(seqTable(db)).select('received_at').where('seq', '=', mid).executeTakeFirst()
    if (!row) return cutoffByScan(db, at)
    if (row.received_at <= at) lo = { seq: mid, receivedAt: row.received_at }
    else hi = mid
  }
  return lo
}

/**
 * `cutoffAt` on PostgreSQL: the same binary search, run by the server in one statement (a
 * recursive query, one primary-key read a step) rather than one round trip a step. Without a
 * head row it answers the head; when a step meets a missing seq, by a scan.
 */
async function cutoffAtPostgres(db: Db, at: number): Promise<{ seq: number; receivedAt: number | null }> {
  const [row] = await queryRows<{ head: number | null; head_at: number | null; lo: number | null; lo_at: number | null; missing: boolean | null }>(
    db,
    'with recursive h as (select seq, received_at from event_keys order by seq desc limit 1), ' +
      // Invariant: seq lo (0 stands for "before everything") was received by `at`; hi was not.
      'b(lo, lo_at, hi, missing) as (select 0::bigint, null::bigint, h.seq, false from h where h.received_at > ?::bigint ' +
      'union all select case when e.received_at <= ?::bigint then s.mid else s.lo end, case when e.received_at <= ?::bigint then e.received_at else s.lo_at end, ' +
      'case when e.received_at <= ?::bigint then s.hi else s.mid end, e.received_at is null ' +
      'from (select lo, lo_at, hi, lo + (hi - lo) / 2 as mid from b where hi - lo > 1 and not missing) s left join event_keys e on e.seq = s.mid) ' +
      'select h.seq as head, h.received_at as head_at, b.lo, b.lo_at, b.missing from (select 1) one left join h on true left join b on b.hi - b.lo <= 1 or b.missing',
    [at, at, at, at],
  )
  if (!row || row.head === null) return { seq: 0, receivedAt: null }
  if (row.lo === null) return { seq: row.head, receivedAt: row.head_at }
  if (row.missing) return cutoffByScan(db, at)
  return { seq: row.lo, receivedAt: row.lo_at }
}

/** The same answer without relying on contiguous seqs (a store edited by hand). */
async function cutoffByScan(db: Db, at: number): Promise<{ seq: number; receivedAt: number | null }> {
  const row = await db.kysely.selectFrom(seqTable(db)).select(['seq', 'received_at']).where('received_at', '<=', at).orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return row ? { seq: row.seq, receivedAt: row.received_at } : { seq: 0, receivedAt: null }
}

/** Whether a period has Realtime data or a revision: something to report on. */
export async function periodKnown(db: Db, view: string, period: string): Promise<boolean> {
  const rows = await queryRows(db, 'select 1 from cells where view = ? and period = ? union all select 1 from periods where view = ? and period = ?', [view, period, view, period])
  return rows.length > 0
}

/** Periods of a view with Realtime data, plus those with a state row. */
export async function knownPeriods(db: Db, view: string): Promise<string[]> {
  const rows = await sql<{ period: string }>`select period from cells where view = ${view} union select period from periods where view = ${view}`.execute(db.kysely)
  return rows.rows.map((r) => r.period).sort()
}

export type { PeriodStatus }
