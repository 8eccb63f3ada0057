import type { ViewProgram } from '../domain/aggregate.js'
import { pendingChange, type Pending } from '../domain/lifecycle.js'
import { measureMoves } from '../domain/min-change.js'
import type { Db } from '../store/db.js'
import { readCells } from '../store/cells.js'
import { headSeq } from '../store/events.js'
import { knownPeriods, latestRevision, periodRows, revisionCells } from '../store/revisions.js'
import type { PeriodsTable } from '../store/schema.js'
import type { ViewCatalog } from './definitions.js'

/** Where a view stands: the store's head seq, its periods by status, and those a rebuild has yet to see to. */
export interface ViewStatus {
  seq: number
  periods: { open: string[]; provisional: string[]; final: string[] }
  /** Periods changed since their latest revision, each with what its live figures hold beyond that revision. */
  dirty: Array<{ period: string; status: PeriodsTable['status']; latestRevision: number; dirtySinceSeq: number | null; pending: Pending & { belowMinChange: boolean } }>
}

/**
 * The status part of GET /v1/views/:view, read from one consistent `db` (a snapshot). A period
 * with Realtime data and no state row yet is open. A dirty period's `pending` is its Realtime
 * totals minus its latest revision's (read under the revision's own definition): what the
 * rebuilder, the close or a restatement has yet to publish, and under `rebuild.minChange` what
 * has not moved enough to be published yet.
 */
export async function viewStatus(db: Db, definitions: ViewCatalog, program: ViewProgram): Promise<ViewStatus> {
  const seq = await headSeq(db)
  const rows = await periodRows(db, program.name)
  const byPeriod = new Map(rows.map((r) => [r.period, r]))
  const periods: ViewStatus['periods'] = { open: [], provisional: [], final: [] }
  for (const period of await knownPeriods(db, program.name)) periods[byPeriod.get(period)?.status ?? 'open'].push(period)
  const dirty: ViewStatus['dirty'] = []
  for (const r of rows) {
    if (r.dirty_since_seq === null) continue
    dirty.push({ period: r.period, status: r.status, latestRevision: r.latest_revision, dirtySinceSeq: r.dirty_since_seq, pending: await pendingOf(db, definitions, program, r.period, r.status) })
  }
  return { seq, periods, dirty }
}

/**
 * A period's Realtime totals minus its latest revision's, and `belowMinChange`: whether the
 * rebuilder holds it back under `rebuild.minChange` (a provisional period no measure of which
 * moved past the threshold), decided by the rebuilder's own exact rule.
 */
async function pendingOf(db: Db, definitions: ViewCatalog, program: ViewProgram, period: string, status: PeriodsTable['status']): Promise<Pending & { belowMinChange: boolean }> {
  const latest = await latestRevision(db, program.name, period)
  const before = latest ? await definitions.at(db, program.name, latest.view_version) : program
  const published = latest ? await revisionCells(db, program.name, period, latest.revision, before.ops.length) : new Map()
  const live = new Map((await readCells(db, program, period, period)).map((c) => [c.dimsKey, c.state]))
  const revision = { program: before, cells: published }
  const now = { program, cells: live }
  const minChange = program.view.rebuild.minChange
  const belowMinChange = minChange !== undefined && latest !== null && status === 'provisional' && measureMoves(minChange, revision, now).every((m) => !m.moved)
  return { ...pendingChange(revision, now), belowMinChange }
}
