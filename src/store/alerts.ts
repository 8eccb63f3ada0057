import type { Db } from './db.js'
import { randomBytes } from 'node:crypto'
import type { AlertKind, NewAlert } from '../domain/alerts.js'
import { toJson } from '../domain/decimal.js'
import { marks, queryRows, type Engine } from './engine.js'
import type { AlertsTable, DeliveriesTable, DeliveryAttemptsTable, WebhookSecretsTable, WebhooksTable } from './schema.js'

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`
}

/** Queues a delivery of an alert (or its resolution) to every live subscription that wants its kind. */
async function fanOut(db: Db, alerts: AlertsTable[], event: DeliveriesTable['event'], now: number): Promise<void> {
  if (alerts.length === 0) return
  const hooks = await queryRows<WebhooksTable>(db, 'select * from webhooks where disabled_at is null and deleted_at is null')
  const rows: DeliveriesTable[] = []
  for (const hook of hooks) {
    const kinds = hook.kinds === null ? null : (JSON.parse(hook.kinds) as string[])
    for (const alert of alerts) {
      if (kinds && !kinds.includes(alert.kind)) continue
      rows.push({
        id: newId('msg'),
        webhook_id: hook.id,
        alert_id: alert.id,
        event,
        status: 'pending',
        attempts: 0,
        cycle_attempts: 0,
        // Due at once, whatever clock raised the alert: delivery runs on the real clock.
        next_attempt_at: 0,
        lease_until: null,
        created_at: now,
        delivered_at: null,
        last_status_code: null,
        last_error: null,
      })
    }
  }
  for (let i = 0; i < rows.length; i += 500)
    await db.kysely
      .insertInto('deliveries')
      .values(rows.slice(i, i + 500))
      .execute()
}

/**
 * Writes alerts (and their deliveries) in the caller's transaction: the outbox. An alert with a
 * `onceKey` already raised is skipped. Returns the rows written.
 */
export async function raiseAlerts(db: Db, alerts: NewAlert[], now: number): Promise<AlertsTable[]> {
  if (alerts.length === 0) return []
  const keys = alerts.map((a) => a.onceKey).filter((k): k is string => k !== undefined)
  const seen = new Set<string>()
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500)
    const rows = await queryRows<{ once_key: string | null }>(db, `select once_key from alerts where once_key in (${marks(chunk.length)})`, chunk)
    for (const r of rows) if (r.once_key) seen.add(r.once_key)
  }
  // On PostgreSQL the ids are numbered by the insert itself (below), after the newest id it reads.
  const [last] = db.engine === 'postgres' ? [{ id: 0 }] : await queryRows<{ id: number }>(db, 'select id from alerts order by id desc limit 1')
  let id = last?.id ?? 0
  const rows: AlertsTable[] = []
  for (const a of alerts) {
    if (a.onceKey !== undefined) {
      if (seen.has(a.onceKey)) continue
      seen.add(a.onceKey)
    }
    rows.push({
      id: ++id,
      kind: a.kind,
      status: 'firing',
      view: a.view,
      period: a.period,
      source: a.source,
      created_at: now,
      resolved_at: null,
      data: toJson(a.data),
      once_key: a.onceKey ?? null,
    })
  }
  if (db.engine === 'postgres' && rows.length > 0) {
    const column = <K extends keyof AlertsTable>(k: K) => rows.map((r) => r[k])
    // One statement: row i (from 1) takes the newest id + i (writers hold the write lock).
    const inserted = await queryRows<{ id: number }>(
      db,
      'insert into alerts (id, kind, status, view, period, source, created_at, resolved_at, data, once_key) ' +
        'select b.id + u.i, u.kind, u.status, u.view, u.period, u.source, u.created_at, u.resolved_at, u.data, u.once_key ' +
        'from (select coalesce(max(id), 0) as id from alerts) b, ' +
        'unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[]) ' +
        'as u(i, kind, status, view, period, source, created_at, resolved_at, data, once_key) returning id',
      [column('id'), column('kind'), column('status'), column('view'), column('period'), column('source'), column('created_at'), column('resolved_at'), column('data'), column('once_key')],
    )
    const base = Math.min(...inserted.map((r) => r.id)) - 1
    for (const r of rows) r.id += base
  }
  for (const r of db.engine === 'sqlite' ? rows : []) {
    await queryRows(db, 'insert into alerts (id, kind, status, view, period, source, created_at, resolved_at, data, once_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      r.id,
      r.kind,
      r.status,
      r.view,
      r.period,
      r.source,
      r.created_at,
      r.resolved_at,
      r.data,
      r.once_key,
    ])
  }
  await fanOut(db, rows, 'raised', now)
  return rows
}

/** Resolves firing alerts (in the caller's transaction) and queues the resolution to subscribers. */
export async function resolveAlerts(db: Db, ids: number[], at: number): Promise<AlertsTable[]> {
  if (ids.length === 0) return []
  await db.kysely.updateTable('alerts').set({ status: 'resolved', resolved_at: at }).where('id', 'in', ids).where('status', '=', 'firing').execute()
  const rows = await db.kysely.selectFrom('alerts').selectAll().where('id', 'in', ids).execute()
  await fanOut(db, rows, 'resolved', at)
  return rows
}

/** Firing MissingData alerts, optionally of one view. */
export async function firingMissingData(db: Db, view?: string): Promise<AlertsTable[]> {
  const firing = "select * from alerts where kind = 'MissingData' and status = 'firing'"
  return view ? queryRows<AlertsTable>(db, `${firing} and view = ?`, [view]) : queryRows<AlertsTable>(db, firing)
}

export interface AlertQuery {
  kind?: AlertKind
  status?: 'firing' | 'resolved'
  since?: number
  view?: string
  limit: number
}

/** Alerts, newest first. */
export async function listAlerts(db: Db, query: AlertQuery): Promise<AlertsTable[]> {
  let q = db.kysely.selectFrom('alerts').selectAll()
  if (query.kind) q = q.where('kind', '=', query.kind)
  if (query.status) q = q.where('status', '=', query.status)
  if (query.since !== undefined) q = q.where('created_at', '>=', query.since)
  if (query.view) q = q.where('view', '=', query.view)
  return q.orderBy('id', 'desc').limit(query.limit).execute()
}

export async function getAlert(db: Db, id: number): Promise<AlertsTable | null> {
  return (await db.kysely.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst()) ?? null
}

// ---------------------------------------------------------------- webhooks

/** Stores a new subscription (its secret too) and returns its row. */
export async function insertWebhook(db: Db, url: string, kinds: string[] | null, secret: string, now: number): Promise<WebhooksTable> {
  const row: WebhooksTable = { id: newId('wh'), url, kinds: kinds === null ? null : JSON.stringify(kinds), secret, created_at: now, disabled_at: null, disabled_reason: null, deleted_at: null }
  await db.kysely.insertInto('webhooks').values(row).execute()
  return row
}

/** Subscriptions not deleted, oldest first. */
export async function listWebhooks(db: Db): Promise<WebhooksTable[]> {
  return db.kysely.selectFrom('webhooks').selectAll().where('deleted_at', 'is', null).orderBy('created_at').orderBy('id').execute()
}

/** A subscription not deleted, or null. */
export async function getWebhook(db: Db, id: string): Promise<WebhooksTable | null> {
  return (await db.kysely.selectFrom('webhooks').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst()) ?? null
}

/** Removes a subscription (kept as deleted for the delivery log) and cancels its pending deliveries. */
export async function deleteWebhook(db: Db, id: string, now: number): Promise<boolean> {
  const result = await db.kysely.updateTable('webhooks').set({ deleted_at: now }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst()
  await db.kysely.updateTable('deliveries').set({ status: 'cancelled' }).where('webhook_id', '=', id).where('status', '=', 'pending').execute()
  return Number(result.numUpdatedRows) > 0
}

/** Disables a subscription (a receiver answered 410 Gone) and cancels its pending deliveries. */
export async function disableWebhook(db: Db, id: string, reason: string, now: number): Promise<void> {
  await db.kysely.updateTable('webhooks').set({ disabled_at: now, disabled_reason: reason }).where('id', '=', id).execute()
  await db.kysely.updateTable('deliveries').set({ status: 'cancelled' }).where('webhook_id', '=', id).where('status', '=', 'pending').execute()
}

/**
 * Appends a rotation of a subscription's secret (in the caller's write transaction): `secret`
 * signs from now on, every older one until `previousUntil`. Returns the row written.
 */
export async function insertSecretRotation(db: Db, webhookId: string, secret: string, now: number, previousUntil: number): Promise<WebhookSecretsTable> {
  const last = await db.kysely
    .selectFrom('webhook_secrets')
    .select((eb) => eb.fn.max('version').as('n'))
    .where('webhook_id', '=', webhookId)
    .executeTakeFirst()
  const row: WebhookSecretsTable = { webhook_id: webhookId, version: Number(last?.n ?? 0) + 1, secret, created_at: now, previous_until: previousUntil }
  await db.kysely.insertInto('webhook_secrets').values(row).execute()
  return row
}

/** The rotations of a subscription's secret, oldest first. */
export async function secretRotations(db: Db, webhookId: string): Promise<WebhookSecretsTable[]> {
  return db.kysely.selectFrom('webhook_secrets').selectAll().where('webhook_id', '=', webhookId).orderBy('version').execute()
}

// ---------------------------------------------------------------- deliveries

/** Pending deliveries due at `now` and not leased by another dispatcher. */
export async function dueDeliveries(db: Db, now: number, limit: number): Promise<DeliveriesTable[]> {
  return db.kysely
    .selectFrom('deliveries')
    .selectAll()
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .orderBy('next_attempt_at')
    .orderBy('created_at')
    .limit(limit)
    .execute()
}

/** When a pending delivery can next be claimed (it is due and any lease on it has run out), or null. */
export async function nextDueAt(db: Db): Promise<number | null> {
  // A delivery leased by a process that died is due already: waking at its due time would poll
  // it until the lease runs out.
  const [row] = await queryRows<{ due: number | string | null }>(
    db,
    "select min(case when lease_until is not null and lease_until >= next_attempt_at then lease_until + 1 else next_attempt_at end) as due from deliveries where status = 'pending'",
  )
  return row?.due === null || row?.due === undefined ? null : Number(row.due)
}

/** A delivery held for one attempt: its row as the claim left it, and the lease's own token. */
export interface DeliveryClaim {
  delivery: DeliveriesTable
  token: string
}

/**
 * Leases a pending delivery that is due at `now` and not leased (or whose lease ran out) for one
 * attempt, until `leaseUntil`; null when another dispatcher holds it or it is no longer due.
 */
export async function claimDelivery(db: Db, id: string, now: number, leaseUntil: number): Promise<DeliveryClaim | null> {
  // lease_until alone cannot tell two leases apart: two claims may set the same instant (a
  // manual clock, hosts whose clocks differ). The token names this lease and no other.
  const token = randomBytes(12).toString('base64url')
  // The row may have moved since it was listed as due (another dispatcher attempted it): the one
  // statement that takes it checks everything again, so of two claimers only one updates it, and
  // the row it returns is the one the attempt must follow.
  const row = await db.kysely
    .updateTable('deliveries')
    .set({ lease_until: leaseUntil, lease_token: token })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .returningAll()
    .executeTakeFirst()
  return row ? { delivery: row as DeliveriesTable, token } : null
}

export interface AttemptOutcome {
  at: number
  statusCode: number | null
  error: string | null
  durationMs: number
  /** The delivery's state after this attempt. */
  status: DeliveriesTable['status']
  nextAttemptAt: number
}

/**
 * Logs one attempt and moves the delivery on, in one transaction, if the claim's lease is still
 * the delivery's; `also` then runs in that transaction. Returns the attempt's number, or null
 * when the lease was lost (taken over once it ran out) and nothing was written.
 */
export async function recordAttempt(engine: Engine, claim: DeliveryClaim, outcome: AttemptOutcome, also?: (db: Db) => Promise<void>): Promise<number | null> {
  return engine.write(async ({ db }) => {
    let current = db.kysely.selectFrom('deliveries').selectAll().where('id', '=', claim.delivery.id)
    // SQLite's write transaction excludes every other writer; on PostgreSQL claims do not take the
    // writers' lock, so the row is held against them until this record commits.
    if (engine.kind === 'postgres') current = current.forUpdate()
    const row = await current.executeTakeFirst()
    // Every record and every new claim replaces the token: one that differs means another
    // dispatcher took the delivery over, and its outcome is the newer one.
    if (!row || row.lease_token !== claim.token || row.status === 'delivered') return null
    const last = await db.kysely
      .selectFrom('delivery_attempts')
      .select((eb) => eb.fn.max('attempt').as('n'))
      .where('delivery_id', '=', row.id)
      .executeTakeFirst()
    // Numbered from the log, not from the counter: a row the counter does not know (an earlier
    // version crashed between writing the two) must not make every later attempt collide with it.
    const attempt = Number(last?.n ?? 0) + 1
    const logged: DeliveryAttemptsTable = { delivery_id: row.id, attempt, at: outcome.at, status_code: outcome.statusCode, error: outcome.error, duration_ms: outcome.durationMs }
    await db.kysely.insertInto('delivery_attempts').values(logged).execute()
    // A delivery cancelled while its attempt ran (the subscription went away) stays cancelled;
    // the request was made all the same, so it is logged.
    const status = row.status === 'pending' ? outcome.status : row.status
    const moved = await db.kysely
      .updateTable('deliveries')
      .set({
        attempts: attempt,
        cycle_attempts: row.cycle_attempts + 1,
        status,
        next_attempt_at: outcome.nextAttemptAt,
        lease_until: null,
        lease_token: null,
        last_status_code: outcome.statusCode,
        last_error: outcome.error,
        ...(status === 'delivered' ? { delivered_at: outcome.at } : {}),
      })
      .where('id', '=', row.id)
      .where('lease_token', '=', claim.token)
      .executeTakeFirst()
    if (Number(moved.numUpdatedRows) !== 1) throw new Error(`delivery ${row.id} changed under its lease while attempt ${attempt} was recorded`)
    if (also) await also(db)
    return attempt
  })
}

/** A subscription's deliveries, newest first. */
export async function listDeliveries(db: Db, webhookId: string, limit: number): Promise<DeliveriesTable[]> {
  return db.kysely.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('created_at', 'desc').orderBy('id').limit(limit).execute()
}

/** One delivery of a subscription, or null. */
export async function getDelivery(db: Db, webhookId: string, id: string): Promise<DeliveriesTable | null> {
  return (await db.kysely.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhookId).where('id', '=', id).executeTakeFirst()) ?? null
}

/** The attempts logged for these deliveries, by delivery and number. */
export async function attemptsOf(db: Db, ids: string[]): Promise<DeliveryAttemptsTable[]> {
  if (ids.length === 0) return []
  return db.kysely.selectFrom('delivery_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('delivery_id').orderBy('attempt').execute()
}

/**
 * Puts a delivery back in the queue for a fresh run of the backoff schedule (a retry by hand);
 * false when it is unknown or was delivered, which it then stays.
 */
export async function requeueDelivery(db: Db, id: string, now: number): Promise<boolean> {
  // A lease still running is kept: the attempt in flight is recorded under it (it was sent), and
  // no second dispatcher sends beside it.
  const result = await db.kysely
    .updateTable('deliveries')
    .set({ status: 'pending', cycle_attempts: 0, next_attempt_at: now })
    .where('id', '=', id)
    .where('status', '<>', 'delivered')
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

/** Deliveries waiting for an attempt. */
export async function countPending(db: Db): Promise<number> {
  const row = await db.kysely
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'pending')
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}
