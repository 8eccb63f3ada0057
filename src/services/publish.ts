import type { CellState, ViewProgram } from '../domain/aggregate.js'
import { toJson } from '../domain/decimal.js'
import { cellsHash, changedCells, deltaOf, measureChanges, sameDefinition, sameFigures, totalsOf, type RevisionKind, type Trigger } from '../domain/lifecycle.js'
import { belowMinChange, measureMoves, type MinChange } from '../domain/min-change.js'
import { toIso } from '../domain/time.js'
import { raiseAlerts } from '../store/alerts.js'
import type { WriteTx } from '../store/engine.js'
import { cutoffAt, publishStart, putPeriodRow, revisionCells, writeRevision } from '../store/revisions.js'
import type { PeriodsTable } from '../store/schema.js'
import { alertDocument, type AlertDocument } from './alert-documents.js'
import type { ViewCatalog } from './definitions.js'
import { computeReport, rangeOrThrow, storedTotals } from './reports.js'

export interface PublishOptions {
  kind: RevisionKind
  trigger: Trigger
  /** The job's now: the report covers what was received at or before it. */
  now: number
  /** Write a revision even when the figures are unchanged (closing publishes `final` anyway). */
  always?: boolean
  /** Publish only when a measure's total moved past this against the latest revision (the rebuilder's late revisions). */
  minChange?: MinChange
}

export interface PublishResult {
  outcome: 'published' | 'unchanged' | 'below-threshold' | 'skipped'
  revision: number | null
  cutoffSeq: number
  /** Why nothing was published, for a skipped or below-threshold run. */
  detail?: string
  previousRevision: number | null
  /** ReportRevised, when a period that already had a revision got a new one. */
  alerts: AlertDocument[]
}

/**
 * Publishes `Report(V, P, K)` for K = the last seq received at or before `now`, under the view's
 * current definition, as the next revision of the period, unless it shows the latest revision's
 * figures. Runs inside a write transaction, so K is exact and two publishers never interleave.
 * Knowledge never goes back: a K below the latest revision's cutoff (a `now` older than what was
 * already published) publishes nothing and says so. The latest revision is read under its own
 * definition: a new definition that shows the same figures publishes nothing either. With
 * `minChange`, figures whose totals all moved less than it publish nothing and leave the period dirty.
 */
export async function publishPeriod(tx: WriteTx, definitions: ViewCatalog, program: ViewProgram, period: string, options: PublishOptions): Promise<PublishResult> {
  const range = rangeOrThrow(program, period)
  // The head, the latest revision and the period's row: one statement on PostgreSQL.
  const { head, latest, state } = await publishStart(tx, program.name, period)
  const cutoff = options.now >= head.receivedAt ? { seq: head.seq, receivedAt: head.seq === 0 ? null : head.receivedAt } : await cutoffAt(tx.db, options.now)
  if (latest && cutoff.seq < latest.cutoff_seq) {
    return {
      outcome: 'skipped',
      revision: latest.revision,
      cutoffSeq: cutoff.seq,
      previousRevision: latest.revision,
      alerts: [],
      detail: `knowledge never goes back: cutoff seq ${cutoff.seq} at ${toIso(options.now)} is below revision ${latest.revision}'s cutoff seq ${latest.cutoff_seq}`,
    }
  }
  // One read of the period up to the head: the report at the cutoff, and where its later events begin.
  const report = await computeReport(tx.db, program, range, cutoff.seq, head.seq)
  const hash = cellsHash(report.cells)
  const before = latest ? await definitions.at(tx.db, program.name, latest.view_version) : null
  const sameRules = before !== null && sameDefinition(before, program)
  const previous = latest && before ? await revisionCells(tx.db, program.name, period, latest.revision, before.ops.length) : new Map<string, CellState>()
  const unchanged = latest !== null && before !== null && (sameRules ? latest.hash === hash : sameFigures({ program: before, cells: previous }, { program, cells: report.cells }))
  // Nothing can follow the head: the usual live case needs no look at the period's later events.
  const dirtySince = cutoff.seq >= head.seq ? null : report.nextSeq
  if (unchanged && !options.always && latest && state) {
    // Same figures: what was pending is now accounted for, up to this cutoff, under this definition.
    await putPeriodRow(tx.db, { ...state, dirty_since_seq: dirtySince, updated_at: options.now, view_version: program.view.version })
    return { outcome: 'unchanged', revision: latest.revision, cutoffSeq: cutoff.seq, previousRevision: latest.revision, alerts: [] }
  }
  if (options.minChange && !unchanged && !options.always && latest && before) {
    // Compared with the latest revision, never with the last look: small moves add up until one
    // crosses. The period stays dirty (its row is left as it is) for the next rebuild to look again.
    const moves = measureMoves(options.minChange, { program: before, cells: previous }, { program, cells: report.cells })
    if (!moves.some((m) => m.moved)) {
      return { outcome: 'below-threshold', revision: latest.revision, cutoffSeq: cutoff.seq, previousRevision: latest.revision, alerts: [], detail: belowMinChange(moves, latest.revision) }
    }
  }
  const revision = (latest?.revision ?? 0) + 1
  const totals = totalsOf(program, report.cells.values())
  const row: PeriodsTable = {
    view: program.name,
    period,
    status: options.kind === 'final' || state?.status === 'final' ? 'final' : 'provisional',
    latest_revision: revision,
    latest_cutoff_seq: cutoff.seq,
    dirty_since_seq: dirtySince,
    updated_at: options.now,
    view_version: program.view.version,
  }
  // The revision, its cells and the period's row: one statement on PostgreSQL.
  await writeRevision(
    tx.db,
    {
      view: program.name,
      period,
      revision,
      kind: options.kind,
      cutoff_seq: cutoff.seq,
      cutoff_received_at: cutoff.receivedAt,
      computed_at: options.now,
      trigger: options.trigger,
      event_count: report.eventCount,
      late_event_count: report.lateEventCount,
      completeness: report.completeness,
      hash,
      view_version: program.view.version,
      totals: toJson(totals),
    },
    report.cells,
    // Rows are shared between revisions only under one definition: the slots mean other things under another.
    // A first revision has no rows to close.
    sameRules || latest === null ? previous : null,
    program,
    row,
  )
  let alerts: AlertDocument[] = []
  const a = { program: before ?? program, cells: previous }
  const b = { program, cells: report.cells }
  const changes = latest ? changedCells(a, b) : []
  // A new revision with the same figures (a close) revised no figure.
  if (latest && before && changes.length > 0) {
    const measures = measureChanges(before, program)
    const raised = await raiseAlerts(
      tx.db,
      [
        {
          kind: 'ReportRevised',
          view: program.name,
          period,
          source: null,
          data: {
            revision,
            previousRevision: latest.revision,
            kind: options.kind,
            trigger: options.trigger,
            cutoffSeq: cutoff.seq,
            viewVersion: program.view.version,
            previousViewVersion: latest.view_version,
            // Rules changed, not (only) data: the deltas compare measures by name.
            definitionChanged: !sameRules,
            ...(sameRules ? {} : { measuresAdded: measures.added, measuresRemoved: measures.removed }),
            totalsBefore: storedTotals(latest),
            totalsAfter: totals,
            changedCells: changes.length,
            changes: changes.slice(0, 10).map((c) => ({ dims: c.dims, delta: deltaOf({ program: a.program, cell: c.before }, { program, cell: c.after }) })),
          },
        },
      ],
      options.now,
    )
    alerts = raised.map(alertDocument)
  }
  return { outcome: 'published', revision, cutoffSeq: cutoff.seq, previousRevision: latest?.revision ?? null, alerts }
}
