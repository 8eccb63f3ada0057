import { LateviewError } from '../errors.js'
import type { Engine } from './engine.js'
import { queryRows } from './db.js'

/**
 * A driver error as lateview's: a full disk (SQLite SQLITE_FULL, PostgreSQL 53100), a store out
 * of reach (a lost or refused connection, a server shutting down, an I/O error), or a busy
 * SQLite file. Null for anything else (a bug, reported as such).
 */
export function storeError(error: unknown): LateviewError | null {
  if (error instanceof LateviewError) return error
  const e = error as { code?: unknown; message?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : String(error)
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new LateviewError('LV_ERR_STORE_BUSY', 'The SQLite database is locked by another writer')
  if (code === 'SQLITE_FULL' || code === '53100') return new LateviewError('LV_ERR_STORE_FULL', `the store's disk is full: ${message}`)
  const unreachable =
    code.startsWith('SQLITE_IOERR') ||
    code === 'SQLITE_CANTOPEN' ||
    /^(08|57P0)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)
  return unreachable ? new LateviewError('LV_ERR_STORE_UNAVAILABLE', `the store cannot be reached: ${message}`) : null
}

/** The failure state every engine keeps: set by a failing operation, cleared by a committed write. */
export class Health {
  #failure: LateviewError | null = null

  /** Runs `op`, turning a driver error into lateview's and remembering a store failure. */
  async guard<T>(op: () => Promise<T>, write: boolean): Promise<T> {
    try {
      const result = await op()
      if (write) this.#failure = null
      return result
    } catch (error) {
      const translated = storeError(error)
      if (translated && (translated.code === 'LV_ERR_STORE_FULL' || translated.code === 'LV_ERR_STORE_UNAVAILABLE')) this.#failure = translated
      throw translated ?? error
    }
  }

  async failure(probe: boolean, write: () => Promise<void>): Promise<LateviewError | null> {
    if (this.#failure !== null && probe) await this.guard(write, true).catch(() => undefined)
    return this.#failure
  }
}

/** What a probe writes: about as much as an ingest batch, so that ready means a batch fits again. */
const PROBE_FILLER = 'x'.repeat(1024 * 1024)

/** A committed write of a batch's size, then its removal (two small transactions). */
export async function probeWrite(engine: Engine): Promise<void> {
  await engine.write(async (tx) => {
    await queryRows(tx.db, 'delete from store_probe')
    await queryRows(tx.db, 'insert into store_probe (id, filler) values (1, ?)', [PROBE_FILLER])
  })
  await engine.write((tx) => queryRows(tx.db, 'delete from store_probe'))
}
