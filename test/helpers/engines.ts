import pg from 'pg'
import { openEngine, type Engine } from '../../src/store/engine.js'

/** The PostgreSQL server the suites use; each suite gets a schema of its own and drops it after. */
export const TEST_PG_URL = process.env.LATEVIEW_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface EngineFactory {
  name: 'sqlite' | 'postgres'
  /** Opens a fresh, empty store. */
  open(): Promise<Engine>
  /** Drops everything `open` created. */
  cleanup(): Promise<void>
}

let counter = 0

function sqliteFactory(): EngineFactory {
  return {
    name: 'sqlite',
    open: () => openEngine(':memory:'),
    cleanup: async () => {},
  }
}

function postgresFactory(): EngineFactory {
  const schemas: string[] = []
  return {
    name: 'postgres',
    async open() {
      const schema = `lvt_${process.pid}_${Date.now().toString(36)}_${counter++}`
      schemas.push(schema)
      const url = new URL(TEST_PG_URL)
      url.searchParams.set('schema', schema)
      return openEngine(url.toString())
    },
    async cleanup() {
      if (schemas.length === 0) return
      const client = new pg.Client({ connectionString: TEST_PG_URL })
      await client.connect()
      try {
        for (const s of schemas.splice(0)) await client.query(`drop schema if exists ${s} cascade`)
      } finally {
        await client.end()
      }
    },
  }
}

/**
 * The engines every store test runs on. PostgreSQL is left out only when it cannot be reached
 * and CI is not set (a newcomer's machine); under CI an unreachable server is a failure.
 */
export async function engines(): Promise<EngineFactory[]> {
  if (process.env.LATEVIEW_TEST_ENGINES === 'sqlite') return [sqliteFactory()]
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.end()
    return [sqliteFactory(), postgresFactory()]
  } catch (error) {
    if (process.env.CI) throw new Error(`PostgreSQL at ${TEST_PG_URL} is required under CI: ${(error as Error).message}`)
    console.warn(`! PostgreSQL at ${TEST_PG_URL} is not reachable: running the SQLite engine only`)
    return [sqliteFactory()]
  }
}
