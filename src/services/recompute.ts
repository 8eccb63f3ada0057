import type { Db } from '../store/db.js'
import { cellId, foldEvent, type CellState, type ViewProgram } from '../domain/aggregate.js'
import { toJson } from '../domain/decimal.js'
import { cellsHash, changedCells, completenessOf, totalsOf, type Report } from '../domain/lifecycle.js'
import type { PeriodRange } from '../domain/time.js'
import { forEachEvent, type ScanRow } from '../store/engine.js'
import { allRetractions } from '../store/events.js'
import { revisionCells, revisionSummaries } from '../store/revisions.js'
import type { ViewCatalog } from './definitions.js'

/** What one pass over the store recomputes. */
export interface RecomputeOptions {
  /** Every view's Realtime cells at `maxSeq`. */
  cells?: boolean
  /**
   * Every stored revision of the views, recomputed at its cutoff under the definition it was
   * published with (looked up here) and compared with what was published.
   */
  revisions?: ViewCatalog
}

export interface RevisionDifference {
  view: string
  period: string
  revision: number
  problem: string
}

export interface Recomputed {
  /** Per view name, the cells keyed by `cellId` (empty unless `cells` was asked for). */
  cells: Map<string, Map<string, CellState>>
  /** Revisions looked at, and what differs from their recomputation (ordered by view, period, revision). */
  revisions: number
  differences: RevisionDifference[]
}

/** The stored figures of one revision that a recomputation must reproduce. */
interface PublishedRevision {
  revision: number
  hash: string
  totals: string
  event_count: number
  late_event_count: number
  completeness: number | null
}

/** An event voided before a period's last cutoff: it counts only in the revisions cut before its retraction. */
interface Pending {
  voidSeq: number
  dimsKey: string
  type: string
  data: Record<string, unknown>
  source: string
  late: boolean
}

/**
 * A period whose revisions are being recomputed. Events arrive in seq order, so an event counts
 * in every revision not yet cut, up to its retraction: an event never retracted before the last
 * cutoff goes into the running state for good, and the few others wait in `pending`. Nothing is
 * ever subtracted, so min and max need no repair, and no event is held past its own scan step.
 */
class PeriodRevisions {
  readonly cutoffs: number[]
  next = 0
  cells = new Map<string, CellState>()
  eventCount = 0
  lateEventCount = 0
  readonly sources = new Set<string>()
  pending: Pending[] = []

  constructor(
    readonly program: ViewProgram,
    readonly viewIndex: number,
    readonly period: string,
    readonly range: PeriodRange,
    readonly published: Map<number, PublishedRevision[]>,
  ) {
    this.cutoffs = [...published.keys()].sort((a, b) => a - b)
  }

  get last(): number {
    return this.cutoffs[this.cutoffs.length - 1] as number
  }

  add(row: ScanRow, dimsKey: string, data: Record<string, unknown>, voidSeq: number | undefined): void {
    const late = row.received_at >= this.range.end
    if (voidSeq === undefined || voidSeq > this.last) {
      foldEvent(this.program, this.cells, dimsKey, row.type, data)
      this.eventCount++
      if (late) this.lateEventCount++
      this.sources.add(row.source)
    } else if (voidSeq > (this.cutoffs[this.next] as number)) {
      this.pending.push({ voidSeq, dimsKey, type: row.type, data, source: row.source, late })
    }
  }

  /** `Report(V, P, K)` at the next cutoff; the running state is handed over at the last one. */
  cut(): { cutoff: number; report: Report } {
    const cutoff = this.cutoffs[this.next++] as number
    this.pending = this.pending.filter((p) => p.voidSeq > cutoff)
    const final = this.next === this.cutoffs.length && this.pending.length === 0
    const cells = final ? this.cells : new Map<string, CellState>()
    if (!final) for (const [key, s] of this.cells) cells.set(key, { eventCount: s.eventCount, slots: [...s.slots] })
    let { eventCount, lateEventCount } = this
    const sources = this.pending.length === 0 ? this.sources : new Set(this.sources)
    for (const p of this.pending) {
      foldEvent(this.program, cells, p.dimsKey, p.type, p.data)
      eventCount++
      if (p.late) lateEventCount++
      sources.add(p.source)
    }
    return { cutoff, report: { cells, eventCount, lateEventCount, completeness: completenessOf(this.program.view, sources) } }
  }
}

/** Seqs of events scanned between two checks against stored revisions (their reads are async). */
const WINDOW = 250_000

/**
 * Recomputes, in one pass over the events in seq order, every view's Realtime cells at `maxSeq`
 * and every stored revision at its cutoff (compared with the published figures as the scan
 * passes each cutoff). Each event is read and parsed once for all views; memory holds the cells,
 * the voided seqs and the revisions' metadata, never the events.
 */
export async function recomputeStore(db: Db, programs: ViewProgram[], maxSeq: number, options: RecomputeOptions): Promise<Recomputed> {
  const result: Recomputed = { cells: new Map(), revisions: 0, differences: [] }
  // One entry per definition met: the current ones (with their Realtime cells), and every older
  // version a revision was published under (revisions only).
  const entry = (program: ViewProgram, viewIndex: number, cells: boolean) => ({
    program,
    viewIndex,
    cells: cells ? new Map<string, Map<string, CellState>>() : null,
    periods: new Map<string, PeriodRevisions>(),
    // The last period met, its range, cells and revisions: events come mostly in occurrence order.
    last: null as { period: string; start: number; end: number; cells: Map<string, CellState> | null; revisions: PeriodRevisions | null } | null,
  })
  const views = programs.map((program, viewIndex) => entry(program, viewIndex, options.cells === true))
  let scanTo = options.cells ? maxSeq : 0
  // Every period with revisions takes its turn at each of its cutoffs, in cutoff order.
  const turns: Array<{ period: PeriodRevisions; cutoff: number }> = []
  if (options.revisions && programs.length > 0) {
    const metas = await revisionSummaries(
      db,
      programs.map((p) => p.name),
    )
    const versionKey = (view: string, version: number) => `${view}\u0000${version}`
    const byVersion = new Map(views.map((v) => [versionKey(v.program.name, v.program.view.version), v]))
    for (const meta of metas) {
      const key = versionKey(meta.view, meta.view_version)
      if (byVersion.has(key)) continue
      const older = entry(await options.revisions.at(db, meta.view, meta.view_version), views.length, false)
      views.push(older)
      byVersion.set(key, older)
    }
    const published = new Map<(typeof views)[number], Map<string, { range: PeriodRange; byCutoff: Map<number, PublishedRevision[]> }>>()
    // Each period's revisions, in order, must never know less than the one before.
    const lastCutoff = new Map<string, { revision: number; cutoff: number }>()
    for (const meta of metas) {
      const v = byVersion.get(versionKey(meta.view, meta.view_version))
      if (!v) continue
      result.revisions++
      const periodId = `${meta.view}\u0000${meta.period}`
      const before = lastCutoff.get(periodId)
      if (before && meta.cutoff_seq < before.cutoff) {
        result.differences.push({
          view: meta.view,
          period: meta.period,
          revision: meta.revision,
          problem: `cutoff seq ${meta.cutoff_seq} is below revision ${before.revision}'s cutoff seq ${before.cutoff}: knowledge went back`,
        })
      }
      lastCutoff.set(periodId, { revision: meta.revision, cutoff: meta.cutoff_seq })
      const range = v.program.bucketer.rangeOf(meta.period)
      if (!range) {
        result.differences.push({ view: meta.view, period: meta.period, revision: meta.revision, problem: 'period key no longer fits the view' })
        continue
      }
      let periods = published.get(v)
      if (!periods) published.set(v, (periods = new Map()))
      let period = periods.get(meta.period)
      if (!period) periods.set(meta.period, (period = { range, byCutoff: new Map() }))
      const same = period.byCutoff.get(meta.cutoff_seq)
      if (same) same.push(meta)
      else period.byCutoff.set(meta.cutoff_seq, [meta])
    }
    for (const [v, periods] of published) {
      for (const [key, { range, byCutoff }] of periods) {
        const period = new PeriodRevisions(v.program, v.viewIndex, key, range, byCutoff)
        v.periods.set(key, period)
        for (const cutoff of period.cutoffs) turns.push({ period, cutoff })
        scanTo = Math.max(scanTo, period.last)
      }
    }
    turns.sort((a, b) => a.cutoff - b.cutoff)
  }
  const cut: Array<{ period: PeriodRevisions; cutoff: number; report: Report }> = []
  let turn = 0
  const cutThrough = (seq: number) => {
    while (turn < turns.length && (turns[turn] as { cutoff: number }).cutoff < seq) {
      const { period } = turns[turn++] as { period: PeriodRevisions }
      // Sorted turns reach a period's cutoffs in its own order: `cut` takes the next one.
      cut.push({ period, ...period.cut() })
      const v = views[period.viewIndex] as (typeof views)[number]
      if (period.next === period.cutoffs.length) {
        v.periods.delete(period.period)
        v.last = null
      }
    }
  }
  const check = async () => {
    for (const { period, cutoff, report } of cut.splice(0)) {
      for (const meta of period.published.get(cutoff) ?? []) {
        const problem = (text: string) => result.differences.push({ view: period.program.name, period: period.period, revision: meta.revision, problem: text })
        const stored = await revisionCells(db, period.program.name, period.period, meta.revision, period.program.ops.length)
        const changed = changedCells({ program: period.program, cells: stored }, { program: period.program, cells: report.cells })
        if (changed.length > 0) problem(`${changed.length} cells differ from a recomputation at seq ${cutoff}`)
        if (cellsHash(report.cells) !== meta.hash) problem('content hash differs')
        if (toJson(totalsOf(period.program, report.cells.values())) !== meta.totals) problem('totals differ from a recomputation')
        if (report.eventCount !== meta.event_count) problem(`eventCount ${meta.event_count} ≠ ${report.eventCount}`)
        if (report.lateEventCount !== meta.late_event_count) problem(`lateEventCount ${meta.late_event_count} ≠ ${report.lateEventCount}`)
        if (report.completeness !== meta.completeness) problem(`completeness ${meta.completeness} ≠ ${report.completeness}`)
      }
    }
  }

  const types = [...new Set(views.flatMap((v) => v.program.view.eventTypes))]
  if (types.length > 0 && scanTo > 0) {
    // The first retraction of an event voids it from its own seq on (a second one is refused at ingest).
    const voids = new Map<number, number>()
    for (const r of await allRetractions(db)) {
      if (r.seq > scanTo) continue
      const target = r.target_seq as number
      const known = voids.get(target)
      if (known === undefined || r.seq < known) voids.set(target, r.seq)
    }
    const byType = new Map<string, typeof views>()
    for (const t of types)
      byType.set(
        t,
        views.filter((v) => v.program.selects(t)),
      )
    const visit = (row: ScanRow) => {
      cutThrough(row.seq)
      const data = row.parsed as Record<string, unknown>
      const voidSeq = voids.get(row.seq)
      const counts = row.seq <= maxSeq && (voidSeq === undefined || voidSeq > maxSeq)
      for (const v of byType.get(row.type) ?? []) {
        let last = v.last
        if (last === null || !(row.occurred_at >= last.start && row.occurred_at < last.end)) {
          // The stretch of time around the event that belongs to one period (a period may have several).
          const piece = v.program.bucketer.pieceOf(row.occurred_at)
          if (last === null || last.period !== piece.key) {
            let cells = v.cells?.get(piece.key) ?? null
            if (v.cells && !cells) v.cells.set(piece.key, (cells = new Map()))
            v.last = last = { period: piece.key, start: piece.start, end: piece.end, cells, revisions: v.periods.get(piece.key) ?? null }
          } else {
            last.start = piece.start
            last.end = piece.end
          }
        }
        const dimsKey = v.program.dimsKey(data)
        if (last.cells && counts) foldEvent(v.program, last.cells, dimsKey, row.type, data)
        last.revisions?.add(row, dimsKey, data, voidSeq)
      }
    }
    for (let after = 0; after < scanTo; after += WINDOW) {
      await forEachEvent(db, { types, afterSeq: after, maxSeq: Math.min(after + WINDOW, scanTo), originalsOnly: true, parse: true }, visit)
      cutThrough(after + WINDOW + 1)
      await check()
    }
  }
  cutThrough(Number.POSITIVE_INFINITY)
  await check()

  for (const v of views) {
    if (!v.cells) continue
    const flat = new Map<string, CellState>()
    for (const [period, cells] of v.cells) for (const [dimsKey, state] of cells) flat.set(cellId(period, dimsKey), state)
    result.cells.set(v.program.name, flat)
  }
  const order = new Map(programs.map((p, i) => [p.name, i]))
  result.differences.sort((a, b) => (order.get(a.view) as number) - (order.get(b.view) as number) || (a.period < b.period ? -1 : a.period > b.period ? 1 : 0) || a.revision - b.revision)
  return result
}
