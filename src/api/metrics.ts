import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

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

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'lateview_' })
  }
}
