import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { AlertKind, NewAlert } from '../domain/alerts.js'
import { toJson } from '../domain/decimal.js'
import { marks, queryRows } from './engine.js'
import type { AlertsTable, DeliveriesTable, DeliveryAttemptsTable, Schema, WebhooksTable } from './schema.js'

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`
}

/** Queues a delivery of an alert (or its resolution) to every live subscription that wants its kind. */
async function fanOut(db: Kysely<Schema>, alerts: AlertsTable[], event: DeliveriesTable['event'], now: number): Promise<void> {
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
  for (let i = 0; i < rows.length; i += 500) await db.insertInto('deliveries').values(rows.slice(i, i + 500)).execute()
}

/**
 * Writes alerts (and their deliveries) in the caller's transaction: the outbox. An alert with a
 * `onceKey` already raised is skipped. Returns the rows written.
 */
export async function raiseAlerts(db: Kysely<Schema>, alerts: NewAlert[], now: number): Promise<AlertsTable[]> {
  if (alerts.length === 0) return []
  const keys = alerts.map((a) => a.onceKey).filter((k): k is string => k !== undefined)
  const seen = new Set<string>()
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500)
    const rows = await queryRows<{ once_key: string | null }>(db, `select once_key from alerts where once_key in (${marks(chunk.length)})`, chunk)
    for (const r of rows) if (r.once_key) seen.add(r.once_key)
  }
  const [last] = await queryRows<{ id: number }>(db, 'select id from alerts order by id desc limit 1')
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
  for (const r of rows) {
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
export async function resolveAlerts(db: Kysely<Schema>, ids: number[], at: number): Promise<AlertsTable[]> {
  if (ids.length === 0) return []
  await db.updateTable('alerts').set({ status: 'resolved', resolved_at: at }).where('id', 'in', ids).where('status', '=', 'firing').execute()
  const rows = await db.selectFrom('alerts').selectAll().where('id', 'in', ids).execute()
  await fanOut(db, rows, 'resolved', at)
  return rows
}

/** Firing MissingData alerts, optionally of one view. */
export async function firingMissingData(db: Kysely<Schema>, view?: string): Promise<AlertsTable[]> {
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
export async function listAlerts(db: Kysely<Schema>, query: AlertQuery): Promise<AlertsTable[]> {
  let q = db.selectFrom('alerts').selectAll()
  if (query.kind) q = q.where('kind', '=', query.kind)
  if (query.status) q = q.where('status', '=', query.status)
  if (query.since !== undefined) q = q.where('created_at', '>=', query.since)
  if (query.view) q = q.where('view', '=', query.view)
  return q.orderBy('id', 'desc').limit(query.limit).execute()
}

export async function getAlert(db: Kysely<Schema>, id: number): Promise<AlertsTable | null> {
  return (await db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst()) ?? null
}

// ---------------------------------------------------------------- webhooks

export async function insertWebhook(db: Kysely<Schema>, url: string, kinds: string[] | null, secret: string, now: number): Promise<WebhooksTable> {
  const row: WebhooksTable = { id: newId('wh'), url, kinds: kinds === null ? null : JSON.stringify(kinds), secret, created_at: now, disabled_at: null, disabled_reason: null, deleted_at: null }
  await db.insertInto('webhooks').values(row).execute()
  return row
}

export async function listWebhooks(db: Kysely<Schema>): Promise<WebhooksTable[]> {
  return db.selectFrom('webhooks').selectAll().where('deleted_at', 'is', null).orderBy('created_at').orderBy('id').execute()
}

export async function getWebhook(db: Kysely<Schema>, id: string): Promise<WebhooksTable | null> {
  return (await db.selectFrom('webhooks').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst()) ?? null
}

/** Removes a subscription (kept as deleted for the delivery log) and cancels its pending deliveries. */
export async function deleteWebhook(db: Kysely<Schema>, id: string, now: number): Promise<boolean> {
  const result = await db.updateTable('webhooks').set({ deleted_at: now }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst()
  await db.updateTable('deliveries').set({ status: 'cancelled' }).where('webhook_id', '=', id).where('status', '=', 'pending').execute()
  return Number(result.numUpdatedRows) > 0
}

/** Disables a subscription (a receiver answered 410 Gone) and cancels its pending deliveries. */
export async function disableWebhook(db: Kysely<Schema>, id: string, reason: string, now: number): Promise<void> {
  await db.updateTable('webhooks').set({ disabled_at: now, disabled_reason: reason }).where('id', '=', id).execute()
  await db.updateTable('deliveries').set({ status: 'cancelled' }).where('webhook_id', '=', id).where('status', '=', 'pending').execute()
}

// ---------------------------------------------------------------- deliveries

/** Pending deliveries due at `now` and not leased by another dispatcher. */
export async function dueDeliveries(db: Kysely<Schema>, now: number, limit: number): Promise<DeliveriesTable[]> {
  return db
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

/** The earliest next attempt of a pending delivery, or null. */
export async function nextDueAt(db: Kysely<Schema>): Promise<number | null> {
  const row = await db.selectFrom('deliveries').select('next_attempt_at').where('status', '=', 'pending').orderBy('next_attempt_at').limit(1).executeTakeFirst()
  return row?.next_attempt_at ?? null
}

/** Takes a delivery for one attempt; false when another dispatcher holds it. */
export async function claimDelivery(db: Kysely<Schema>, delivery: DeliveriesTable, now: number, leaseUntil: number): Promise<boolean> {
  const result = await db
    .updateTable('deliveries')
    .set({ lease_until: leaseUntil })
    .where('id', '=', delivery.id)
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
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

/** Logs one attempt and moves the delivery on. */
export async function recordAttempt(db: Kysely<Schema>, delivery: DeliveriesTable, outcome: AttemptOutcome): Promise<void> {
  const attempt = delivery.attempts + 1
  const row: DeliveryAttemptsTable = { delivery_id: delivery.id, attempt, at: outcome.at, status_code: outcome.statusCode, error: outcome.error, duration_ms: outcome.durationMs }
  await db.insertInto('delivery_attempts').values(row).execute()
  await db
    .updateTable('deliveries')
    .set({
      attempts: attempt,
      cycle_attempts: delivery.cycle_attempts + 1,
      status: outcome.status,
      next_attempt_at: outcome.nextAttemptAt,
      lease_until: null,
      last_status_code: outcome.statusCode,
      last_error: outcome.error,
      ...(outcome.status === 'delivered' ? { delivered_at: outcome.at } : {}),
    })
    .where('id', '=', delivery.id)
    .execute()
}

export async function listDeliveries(db: Kysely<Schema>, webhookId: string, limit: number): Promise<DeliveriesTable[]> {
  return db.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('created_at', 'desc').orderBy('id').limit(limit).execute()
}

export async function getDelivery(db: Kysely<Schema>, webhookId: string, id: string): Promise<DeliveriesTable | null> {
  return (await db.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhookId).where('id', '=', id).executeTakeFirst()) ?? null
}

export async function attemptsOf(db: Kysely<Schema>, ids: string[]): Promise<DeliveryAttemptsTable[]> {
  if (ids.length === 0) return []
  return db.selectFrom('delivery_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('delivery_id').orderBy('attempt').execute()
}

/** Puts a delivery back in the queue for a fresh run of the backoff schedule (a retry by hand). */
export async function requeueDelivery(db: Kysely<Schema>, id: string, now: number): Promise<void> {
  await db.updateTable('deliveries').set({ status: 'pending', cycle_attempts: 0, next_attempt_at: now, lease_until: null }).where('id', '=', id).execute()
}

export async function countPending(db: Kysely<Schema>): Promise<number> {
  const row = await db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirst()
  return Number(row?.n ?? 0)
}
