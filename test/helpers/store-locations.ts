import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { engines, TEST_PG_URL } from './engines.js'

/**
 * Stores that outlive one process, named as `LATEVIEW_DB` names them: a SQLite file in a
 * temporary folder, or a schema of its own on the test PostgreSQL server. For tests that start
 * servers or CLI processes one after another (or side by side) over the same store.
 */
export interface StoreLocation {
  name: 'sqlite' | 'postgres'
  /** A fresh, empty store's `LATEVIEW_DB` value. */
  next(): string
  /** Removes every store `next` named. */
  cleanup(): Promise<void>
}

let counter = 0

function sqliteFiles(): StoreLocation {
  let dir: string | null = null
  return {
    name: 'sqlite',
    next() {
      dir ??= mkdtempSync(join(tmpdir(), 'lateview-test-'))
      return join(dir, `store-${counter++}.db`)
    },
    async cleanup() {
      if (dir !== null) rmSync(dir, { recursive: true, force: true })
      dir = null
    },
  }
}

function postgresSchemas(): StoreLocation {
  const schemas: string[] = []
  return {
    name: 'postgres',
    next() {
      const schema = `lvt_${process.pid}_${Date.now().toString(36)}_f${counter++}`
      schemas.push(schema)
      const url = new URL(TEST_PG_URL)
      url.searchParams.set('schema', schema)
      return url.toString()
    },
    async cleanup() {
      if (schemas.length === 0) return
      await dropSchemas(schemas.splice(0))
    },
  }
}

/** Drops schemas of the test PostgreSQL server (and everything in them). */
export async function dropSchemas(schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL })
  await client.connect()
  try {
    for (const s of schemas) await client.query(`drop schema if exists ${s} cascade`)
  } finally {
    await client.end()
  }
}

/** The same engines as `engines()` (PostgreSQL when reachable, and always under CI), as locations. */
export async function storeLocations(): Promise<StoreLocation[]> {
  return (await engines()).map((factory) => (factory.name === 'sqlite' ? sqliteFiles() : postgresSchemas()))
}
