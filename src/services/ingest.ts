import { aggregate, cellId, splitCellId, type ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { DEFAULT_EVENT_LIMITS, type EventLimits } from '../domain/content.js'
import { EventKeyMap, type StoredEvent } from '../domain/event.js'
import {
  admit,
  batchAlerts,
  cellChanges,
  cellsToRepair,
  checkBatch,
  firstSeqs,
  freshItems,
  missingDataResolutions,
  storedTargetSeqs,
  storeLookups,
  viewDelta,
  type AdmittedEvent,
  type CheckedBatch,
  type ViewDelta,
  type ViewOutcome,
} from '../domain/ingest.js'
import { toIso } from '../domain/time.js'
import { LateviewError } from '../errors.js'
import { firingMissingData, raiseAlerts, resolveAlerts } from '../store/alerts.js'
import { dropEmptyCells, readCellsById, setCell } from '../store/cells.js'
import type { Engine, WriteTx } from '../store/engine.js'
import { periodEvents, retractedAmong } from '../store/events.js'
import { markDirty } from '../store/revisions.js'
import type { AlertsTable } from '../store/schema.js'
import { alertDocument, type AlertDocument } from './alert-documents.js'
import { addSourceLags } from './sources.js'

export interface IngestOptions {
  /** Admin import: keep each event's `receivedAt` (non-decreasing, not before the store's newest). */
  imported?: boolean
  /** What an event may hold (default DEFAULT_EVENT_LIMITS). */
  limits?: EventLimits
  /**
   * The batch was parsed losslessly and held numbers no JS number represents exactly (Decimals):
   * the events holding them are refused, since a plain JSON parser would have changed them.
   */
  inexactNumbers?: boolean
  /**
   * Runs first inside the write transaction: refuses the batch when this process's view
   * definitions are outdated; `versions` is the store's count of definition versions, just read.
   */
  checkDefinitions?: (db: WriteTx['db'], versions: number) => Promise<void>
}

/** What an ingest call reports back (the HTTP answer is this without `lags`). */
export interface IngestResult {
  accepted: number
  duplicates: number
  firstSeq: number | null
  lastSeq: number | null
  receivedAt: string
  alerts: AlertDocument[]
  /** Per accepted event: its source and lag, for metrics. */
  lags: Array<{ source: string; lagMs: number }>
}

export const MAX_BATCH = 100_000

/**
 * Appends a batch of events atomically: every item is validated first, then, in one write
 * transaction, duplicates are recognised, conflicts refused, seqs and receivedAt assigned and
 * the Realtime cells of every view updated. Any problem throws and writes nothing. What is
 * decided lives in domain/ingest.ts; this reads what the decisions need and writes them.
 */
export async function ingest(engine: Engine, programs: ViewProgram[], clock: Clock, items: unknown[], options: IngestOptions = {}): Promise<IngestResult> {
  if (items.length > MAX_BATCH) throw new LateviewError('LV_ERR_BODY_TOO_LARGE', `a batch holds at most ${MAX_BATCH} events; this one has ${items.length}`)
  const imported = options.imported === true
  const now = clock.now()
  const batch = checkBatch(programs, items, { imported, limits: options.limits ?? DEFAULT_EVENT_LIMITS, inexactNumbers: options.inexactNumbers === true, now })

  return engine.write(async (tx) => {
    const start = await tx.batchStart()
    if (options.checkDefinitions) await options.checkDefinitions(tx.db, start.definitionVersions)
    const head = start.head
    const admitted = await admitBatch(tx, batch, head, imported ? null : Math.max(now, head.receivedAt))
    const alerts: AlertDocument[] = []
    if (admitted.events.length > 0) {
      await tx.insertEvents(admitted.events)
      // The lag sketch of /v1/sources, in this transaction so that it counts exactly what commits.
      await addSourceLags(tx.db, admitted.events)
      const outcomes = await updateRealtime(tx, programs, admitted.events)
      alerts.push(...(await ingestAlerts(tx, admitted.events, outcomes, start.missingDataFiring)))
    }
    const accepted = admitted.events
    const last = accepted[accepted.length - 1]
    return {
      accepted: accepted.length,
      duplicates: batch.duplicates + admitted.duplicates,
      firstSeq: accepted[0]?.seq ?? null,
      lastSeq: last?.seq ?? null,
      receivedAt: toIso(last?.receivedAt ?? Math.max(now, head.receivedAt)),
      alerts,
      // Made when read: only the HTTP layer's metrics look at them.
      get lags() {
        return accepted.map((a) => ({ source: a.event.source, lagMs: a.receivedAt - a.event.occurredAt }))
      },
    }
  })
}

/**
 * Reads the stored events of the batch's keys and of its retractions' targets, and which of those
 * targets are voided already, then admits the batch's new events (throwing if one cannot be).
 */
async function admitBatch(tx: WriteTx, batch: CheckedBatch, head: { seq: number; receivedAt: number }, receivedAt: number | null): Promise<{ events: AdmittedEvent[]; duplicates: number }> {
  const stored = new EventKeyMap<StoredEvent>()
  for (const e of await tx.findEvents(storeLookups(batch))) stored.set(e.source, e.id, e)
  const fresh = freshItems(batch.items, stored)
  const targets = storedTargetSeqs(fresh.items, stored)
  const alreadyVoided = targets.length === 0 ? new Set<number>() : await retractedAmong(tx.db, targets)
  const events = admit(fresh.items, { batch: batch.byKey, stored, alreadyVoided, head, receivedAt })
  return { events, duplicates: fresh.duplicates }
}

/**
 * Adds the batch to every view's Realtime cells, each cell written once per batch. A cell whose
 * minimum or maximum a retraction may have removed is recomputed from the store instead, and
 * cells a retraction emptied are dropped. A touched period that already has a revision is marked
 * dirty; the closed (final) ones among them are returned per view, for the alerts.
 */
async function updateRealtime(tx: WriteTx, programs: ViewProgram[], admitted: AdmittedEvent[]): Promise<ViewOutcome[]> {
  const newHead = (admitted[admitted.length - 1] as AdmittedEvent).seq
  const outcomes: ViewOutcome[] = []
  for (const program of programs) {
    const delta = viewDelta(program, admitted)
    const repair = delta.removed.size === 0 ? new Set<string>() : cellsToRepair(delta, await readCellsById(tx.db, program, delta.removed.keys()))
    await tx.addToCells(program, cellChanges(delta, repair))
    if (delta.emptied.size > 0) await dropEmptyCells(tx, program, [...delta.emptied])
    for (const id of repair) await recomputeCell(tx, program, id, newHead)
    // A period that already has a revision is now dirty: the rebuilder will look at it.
    outcomes.push({ delta, closed: delta.periods.size > 0 ? await markedClosed(tx, program.name, delta) : new Set() })
  }
  return outcomes
}

/** Sets a cell to the aggregation of its stored events up to `maxSeq` (the batch included). */
async function recomputeCell(tx: WriteTx, program: ViewProgram, id: string, maxSeq: number): Promise<void> {
  const { period, dimsKey } = splitCellId(id)
  const range = program.bucketer.rangeOf(period)
  if (!range) return
  const events = (await periodEvents(tx.db, program.view.eventTypes, range, maxSeq)).filter((e) => program.dimsKey(e.data) === dimsKey)
  await setCell(tx, program, period, dimsKey, aggregate(program, events).get(cellId(period, dimsKey)) ?? null)
}

/** Marks the view's touched periods dirty; the closed (final) ones among them. */
async function markedClosed(tx: WriteTx, view: string, delta: ViewDelta): Promise<Set<string>> {
  const published = await markDirty(tx.db, view, firstSeqs(delta))
  return new Set(published.filter((p) => p.status === 'final').map((p) => p.period))
}

/**
 * Writes the alerts a batch raises (at the receivedAt of its last event) and resolves the firing
 * MissingData alerts it answers; returns both as documents. `missingDataFiring` was read at the
 * start of the transaction: a batch raises no MissingData alert, and no other writer runs.
 */
async function ingestAlerts(tx: WriteTx, admitted: AdmittedEvent[], outcomes: ViewOutcome[], missingDataFiring: boolean): Promise<AlertDocument[]> {
  const now = (admitted[admitted.length - 1] as AdmittedEvent).receivedAt
  const rows = await raiseAlerts(tx.db, batchAlerts(outcomes), now)
  if (!missingDataFiring) return rows.map(alertDocument)
  const resolved = await resolveMissingData(
    tx,
    outcomes.map((o) => o.delta),
  )
  return [...rows, ...resolved].map(alertDocument)
}

/** Resolves the firing MissingData alerts whose (view, period, source) the batch reported. */
async function resolveMissingData(tx: WriteTx, deltas: ViewDelta[]): Promise<AlertsTable[]> {
  const firing = await firingMissingData(tx.db)
  if (firing.length === 0) return []
  const resolved: AlertsTable[] = []
  for (const { at, ids } of missingDataResolutions(firing, deltas)) resolved.push(...(await resolveAlerts(tx.db, ids, at)))
  return resolved
}
