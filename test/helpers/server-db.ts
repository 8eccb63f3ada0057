/**
 * A database location (LATEVIEW_DB) for suites that start whole servers, possibly several over
 * the same store: a SQLite file in a temporary folder, or a PostgreSQL schema of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { TEST_PG_URL } from './engines.js'

export interface ServerDatabase {
  /** The LATEVIEW_DB value. */
  location: string
  /** Removes the file or drops the schema. */
  cleanup(): Promise<void>
}

let counter = 0

export function serverDatabase(kind: 'sqlite' | 'postgres'): ServerDatabase {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'lateview-test-'))
    return {
      location: join(dir, 'lateview.db'),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }
  }
  const schema = `lvs_${process.pid}_${Date.now().toString(36)}_${counter++}`
  const url = new URL(TEST_PG_URL)
  url.searchParams.set('schema', schema)
  return {
    location: url.toString(),
    async cleanup() {
      const client = new pg.Client({ connectionString: TEST_PG_URL })
      await client.connect()
      try {
        await client.query(`drop schema if exists ${schema} cascade`)
      } finally {
        await client.end()
      }
    },
  }
}
