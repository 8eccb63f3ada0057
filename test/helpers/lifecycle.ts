import type { JobRun } from '../../src/services/jobs.js'
import type { Lateview } from '../../src/services/lateview.js'
import type { ReportDocument } from '../../src/services/reports.js'
import { periodRow } from '../../src/store/revisions.js'

/** A job run reduced to what a test pins: [job, view, period, outcome, revision, detail]. */
export type RunSummary = [job: string, view: string, period: string, outcome: string, revision: number | null, detail: string | null]

export function summarise(runs: JobRun[]): RunSummary[] {
  return runs.map((r) => [r.job, r.view, r.period, r.outcome, r.revision, r.detail])
}

/** A revision document without `status`, the one field that moves after publication (provisional → final). */
export function frozen(doc: ReportDocument): Omit<ReportDocument, 'status'> {
  const { status: _status, ...rest } = doc
  return rest
}

/** The figures of a report: what an as-of read and a revision published at the same knowledge share. */
export function figures(doc: ReportDocument) {
  return {
    cutoffSeq: doc.cutoffSeq,
    cutoffReceivedAt: doc.cutoffReceivedAt,
    eventCount: doc.eventCount,
    lateEventCount: doc.lateEventCount,
    completeness: doc.completeness,
    hash: doc.hash,
    rows: doc.rows,
    totals: doc.totals,
  }
}

/** The stored state of a period: status, latest revision and dirty mark (`open` without a row). */
export async function periodState(lv: Lateview, view: string, period: string) {
  const row = await periodRow(lv.engine.db, view, period)
  return row === null ? { status: 'open' as const } : { status: row.status, latestRevision: row.latest_revision, dirtySinceSeq: row.dirty_since_seq }
}

/** Every job run recorded for a period, oldest first: [job, trigger, outcome, revision]. */
export async function recordedRuns(lv: Lateview, view: string, period: string): Promise<Array<[string, string, string, number | null]>> {
  const rows = await lv.engine.db.kysely.selectFrom('job_runs').selectAll().where('view', '=', view).where('period', '=', period).orderBy('id').execute()
  return rows.map((r) => [r.job, r.trigger, r.outcome, r.revision])
}
