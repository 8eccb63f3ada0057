import type { Db } from '../store/db.js'
import { headSeq } from '../store/events.js'
import { knownPeriods, periodRows } from '../store/revisions.js'
import type { PeriodsTable } from '../store/schema.js'

/** Where a view stands: the store's head seq, its periods by status, and those a rebuild has yet to see to. */
export interface ViewStatus {
  seq: number
  periods: { open: string[]; provisional: string[]; final: string[] }
  dirty: Array<{ period: string; status: PeriodsTable['status']; latestRevision: number; dirtySinceSeq: number | null }>
}

/** The status part of GET /v1/views/:view. A period with Realtime data and no state row yet is open. */
export async function viewStatus(db: Db, view: string): Promise<ViewStatus> {
  const seq = await headSeq(db)
  const rows = await periodRows(db, view)
  const byPeriod = new Map(rows.map((r) => [r.period, r]))
  const periods: ViewStatus['periods'] = { open: [], provisional: [], final: [] }
  for (const period of await knownPeriods(db, view)) periods[byPeriod.get(period)?.status ?? 'open'].push(period)
  const dirty = rows.filter((r) => r.dirty_since_seq !== null).map((r) => ({ period: r.period, status: r.status, latestRevision: r.latest_revision, dirtySinceSeq: r.dirty_since_seq }))
  return { seq, periods, dirty }
}
