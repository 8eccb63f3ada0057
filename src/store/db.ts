import { CompiledQuery, type Kysely } from 'kysely'
import type { Schema } from './schema.js'
import type { Statements } from './sqlite/statements.js'

/**
 * A connection to the store as every store operation takes it: Kysely on it (the database, or one
 * of its write transactions or snapshots) and the engine it runs on, with, on SQLite, the
 * statement cache of the one better-sqlite3 handle behind it. `openEngine` makes it and the
 * engine's `write` and `snapshot` hand it on; nothing in the store works out an engine from a
 * database object, so two store modules cannot disagree about it, and a third engine is one more
 * member of this union.
 */
export type Db = SqliteDb | PostgresDb

export interface SqliteDb {
  readonly engine: 'sqlite'
  readonly kysely: Kysely<Schema>
  readonly statements: Statements
}

export interface PostgresDb {
  readonly engine: 'postgres'
  readonly kysely: Kysely<Schema>
  /**
   * On the store's own handle (not in a transaction): runs a statement written with `$n`
   * parameters on a pooled connection as a named prepared statement, parsed and planned once per
   * connection; for the small reads every request makes (the latest report's period row).
   */
  readonly prepared?: <R>(text: string, params: readonly unknown[]) => Promise<R[]>
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
export async function queryRows<R>(db: Db, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return runRows<R>(db, text, params, 'objects')
}

/**
 * `queryRows` for rows holding measure state: every integer comes back exact, as a bigint on
 * SQLite (the caller normalizes it) and, past 2^53, on PostgreSQL (see the int8 parser).
 */
export async function exactRows<R>(db: Db, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return runRows<R>(db, text, params, 'exact')
}

async function runRows<R>(db: Db, text: string, params: readonly unknown[], mode: 'objects' | 'exact'): Promise<R[]> {
  if (db.engine === 'sqlite') {
    const stmt = db.statements.get(text, mode)
    if (stmt.reader) return stmt.all(...params) as R[]
    stmt.run(...params)
    return []
  }
  let n = 0
  const numbered = text.replace(/\?/g, () => `$${++n}`)
  return (await db.kysely.executeQuery<R>(CompiledQuery.raw(numbered, [...params]))).rows
}

/** Statement texts with their `?` numbered `$1`, `$2`, … for `hotRows`. */
const numberedTexts = new Map<string, string>()

/**
 * `queryRows` (or with `exact`, `exactRows`) for the small reads every request makes: on
 * PostgreSQL's own handle (not in a transaction, not behind a transaction pooler) a named
 * prepared statement, parsed and planned once per connection.
 */
export async function hotRows<R>(db: Db, text: string, params: readonly unknown[], exact = false): Promise<R[]> {
  if (db.engine !== 'postgres' || !db.prepared) return runRows<R>(db, text, params, exact ? 'exact' : 'objects')
  let numbered = numberedTexts.get(text)
  if (numbered === undefined) {
    let n = 0
    numbered = text.replace(/\?/g, () => `$${++n}`)
    if (numberedTexts.size < 200) numberedTexts.set(text, numbered)
  }
  return db.prepared<R>(numbered, params)
}
