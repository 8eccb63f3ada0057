/**
 * Every read of a period's figures: the latest revision, revision N, as of an instant, the list
 * of revisions, a diff with the events that explain it, the exceptions after close, and CSV.
 * It is a little past 400 lines because these share one report document and one revision cache;
 * the diff (about 150 lines) is the part to move to a file of its own when this grows.
 */
import type { Db } from '../store/db.js'
import { foldEvent, type CellState, type DimValue, type ViewProgram } from '../domain/aggregate.js'
import { addScaled, amount, parseJson, subScaled, type Scaled } from '../domain/decimal.js'
import {
  cellsHash,
  changedCells,
  completenessOf,
  deltaOf,
  deltaScaled,
  matchKey,
  measureChanges,
  rescale,
  sameDefinition,
  totalsOf,
  type Measures,
  type PeriodStatus,
  type Report,
} from '../domain/lifecycle.js'
import type { PeriodRange } from '../domain/time.js'
import { toIso } from '../domain/time.js'
import { LateviewError } from '../errors.js'
import type { StoredEvent } from '../domain/event.js'
import { forEachEvent, type ScanRow } from '../store/engine.js'
import { eventsBySeq, headSeq, scanRowToEvent } from '../store/events.js'
import type { SingleAnswer } from '../store/reads.js'
import { cutoffAt, getRevision, listRevisions, periodAtHead, periodRow, revisionCells } from '../store/revisions.js'
import type { RevisionsTable } from '../store/schema.js'
import { csvText } from './csv.js'
import type { ViewCatalog } from './definitions.js'
import { recomputeStore, type RevisionDifference } from './recompute.js'

/** The period's range, or a 400-class error for a key that does not fit the view. */
export function rangeOrThrow(program: ViewProgram, period: string): PeriodRange {
  const range = program.bucketer.rangeOf(period)
  if (!range) {
    throw new LateviewError('LV_ERR_PERIOD_MALFORMED', `${JSON.stringify(period)} is not a ${program.view.granularity} period of view ${program.name}`, { period })
  }
  return range
}

/**
 * `Report(V, P, K)` computed from the store: the period's events with seq <= K not voided by a
 * retraction with seq <= K, aggregated, with the counts a revision records. With `scanTo` above K
 * the same read of the period also finds `nextSeq`, the first seq in (K, scanTo] among the
 * period's events, retractions included (null when none): from it a publication at K is dirty.
 */
export async function computeReport(db: Db, program: ViewProgram, range: PeriodRange, cutoffSeq: number, scanTo = cutoffSeq): Promise<Report & { nextSeq: number | null }> {
  const originals: ScanRow[] = []
  const voided = new Set<number>()
  let nextSeq: number | null = null
  await forEachEvent(db, { types: program.view.eventTypes, range, maxSeq: Math.max(scanTo, cutoffSeq), unordered: true, parse: true }, (row) => {
    if (row.seq > cutoffSeq) {
      if (nextSeq === null || row.seq < nextSeq) nextSeq = row.seq
    } else if (row.target_seq === null) originals.push(row)
    else voided.add(row.target_seq)
  })
  const cells = new Map<string, CellState>()
  const sources = new Set<string>()
  let eventCount = 0
  let lateEventCount = 0
  for (const row of originals) {
    if (voided.has(row.seq)) continue
    eventCount++
    if (row.received_at >= range.end) lateEventCount++
    sources.add(row.source)
    const data = row.parsed as Record<string, unknown>
    foldEvent(program, cells, program.dimsKey(data), row.type, data)
  }
  return { cells, eventCount, lateEventCount, completeness: completenessOf(program.view, sources), nextSeq }
}

export interface ReportRow {
  dims: Record<string, DimValue>
  measures: Measures
  eventCount: number
}

/** A totals row: the measures over all cells and the number of events. */
export interface Totals {
  measures: Measures
  eventCount: number
}

/** A revision's totals as published (stored as exact JSON under the revision's own definition). */
export function storedTotals(meta: RevisionsTable): Totals {
  return parseJson(meta.totals) as Totals
}

/** A report as the API shows it. */
export interface ReportDocument {
  view: string
  period: string
  status: PeriodStatus
  revision: number | null
  kind: string
  cutoffSeq: number
  cutoffReceivedAt: string | null
  computedAt: string
  trigger: string | null
  completeness: number | null
  eventCount: number
  lateEventCount: number
  hash: string
  viewVersion: number
  rows: ReportRow[]
  totals: Totals
}

export function rowsOf(program: ViewProgram, cells: Map<string, CellState>): ReportRow[] {
  return [...cells.keys()].sort().map((key) => {
    const state = cells.get(key) as CellState
    return { dims: program.dimsOf(key), measures: program.measuresOf(state), eventCount: state.eventCount }
  })
}

export function revisionMeta(r: RevisionsTable) {
  return {
    revision: r.revision,
    kind: r.kind,
    cutoffSeq: r.cutoff_seq,
    cutoffReceivedAt: r.cutoff_received_at === null ? null : toIso(r.cutoff_received_at),
    computedAt: toIso(r.computed_at),
    trigger: r.trigger,
    completeness: r.completeness,
    eventCount: r.event_count,
    lateEventCount: r.late_event_count,
    hash: r.hash,
    viewVersion: r.view_version,
  }
}

async function statusOf(db: Db, program: ViewProgram, period: string): Promise<PeriodStatus> {
  const row = await periodRow(db, program.name, period)
  return row ? row.status : 'open'
}

/**
 * Revisions never change once written, so their documents are kept in memory (the most recently
 * read ones, per store): a repeated read costs one query, for the period's status and latest
 * revision. The same frozen document is handed out for as long as the period's status stays the
 * same, so that callers can keep what they derive from it (the HTTP route its JSON text).
 */
export class RevisionCache {
  readonly #docs = new Map<string, { doc: Omit<ReportDocument, 'status'>; byStatus: Map<PeriodStatus, ReportDocument> }>()

  constructor(private readonly capacity = 2000) {}

  /** The revision's document with the period's `status`, or undefined if it is not kept. */
  get(key: string, status: PeriodStatus): ReportDocument | undefined {
    const entry = this.#docs.get(key)
    if (!entry) return undefined
    this.#docs.delete(key)
    this.#docs.set(key, entry)
    let doc = entry.byStatus.get(status)
    if (!doc) entry.byStatus.set(status, (doc = Object.freeze({ ...entry.doc, status })))
    return doc
  }

  set(key: string, doc: Omit<ReportDocument, 'status'>): void {
    this.#docs.set(key, { doc, byStatus: new Map() })
    if (this.#docs.size > this.capacity) this.#docs.delete(this.#docs.keys().next().value as string)
  }
}

/**
 * The latest revision (or revision N) of a period, read under the definition it was published
 * with; 404-class error when there is none.
 */
export async function readRevision(db: Db, definitions: ViewCatalog, current: ViewProgram, period: string, revision?: number, cache?: RevisionCache): Promise<ReportDocument> {
  rangeOrThrow(current, period)
  const state = await periodRow(db, current.name, period)
  const wanted = revision ?? state?.latest_revision
  const key = revisionKey(current.name, period, wanted)
  const cached = wanted === undefined ? undefined : cache?.get(key, state?.status ?? 'open')
  if (cached) return cached
  const meta = wanted === undefined ? null : await getRevision(db, current.name, period, wanted)
  if (!meta) {
    throw new LateviewError(
      revision === undefined ? 'LV_ERR_PERIOD_NOT_FOUND' : 'LV_ERR_REVISION_NOT_FOUND',
      revision === undefined ? `period ${period} of view ${current.name} has no revision yet (see …/realtime or ?asOf=)` : `period ${period} of view ${current.name} has no revision ${revision}`,
      { view: current.name, period },
    )
  }
  const program = await definitions.at(db, current.name, meta.view_version)
  const cells = await revisionCells(db, current.name, period, meta.revision, program.ops.length)
  const doc = {
    view: current.name,
    period,
    ...revisionMeta(meta),
    rows: rowsOf(program, cells),
    totals: storedTotals(meta),
  }
  if (!cache) return { ...doc, status: state?.status ?? 'open' }
  cache.set(key, doc)
  return cache.get(key, state?.status ?? 'open') as ReportDocument
}

/**
 * The latest revision (or revision N) of a period from the cache, checked against the committed
 * period row and read with the newest seq in ONE statement (see ReadRouter.runSingle): the
 * answer is exact at that seq. Null when the cache does not hold that revision, the store does
 * not have it, or the key is malformed (`readRevision` then answers in a snapshot).
 */
export async function readCachedRevision(db: Db, current: ViewProgram, period: string, cache: RevisionCache, revision?: number): Promise<SingleAnswer<ReportDocument> | null> {
  // A malformed key is answered by `readRevision`, in a snapshot whose seq the error carries.
  if (!current.bucketer.rangeOf(period)) return null
  const state = await periodAtHead(db, current.name, period)
  // Revision N is served only from a store that has it (a replica may not yet).
  if (state.latestRevision === null || (revision !== undefined && revision > state.latestRevision)) return null
  const cached = cache.get(revisionKey(current.name, period, revision ?? state.latestRevision), state.status ?? 'open')
  return cached ? { seq: state.head, value: cached } : null
}

function revisionKey(view: string, period: string, revision: number | undefined): string {
  return `${view}\u0000${period}\u0000${revision}`
}

/** What was known of a period at instant `at`: computed from the store (`revision: null`). */
export async function readAsOf(db: Db, program: ViewProgram, period: string, at: number, now: number): Promise<ReportDocument> {
  const range = rangeOrThrow(program, period)
  const cutoff = await cutoffAt(db, at)
  const report = await computeReport(db, program, range, cutoff.seq)
  return {
    view: program.name,
    period,
    status: await statusOf(db, program, period),
    revision: null,
    kind: 'as-of',
    cutoffSeq: cutoff.seq,
    cutoffReceivedAt: cutoff.receivedAt === null ? null : toIso(cutoff.receivedAt),
    computedAt: toIso(now),
    trigger: null,
    completeness: report.completeness,
    eventCount: report.eventCount,
    lateEventCount: report.lateEventCount,
    hash: cellsHash(report.cells),
    viewVersion: program.view.version,
    rows: rowsOf(program, report.cells),
    totals: totalsOf(program, report.cells.values()),
  }
}

/** Every revision's metadata and totals, oldest first. */
export async function readRevisions(db: Db, program: ViewProgram, period: string) {
  rangeOrThrow(program, period)
  const rows = await listRevisions(db, program.name, period)
  return {
    view: program.name,
    period,
    status: await statusOf(db, program, period),
    revisions: rows.map((r) => ({ ...revisionMeta(r), totals: storedTotals(r) })),
  }
}

/** A side of a diff: a revision number or `asOf:<ISO instant>`. */
export type DiffSide = { revision: number } | { asOf: number }

export interface ExplainingEvent {
  id: string
  source: string
  seq: number
  receivedAt: string
  occurredAt: string
  retracts?: string
  /** What this event adds to the cell (negative for a retraction), under the `to` side's definition. */
  contribution: Measures
}

export interface DiffChange {
  dims: Record<string, DimValue>
  before: Measures | null
  after: Measures | null
  /** For each measure both sides have (by name). */
  delta: Measures
  events: ExplainingEvent[]
  /**
   * Across two definitions only: for each sum and count both have, the part of the delta the
   * events do not explain, which the change of definition made (delta = events + this).
   */
  definitionEffect?: Measures
}

/** What changed in the rules between the two sides of a diff (null when both share one definition). */
export interface DefinitionChange {
  from: number
  to: number
  measuresAdded: string[]
  measuresRemoved: string[]
  dimensionsChanged: boolean
  note: string
}

async function sideCells(db: Db, definitions: ViewCatalog, current: ViewProgram, period: string, range: PeriodRange, side: DiffSide) {
  if ('revision' in side) {
    const meta = await getRevision(db, current.name, period, side.revision)
    if (!meta) throw new LateviewError('LV_ERR_REVISION_NOT_FOUND', `period ${period} of view ${current.name} has no revision ${side.revision}`, { view: current.name, period })
    const program = await definitions.at(db, current.name, meta.view_version)
    return { label: `revision ${side.revision}`, revision: side.revision, cutoffSeq: meta.cutoff_seq, program, cells: await revisionCells(db, current.name, period, side.revision, program.ops.length) }
  }
  const cutoff = await cutoffAt(db, side.asOf)
  const report = await computeReport(db, current, range, cutoff.seq)
  return { label: `as of ${toIso(side.asOf)}`, revision: null, cutoffSeq: cutoff.seq, program: current, cells: report.cells }
}

/**
 * The changed cells between two knowledge states of a period, each with the events that explain
 * it: those of the period with seq in (cutoff(from), cutoff(to)], retractions included, their
 * contributions taken under the `to` side's definition. Under one definition the contributions
 * add up exactly to the delta of every sum and count. When the two sides were published under
 * two definitions, cells are matched by dimension values and measures by name, `definition` says
 * what changed in the rules, and each change's `definitionEffect` is the part of the delta that
 * no event explains: nothing is attributed to events that did not cause it. Returned with the
 * two sides' figures it compared (services/comparison.ts totals them and writes them as CSV).
 */
export async function diffReports(db: Db, definitions: ViewCatalog, current: ViewProgram, period: string, from: DiffSide, to: DiffSide) {
  const range = rangeOrThrow(current, period)
  const a = await sideCells(db, definitions, current, period, range, from)
  const b = await sideCells(db, definitions, current, period, range, to)
  const across = !sameDefinition(a.program, b.program)
  const changes = changedCells(a, b)
  const low = Math.min(a.cutoffSeq, b.cutoffSeq)
  const high = Math.max(a.cutoffSeq, b.cutoffSeq)
  const direction = b.cutoffSeq >= a.cutoffSeq ? 1 : -1
  const measures = b.program.view.measures
  const explaining = new Map<string, { events: ExplainingEvent[]; sums: Scaled[] }>()
  if (changes.length > 0 && high > low) {
    const rows: StoredEvent[] = []
    // The events are bucketed by the `to` side's definition (its time zone may differ from today's).
    const scanned = b.program.bucketer.rangeOf(period) ?? range
    await forEachEvent(db, { types: b.program.view.eventTypes, range: scanned, afterSeq: low, maxSeq: high, withIds: true }, (row) => rows.push(scanRowToEvent(row)))
    const targetSeqs = rows.filter((r) => r.targetSeq !== null).map((r) => r.targetSeq as number)
    const targets = await eventsBySeq(db, targetSeqs, scanned)
    for (const e of rows) {
      const facts = e.targetSeq === null ? e : targets.get(e.targetSeq)
      if (!facts || !b.program.selects(facts.type)) continue
      const c = b.program.contribution(facts)
      if (c.period !== period) continue
      const sign = direction * (e.targetSeq === null ? 1 : -1)
      const one = { eventCount: c.eventCount, slots: c.slots }
      const contribution: Measures = {}
      const key = matchKey(b.program, c.dimsKey, across)
      let entry = explaining.get(key)
      if (!entry) explaining.set(key, (entry = { events: [], sums: measures.map(() => 0) }))
      measures.forEach((m, j) => {
        const v = b.program.shownScaled(one, j)
        if (m.kind === 'sum' || m.kind === 'count') {
          const signed = v === null ? 0 : sign === 1 ? v : subScaled(0, v)
          entry.sums[j] = addScaled(entry.sums[j] as Scaled, signed)
          contribution[m.name] = m.kind === 'count' ? (signed as number) : amount(signed, m.decimals)
        } else contribution[m.name] = v === null ? null : amount(v, m.decimals)
      })
      entry.events.push({
        id: e.id,
        source: e.source,
        seq: e.seq,
        receivedAt: toIso(e.receivedAt),
        occurredAt: toIso(e.occurredAt),
        ...(e.retracts !== null ? { retracts: e.retracts } : {}),
        contribution,
      })
    }
  }
  const changed = measureChanges(a.program, b.program)
  const definition: DefinitionChange | null = across
    ? {
        from: a.program.view.version,
        to: b.program.view.version,
        measuresAdded: changed.added,
        measuresRemoved: changed.removed,
        dimensionsChanged: a.program.view.dimensions.join('\u0000') !== b.program.view.dimensions.join('\u0000'),
        note: `the view definition changed from version ${a.program.view.version} to ${b.program.view.version} between the two sides: cells are matched by dimension values, measures by name, and definitionEffect is the part of each delta no event explains`,
      }
    : null
  const diff = {
    view: current.name,
    period,
    from: { label: a.label, revision: a.revision, cutoffSeq: a.cutoffSeq, viewVersion: a.program.view.version },
    to: { label: b.label, revision: b.revision, cutoffSeq: b.cutoffSeq, viewVersion: b.program.view.version },
    definition,
    changes: changes.map<DiffChange>((ch) => {
      const entry = explaining.get(ch.key)
      const change: DiffChange = {
        dims: ch.dims,
        before: ch.before ? a.program.measuresOf(ch.before) : null,
        after: ch.after ? b.program.measuresOf(ch.after) : null,
        delta: deltaOf({ program: a.program, cell: ch.before }, { program: b.program, cell: ch.after }),
        events: entry?.events ?? [],
      }
      if (across) {
        const effect: Measures = {}
        for (const d of deltaScaled({ program: a.program, cell: ch.before }, { program: b.program, cell: ch.after })) {
          const j = measures.findIndex((m) => m.name === d.name)
          const m = measures[j]
          if (!m || d.value === null || !d.additive) continue
          effect[d.name] = amount(subScaled(d.value, rescale((entry?.sums[j] ?? 0) as Scaled, m.decimals, d.decimals)), d.decimals)
        }
        change.definitionEffect = effect
      }
      return change
    }),
  }
  return { diff, sides: { before: a, after: b } }
}

/** Events of a closed period received after its final revision (held under policy `hold`). */
export async function readExceptions(db: Db, program: ViewProgram, period: string) {
  const range = rangeOrThrow(program, period)
  const state = await periodRow(db, program.name, period)
  const cutoff = state && state.status === 'final' ? state.latest_cutoff_seq : null
  const events: StoredEvent[] = []
  if (cutoff !== null) {
    await forEachEvent(db, { types: program.view.eventTypes, range, afterSeq: cutoff, maxSeq: Number.MAX_SAFE_INTEGER, withIds: true }, (row) => events.push(scanRowToEvent(row)))
  }
  return {
    view: program.name,
    period,
    status: state?.status ?? 'open',
    policy: program.view.close.lateAfterClose,
    events: events.map((e) => {
      return {
        id: e.id,
        source: e.source,
        type: e.type,
        seq: e.seq,
        occurredAt: toIso(e.occurredAt),
        receivedAt: toIso(e.receivedAt),
        data: e.data,
        ...(e.retracts !== null ? { retracts: e.retracts } : {}),
      }
    }),
  }
}

export type { RevisionDifference } from './recompute.js'

/**
 * Recomputes every stored revision at its cutoff and compares: an empty list means every
 * published figure holds. One pass over the events for all views (see recomputeStore).
 */
export async function verifyRevisions(db: Db, definitions: ViewCatalog, programs: ViewProgram[]): Promise<{ revisions: number; differences: RevisionDifference[] }> {
  const { revisions, differences } = await recomputeStore(db, programs, await headSeq(db), { revisions: definitions })
  return { revisions, differences }
}

/**
 * A report as CSV (RFC 4180): one row per cell, dimensions, then measures, then eventCount;
 * `program` is the definition the report was computed under. Numbers are exact, never with an exponent.
 */
export function reportCsv(program: ViewProgram, report: ReportDocument): string {
  const view = program.view
  const measures = view.measures.map((m) => m.name)
  return csvText(
    [...view.dimensions, ...measures, 'eventCount'],
    report.rows.map((row) => [...view.dimensions.map((d) => row.dims[d]), ...measures.map((m) => row.measures[m]), row.eventCount]),
  )
}
