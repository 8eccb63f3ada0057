import { CompiledQuery, SqliteAdapter, type Kysely } from 'kysely'
import type { Schema } from './schema.js'
import type { Statements } from './sqlite/statements.js'

/**
 * The engine a Kysely instance runs on. On SQLite, `statements` is the statement cache of the
 * better-sqlite3 handle behind it when `openEngine` opened it (the instance itself, or one of its
 * write transactions or snapshots), null otherwise (a transaction Kysely or its migrator opened).
 */
export type EngineOf = { readonly kind: 'sqlite'; readonly statements: Statements | null } | { readonly kind: 'postgres'; readonly statements: null }

const POSTGRES: EngineOf = { kind: 'postgres', statements: null }
const SQLITE_WITHOUT_HANDLE: EngineOf = { kind: 'sqlite', statements: null }

/** The SQLite engine behind each Kysely instance `openEngine` hands out for SQLite. */
const opened = new WeakMap<object, EngineOf>()

/** The engine of an opened SQLite database, `statements` its cache. */
export function sqliteEngine(statements: Statements): EngineOf {
  return { kind: 'sqlite', statements }
}

/** Records that `db` (an opened SQLite database, or a connection or transaction of it) runs on `engine`. */
export function runsOn(db: Kysely<Schema>, engine: EngineOf): void {
  opened.set(db, engine)
}

/**
 * Which engine `db` runs on, and on SQLite the handle's statement cache if there is one.
 *
 * This is the one place in the code that tells SQLite from PostgreSQL given a database: the
 * portable-SQL runner, the event scans and every store module that writes SQL differently per
 * engine ask here, so that they cannot disagree (a Kysely transaction unknown to the registry is
 * still SQLite if its adapter is), and a third engine would be taught here once. `Engine.kind`
 * only reports what `openEngine` opened.
 */
export function engineOf(db: Kysely<Schema>): EngineOf {
  const known = opened.get(db)
  if (known !== undefined) return known
  return db.getExecutor().adapter instanceof SqliteAdapter ? SQLITE_WITHOUT_HANDLE : POSTGRES
}

/** `?, ?, …`: n parameters, for an `in` list. */
export function marks(n: number): string {
  return new Array(n).fill('?').join(', ')
}

/**
 * Runs a small statement written once for both engines, its parameters as `?` (none inside a
 * literal), and returns its rows. On SQLite the statement is prepared once per connection and
 * run directly: Kysely builds and compiles a query on every call, which costs more than running
 * the small queries of every ingest batch. On PostgreSQL it goes through Kysely's driver, the
 * parameters numbered `$1`, `$2`, ….
 */
export async function queryRows<R>(db: Kysely<Schema>, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return runRows<R>(db, text, params, 'objects')
}

/**
 * `queryRows` for rows holding measure state: every integer comes back exact, as a bigint on
 * SQLite (the caller normalizes it) and, past 2^53, on PostgreSQL (see the int8 parser).
 */
export async function exactRows<R>(db: Kysely<Schema>, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return runRows<R>(db, text, params, 'exact')
}

async function runRows<R>(db: Kysely<Schema>, text: string, params: readonly unknown[], mode: 'objects' | 'exact'): Promise<R[]> {
  const engine = engineOf(db)
  if (engine.statements !== null) {
    const stmt = engine.statements.get(text, mode)
    if (stmt.reader) return stmt.all(...params) as R[]
    stmt.run(...params)
    return []
  }
  let n = 0
  const numbered = engine.kind === 'sqlite' ? text : text.replace(/\?/g, () => `$${++n}`)
  return (await db.executeQuery<R>(CompiledQuery.raw(numbered, [...params]))).rows
}
