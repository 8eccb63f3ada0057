import type BetterSqlite3 from 'better-sqlite3'
import type { SqliteDatabase } from 'kysely'

/**
 * How a statement hands out rows: `objects` as better-sqlite3 does by default (Kysely's queries,
 * `queryRows`, the write transaction's own); `arrays` for scans, as building rows in JS from
 * arrays is twice as fast for wide scans; `exact` with every integer a bigint (`exactRows`).
 */
export type StatementMode = 'objects' | 'arrays' | 'exact'

/** Statements kept per database: enough for every query lateview runs, bounded all the same. */
const KEPT = 500

/**
 * The one statement cache of a SQLite database: every statement prepared once by its text and
 * mode, whoever runs it (Kysely, `queryRows`, scans, the write transaction). Preparing costs more
 * than running most of lateview's small queries, and Kysely prepares every query anew. The
 * least recently used statement is dropped when full; one still being iterated is not handed
 * out twice (a fresh one is prepared, and not kept).
 */
export class Statements {
  readonly #kept = new Map<string, BetterSqlite3.Statement>()

  constructor(readonly raw: BetterSqlite3.Database) {}

  get(text: string, mode: StatementMode = 'objects'): BetterSqlite3.Statement {
    const key = mode === 'objects' ? text : `${mode}:${text}`
    const kept = this.#kept
    const found = kept.get(key)
    if (found !== undefined && !found.busy) {
      // Most recently used last: the first entry is the one to drop when full.
      kept.delete(key)
      kept.set(key, found)
      return found
    }
    const stmt = this.raw.prepare(text)
    if (mode === 'arrays') stmt.raw(true)
    else if (mode === 'exact' && stmt.reader) stmt.safeIntegers(true)
    if (found === undefined) {
      if (kept.size >= KEPT) kept.delete(kept.keys().next().value as string)
      kept.set(key, stmt)
    }
    return stmt
  }

  /** better-sqlite3 as Kysely's SqliteDialect sees it, its statements from this cache. */
  forKysely(): SqliteDatabase {
    return {
      close: () => this.raw.close(),
      prepare: (text: string) => this.get(text),
    }
  }
}
