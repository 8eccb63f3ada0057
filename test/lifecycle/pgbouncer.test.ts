/**
 * lateview behind PgBouncer in transaction mode, with 2 server connections shared by two
 * engines of 10 clients each: a transaction lands on whichever server connection is free, so
 * anything kept in a session (the schema of `?schema=`, a session lock, a named statement)
 * would go astray. Migrations, concurrent ingest with duplicates and retractions, jobs on both
 * engines, reports, and then exact figures and a clean `verify`.
 */
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { systemClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { openEngine } from '../../src/store/engine.js'
import { engines, TEST_PG_URL } from '../helpers/engines.js'
import { FLEET, fleetView, liveFigures, Oracle, type Retraction, type Sale, sortedEntries, storeFacts } from '../helpers/multi-writer.js'
import { type PgBouncer, startPgBouncer } from '../helpers/pgbouncer.js'
import { dropSchemas } from '../helpers/store-locations.js'

const test = suite('lifecycle/pgbouncer (postgres)')
const hasPostgres = (await engines()).some((f) => f.name === 'postgres')

if (!hasPostgres) {
  test.skip('lateview behind PgBouncer (needs PostgreSQL)', () => {})
} else {
  let bouncer: PgBouncer
  const schemas: string[] = []
  const schema = (name: string) => {
    const s = `lvt_${process.pid}_${Date.now().toString(36)}_${name}`
    schemas.push(s)
    return s
  }

  test.before(async () => {
    // Fails the file, loudly, when PgBouncer is missing or does not start.
    bouncer = await startPgBouncer(2)
  })

  test.after(async () => {
    await bouncer?.stop()
    await dropSchemas(schemas.splice(0))
  })

  test('without pgbouncer=true the schema is a startup option, which PgBouncer refuses', async () => {
    const error = await openEngine(bouncer.url(schema('startup'), false)).then(
      async (engine) => {
        await engine.close()
        return null
      },
      (e: unknown) => e as Error,
    )
    assert.ok(error && /unsupported startup parameter: options/.test(error.message), String(error))
  })

  test('two engines through PgBouncer: concurrent ingest with duplicates and retractions, jobs, reports; exact figures, verify clean', async () => {
    const name = schema('pooled')
    const url = bouncer.url(name)
    const [a, b] = await Promise.all([openEngine(url), openEngine(url)])
    try {
      const views = [fleetView()]
      const [lvA, lvB] = await Promise.all([Lateview.fromEngine(a, views, systemClock), Lateview.fromEngine(b, views, systemClock)])
      const both = [lvA, lvB]
      const oracle = new Oracle()
      const now = Date.now()
      let duplicates = 0
      // 40 batches of 25, every batch to one engine and every fourth to both at once.
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const batch: Sale[] = oracle.newSales('pgb', i, 25, now)
          const targets = i % 4 === 0 ? both : [both[i % 2] as Lateview]
          const results = await Promise.all(targets.map((lv) => lv.ingest(batch)))
          duplicates += results.reduce((n, r) => n + r.duplicates, 0)
          oracle.stored(batch)
        }),
      )
      assert.is(duplicates, 10 * 25)
      // Retractions, each sent to both engines at once, interleaved with jobs on both.
      const retractions: Retraction[] = []
      for (let i = 0; i < 20; i++) {
        const r = oracle.retraction('pgb', i * 13)
        if (r) retractions.push(r)
        oracle.stored(r ? [r] : [])
      }
      const days = [...new Set([...oracle.sales.values()].map((s) => s.occurredAt.slice(0, 10)))].sort()
      await Promise.all([
        ...retractions.map((r, i) => Promise.all([lvA.ingest([r]), lvB.ingest([r])]).then((rs) => assert.is(rs[0].accepted + rs[1].accepted, 1, `retraction ${i}`))),
        ...both.flatMap((lv) => days.map((day) => lv.restate(FLEET, day))),
        lvA.jobs.run('rebuild', { view: FLEET, trigger: 'manual' }),
        lvB.jobs.run('rebuild', { view: FLEET, trigger: 'manual' }),
      ])
      // One more restatement per day, after every event: the latest revision is exact.
      for (const day of days) await lvB.restate(FLEET, day)

      const facts = await storeFacts(a, FLEET)
      assert.is(facts.events, oracle.eventCount)
      assert.is(facts.distinctKeys, facts.events)
      assert.equal(facts.gaps, [])
      assert.ok(facts.revisions >= days.length, `${facts.revisions} revisions`)
      const expected = sortedEntries(oracle.figures())
      assert.equal(sortedEntries(liveFigures((await lvA.realtime(FLEET)).cells)), expected)
      for (const day of days) {
        const report = await lvA.report(FLEET, day)
        const want = oracle.figures().get(day) ?? { cents: 0, orders: 0 }
        assert.equal([Math.round(Number(report.totals.measures.revenue) * 100), report.totals.measures.orders], [want.cents, want.orders], day)
      }
      const verified = await lvB.verifyStore()
      assert.equal(verified.realtime.differences, [])
      assert.equal(verified.revisions.differences, [])
    } finally {
      await a.close()
      await b.close()
    }
    // Everything went to the schema named in the URL, through PgBouncer, not to public.
    const direct = new pg.Client({ connectionString: TEST_PG_URL })
    await direct.connect()
    try {
      const { rows } = await direct.query<{ n: number }>("select count(*)::int as n from pg_tables where schemaname = $1 and tablename in ('events', 'cells', 'revisions', 'kysely_migration')", [name])
      assert.is(rows[0]?.n, 4)
    } finally {
      await direct.end()
    }
  })
}

test.run()
