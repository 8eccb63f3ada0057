import { sql, type Kysely } from 'kysely'
import type { Schema } from './schema.js'

/** The smallest round trip to the store: throws when it does not answer. */
export async function ping(db: Kysely<Schema>): Promise<void> {
  await sql`select 1`.execute(db)
}
