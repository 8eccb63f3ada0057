import type { Kysely } from 'kysely'
import { queryRows } from './engine.js'
import type { Schema, ViewVersionsTable } from './schema.js'

/** Every stored definition version of one view (or of every view), oldest first. */
export async function viewVersions(db: Kysely<Schema>, view?: string): Promise<ViewVersionsTable[]> {
  let q = db.selectFrom('view_versions').selectAll()
  if (view !== undefined) q = q.where('view', '=', view)
  return q.orderBy('view').orderBy('version').execute()
}

/** Records a new definition version. */
export async function insertViewVersion(db: Kysely<Schema>, row: ViewVersionsTable): Promise<void> {
  await db.insertInto('view_versions').values(row).execute()
}

/**
 * How many definition versions the store holds: it changes exactly when some process registers
 * a new one, so a writer compares it with what it knew to find out cheaply that it is outdated.
 */
export async function versionCount(db: Kysely<Schema>): Promise<number> {
  const [row] = await queryRows<{ n: number | string }>(db, 'select count(*) as n from view_versions')
  return Number(row?.n ?? 0)
}
