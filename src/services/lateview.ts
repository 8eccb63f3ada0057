import type { ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { DEFAULT_EVENT_LIMITS, type EventLimits } from '../domain/content.js'
import type { ViewDefinition } from '../domain/view.js'
import { LateviewError } from '../errors.js'
import { openEngine, storeError, type Engine } from '../store/engine.js'
import { openReplica, ReadRouter, type ReadOptions, type Snapshots } from '../store/reads.js'
import { ingest, type IngestOptions, type IngestResult } from './ingest.js'
import { readAccuracy, readCloseAdvice, readCompleteness, readVintages, type AnalysisQuery } from './analysis.js'
import type { Lag } from '../domain/analysis.js'
import { readRealtime, readRealtimeSingle, syncViewsIn, verifyRealtime, verifyStore, type RealtimeQuery } from './realtime.js'
import type { AlertDocument } from './alert-documents.js'
import { comparisonCsv, diffTotals } from './comparison.js'
import { JOB_NAMES, JobRunner } from './jobs.js'
import { diffReports, RevisionCache, readAsOf, readExceptions, readCachedRevision, readRevision, readRevisions, verifyRevisions, type DiffSide } from './reports.js'
import { ViewCatalog } from './definitions.js'
import { compileViews } from './view-files.js'
import { alertDocument } from './alert-documents.js'
import { jobRunOf } from './jobs.js'
import { sourceLateness } from './sources.js'
import { viewStatus } from './status.js'
import { countPending, listAlerts, type AlertQuery } from '../store/alerts.js'
import { getEvent, retractionOf } from '../store/events.js'
import { ping } from '../store/health.js'
import { lastSuccessfulRuns, listJobRuns, type JobRunQuery } from '../store/revisions.js'

export type { ReadFrom, ReadInfo, ReadOptions, ReplicaStatus } from '../store/reads.js'

/** How long a read that needs a newer seq than the replica shows waits for it by default. */
export const DEFAULT_READ_WAIT_MS = 2000

export interface LateviewOptions {
  db: string
  views: ViewDefinition[]
  clock: Clock
  /** What an event may hold (default DEFAULT_EVENT_LIMITS). */
  limits?: Readonly<EventLimits>
  /** A streaming replica of the PostgreSQL store for reads (`LATEVIEW_DB_READ`). */
  readDb?: string | null
  /** How long a read waits for the replica to reach its `minSeq` before the primary answers (default 2 s). */
  readWaitMs?: number
}

/** The services over one store, as the entry points (server, CLI, jobs) use them. */
export class Lateview {
  readonly views: ReadonlyMap<string, ViewProgram>
  readonly programs: ViewProgram[]
  /** Every definition version of the views: revisions are read under their own. */
  readonly definitions: ViewCatalog
  readonly jobs: JobRunner
  /**
   * Where reports, Realtime, as-of, diffs and analysis read: the replica when there is one and it
   * can answer, else the primary. Writes, jobs, alerts and status always use the primary.
   */
  readonly reads: ReadRouter
  readonly #revisions = new RevisionCache()

  private constructor(
    readonly engine: Engine,
    views: ViewDefinition[],
    readonly clock: Clock,
    readonly limits: Readonly<EventLimits> = DEFAULT_EVENT_LIMITS,
    replica: Engine | null = null,
    readWaitMs = DEFAULT_READ_WAIT_MS,
  ) {
    this.reads = new ReadRouter(engine, replica, readWaitMs)
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
    let replica: Engine | null = null
    try {
      // The replica connects on its first read: one that is down does not hold start-up.
      if (options.readDb) replica = await openReplica(options.readDb)
      const lateview = new Lateview(engine, options.views, options.clock, options.limits, replica, options.readWaitMs)
      await lateview.#start()
      return lateview
    } catch (error) {
      await replica?.close()
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

  /** Reads in one snapshot of the replica or the primary (see `reads`), as the read services take them. */
  #snapshots(read: ReadOptions): Snapshots {
    return { snapshot: (fn) => this.reads.run((db) => fn(db), read) }
  }

  /** Live cells of a view. */
  realtime(name: string, query?: RealtimeQuery, read: ReadOptions = {}) {
    const program = this.view(name)
    // One statement reads the cells and the newest seq together: no snapshot transaction.
    return this.reads.runSingle(
      (db) => readRealtimeSingle(db, program, query),
      (db, seq) => readRealtime(db, seq, program, query),
      read,
    )
  }

  /** Compares every Realtime cell with a recomputation from the store. */
  verify(names?: string[]) {
    return verifyRealtime(this.engine, names ? names.map((n) => this.view(n)) : this.programs)
  }

  /** A period's latest revision, revision N, or what was known at an instant. */
  report(name: string, period: string, at: { revision?: number; asOf?: number } = {}, read: ReadOptions = {}) {
    const program = this.view(name)
    const asOf = at.asOf
    if (asOf !== undefined) return this.reads.run((db) => readAsOf(db, program, period, asOf, this.clock.now()), read)
    // A cached revision is served after one statement (its period row and the newest seq); a
    // miss reads it in a snapshot.
    return this.reads.runSingle(
      (db) => readCachedRevision(db, program, period, this.#revisions, at.revision),
      (db) => readRevision(db, this.definitions, program, period, at.revision, this.#revisions),
      read,
    )
  }

  /** Every revision of a period, oldest first. */
  revisions(name: string, period: string, read: ReadOptions = {}) {
    const program = this.view(name)
    return this.reads.run((db) => readRevisions(db, program, period), read)
  }

  /** The changed cells between two revisions (or as-of instants), the events behind them, and both sides' totals. */
  async diff(name: string, period: string, from: DiffSide, to: DiffSide, read: ReadOptions = {}) {
    const program = this.view(name)
    const { diff, sides } = await this.reads.run((db) => diffReports(db, this.definitions, program, period, from, to), read)
    return { ...diff, totals: diffTotals(sides.before, sides.after) }
  }

  /** The comparison of two revisions (or as-of instants) as CSV: every row of either side, unchanged ones too. */
  async diffCsv(name: string, period: string, from: DiffSide, to: DiffSide, read: ReadOptions = {}): Promise<string> {
    const program = this.view(name)
    const { diff, sides } = await this.reads.run((db) => diffReports(db, this.definitions, program, period, from, to), read)
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
  exceptions(name: string, period: string, read: ReadOptions = {}) {
    const program = this.view(name)
    return this.reads.run((db) => readExceptions(db, program, period), read)
  }

  /** Publishes a restatement (after close) or a manual revision of a period now. */
  restate(name: string, period: string) {
    return this.jobs.restate(this.view(name), period)
  }

  /** How far each release kind was from the final (or latest) figure, over a range of periods. */
  accuracy(name: string, query: AnalysisQuery = {}, read: ReadOptions = {}) {
    return readAccuracy(this.#snapshots(read), this.definitions, this.view(name), query)
  }

  /** The value known at each lag after the end of each period of a range (the revision triangle). */
  vintages(name: string, query: AnalysisQuery & { lags?: string } = {}, read: ReadOptions = {}) {
    return readVintages(this.#snapshots(read), this.view(name), query)
  }

  /** The share of the benchmark known at each lag, across periods, and each source's lags. */
  completeness(name: string, query: AnalysisQuery & { lags?: string | Lag[] } = {}, read: ReadOptions = {}) {
    return readCompleteness(this.#snapshots(read), this.view(name), query)
  }

  /** What each candidate close would have cost in restatements, the one to choose, and SLA suggestions. */
  closeAdvice(name: string, query: AnalysisQuery & { target: number }, read: ReadOptions = {}) {
    return readCloseAdvice(this.#snapshots(read), this.view(name), query, this.clock.now())
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
    return { event, retractedBy: event.retracts === null ? await retractionOf(this.engine.db, event) : null }
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

  /** When the last run of each job and view that did not fail ended (epoch ms), read from the store: every process's runs. */
  lastJobSuccesses(): Promise<Array<{ job: string; view: string; endedAt: number }>> {
    const jobs = [...JOB_NAMES, 'restate']
    return lastSuccessfulRuns(
      this.engine.db,
      jobs.flatMap((job) => this.programs.map((p) => ({ job, view: p.name }))),
    )
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

  /** The read replica's state against the primary (null without one): `/readyz` shows it, without failing for it. */
  replicaStatus() {
    return this.reads.replicaStatus()
  }

  async close(): Promise<void> {
    try {
      await this.reads.close()
    } finally {
      await this.engine.close()
    }
  }
}
