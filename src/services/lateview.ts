import type { ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import type { ViewDefinition } from '../domain/view.js'
import { LateviewError } from '../errors.js'
import { openEngine, type Engine } from '../store/engine.js'
import { ingest, type IngestOptions, type IngestResult } from './ingest.js'
import { readRealtime, syncViews, verifyRealtime, type RealtimeQuery } from './realtime.js'
import { compileViews } from './view-files.js'

export interface LateviewOptions {
  db: string
  views: ViewDefinition[]
  clock: Clock
}

/** The services over one store, as the entry points (server, CLI, jobs) use them. */
export class Lateview {
  readonly views: ReadonlyMap<string, ViewProgram>

  private constructor(
    readonly engine: Engine,
    readonly programs: ViewProgram[],
    readonly clock: Clock,
  ) {
    this.views = new Map(programs.map((p) => [p.name, p]))
  }

  /** Opens the store, migrates it, and brings each view's cells in line with its definition. */
  static async open(options: LateviewOptions): Promise<Lateview> {
    const engine = await openEngine(options.db)
    try {
      const lateview = new Lateview(engine, compileViews(options.views), options.clock)
      await syncViews(engine, lateview.programs, options.clock)
      return lateview
    } catch (error) {
      await engine.close()
      throw error
    }
  }

  /** Builds the services over an already open store (tests, tools) and syncs the views. */
  static async fromEngine(engine: Engine, views: ViewDefinition[], clock: Clock): Promise<Lateview> {
    const lateview = new Lateview(engine, compileViews(views), clock)
    await syncViews(engine, lateview.programs, clock)
    return lateview
  }

  /** Appends a batch atomically and updates every view (see services/ingest.ts). */
  ingest(items: unknown[], options?: IngestOptions): Promise<IngestResult> {
    return ingest(this.engine, this.programs, this.clock, items, options)
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

  close(): Promise<void> {
    return this.engine.close()
  }
}
