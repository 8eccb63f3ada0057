/**
 * Revision analysis over the store (README, "Revision analysis"): the accuracy of each release
 * kind from the revisions as published, and the vintages, completeness curve and close advice
 * from the values known at instants, all of them read in one pass over the events of the range.
 *
 * The value known at an instant t is `Report(V, P, K(t))`'s total, K(t) the last seq received at
 * or before t. receivedAt never decreases along seq, so the events with seq <= K(t) are exactly
 * those received at or before t, and a revision's cutoff K (received at r) takes exactly the
 * events with (receivedAt, seq) <= (r, K): every knowledge state is a "cut" (at, seq), compared
 * in that order, and one scan in seq order passes each period's cuts in turn.
 */
import { emptyCell, foldEvent, type Amount, type CellState, type ViewProgram } from '../domain/aggregate.js'
import {
  CLOSE_CANDIDATE_DAYS,
  DEFAULT_PERIODS,
  RELEASE_KINDS,
  closeCandidate,
  meaningChange,
  measureIndex,
  parseAgainst,
  parseLags,
  recommendedClose,
  releaseStatistics,
  revisionOf,
  shareOf,
  shownExact,
  sourceLags,
  spreadOf,
  suggestedSla,
  type Against,
  type CloseCandidate,
  type Exact,
  type Lag,
  type ReleaseStatistics,
  type RevisionPair,
  type SourceLags,
  type Spread,
} from '../domain/analysis.js'
import { amountScaled } from '../domain/decimal.js'
import { dueAt, totalsOf } from '../domain/lifecycle.js'
import { toIso, type PeriodRange } from '../domain/time.js'
import type { MeasureDefinition } from '../domain/view.js'
import { LateviewError } from '../errors.js'
import { retractionReceipts, revisionCellsBetween, revisionsBetween } from '../store/analysis.js'
import type { Db } from '../store/db.js'
import { forEachEvent } from '../store/engine.js'
import { headSeq } from '../store/events.js'
import type { Snapshots } from '../store/reads.js'
import { knownPeriods, stateOf } from '../store/revisions.js'
import type { RevisionCellsTable, RevisionsTable } from '../store/schema.js'
import type { ViewCatalog } from './definitions.js'
import { csvValue } from './csv.js'
import { storedTotals } from './reports.js'

/** What every analysis answer takes: the periods, the measure and dimension filters. */
export interface AnalysisQuery {
  /** First and last period keys, inclusive (default: the last 30 periods with events or a revision). */
  from?: string
  to?: string
  /** A measure of the view (default its first). */
  measure?: string
  /** Dimension filters, as `realtime` takes them: a row counts when each dimension's text equals the value. */
  where?: Record<string, string>
  /** `final` or `latest`. */
  against?: string
}

/** A query checked against the view, its range resolved. */
interface Scope {
  program: ViewProgram
  from: string | null
  to: string | null
  measure: number
  definition: MeasureDefinition
  where: Array<[string, string]>
}

function malformed(program: ViewProgram, name: string, key: string): LateviewError {
  return new LateviewError('LV_ERR_PERIOD_MALFORMED', `${name}=${JSON.stringify(key)} is not a ${program.view.granularity} period key of view ${program.name}`, { period: key })
}

/** Checks a query and resolves its default range from the periods with events or a revision. */
async function scopeOf(db: Db, program: ViewProgram, query: AnalysisQuery): Promise<Scope> {
  for (const [name, key] of [
    ['from', query.from],
    ['to', query.to],
  ] as const) {
    if (key !== undefined && !program.bucketer.rangeOf(key)) throw malformed(program, name, key)
  }
  const where = Object.entries(query.where ?? {})
  for (const [dim] of where) {
    if (!program.view.dimensions.includes(dim)) {
      throw new LateviewError('LV_ERR_QUERY_INVALID', `${dim} is not a dimension of view ${program.name} (${program.view.dimensions.join(', ') || 'it has none'})`)
    }
  }
  const measure = measureIndex(program.view, query.measure)
  let { from, to } = query
  if (from !== undefined && to !== undefined && from > to) throw new LateviewError('LV_ERR_QUERY_INVALID', `from=${from} is after to=${to}`)
  if (from === undefined || to === undefined) {
    const known = (await knownPeriods(db, program.name)).filter((k) => program.bucketer.rangeOf(k) !== null)
    to ??= known.at(-1)
    if (to !== undefined && from !== undefined && to < from) to = from
    if (from === undefined && to !== undefined) {
      const last = to
      const before = known.filter((k) => k <= last)
      from = before[Math.max(0, before.length - DEFAULT_PERIODS)] ?? to
    }
  }
  return { program, from: from ?? null, to: to ?? null, measure, definition: program.view.measures[measure] as MeasureDefinition, where }
}

/** Whether an event's (or a row's) dimension values pass the filters. */
function passes(program: ViewProgram, dimsKey: string, where: Array<[string, string]>, memo: Map<string, boolean>): boolean {
  let ok = memo.get(dimsKey)
  if (ok === undefined) {
    const dims = program.dimsOf(dimsKey)
    ok = where.every(([d, v]) => String(dims[d]) === v)
    memo.set(dimsKey, ok)
  }
  return ok
}

function exactOf(value: Amount | null | undefined, definition: MeasureDefinition): Exact | null {
  return value === null || value === undefined ? null : { scaled: amountScaled(value, definition.decimals), decimals: definition.decimals }
}

/** Revisions by period, oldest first. */
function byPeriod(metas: RevisionsTable[]): Map<string, RevisionsTable[]> {
  const periods = new Map<string, RevisionsTable[]>()
  for (const meta of metas) {
    let list = periods.get(meta.period)
    if (!list) periods.set(meta.period, (list = []))
    list.push(meta)
  }
  return periods
}

// ---------------------------------------------------------------------------------------------
// Accuracy

export interface AccuracyAnswer {
  view: string
  measure: string
  against: Against
  from: string | null
  to: string | null
  releases: ReleaseStatistics[]
  periods: Array<{ period: string; benchmark: Amount | null; releases: Record<string, { revision: Amount | null; value: Amount | null; publishedAt: string }> }>
  excluded: Array<{ period: string; kind: string; reason: string }>
}

/** A revision's total of the measure as published (over the rows that pass the filters), under its own definition. */
interface Published {
  meta: RevisionsTable
  version: number
  measure: MeasureDefinition | undefined
  value: Exact | null
  /** Why it cannot be read under the filters (a dimension its definition does not have). */
  problem: string | null
}

/**
 * Accuracy of each release kind: the first revision of each kind against the period's final (or
 * latest) revision, both as published. Reads revisions only, never events.
 */
export async function readAccuracy(reads: Snapshots, definitions: ViewCatalog, program: ViewProgram, query: AnalysisQuery): Promise<AccuracyAnswer> {
  const against = parseAgainst(query.against, 'final')
  return reads.snapshot(async (db) => {
    const scope = await scopeOf(db, program, query)
    const name = scope.definition.name
    const answer: AccuracyAnswer = { view: program.name, measure: name, against, from: scope.from, to: scope.to, releases: [], periods: [], excluded: [] }
    if (scope.from === null || scope.to === null) return answer
    const { from, to } = scope
    const metas = (await revisionsBetween(db, program.name, from, to)).filter((m) => program.bucketer.rangeOf(m.period) !== null)
    const revisions = byPeriod(metas)
    // Only a period with a revision has anything to say about releases.
    const periods = [...revisions.keys()]
    // Under filters a revision's total is recomputed from its stored rows.
    const cellRows = scope.where.length > 0 ? await revisionCellsBetween(db, program.name, from, to) : []
    const rowsOf = new Map<string, RevisionCellsTable[]>()
    for (const row of cellRows) {
      let list = rowsOf.get(row.period)
      if (!list) rowsOf.set(row.period, (list = []))
      list.push(row)
    }
    const published = async (meta: RevisionsTable): Promise<Published> => {
      const p = await definitions.at(db, program.name, meta.view_version)
      const measure = p.view.measures.find((m) => m.name === name)
      const base = { meta, version: meta.view_version, measure }
      if (!measure) return { ...base, value: null, problem: null }
      if (scope.where.length === 0) return { ...base, value: exactOf(storedTotals(meta).measures[name], measure), problem: null }
      const missing = scope.where.find(([d]) => !p.view.dimensions.includes(d))
      if (missing) return { ...base, value: null, problem: `dimension ${missing[0]} is not in version ${meta.view_version}` }
      const memo = new Map<string, boolean>()
      const cells: CellState[] = []
      for (const row of rowsOf.get(meta.period) ?? []) {
        const fromRevision = Number(row.from_revision)
        const toRevision = row.to_revision === null ? null : Number(row.to_revision)
        if (fromRevision > meta.revision || (toRevision !== null && toRevision <= meta.revision)) continue
        if (passes(p, row.dims_key, scope.where, memo)) cells.push(stateOf(row as unknown as Record<string, unknown>, p.ops.length))
      }
      return { ...base, value: exactOf(totalsOf(p, cells).measures[name], measure), problem: null }
    }
    const pairs = new Map<string, RevisionPair[]>()
    for (const period of periods) {
      const list = revisions.get(period) ?? []
      const bench = against === 'final' ? list.find((m) => m.kind === 'final') : list.at(-1)
      const b = bench ? await published(bench) : null
      const entry: AccuracyAnswer['periods'][number] = { period, benchmark: b ? shownExact(b.value) : null, releases: {} }
      for (const kind of RELEASE_KINDS) {
        const first = list.find((m) => m.kind === kind)
        if (!first) continue
        const v = await published(first)
        let revision: Exact | null = null
        if (b) {
          const reason = v.problem ?? b.problem ?? meaningChange(name, { version: v.version, measure: v.measure }, { version: b.version, measure: b.measure })
          if (reason !== null) answer.excluded.push({ period, kind, reason })
          // A min, max or avg over no events has no value: no revision to measure.
          else if (v.value !== null && b.value !== null) {
            const pair = { value: v.value as Exact, benchmark: b.value as Exact }
            revision = revisionOf(pair)
            let list = pairs.get(kind)
            if (!list) pairs.set(kind, (list = []))
            list.push(pair)
          }
        }
        entry.releases[kind] = { revision: shownExact(revision), value: shownExact(v.value), publishedAt: toIso(first.computed_at) }
      }
      answer.periods.push(entry)
    }
    for (const kind of RELEASE_KINDS) {
      const stats = releaseStatistics(kind, pairs.get(kind) ?? [])
      if (stats) answer.releases.push(stats)
    }
    return answer
  })
}

// ---------------------------------------------------------------------------------------------
// Values known at cuts, in one scan

/** A knowledge state: the events with (receivedAt, seq) <= (at, seq). */
interface Cut {
  at: number
  seq: number
}

/** Everything received at or before an instant. */
const cutAt = (at: number): Cut => ({ at, seq: Number.POSITIVE_INFINITY })
/** Everything known now. */
const HEAD: Cut = { at: Number.POSITIVE_INFINITY, seq: Number.POSITIVE_INFINITY }

function compareCuts(a: Cut, b: Cut): number {
  return a.at < b.at ? -1 : a.at > b.at ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0
}

/** The cut of a revision: its cutoff seq, received at its cutoff's receivedAt. */
function revisionCut(meta: RevisionsTable): Cut {
  return { at: meta.cutoff_received_at ?? Number.NEGATIVE_INFINITY, seq: meta.cutoff_seq }
}

/** The total of the measure known at a cut, and the number of events it counts. */
export interface Known {
  value: Exact | null
  events: number
}

/**
 * One period's cuts in ascending order, passed as the scan goes: an event counts at every cut
 * from its own position up to its retraction's. Events never retracted before the last cut go
 * into the running total for good; the few retracted before it wait in `pending` and are added
 * to the copies taken at the cuts they count in. Nothing is subtracted, so min and max need no
 * recomputation.
 */
class PeriodCuts {
  readonly #order: number[]
  readonly #cuts: Cut[]
  readonly #known: Known[]
  #next = 0
  readonly #running: Map<string, CellState>
  #pending: Array<{ voided: Cut; type: string; data: Record<string, unknown> }> = []

  constructor(
    readonly program: ViewProgram,
    readonly measure: number,
    readonly period: string,
    readonly range: PeriodRange,
    cuts: Cut[],
  ) {
    this.#order = cuts.map((_, i) => i).sort((a, b) => compareCuts(cuts[a] as Cut, cuts[b] as Cut))
    this.#cuts = this.#order.map((i) => cuts[i] as Cut)
    this.#known = new Array(cuts.length)
    this.#running = new Map([['', emptyCell(program.ops.length)]])
  }

  /** An original event at `position`, voided from `voided` on (if retracted). */
  add(position: Cut, type: string, data: Record<string, unknown>, voided: Cut | undefined): void {
    const cuts = this.#cuts
    while (this.#next < cuts.length && compareCuts(cuts[this.#next] as Cut, position) < 0) this.#take()
    if (this.#next === cuts.length) return
    if (voided === undefined || compareCuts(voided, cuts[cuts.length - 1] as Cut) > 0) foldEvent(this.program, this.#running, '', type, data)
    else if (compareCuts(voided, cuts[this.#next] as Cut) > 0) this.#pending.push({ voided, type, data })
  }

  #take(): void {
    const cut = this.#cuts[this.#next] as Cut
    const index = this.#order[this.#next++] as number
    this.#pending = this.#pending.filter((p) => compareCuts(p.voided, cut) > 0)
    const running = this.#running.get('') as CellState
    let state = running
    if (this.#pending.length > 0) {
      const copy = new Map([['', { eventCount: running.eventCount, slots: [...running.slots] }]])
      for (const p of this.#pending) foldEvent(this.program, copy, '', p.type, p.data)
      state = copy.get('') as CellState
    }
    const definition = this.program.view.measures[this.measure] as MeasureDefinition
    const shown = this.program.shownScaled(state, this.measure)
    this.#known[index] = { value: shown === null ? null : { scaled: shown, decimals: definition.decimals }, events: state.eventCount }
  }

  /** The values at every cut, in the order the cuts were given. */
  finish(): Known[] {
    while (this.#next < this.#cuts.length) this.#take()
    return this.#known
  }
}

interface ScanResult {
  periods: Array<{ period: string; range: PeriodRange; known: Known[]; revisions: RevisionsTable[] }>
  /** Per source, the lags of the range's original events that pass the filters (ms), when asked. */
  lags: Map<string, number[]> | null
}

/**
 * The values known at each period's cuts (`cutsOf`), for every period of the range with events
 * or revisions, from one scan of the range's events in seq order up to the head.
 */
async function knownAtCuts(db: Db, scope: Scope, cutsOf: (range: PeriodRange, revisions: RevisionsTable[]) => Cut[], options: { lags: boolean }): Promise<ScanResult> {
  const { program, from, to } = scope
  if (from === null || to === null) return { periods: [], lags: options.lags ? new Map() : null }
  const start = (program.bucketer.rangeOf(from) as PeriodRange).start
  const end = (program.bucketer.rangeOf(to) as PeriodRange).end
  const revisions = byPeriod(await revisionsBetween(db, program.name, from, to))
  const head = await headSeq(db)
  // The first retraction of an event voids it (a second one is refused at ingest).
  const voids = new Map<number, Cut>()
  for (const r of await retractionReceipts(db)) {
    if (r.seq > head) continue
    const known = voids.get(r.target_seq)
    if (known === undefined || r.seq < known.seq) voids.set(r.target_seq, { at: r.received_at, seq: r.seq })
  }
  const periods = new Map<string, PeriodCuts>()
  const open = (period: string): PeriodCuts | null => {
    const range = program.bucketer.rangeOf(period)
    if (!range) return null
    const p = new PeriodCuts(program, scope.measure, period, range, cutsOf(range, revisions.get(period) ?? []))
    periods.set(period, p)
    return p
  }
  const lags = options.lags ? new Map<string, number[]>() : null
  const memo = new Map<string, boolean>()
  let last: PeriodCuts | null = null
  if (head > 0) {
    await forEachEvent(db, { types: program.view.eventTypes, range: { start, end }, maxSeq: head, originalsOnly: true, parse: true }, (row) => {
      const period = program.bucketer.keyOf(row.occurred_at)
      let p = last !== null && last.period === period ? last : (periods.get(period) ?? null)
      if (p === null) {
        if (period < from || period > to) return
        p = open(period)
        if (p === null) return
      }
      last = p
      const data = row.parsed as Record<string, unknown>
      if (scope.where.length > 0 && !passes(program, program.dimsKey(data), scope.where, memo)) return
      if (lags) {
        let list = lags.get(row.source)
        if (!list) lags.set(row.source, (list = []))
        list.push(row.received_at - row.occurred_at)
      }
      p.add({ at: row.received_at, seq: row.seq }, row.type, data, voids.get(row.seq))
    })
  }
  for (const period of revisions.keys()) if (!periods.has(period) && period >= from && period <= to) open(period)
  const result: ScanResult['periods'] = []
  for (const period of [...periods.keys()].sort()) {
    const p = periods.get(period) as PeriodCuts
    result.push({ period, range: p.range, known: p.finish(), revisions: revisions.get(period) ?? [] })
  }
  return { periods: result, lags }
}

/** The benchmark's cut: the first final revision's cutoff, or everything known now; null without a final. */
function benchmarkCut(against: Against, revisions: RevisionsTable[]): Cut | null {
  if (against === 'latest') return HEAD
  const final = revisions.find((m) => m.kind === 'final')
  return final ? revisionCut(final) : null
}

// ---------------------------------------------------------------------------------------------
// Vintages and completeness

export interface VintagesAnswer {
  view: string
  measure: string
  lags: string[]
  rows: Array<{ period: string; benchmark: Amount | null; values: Array<{ lag: string; knownAt: string; value: Amount | null; share: number | null }> }>
}

/** What vintages and completeness share: each period's values at the lags and its benchmark. */
async function vintageValues(db: Db, scope: Scope, lags: Lag[], against: Against, options: { lags: boolean }) {
  const scan = await knownAtCuts(
    db,
    scope,
    (range, revisions) => {
      const cuts = lags.map((l) => cutAt(l.knownAt(range)))
      const bench = benchmarkCut(against, revisions)
      return bench ? [...cuts, bench] : cuts
    },
    options,
  )
  return {
    lags: scan.lags,
    periods: scan.periods.map((p) => ({
      period: p.period,
      knownAt: lags.map((l) => l.knownAt(p.range)),
      values: p.known.slice(0, lags.length),
      benchmark: p.known.length > lags.length ? (p.known[lags.length] as Known) : null,
    })),
  }
}

/**
 * The revision triangle: for each period, the value known at end + lag for each lag, and its
 * share of the benchmark (the value known at the final revision's cutoff, or now).
 */
export async function readVintages(reads: Snapshots, program: ViewProgram, query: AnalysisQuery & { lags?: string }): Promise<VintagesAnswer> {
  const against = parseAgainst(query.against, 'final')
  const lags = parseLags(query.lags, program.view.timezone)
  return reads.snapshot(async (db) => {
    const scope = await scopeOf(db, program, query)
    const { periods } = await vintageValues(db, scope, lags, against, { lags: false })
    return {
      view: program.name,
      measure: scope.definition.name,
      lags: lags.map((l) => l.text),
      rows: periods.map((p) => {
        const benchmark = p.benchmark?.value ?? null
        return {
          period: p.period,
          benchmark: shownExact(benchmark),
          values: p.values.map((k, i) => ({ lag: (lags[i] as Lag).text, knownAt: toIso(p.knownAt[i] as number), value: shownExact(k.value), share: shareOf(k.value, benchmark) })),
        }
      }),
    }
  })
}

/** Vintages as CSV (RFC 4180): `period,knownAt,lag,value`, one line per period and lag, CRLF. */
export function vintagesCsv(answer: VintagesAnswer): string {
  const lines = ['period,knownAt,lag,value']
  for (const row of answer.rows) for (const v of row.values) lines.push([row.period, v.knownAt, v.lag, v.value].map(csvValue).join(','))
  return `${lines.join('\r\n')}\r\n`
}

export interface CompletenessAnswer {
  points: Array<{ lag: string; value: Spread; events: Spread }>
  sources: SourceLags[]
}

/**
 * The completeness curve: at each lag, the spread of the share of the benchmark's value (a
 * missing value counts as 0) and of its event count known by then, over the periods whose
 * benchmark value is there and not 0; and each source's lags.
 */
export async function readCompleteness(reads: Snapshots, program: ViewProgram, query: AnalysisQuery & { lags?: string | Lag[] }): Promise<CompletenessAnswer> {
  const against = parseAgainst(query.against, 'final')
  const lags = Array.isArray(query.lags) ? query.lags : parseLags(query.lags, program.view.timezone)
  return reads.snapshot(async (db) => {
    const scope = await scopeOf(db, program, query)
    const scan = await vintageValues(db, scope, lags, against, { lags: true })
    const points = lags.map((lag, i) => {
      const values: number[] = []
      const events: number[] = []
      for (const p of scan.periods) {
        const bench = p.benchmark
        const known = p.values[i] as Known
        // The periods whose benchmark value is there and not 0, for both shares.
        const share = bench ? shareOf(known.value ?? { scaled: 0, decimals: 0 }, bench.value) : null
        if (share === null) continue
        values.push(share)
        const eventShare = shareOf({ scaled: known.events, decimals: 0 }, { scaled: (bench as Known).events, decimals: 0 })
        if (eventShare !== null) events.push(eventShare)
      }
      return { lag: lag.text, value: spreadOf(values), events: spreadOf(events) }
    })
    const sources = [...(scan.lags ?? new Map<string, number[]>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([source, lags]) => sourceLags(source, lags))
    return { points, sources }
  })
}

// ---------------------------------------------------------------------------------------------
// Close advice

export interface CloseAdviceAnswer {
  candidates: CloseCandidate[]
  recommended: { afterDays: number; at: string } | null
  sla: Array<{ source: string; suggested: string }>
}

/**
 * For each candidate close D+1 … D+14 at the view's close time, what closing then would have
 * cost in restatements against the benchmark (default: everything known now), the earliest
 * that keeps `target` of the value, and each source's suggested SLA.
 */
export async function readCloseAdvice(reads: Snapshots, program: ViewProgram, query: AnalysisQuery & { target: number }, now: number): Promise<CloseAdviceAnswer> {
  const against = parseAgainst(query.against, 'latest')
  const schedules = Array.from({ length: CLOSE_CANDIDATE_DAYS }, (_, i) => ({ afterDays: i + 1, at: program.view.close.at }))
  return reads.snapshot(async (db) => {
    const scope = await scopeOf(db, program, query)
    const scan = await knownAtCuts(
      db,
      scope,
      (range, revisions) => {
        const bench = benchmarkCut(against, revisions)
        // A close after now is computed with what is known now.
        return bench ? [...schedules.map((s) => cutAt(Math.min(dueAt(program.view, range, s), now))), bench] : []
      },
      { lags: true },
    )
    const withBenchmark = scan.periods.filter((p) => p.known.length > schedules.length).map((p) => ({ ...p, closeAt: schedules.map((s) => dueAt(program.view, p.range, s)) }))
    const candidates = schedules.map((schedule, i) =>
      closeCandidate(
        schedule,
        withBenchmark.map((p) => {
          const bench = (p.known[schedules.length] as Known).value
          return { value: (p.known[i] as Known).value, benchmark: bench ?? { scaled: 0, decimals: 0 }, closeAt: p.closeAt[i] as number }
        }),
        now,
      ),
    )
    const sla = [...(scan.lags ?? new Map<string, number[]>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([source, lags]) => ({ source, suggested: suggestedSla(lags, query.target) }))
    return {
      candidates: candidates.map(({ sums, ...candidate }) => candidate),
      recommended: recommendedClose(candidates, query.target),
      sla,
    }
  })
}
