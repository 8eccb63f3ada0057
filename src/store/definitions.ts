import type { Db } from './db.js'
import { queryRows } from './engine.js'
import type { ViewVersionsTable } from './schema.js'

/** Every stored definition version of one view (or of every view), oldest first. */
export async function viewVersions(db: Db, view?: string): Promise<ViewVersionsTable[]> {
  let q = db.kysely.selectFrom('view_versions').selectAll()
  if (view !== undefined) q = q.where('view', '=', view)
  return q.orderBy('view').orderBy('version').execute()
}

/** Records a new definition version. */
export async function insertViewVersion(db: Db, row: ViewVersionsTable): Promise<void> {
  await db.kysely.insertInto('view_versions').values(row).execute()
}

/**
 * How many definition versions the store holds: it changes exactly when some process registers
 * a new one, so a writer compares it with what it knew to find out cheaply that it is outdated.
 */
export async function versionCount(db: Db): Promise<number> {
  const [row] = await queryRows<{ n: number | string }>(db, 'select count(*) as n from view_versions')
  return Number(row?.n ?? 0)
}
