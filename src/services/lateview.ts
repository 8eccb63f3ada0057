import type { ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { DEFAULT_EVENT_LIMITS, type EventLimits } from '../domain/content.js'
import type { ViewDefinition } from '../domain/view.js'
import { LateviewError } from '../errors.js'
import { openEngine, storeError, type Engine } from '../store/engine.js'
import { ingest, type IngestOptions, type IngestResult } from './ingest.js'
import { readAccuracy, readCloseAdvice, readCompleteness, readVintages, type AnalysisQuery } from './analysis.js'
import type { Lag } from '../domain/analysis.js'
import { readRealtime, syncViewsIn, verifyRealtime, verifyStore, type RealtimeQuery } from './realtime.js'
import type { AlertDocument } from './alert-documents.js'
import { comparisonCsv, diffTotals } from './comparison.js'
import { JobRunner } from './jobs.js'
import { diffReports, RevisionCache, readAsOf, readExceptions, readRevision, readRevisions, verifyRevisions, type DiffSide } from './reports.js'
import { ViewCatalog } from './definitions.js'
import { compileViews } from './view-files.js'
import { alertDocument } from './alert-documents.js'
import { jobRunOf } from './jobs.js'
import { sourceLateness } from './sources.js'
import { viewStatus } from './status.js'
import { countPending, listAlerts, type AlertQuery } from '../store/alerts.js'
import { getEvent, retractionOf } from '../store/events.js'
import { ping } from '../store/health.js'
import { listJobRuns, type JobRunQuery } from '../store/revisions.js'

export interface LateviewOptions {
  db: string
  views: ViewDefinition[]
  clock: Clock
  /** What an event may hold (default DEFAULT_EVENT_LIMITS). */
  limits?: Readonly<EventLimits>
}

/** The services over one store, as the entry points (server, CLI, jobs) use them. */
export class Lateview {
  readonly views: ReadonlyMap<string, ViewProgram>
  readonly programs: ViewProgram[]
  /** Every definition version of the views: revisions are read under their own. */
  readonly definitions: ViewCatalog
  readonly jobs: JobRunner
  readonly #revisions = new RevisionCache()

  private constructor(
    readonly engine: Engine,
    views: ViewDefinition[],
    readonly clock: Clock,
    readonly limits: Readonly<EventLimits> = DEFAULT_EVENT_LIMITS,
  ) {
    this.definitions = new ViewCatalog(compileViews(views))
    this.programs = this.definitions.programs
    this.views = new Map(this.programs.map((p) => [p.name, p]))
    this.jobs = new JobRunner(engine, this.definitions, clock)
    this.jobs.onAlerts((alerts) => this.#emit(alerts))
  }

  /** Records the definitions (refusing one changed without a new version), then brings each view's cells in line. */
  async #start(): Promise<void> {
    await this.engine.write(async (tx) => {
      await this.definitions.register(tx.db, this.clock.now())
      await syncViewsIn(tx, this.programs, this.clock.now())
    })
  }

  readonly #listeners: Array<(alerts: AlertDocument[]) => void> = []

  /** Hears of every alert this process raises, after its transaction committed. */
  onAlerts(listener: (alerts: AlertDocument[]) => void): void {
    this.#listeners.push(listener)
  }

  #emit(alerts: AlertDocument[]): void {
    if (alerts.length === 0) return
    for (const listener of this.#listeners) listener(alerts)
  }

  /** Opens the store, migrates it, and brings each view's cells in line with its definition. */
  static async open(options: LateviewOptions): Promise<Lateview> {
    const engine = await openEngine(options.db)
    try {
      const lateview = new Lateview(engine, options.views, options.clock, options.limits)
      await lateview.#start()
      return lateview
    } catch (error) {
      await engine.close()
      throw error
    }
  }

  /** Builds the services over an already open store (tests, tools) and syncs the views. */
  static async fromEngine(engine: Engine, views: ViewDefinition[], clock: Clock, limits?: Readonly<EventLimits>): Promise<Lateview> {
    const lateview = new Lateview(engine, views, clock, limits)
    await lateview.#start()
    return lateview
  }

  /** Appends a batch atomically and updates every view (see services/ingest.ts). */
  async ingest(items: unknown[], options: IngestOptions = {}): Promise<IngestResult> {
    const result = await ingest(this.engine, this.programs, this.clock, items, { limits: this.limits, ...options, checkDefinitions: (db, versions) => this.definitions.assertCurrent(db, versions) })
    this.#emit(result.alerts)
    return result
  }

  /** The view compiled under this name, or a 404-class error. */
  view(name: string): ViewProgram {
    const program = this.views.get(name)
    if (!program) throw new LateviewError('LV_ERR_VIEW_NOT_FOUND', `no view named ${JSON.stringify(name)}`, { view: name })
    return program
  }

  /** Live cells of a view. */
  realtime(name: string, query?: RealtimeQuery) {
    return readRealtime(this.engine, this.view(name), query)
  }

  /** Compares every Realtime cell with a recomputation from the store. */
  verify(names?: string[]) {
    return verifyRealtime(this.engine, names ? names.map((n) => this.view(n)) : this.programs)
  }

  /** A period's latest revision, revision N, or what was known at an instant. */
  report(name: string, period: string, at: { revision?: number; asOf?: number } = {}) {
    const program = this.view(name)
    if (at.asOf !== undefined) return readAsOf(this.engine.db, program, period, at.asOf, this.clock.now())
    return readRevision(this.engine.db, this.definitions, program, period, at.revision, this.#revisions)
  }

  /** Every revision of a period, oldest first. */
  revisions(name: string, period: string) {
    return readRevisions(this.engine.db, this.view(name), period)
  }

  /** The changed cells between two revisions (or as-of instants), the events behind them, and both sides' totals. */
  async diff(name: string, period: string, from: DiffSide, to: DiffSide) {
    const { diff, sides } = await diffReports(this.engine.db, this.definitions, this.view(name), period, from, to)
    return { ...diff, totals: diffTotals(sides.before, sides.after) }
  }

  /** The comparison of two revisions (or as-of instants) as CSV: every row of either side, unchanged ones too. */
  async diffCsv(name: string, period: string, from: DiffSide, to: DiffSide): Promise<string> {
    const { diff, sides } = await diffReports(this.engine.db, this.definitions, this.view(name), period, from, to)
    return comparisonCsv(sides.before, sides.after, diff.changes)
  }

  /** The definition a report was computed under (a revision's own version, or the current one). */
  programOf(report: { view: string; viewVersion: number }): Promise<ViewProgram> {
    return this.definitions.at(this.engine.db, report.view, report.viewVersion)
  }

  /** Every stored definition version of a view, oldest first. */
  versions(name: string) {
    return this.definitions.versions(this.engine.db, this.view(name).name)
  }

  /** Late events held after a period's close. */
  exceptions(name: string, period: string) {
    return readExceptions(this.engine.db, this.view(name), period)
  }

  /** Publishes a restatement (after close) or a manual revision of a period now. */
  restate(name: string, period: string) {
    return this.jobs.restate(this.view(name), period)
  }

  /** How far each release kind was from the final (or latest) figure, over a range of periods. */
  accuracy(name: string, query: AnalysisQuery = {}) {
    return readAccuracy(this.engine, this.definitions, this.view(name), query)
  }

  /** The value known at each lag after the end of each period of a range (the revision triangle). */
  vintages(name: string, query: AnalysisQuery & { lags?: string } = {}) {
    return readVintages(this.engine, this.view(name), query)
  }

  /** The share of the benchmark known at each lag, across periods, and each source's lags. */
  completeness(name: string, query: AnalysisQuery & { lags?: string | Lag[] } = {}) {
    return readCompleteness(this.engine, this.view(name), query)
  }

  /** What each candidate close would have cost in restatements, the one to choose, and SLA suggestions. */
  closeAdvice(name: string, query: AnalysisQuery & { target: number }) {
    return readCloseAdvice(this.engine, this.view(name), query, this.clock.now())
  }

  /** Recomputes every stored revision at its cutoff and compares. */
  verifyRevisions(names?: string[]) {
    return verifyRevisions(this.engine.db, this.definitions, names ? names.map((n) => this.view(n)) : this.programs)
  }

  /** `verify` and `verifyRevisions` together, from one snapshot and one pass over the events. */
  verifyStore(names?: string[]) {
    return verifyStore(this.engine, this.definitions, names ? names.map((n) => this.view(n)) : this.programs)
  }

  /** A view's head seq and the status of its periods (dirty ones with what is pending), from one snapshot. */
  status(name: string) {
    const program = this.view(name)
    return this.engine.snapshot((db) => viewStatus(db, this.definitions, program))
  }

  /** One stored event, with the retraction that voided it (null when none did); null when unknown. */
  async event(source: string, id: string) {
    const event = await getEvent(this.engine.db, source, id)
    if (!event) return null
    return { event, retractedBy: event.retracts === null ? await retractionOf(this.engine.db, event.seq) : null }
  }

  /** Alerts, newest first, as the API and webhooks show them. */
  async alerts(query: AlertQuery) {
    return (await listAlerts(this.engine.db, query)).map(alertDocument)
  }

  /** Recent job runs, newest first. */
  async jobRuns(query: JobRunQuery) {
    return (await listJobRuns(this.engine.db, query)).map(jobRunOf)
  }

  /** Lateness per source over the whole UTC hours overlapping the last `windowMs`, and the instant it was read at. */
  async sources(windowMs: number) {
    const now = this.clock.now()
    return { now: new Date(now).toISOString(), ...(await sourceLateness(this.engine.db, now, windowMs)) }
  }

  /** Webhook deliveries waiting for an attempt. */
  pendingDeliveries(): Promise<number> {
    return countPending(this.engine.db)
  }

  /**
   * Throws a 503-class error unless the store answers and takes writes: after a full disk or a
   * lost connection, ready again only once a small write commits.
   */
  async ready(): Promise<void> {
    const failure = await this.engine.failure(true)
    if (failure) throw failure
    try {
      await ping(this.engine.db)
    } catch (error) {
      throw storeError(error) ?? new LateviewError('LV_ERR_STORE_UNAVAILABLE', `the store does not answer: ${(error as Error).message}`)
    }
  }

  close(): Promise<void> {
    return this.engine.close()
  }
}
