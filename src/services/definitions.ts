import type { Db } from '../store/db.js'
import { createHash } from 'node:crypto'
import { ViewProgram } from '../domain/aggregate.js'
import { canonicalJson } from '../domain/event.js'
import { toIso } from '../domain/time.js'
import { storedDefinition, toViewFile, ViewDefinitionError, type ViewDefinition } from '../domain/view.js'
import { LateviewError } from '../errors.js'
import { insertViewVersion, versionCount, viewVersions } from '../store/definitions.js'
import type { ViewVersionsTable } from '../store/schema.js'
import { viewFileOf } from './view-files.js'

/** A definition version as `GET /v1/views/:view/versions` shows it. */
export interface DefinitionVersion {
  version: number
  /** SHA-256 (hex) of the canonical JSON of the parsed definition (keys sorted, no spaces). */
  hash: string
  /** When a lateview process first started with this version. */
  effectiveFrom: string
  current: boolean
  definition: Record<string, unknown>
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * The view definitions of this process and every version the store has kept. A revision is
 * published under the definition in force and read, rendered, compared and verified under that
 * same definition forever, whatever the view files say later: the definition is data.
 */
export class ViewCatalog {
  readonly programs: ViewProgram[]
  readonly #current = new Map<string, ViewProgram>()
  /** Programs of stored versions, by `name\0version` (versions never change once stored). */
  readonly #versions = new Map<string, ViewProgram>()
  /** How many versions the store held when this process last checked. */
  #known = -1

  constructor(programs: ViewProgram[]) {
    this.programs = programs
    for (const p of programs) {
      this.#current.set(p.name, p)
      this.#versions.set(`${p.name}\u0000${p.view.version}`, p)
    }
  }

  /** The program of a view as this process runs it, or undefined. */
  current(name: string): ViewProgram | undefined {
    return this.#current.get(name)
  }

  /** The program of a stored version of a view (the current one without a look at the store). */
  async at(db: Db, name: string, version: number): Promise<ViewProgram> {
    const key = `${name}\u0000${version}`
    let program = this.#versions.get(key)
    if (program === undefined) {
      const row = (await viewVersions(db, name)).find((r) => r.version === version)
      if (!row) throw new Error(`view ${name} version ${version}: its definition is not in the store`)
      program = new ViewProgram(storedDefinition(row.definition))
      this.#versions.set(key, program)
    }
    return program
  }

  /**
   * Start-up, inside the write transaction that also brings the Realtime cells in line (so that
   * a definition refused there is not recorded either): records each view's version the first
   * time it is seen, and refuses a definition that changed without a new version (or a version
   * older than the store's newest): a published revision must be read under the exact
   * definition it was computed with.
   */
  async register(db: Db, now: number): Promise<void> {
    const stored = await viewVersions(db)
    for (const program of this.programs) {
      const view = program.view
      const mine = stored.filter((r) => r.view === view.name)
      const newest = mine[mine.length - 1]
      const canonical = canonicalJson(view)
      const file = viewFileOf(view)
      if (newest && view.version < newest.version) {
        throw new ViewDefinitionError(file, [
          { field: 'version', problem: `is ${view.version}, older than version ${newest.version} in the store; versions never go back: give the definition you want version ${newest.version + 1}` },
        ])
      }
      if (newest && view.version === newest.version) {
        if (canonicalJson(storedDefinition(newest.definition)) !== canonical) {
          throw new ViewDefinitionError(file, [
            {
              field: 'version',
              problem: `the definition differs from version ${newest.version} recorded in the store, and revisions are read under the definition they were published with: give the changed definition "version": ${newest.version + 1}`,
            },
          ])
        }
        continue
      }
      await insertViewVersion(db, { view: view.name, version: view.version, definition: canonical, hash: sha256(canonical), effective_from: now })
    }
    this.#known = await versionCount(db)
  }

  /**
   * Refuses a write by this process once another one registered a newer version of one of its
   * views: cells and revisions written under the old definition would mix with the new ones.
   * One count per write while nothing changed; `count`, when given, is that count read by the
   * caller in the same transaction.
   */
  async assertCurrent(db: Db, count?: number): Promise<void> {
    count ??= await versionCount(db)
    if (count === this.#known) return
    const newest = new Map<string, number>()
    for (const row of await viewVersions(db)) newest.set(row.view, Math.max(newest.get(row.view) ?? 0, row.version))
    for (const program of this.programs) {
      const version = newest.get(program.name) ?? program.view.version
      if (version > program.view.version) {
        throw new LateviewError(
          'LV_ERR_VIEW_OUTDATED',
          `view ${program.name} is at version ${version} in the store; this process runs version ${program.view.version}: restart it with the current view files`,
          {
            view: program.name,
          },
        )
      }
    }
    this.#known = count
  }

  /** Every stored version of a view, oldest first. */
  async versions(db: Db, name: string): Promise<DefinitionVersion[]> {
    const current = this.#current.get(name)
    return (await viewVersions(db, name)).map((row: ViewVersionsTable) => ({
      version: row.version,
      hash: row.hash,
      effectiveFrom: toIso(row.effective_from),
      current: current?.view.version === row.version,
      definition: toViewFile(storedDefinition(row.definition) as ViewDefinition),
    }))
  }
}
