/**
 * Three `lateview serve` processes on one PostgreSQL schema, schedulers on, behind no balancer
 * (the test spreads the requests): concurrent ingest with duplicates sent to two processes at
 * once, retractions, manual rebuilds and restatements on all three, for LATEVIEW_PROCESSES_MS
 * (20 s by default). Afterwards: every event stored once, revision numbers 1..n per period,
 * `verify` clean, no 5xx but an honest 503 LV_ERR_STORE_BUSY, and the live figures those of
 * the distinct events sent.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { engines } from '../helpers/engines.js'
import { runFleet } from '../helpers/fleet-run.js'
import { serverDatabase } from '../helpers/server-db.js'

const MS = Number(process.env.LATEVIEW_PROCESSES_MS ?? 20_000)

const test = suite('lifecycle/processes (postgres)')
const hasPostgres = (await engines()).some((f) => f.name === 'postgres')

if (!hasPostgres) {
  test.skip('three processes on one store (needs PostgreSQL)', () => {})
} else {
  test(`three processes on one schema for ${MS / 1000} s: no duplicate, gap-free revisions, verify clean, exact figures`, async () => {
    const database = serverDatabase('postgres')
    try {
      const outcome = await runFleet(database.location, { processes: 3, ms: MS })
      console.log(
        `  answers: ${JSON.stringify(outcome.answers)}; events stored ${outcome.stored.events}, revisions ${outcome.stored.revisions}, duplicates answered ${outcome.duplicatesAnswered}, write retries ${outcome.retries}`,
      )
      assert.equal(outcome.serverErrors, [])
      assert.equal(outcome.unexpected, [])
      assert.is(outcome.stored.distinctKeys, outcome.stored.events)
      assert.equal(outcome.stored.gaps, [])
      assert.equal(outcome.verify, { realtime: 0, revisions: 0 })
      assert.equal(outcome.live, outcome.expected)
      assert.ok(outcome.figuresMatch)
      // The run did what it is for: duplicates met, revisions published, plenty of events.
      assert.ok(outcome.duplicatesAnswered > 0, 'no duplicate was answered')
      assert.ok(outcome.stored.revisions >= 5, `${outcome.stored.revisions} revisions`)
      assert.ok(outcome.stored.events >= 500, `${outcome.stored.events} events`)
    } finally {
      await database.cleanup()
    }
  })
}

test.run()
