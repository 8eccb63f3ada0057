import { Migrator, type Kysely } from 'kysely'
import { migrations } from './migrations.js'
import type { Schema } from './schema.js'

/** Brings the schema of `db` up to date with lateview's migrations for `engine`. */
export async function runMigrations(db: Kysely<Schema>, engine: 'sqlite' | 'postgres', migrationTableSchema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: migrations(engine), ...(migrationTableSchema ? { migrationTableSchema } : {}) })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? String(error)}`)
  }
}
