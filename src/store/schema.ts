import type { Scaled } from '../domain/decimal.js'

/** One integer of measure state: exact (a bigint past 2^53), null before any value. */
export type Slot = Scaled | null

/** The events table: append-only; nothing in it is ever updated or deleted. */
export interface EventsTable {
  seq: number
  source: string
  id: string
  type: string
  occurred_at: number
  received_at: number
  /** JSON text of `event.data`. */
  data: string
  retracts: string | null
  /** For a retraction: the seq of the voided event. */
  target_seq: number | null
  /** The type and occurrence time the event counts under: its own, or its target's for a retraction. */
  eff_type: string
  eff_occurred_at: number
  /**
   * JSON text of the CloudEvents attributes kept with the event (migration 0014): subject,
   * dataschema, datacontenttype, extensions. Null for an event without any.
   */
  attributes: string | null
}

/**
 * PostgreSQL only (migration 0010): one row per event, outside the partitioned events table,
 * holding what is looked up across every partition: the unique (source, id), and the seq (its
 * primary key) with the receivedAt that cutoffs search by, and the occurrence that names the
 * event's partition. Written by the statement that writes the event.
 */
export interface EventKeysTable {
  seq: number
  source: string
  id: string
  eff_occurred_at: number
  received_at: number
}

/** Realtime cells: one row per (view, period, dims), maintained inside the ingest transaction. */
export interface CellsTable {
  view: string
  period: string
  dims_key: string
  event_count: number
  m0: Slot
  m1: Slot
  m2: Slot
  m3: Slot
  m4: Slot
  m5: Slot
  m6: Slot
  m7: Slot
  m8: Slot
  m9: Slot
  m10: Slot
  m11: Slot
  m12: Slot
  m13: Slot
  m14: Slot
  m15: Slot
}

/** Every definition a view has had: a revision is read under the version it was published with. */
export interface ViewVersionsTable {
  view: string
  version: number
  /** Canonical JSON of the parsed definition (keys sorted). */
  definition: string
  /** SHA-256 (hex) of `definition`. */
  hash: string
  /** When this process of lateview first started with the version. */
  effective_from: number
}

/** The definition each view's stored cells were computed under. */
export interface ViewStateTable {
  view: string
  version: number
  definition: string
  updated_at: number
}

/** One immutable published revision of a (view, period). */
export interface RevisionsTable {
  view: string
  period: string
  revision: number
  kind: string
  cutoff_seq: number
  cutoff_received_at: number | null
  computed_at: number
  trigger: string
  event_count: number
  late_event_count: number
  completeness: number | null
  hash: string
  view_version: number
  /** JSON text of the totals row. */
  totals: string
}

/** A revision cell valid for revisions [from_revision, to_revision); to_revision null = still current. */
export interface RevisionCellsTable extends Omit<CellsTable, 'view' | 'period' | 'dims_key'> {
  view: string
  period: string
  dims_key: string
  from_revision: number
  to_revision: number | null
}

/** Status of every period that has a revision (a period without a row is open). */
export interface PeriodsTable {
  view: string
  period: string
  status: 'provisional' | 'final'
  latest_revision: number
  latest_cutoff_seq: number
  /** The first seq that changed the period after its latest revision; null when clean. */
  dirty_since_seq: number | null
  updated_at: number
  /** The view version its latest figures were computed (or found unchanged) under. */
  view_version: number | null
}

export interface JobRunsTable {
  id: number
  job: string
  view: string
  period: string
  now: number
  trigger: string
  outcome: string
  revision: number | null
  detail: string | null
  started_at: number
  duration_ms: number
}

export interface AlertsTable {
  id: number
  kind: string
  status: 'firing' | 'resolved'
  view: string | null
  period: string | null
  source: string | null
  created_at: number
  resolved_at: number | null
  /** JSON text of the kind-specific data. */
  data: string
  once_key: string | null
}

export interface WebhooksTable {
  id: string
  url: string
  /** JSON text of the alert kinds, null for all. */
  kinds: string | null
  secret: string
  created_at: number
  disabled_at: number | null
  disabled_reason: string | null
  deleted_at: number | null
}

/**
 * A secret a subscription was given by a rotation (migration 0012); the one it was created with is
 * `webhooks.secret`. Rows are only ever inserted.
 */
export interface WebhookSecretsTable {
  webhook_id: string
  /** 1 for the first rotation, then 2, 3… */
  version: number
  secret: string
  created_at: number
  /** Until when (exclusive) every older secret of the subscription still signs. */
  previous_until: number
}

export interface DeliveriesTable {
  id: string
  webhook_id: string
  alert_id: number
  /** What is delivered: the alert as raised, or its resolution. */
  event: 'raised' | 'resolved'
  status: 'pending' | 'delivered' | 'dead' | 'cancelled'
  attempts: number
  /** Attempts since the delivery was created or retried by hand (indexes the backoff schedule). */
  cycle_attempts: number
  next_attempt_at: number
  lease_until: number | null
  /**
   * Names the lease a dispatcher holds (migration 0007): only the holder of the current one may
   * record an attempt. Optional: a delivery is queued without one.
   */
  lease_token?: string | null
  created_at: number
  delivered_at: number | null
  last_status_code: number | null
  last_error: string | null
}

export interface DeliveryAttemptsTable {
  delivery_id: string
  attempt: number
  at: number
  status_code: number | null
  error: string | null
  duration_ms: number
}

/**
 * The lag sketch behind GET /v1/sources, one row per (UTC hour of receivedAt, source), written by
 * the ingest transaction (retractions left out): exact count, largest lag and latest receivedAt,
 * and the count per lag bucket (`lagBucket` in store/sources.ts).
 */
export interface SourceLagsTable {
  /** Start of the UTC hour (epoch ms). */
  hour: number
  source: string
  events: number
  max_lag: number
  last_received_at: number
  /**
   * `bucket,count,bucket,count,…`: one part per batch since the row was last compacted, so a
   * bucket may appear more than once (its counts add up).
   */
  buckets: string
  /** Batches appended since the row was last compacted (at most MAX_PARTS). */
  parts: number
}

/** A scratch row written and removed to find out whether the store takes writes again. */
export interface StoreProbeTable {
  id: number
  filler: string
}

export interface Schema {
  alerts: AlertsTable
  webhooks: WebhooksTable
  webhook_secrets: WebhookSecretsTable
  deliveries: DeliveriesTable
  delivery_attempts: DeliveryAttemptsTable
  events: EventsTable
  event_keys: EventKeysTable
  cells: CellsTable
  view_state: ViewStateTable
  view_versions: ViewVersionsTable
  store_probe: StoreProbeTable
  revisions: RevisionsTable
  revision_cells: RevisionCellsTable
  periods: PeriodsTable
  job_runs: JobRunsTable
  source_lags: SourceLagsTable
}

export type SlotColumn = `m${number}` & keyof CellsTable

export const SLOT_COLUMNS = Array.from({ length: 16 }, (_, i) => `m${i}` as SlotColumn)
