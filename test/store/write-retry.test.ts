import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { LateviewError } from '../../src/errors.js'
import { openEngine, queryRows, type Engine } from '../../src/store/engine.js'
import { WRITE_ATTEMPTS } from '../../src/store/postgres/retry.js'
import { TEST_PG_URL } from '../helpers/engines.js'
import { storeLocations } from '../helpers/store-locations.js'

/**
 * PostgreSQL aborts a transaction caught in a deadlock (40P01) or a serialization failure
 * (40001); the engine's write runs it again, a bounded number of times, then answers
 * LV_ERR_STORE_BUSY. SQLite has one writer per file and no such failures: PostgreSQL only.
 */
const postgres = (await storeLocations()).find((l) => l.name === 'postgres')
if (postgres) {
  const test = suite('write transactions retried after a conflict (postgres)')
  let location = ''
  let engine: Engine
  let other: pg.Client
  let watcher: pg.Client

  test.before(async () => {
    location = postgres.next()
    engine = await openEngine(location)
    const schema = new URL(location).searchParams.get('schema') as string
    await engine.write((tx) => queryRows(tx.db, 'create table retry_probe (id integer primary key, v integer not null)'))
    other = new pg.Client({ connectionString: TEST_PG_URL, options: `-c search_path=${schema}` })
    watcher = new pg.Client({ connectionString: TEST_PG_URL })
    await other.connect()
    await watcher.connect()
  })

  test.after(async () => {
    await other.end()
    await watcher.end()
    await engine.close()
    await postgres.cleanup()
  })

  const reset = () => engine.write((tx) => queryRows(tx.db, 'delete from retry_probe').then(() => queryRows(tx.db, 'insert into retry_probe (id, v) values (1, 0), (2, 0)')))
  const values = async () => (await engine.snapshot((db) => queryRows<{ id: number; v: number }>(db, 'select id, v from retry_probe order by id'))).map((r) => r.v)

  /** Until the other connection waits for a lock. */
  async function otherWaits(): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const { rows } = await watcher.query<{ wait: string | null }>('select wait_event_type as wait from pg_stat_activity where pid = $1', [(other as unknown as { processID: number }).processID])
      if (rows[0]?.wait === 'Lock') return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error('the other connection never waited for the lock')
  }

  test('a real deadlock aborts the first attempt; the write runs again and commits', async () => {
    await reset()
    const before = engine.retried?.() ?? 0
    // The other transaction holds row 1, and will want row 2, which the write takes first.
    await other.query('begin')
    // The write's backend, not this one, is the one to find the deadlock (after 50 ms, not 10 s).
    await other.query("set local deadlock_timeout = '10s'")
    await other.query('update retry_probe set v = v + 1 where id = 1')
    let attempts = 0
    let otherDone: Promise<unknown> = Promise.resolve()
    const result = await engine.write(async (tx) => {
      attempts++
      if (attempts === 1) {
        await queryRows(tx.db, "set local deadlock_timeout = '50ms'")
        await queryRows(tx.db, 'update retry_probe set v = v + 10 where id = 2')
        otherDone = other.query('update retry_probe set v = v + 1 where id = 2').then(() => other.query('commit'))
        await otherWaits()
      }
      // Attempt 1: waits for row 1 while the other waits for row 2: a deadlock.
      await queryRows(tx.db, 'update retry_probe set v = v + 10 where id = 1')
      if (attempts > 1) await queryRows(tx.db, 'update retry_probe set v = v + 10 where id = 2')
      return `committed on attempt ${attempts}`
    })
    await otherDone
    assert.is(result, 'committed on attempt 2')
    assert.is(attempts, 2)
    assert.is((engine.retried?.() ?? 0) - before, 1)
    // Both transactions' updates, each once: the aborted attempt left nothing.
    assert.equal(await values(), [11, 11])
  })

  test('a write that keeps failing gives up after the bound with LV_ERR_STORE_BUSY, nothing written', async () => {
    await reset()
    const before = engine.retried?.() ?? 0
    let attempts = 0
    const error = await engine
      .write(async (tx) => {
        attempts++
        await queryRows(tx.db, 'update retry_probe set v = v + 1 where id = 1')
        // A serialization failure raised by the server itself, every time.
        await queryRows(tx.db, "do $$ begin raise exception 'injected conflict' using errcode = 'serialization_failure'; end $$")
      })
      .then(
        () => null,
        (e: unknown) => e,
      )
    assert.ok(error instanceof LateviewError, String(error))
    assert.is((error as LateviewError).code, 'LV_ERR_STORE_BUSY')
    assert.is((error as LateviewError).status, 503)
    assert.equal((error as LateviewError).details, { attempts: WRITE_ATTEMPTS, sqlstate: '40001' })
    assert.is(attempts, 5)
    assert.is((engine.retried?.() ?? 0) - before, 4)
    assert.equal(await values(), [0, 0])
    // Not a store failure: the engine stays ready.
    assert.is(await engine.failure(), null)
  })

  test('an error PostgreSQL does not ask to retry is not retried', async () => {
    await reset()
    let attempts = 0
    const error = await engine
      .write(async (tx) => {
        attempts++
        await queryRows(tx.db, 'insert into retry_probe (id, v) values (1, 5)')
      })
      .then(
        () => null,
        (e: unknown) => e as { code?: string },
      )
    assert.is(error?.code, '23505')
    assert.is(attempts, 1)
  })

  test('two engines on one schema deadlock-free: 40 concurrent writes all commit, in one order', async () => {
    await reset()
    const second = await openEngine(location)
    try {
      const writes = Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? engine : second).write(async (tx) => {
          // Opposite row order in every other write: the advisory lock keeps them from deadlocking.
          const order = i % 4 < 2 ? [1, 2] : [2, 1]
          for (const id of order) await queryRows(tx.db, 'update retry_probe set v = v + 1 where id = ?', [id])
        }),
      )
      await Promise.all(writes)
      assert.equal(await values(), [40, 40])
    } finally {
      await second.close()
    }
  })

  test.run()
}
