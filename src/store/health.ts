import { sql } from 'kysely'
import type { Db } from './db.js'

/** The smallest round trip to the store: throws when it does not answer. */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db.kysely)
}
