import type { Db } from '../store/db.js'
import { createHmac, randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { ALERT_KINDS, type AlertKind } from '../domain/alerts.js'
import type { Clock } from '../domain/clock.js'
import { toJson } from '../domain/decimal.js'
import { parseNonNegativeDurationMs, toIso } from '../domain/time.js'
import { LateviewError } from '../errors.js'
import {
  attemptsOf,
  claimDelivery,
  deleteWebhook,
  disableWebhook,
  dueDeliveries,
  getAlert,
  getDelivery,
  getWebhook,
  insertSecretRotation,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  nextDueAt,
  recordAttempt,
  requeueDelivery,
  secretRotations,
  type AttemptOutcome,
  type DeliveryClaim,
} from '../store/alerts.js'
import type { Engine } from '../store/engine.js'
import type { AlertsTable, DeliveriesTable, WebhookSecretsTable, WebhooksTable } from '../store/schema.js'
import { alertDocument } from './alert-documents.js'

/** `whsec_` + base64 of 24 random bytes, as the Standard Webhooks specification shows secrets. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the secret's decoded bytes. */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/**
 * The secrets that sign at `at`, newest first: the newest always, and an older one while every
 * rotation after it still allows it (before each one's `previous_until`): a rotation cuts every
 * older secret off at its own `previous_until`, so a rotation without overlap ends them all.
 */
export function signingSecrets(initial: string, rotations: readonly WebhookSecretsTable[], at: number): string[] {
  const secrets = [initial, ...rotations.map((r) => r.secret)]
  const live: string[] = [secrets[secrets.length - 1] as string]
  let until = Number.POSITIVE_INFINITY
  for (let i = rotations.length - 1; i >= 0; i--) {
    until = Math.min(until, (rotations[i] as WebhookSecretsTable).previous_until)
    if (at >= until) break
    live.push(secrets[i] as string)
  }
  return live
}

/** The default and the longest overlap of a rotation, during which the older secrets still sign. */
export const DEFAULT_ROTATION_OVERLAP = 'PT24H'
const MAX_ROTATION_OVERLAP_MS = 7 * 86_400_000

export interface RotatedSecret {
  id: string
  secret: string
  rotatedAt: string
  /** When every older secret stops signing (the rotation's time when the overlap is PT0S). */
  previousSecretExpiresAt: string
}

/**
 * Gives a subscription a new secret, returned here and never again. The older ones keep signing
 * (beside it) for `overlap` (ISO 8601, PT0S to P7D, default PT24H), then only the new one does.
 */
export async function rotateSecret(engine: Engine, id: string, input: unknown, now: number): Promise<RotatedSecret> {
  if (input !== undefined && input !== null && (typeof input !== 'object' || Array.isArray(input) || Object.keys(input).some((k) => k !== 'overlap'))) {
    throw new LateviewError('LV_ERR_BODY_INVALID', 'the body may hold only { "overlap": "<ISO 8601 duration>" }')
  }
  const text = input === undefined || input === null || !('overlap' in input) ? DEFAULT_ROTATION_OVERLAP : input.overlap
  const overlapMs = typeof text === 'string' ? parseNonNegativeDurationMs(text) : null
  if (overlapMs === null || overlapMs > MAX_ROTATION_OVERLAP_MS) {
    throw new LateviewError('LV_ERR_BODY_INVALID', `overlap must be an ISO 8601 duration from PT0S to P7D such as PT24H, not ${JSON.stringify(text)}`)
  }
  const secret = newSecret()
  const until = now + overlapMs
  await engine.write(async ({ db }) => {
    if (!(await getWebhook(db, id))) throw new LateviewError('LV_ERR_WEBHOOK_NOT_FOUND', `no webhook ${JSON.stringify(id)}`)
    await insertSecretRotation(db, id, secret, now, until)
  })
  return { id, secret, rotatedAt: toIso(now), previousSecretExpiresAt: toIso(until) }
}

export interface WebhookDocument {
  id: string
  url: string
  kinds: string[] | null
  createdAt: string
  status: 'active' | 'disabled'
  disabledAt: string | null
  disabledReason: string | null
}

/** A subscription as the API shows it (never its secret). */
export function webhookDocument(row: WebhooksTable): WebhookDocument {
  return {
    id: row.id,
    url: row.url,
    kinds: row.kinds === null ? null : (JSON.parse(row.kinds) as string[]),
    createdAt: toIso(row.created_at),
    status: row.disabled_at === null ? 'active' : 'disabled',
    disabledAt: row.disabled_at === null ? null : toIso(row.disabled_at),
    disabledReason: row.disabled_reason,
  }
}

const LOOPBACK_NAMES = new Set(['localhost', 'ip6-localhost', '::1', '0.0.0.0', '::'])

/** Whether a host name or address is this machine by its name alone (no DNS is consulted). */
function isLocalHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return LOOPBACK_NAMES.has(h) || (isIP(h) === 4 && h.startsWith('127.')) || h.endsWith('.localhost')
}

/**
 * Validates a subscription target: http(s), no credentials in it, and not the lateview server
 * itself (`self` lists the host names and port it answers on).
 */
export function checkTargetUrl(text: unknown, self: { hosts: string[]; port: number | null }): URL {
  if (typeof text !== 'string') throw new LateviewError('LV_ERR_WEBHOOK_URL_INVALID', 'url must be a string')
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new LateviewError('LV_ERR_WEBHOOK_URL_INVALID', `${JSON.stringify(text)} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LateviewError('LV_ERR_WEBHOOK_URL_INVALID', 'url must be http or https')
  if (url.username || url.password) throw new LateviewError('LV_ERR_WEBHOOK_URL_INVALID', 'url must not carry credentials; authenticate the receiver with the webhook signature')
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const selfHost = isLocalHost(host) || self.hosts.map((h) => h.toLowerCase()).includes(host)
  if (selfHost && self.port !== null && port === self.port) throw new LateviewError('LV_ERR_WEBHOOK_URL_INVALID', 'a subscription may not target the lateview server itself')
  return url
}

/** Creates a subscription; the secret is returned here and never again. */
export async function createWebhook(engine: Engine, input: { url: unknown; kinds?: unknown }, self: { hosts: string[]; port: number | null }, now: number) {
  const url = checkTargetUrl(input.url, self)
  let kinds: AlertKind[] | null = null
  if (input.kinds !== undefined && input.kinds !== null) {
    if (!Array.isArray(input.kinds) || input.kinds.length === 0 || input.kinds.some((k) => !ALERT_KINDS.includes(k as AlertKind))) {
      throw new LateviewError('LV_ERR_BODY_INVALID', `kinds must be a non-empty list of ${ALERT_KINDS.join(', ')}`)
    }
    kinds = [...new Set(input.kinds as AlertKind[])]
  }
  const secret = newSecret()
  const row = await insertWebhook(engine.db, url.toString(), kinds, secret, now)
  return { ...webhookDocument(row), secret }
}

/** A live subscription; LV_ERR_WEBHOOK_NOT_FOUND when it is unknown or deleted. */
export async function findWebhook(engine: Engine, id: string): Promise<WebhooksTable> {
  const row = await getWebhook(engine.db, id)
  if (!row) throw new LateviewError('LV_ERR_WEBHOOK_NOT_FOUND', `no webhook ${JSON.stringify(id)}`)
  return row
}

/** The live subscriptions, oldest first. */
export async function webhooks(engine: Engine): Promise<WebhookDocument[]> {
  return (await listWebhooks(engine.db)).map(webhookDocument)
}

/** Deletes a subscription and cancels its pending deliveries. */
export async function removeWebhook(engine: Engine, id: string, now: number): Promise<void> {
  await findWebhook(engine, id)
  await deleteWebhook(engine.db, id, now)
}

export interface DeliveryDocument {
  id: string
  webhookId: string
  alertId: string
  event: 'raised' | 'resolved'
  status: DeliveriesTable['status']
  attempts: number
  nextAttemptAt: string | null
  createdAt: string
  deliveredAt: string | null
  lastStatusCode: number | null
  lastError: string | null
  log: Array<{ attempt: number; at: string; statusCode: number | null; error: string | null; durationMs: number }>
}

/** A subscription's deliveries, newest first, each with its attempt log. */
export async function deliveries(engine: Engine, webhookId: string, limit = 100): Promise<DeliveryDocument[]> {
  await findWebhook(engine, webhookId)
  const rows = await listDeliveries(engine.db, webhookId, limit)
  const attempts = await attemptsOf(
    engine.db,
    rows.map((r) => r.id),
  )
  return rows.map((r) => ({
    id: r.id,
    webhookId: r.webhook_id,
    alertId: String(r.alert_id),
    event: r.event,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? toIso(r.next_attempt_at) : null,
    createdAt: toIso(r.created_at),
    deliveredAt: r.delivered_at === null ? null : toIso(r.delivered_at),
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    log: attempts.filter((a) => a.delivery_id === r.id).map((a) => ({ attempt: a.attempt, at: toIso(a.at), statusCode: a.status_code, error: a.error, durationMs: a.duration_ms })),
  }))
}

/** Puts a delivery (typically dead) back in the queue for a fresh run of the schedule. */
export async function retryDelivery(engine: Engine, webhookId: string, deliveryId: string, now: number): Promise<void> {
  const hook = await findWebhook(engine, webhookId)
  const delivery = await getDelivery(engine.db, webhookId, deliveryId)
  if (!delivery) throw new LateviewError('LV_ERR_DELIVERY_NOT_FOUND', `no delivery ${JSON.stringify(deliveryId)} for webhook ${webhookId}`)
  if (hook.disabled_at !== null) throw new LateviewError('LV_ERR_WEBHOOK_DISABLED', `webhook ${webhookId} is disabled (${hook.disabled_reason ?? 'disabled'})`)
  const done = () => new LateviewError('LV_ERR_DELIVERY_DONE', `delivery ${deliveryId} was already delivered`)
  if (delivery.status === 'delivered') throw done()
  // Delivered between the read above and now: it stays delivered.
  if (!(await requeueDelivery(engine.db, deliveryId, now))) throw done()
}

export interface DispatcherOptions {
  /** Delays between attempts in ms; the last entry is the last attempt. */
  backoff: readonly number[]
  timeoutMs: number
  /**
   * How long a claim holds a delivery, in ms (default: the timeout and 5 s). Once it runs out,
   * another dispatcher, or this one restarted, may take the delivery over: shorter than an
   * attempt can take, a slow attempt is sent again beside it (and its own outcome refused).
   */
  leaseMs?: number
  clock: Clock
  /** In [0, 1): jitter of ±10 % on every delay. */
  random?: () => number
  log?: (message: string, fields?: Record<string, unknown>) => void
  /** Called for each attempt once it is recorded. */
  onAttempt?: (outcome: 'delivered' | 'retry' | 'dead' | 'gone') => void
}

/** The longest wait a Retry-After may impose. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000

function retryAfterMs(header: string | null, now: number): number | null {
  if (!header) return null
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

/** The Standard Webhooks event type of an alert kind, raised or resolved: `alert.missing_data.resolved`. */
export function webhookType(kind: AlertKind, event: DeliveriesTable['event']): string {
  const name = kind.replace(/(?<=[a-z0-9])([A-Z])/g, '_$1').toLowerCase()
  return `alert.${name}${event === 'resolved' ? '.resolved' : ''}`
}

/**
 * The body of a delivery, a Standard Webhooks envelope: `type`, `timestamp` (when the alert was
 * raised, or resolved) and `data`, the alert with its kind-specific fields beside its own.
 */
export function deliveryBody(event: DeliveriesTable['event'], alert: AlertsTable): string {
  const doc = alertDocument(alert)
  const resolved = event === 'resolved'
  const at = resolved ? alert.resolved_at : alert.created_at
  if (at === null) throw new Error(`alert ${doc.id} has no resolution time`)
  const own = {
    id: doc.id,
    kind: doc.type,
    status: resolved ? 'resolved' : 'firing',
    createdAt: doc.createdAt,
    resolvedAt: resolved ? doc.resolvedAt : null,
    view: doc.view,
    period: doc.period,
    source: doc.source,
  }
  // ReportRevised's own `kind` (the revision's) is `revisionKind` here; the alert's fields come
  // first and no kind-specific field may take their place.
  const { kind: revisionKind, ...specific } = doc.data
  const data = { ...own, ...(revisionKind === undefined ? {} : { revisionKind }), ...specific, ...own }
  return toJson({ type: webhookType(doc.type, event), timestamp: toIso(at), data })
}

/**
 * Delivers pending deliveries, at least once, following the Standard Webhooks specification.
 * Every process runs one. Each attempt is made under a lease on its delivery, so no two
 * dispatchers send the same attempt while the lease runs, and is recorded, in one transaction,
 * only while that lease is still the delivery's: a dispatcher that died mid-attempt leaves a
 * lease that runs out and the delivery is taken over, and one that outlived its lease has its
 * outcome refused. Deliveries live in the store, so a restart continues where it stopped.
 */
export class WebhookDispatcher {
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #stopped = true
  readonly #random: () => number
  readonly #leaseMs: number

  constructor(
    private readonly engine: Engine,
    private readonly options: DispatcherOptions,
  ) {
    this.#random = options.random ?? Math.random
    this.#leaseMs = options.leaseMs ?? options.timeoutMs + 5000
  }

  /** Starts delivering, now and whenever deliveries fall due. */
  start(): void {
    this.#stopped = false
    this.wake()
  }

  /** Looks for due deliveries now (called when alerts were raised). */
  wake(): void {
    if (this.#stopped) return
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#loop(), 0)
  }

  /** Stops after the attempts under way are recorded. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    await this.#running
  }

  async #loop(): Promise<void> {
    // The timer that called this has fired: forget it even when a pass is running, or that pass
    // would take it for a pending wake-up and schedule nothing when it ends (a stalled queue).
    this.#timer = null
    if (this.#running) return
    this.#running = (async () => {
      try {
        while (!this.#stopped && (await this.tick()) > 0) {
          // keep going while there is work
        }
      } catch (error) {
        this.options.log?.('webhook dispatcher error', { error: (error as Error).message })
      }
    })()
    await this.#running
    this.#running = null
    if (this.#stopped) return
    let wait = 1000
    try {
      const next = await nextDueAt(this.engine.db)
      if (next !== null) wait = Math.min(1000, Math.max(10, next - this.options.clock.now()))
    } catch {
      // the store may be closing; the next wake or poll tries again
    }
    if (!this.#stopped && !this.#timer) this.#timer = setTimeout(() => void this.#loop(), wait)
  }

  /** One pass over the due deliveries; returns how many it claimed and attempted. */
  async tick(): Promise<number> {
    const now = this.options.clock.now()
    const due = await dueDeliveries(this.engine.db, now, 20)
    let attempts = 0
    await Promise.all(
      due.map(async (row) => {
        try {
          const claim = await claimDelivery(this.engine.db, row.id, now, now + this.#leaseMs)
          if (!claim) return
          attempts++
          await this.#attempt(claim)
        } catch (error) {
          // One delivery that cannot be attempted or recorded must not hold up the others; it
          // keeps its lease, so it is tried again once that runs out, not in a tight loop.
          this.options.log?.('webhook delivery error', { delivery: row.id, error: (error as Error).message })
        }
      }),
    )
    return attempts
  }

  #delay(index: number): number {
    const base = this.options.backoff[index] ?? 0
    return Math.round(base * (0.9 + 0.2 * this.#random()))
  }

  /** Records an attempt under the claim's lease; false (and logged) when the lease was lost. */
  async #record(claim: DeliveryClaim, outcome: AttemptOutcome, also?: (db: Db) => Promise<void>): Promise<boolean> {
    const attempt = await recordAttempt(this.engine, claim, outcome, also)
    if (attempt !== null) return true
    this.options.log?.('webhook attempt not recorded: its lease was taken over', { delivery: claim.delivery.id, statusCode: outcome.statusCode, error: outcome.error })
    return false
  }

  async #attempt(claim: DeliveryClaim): Promise<void> {
    const delivery = claim.delivery
    const hook = await getWebhook(this.engine.db, delivery.webhook_id)
    const alert = await getAlert(this.engine.db, delivery.alert_id)
    const started = performance.now()
    const at = this.options.clock.now()
    if (!hook || hook.disabled_at !== null || !alert) {
      await this.#record(claim, { at, statusCode: null, error: 'subscription removed', durationMs: 0, status: 'cancelled', nextAttemptAt: at })
      return
    }
    let body: string
    try {
      body = deliveryBody(delivery.event, alert)
    } catch (e) {
      // An alert whose stored document cannot be read would fail the same way on every retry.
      if (await this.#record(claim, { at, statusCode: null, error: `cannot build the body: ${(e as Error).message}`, durationMs: 0, status: 'dead', nextAttemptAt: at }))
        this.options.onAttempt?.('dead')
      return
    }
    const timestamp = Math.floor(at / 1000)
    const secrets = signingSecrets(hook.secret, await secretRotations(this.engine.db, hook.id), at)
    let statusCode: number | null = null
    let error: string | null = null
    let retryAfter: number | null = null
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'lateview-webhooks',
          'webhook-id': delivery.id,
          'webhook-timestamp': String(timestamp),
          // Several during a rotation's overlap: a receiver holding any one of them verifies.
          'webhook-signature': secrets.map((secret) => signature(secret, delivery.id, timestamp, body)).join(' '),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      })
      statusCode = response.status
      if (statusCode === 429 || statusCode === 503) retryAfter = retryAfterMs(response.headers.get('retry-after'), at)
      await response.body?.cancel().catch(() => undefined)
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } }
      error = err.name === 'TimeoutError' ? `timed out after ${this.options.timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message)
    }
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000
    const next = delivery.cycle_attempts + 1
    if (statusCode !== null && statusCode >= 200 && statusCode < 300) {
      if (await this.#record(claim, { at, statusCode, error: null, durationMs, status: 'delivered', nextAttemptAt: at })) this.options.onAttempt?.('delivered')
    } else if (statusCode === 410) {
      const gone: AttemptOutcome = { at, statusCode, error: 'receiver answered 410 Gone: subscription disabled', durationMs, status: 'dead', nextAttemptAt: at }
      // The attempt and the disabled subscription are one change: a crash between them must not
      // leave a dead delivery beside a subscription that still receives.
      if (await this.#record(claim, gone, (db) => disableWebhook(db, hook.id, 'receiver answered 410 Gone', at))) this.options.onAttempt?.('gone')
    } else if (next >= this.options.backoff.length) {
      if (await this.#record(claim, { at, statusCode, error: error ?? `HTTP ${statusCode}`, durationMs, status: 'dead', nextAttemptAt: at })) this.options.onAttempt?.('dead')
    } else {
      const wait = retryAfter !== null ? Math.min(retryAfter, MAX_RETRY_AFTER_MS) : this.#delay(next)
      if (await this.#record(claim, { at, statusCode, error: error ?? `HTTP ${statusCode}`, durationMs, status: 'pending', nextAttemptAt: at + wait })) this.options.onAttempt?.('retry')
    }
  }
}
