import type { AlertKind } from '../domain/alerts.js'
import { parseJson } from '../domain/decimal.js'
import { toIso } from '../domain/time.js'
import type { AlertsTable } from '../store/schema.js'

/** An alert as the API and webhooks show it. */
export interface AlertDocument {
  id: string
  type: AlertKind
  status: 'firing' | 'resolved'
  createdAt: string
  resolvedAt: string | null
  view: string | null
  period: string | null
  source: string | null
  data: Record<string, unknown>
}

export function alertDocument(row: AlertsTable): AlertDocument {
  return {
    id: String(row.id),
    type: row.kind as AlertKind,
    status: row.status,
    createdAt: toIso(row.created_at),
    resolvedAt: row.resolved_at === null ? null : toIso(row.resolved_at),
    view: row.view,
    period: row.period,
    source: row.source,
    // Exact: a figure in an alert (ReportRevised totals) keeps every digit it was written with.
    data: parseJson(row.data) as Record<string, unknown>,
  }
}
