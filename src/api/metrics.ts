import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The Prometheus metrics of one app (a registry per app, so tests can build many). */
export class Metrics {
  readonly registry = new Registry()
  readonly eventsIngested = new Counter({
    name: 'lateview_events_ingested_total',
    help: 'Events offered to ingest, by outcome (accepted, duplicate, rejected, conflict)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })
  readonly lag = new Histogram({
    name: 'lateview_event_lag_seconds',
    help: 'receivedAt - occurredAt of accepted events, by source kind (leading letters of the source)',
    labelNames: ['source_kind'] as const,
    buckets: [1, 5, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 2 * 86400, 7 * 86400],
    registers: [this.registry],
  })
  readonly requestDuration = new Histogram({
    name: 'lateview_http_request_duration_seconds',
    help: 'HTTP request durations by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  })

  readonly alertsRaised = new Counter({
    name: 'lateview_alerts_total',
    help: 'Alerts raised or resolved by this process, by kind and event (raised, resolved)',
    labelNames: ['kind', 'event'] as const,
    registers: [this.registry],
  })
  readonly deliveries = new Counter({
    name: 'lateview_webhook_deliveries_total',
    help: 'Webhook deliveries settled by this process, by final outcome (delivered, dead, gone: the receiver answered 410 and the subscription was disabled)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })
  readonly deliveryAttempts = new Counter({
    name: 'lateview_webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts made by this process, by outcome (delivered, retry, dead, gone)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })

  /** Counts a delivery attempt, and its delivery when the attempt settled it. */
  deliveryAttempt(outcome: 'delivered' | 'retry' | 'dead' | 'gone'): void {
    this.deliveryAttempts.inc({ outcome })
    if (outcome !== 'retry') this.deliveries.inc({ outcome })
  }

  readonly jobRuns = new Counter({
    name: 'lateview_job_runs_total',
    help: 'Job runs recorded by this process, by job and outcome (published, unchanged, below-threshold, skipped, failed)',
    labelNames: ['job', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly jobRunDuration = new Histogram({
    name: 'lateview_job_run_duration_seconds',
    help: 'Durations of the job runs recorded by this process, by job',
    labelNames: ['job'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  })

  /** Counts a recorded job run. */
  jobRun(run: { job: string; outcome: string; durationMs: number }): void {
    this.jobRuns.inc({ job: run.job, outcome: run.outcome })
    this.jobRunDuration.observe({ job: run.job }, run.durationMs / 1000)
  }

  /** Reads, when scraped, when the last run of each job and view that did not fail ended (epoch ms). */
  lastJobSuccessSource: () => Promise<Array<{ job: string; view: string; endedAt: number }>> = async () => []
  readonly jobLastSuccess = new Gauge({
    name: 'lateview_job_last_success_timestamp_seconds',
    help: 'When the last run of a job on a view that did not fail ended, in Unix seconds (runs of all processes, read from the store)',
    labelNames: ['job', 'view'] as const,
    registers: [this.registry],
    collect: async () => {
      const runs = await this.lastJobSuccessSource()
      this.jobLastSuccess.reset()
      for (const run of runs) this.jobLastSuccess.set({ job: run.job, view: run.view }, run.endedAt / 1000)
    },
  })
  /** Reads the number of pending deliveries from the store when scraped. */
  pendingSource: () => Promise<number> = async () => 0
  readonly pendingDeliveries = new Gauge({
    name: 'lateview_webhook_deliveries_pending',
    help: 'Webhook deliveries waiting for an attempt (all processes)',
    registers: [this.registry],
    collect: async () => {
      this.pendingDeliveries.set(await this.pendingSource())
    },
  })

  /** Reads how many write transactions the store ran again after a conflict, when scraped. */
  retriesSource: () => number = () => 0
  readonly writeRetries = new Counter({
    name: 'lateview_store_write_retries_total',
    help: 'Write transactions run again after PostgreSQL aborted them for a conflict with a concurrent transaction (deadlock, serialization failure)',
    registers: [this.registry],
    collect: () => {
      const seen = this.retriesSource()
      const counted = this.#retriesCounted
      if (seen > counted) this.writeRetries.inc(seen - counted)
      this.#retriesCounted = Math.max(counted, seen)
    },
  })
  #retriesCounted = 0

  readonly brokerMessages = new Counter({
    name: 'lateview_broker_messages_total',
    help: 'Messages taken from NATS JetStream, by outcome (ingested, duplicate, dead_lettered, retried: left unacknowledged for the store)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })
  readonly brokerBatchDuration = new Histogram({
    name: 'lateview_broker_batch_duration_seconds',
    help: 'Time to handle one batch of broker messages: decode, check, ingest, acknowledge, dead-letter',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  })
  /** Reads the consumer's pending messages from the broker when scraped (null: no consumer). */
  brokerPendingSource: (() => Promise<{ undelivered: number; unacknowledged: number }>) | null = null
  readonly brokerPending = new Gauge({
    name: 'lateview_broker_pending_messages',
    help: 'Messages of the durable consumer not yet delivered (undelivered) or delivered and not acknowledged (unacknowledged), from its info',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: async () => {
      if (!this.brokerPendingSource) return
      try {
        const p = await this.brokerPendingSource()
        this.brokerPending.set({ state: 'undelivered' }, p.undelivered)
        this.brokerPending.set({ state: 'unacknowledged' }, p.unacknowledged)
      } catch {
        // The broker is away: the gauge keeps its last value; /readyz says so.
      }
    },
  })

  /** Counts one batch of the broker consumer. */
  recordBatch(outcome: { ingested: number; duplicates: number; deadLettered: number; retried: number; ms: number }): void {
    this.brokerMessages.inc({ outcome: 'ingested' }, outcome.ingested)
    this.brokerMessages.inc({ outcome: 'duplicate' }, outcome.duplicates)
    this.brokerMessages.inc({ outcome: 'dead_lettered' }, outcome.deadLettered)
    this.brokerMessages.inc({ outcome: 'retried' }, outcome.retried)
    this.brokerBatchDuration.observe(outcome.ms / 1000)
  }

  constructor(defaults = false) {
    if (!defaults) return
    collectDefaultMetrics({ register: this.registry, prefix: 'lateview_' })
    // prom-client names three gauges `*_total`, a suffix Prometheus keeps for counters (promtool
    // check metrics refuses them). Each is the sum over `type` of the gauge of the same name
    // without the suffix, which stays: sum without (type) (lateview_nodejs_active_handles).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(`lateview_${name}`)
  }
}
