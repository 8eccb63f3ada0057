/**
 * Two lateview server processes on one PostgreSQL schema, both with their schedulers on (the
 * rebuilder every second), take late events and restatements of the same periods at once for a
 * while. Afterwards no revision may know less than the one before it, revision numbers are
 * gap-free, every event is stored once, and `verify` finds nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { systemClock } from '../../src/domain/clock.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import { openEngine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { serverDatabase } from '../helpers/server-db.js'
import { type ServerProcess, serveProcess } from '../helpers/server-process.js'

const RACE_MS = Number(process.env.LATEVIEW_RACE_MS ?? 15_000)
const DAY_MS = 86_400_000

const VIEW = {
  name: 'racing',
  eventTypes: ['sale'],
  timezone: 'UTC',
  granularity: 'day',
  dimensions: ['store'],
  measures: { revenue: { sum: 'amount', decimals: 2 }, orders: { count: true } },
  // Every second: the scheduled rebuilder of both processes races the restatements.
  rebuild: { every: '* * * * * *', windowDays: 7 },
}

type Server = ServerProcess

const serve = (db: string, views: string) => serveProcess(db, views, 'on')

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return
  await new Promise<void>((resolve) => {
    server.child.once('exit', () => resolve())
    server.child.kill('SIGTERM')
  })
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: response.status, body: await response.json() }
}

const test = suite('lifecycle/racing (postgres)')
const hasPostgres = (await engines()).some((f) => f.name === 'postgres')

if (!hasPostgres) {
  test.skip('two processes racing restatements and rebuilds (needs PostgreSQL)', () => {})
} else {
  test(`two processes, schedulers on, late events and restatements racing for ${RACE_MS / 1000} s: no revision knows less than the one before it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lateview-race-'))
    const database = serverDatabase('postgres')
    const servers: Server[] = []
    try {
      writeFileSync(join(dir, 'racing.json'), JSON.stringify(VIEW))
      servers.push(await serve(database.location, dir))
      servers.push(await serve(database.location, dir))
      const start = Date.now()
      const today = new Date(start).toISOString().slice(0, 10)
      const yesterday = new Date(start - DAY_MS).toISOString().slice(0, 10)
      const periods = [yesterday, today]
      let sent = 0
      const problems: string[] = []
      // Both periods hold an event before the race: a restatement of a period without any is refused (409).
      const seeds = periods.map((period, i) => ({ id: `seed-${i}`, source: 'store-0', type: 'sale', occurredAt: `${period}T00:00:00Z`, data: { store: '0', amount: 1 } }))
      assert.is((await post(`${(servers[0] as Server).url}/v1/events`, seeds)).status, 200)
      sent += seeds.length

      // Late sales for yesterday and today, sent to both processes, some to both at once.
      const ingest = async (worker: number) => {
        for (let i = 0; Date.now() - start < RACE_MS; i++) {
          const events = Array.from({ length: 5 }, (_, k) => {
            const n = sent++
            // Up to 30 hours ago, never in the future.
            const occurredAt = new Date(Date.now() - 60_000 - ((n * 7919) % (30 * 3600)) * 1000).toISOString()
            return { id: `w${worker}-${i}-${k}`, source: `store-${n % 3}`, type: 'sale', occurredAt, data: { store: String(n % 3), amount: ((n * 37) % 10_000) / 100 } }
          })
          const targets = i % 4 === 0 ? servers : [servers[(worker + i) % servers.length] as Server]
          for (const answer of await Promise.all(targets.map((s) => post(`${s.url}/v1/events`, events)))) {
            if (answer.status !== 200) problems.push(`ingest ${answer.status}: ${JSON.stringify(answer.body)}`)
          }
        }
      }
      // Restatements and manual rebuilds, live, on both processes.
      const restate = async (worker: number) => {
        for (let i = 0; Date.now() - start < RACE_MS; i++) {
          const server = servers[(worker + i) % servers.length] as Server
          const period = periods[i % periods.length] as string
          const answer = i % 3 === 2 ? await post(`${server.url}/v1/jobs/rebuild`, { view: 'racing' }) : await post(`${server.url}/v1/views/racing/periods/${period}/restate`, {})
          if (answer.status !== 200) problems.push(`job ${answer.status}: ${JSON.stringify(answer.body)}`)
        }
      }
      await Promise.all([ingest(0), ingest(1), ingest(2), restate(0), restate(1), restate(2), restate(3)])
      // Let the scheduled rebuilders take one more turn, then stop both processes.
      await new Promise((resolve) => setTimeout(resolve, 1500))
      for (const server of servers.splice(0)) await stop(server)
      assert.equal(problems, [])

      const engine = await openEngine(database.location)
      try {
        const lateview = await Lateview.fromEngine(engine, [parseViewDefinition(VIEW, 'racing.json')], systemClock)
        const revisions = await engine.db.kysely
          .selectFrom('revisions')
          .select(['period', 'revision', 'kind', 'trigger', 'cutoff_seq'])
          .where('view', '=', 'racing')
          .orderBy('period')
          .orderBy('revision')
          .execute()
        const backwards: string[] = []
        for (const period of periods) {
          const history = revisions.filter((r) => r.period === period)
          assert.equal(
            history.map((r) => r.revision),
            history.map((_, i) => i + 1),
            `${period}: revision numbers are gap-free`,
          )
          for (let i = 1; i < history.length; i++) {
            const [a, b] = [history[i - 1], history[i]] as [(typeof history)[number], (typeof history)[number]]
            if (b.cutoff_seq < a.cutoff_seq) backwards.push(`${period} revision ${b.revision} (${b.kind}, ${b.trigger}) at cutoff ${b.cutoff_seq} after revision ${a.revision} at ${a.cutoff_seq}`)
          }
        }
        assert.equal(backwards, [])
        // The race did what it is for: many revisions of both kinds, from both processes.
        assert.ok(revisions.length >= 20, `${revisions.length} revisions`)
        assert.ok(revisions.some((r) => r.kind === 'manual') && revisions.some((r) => r.kind === 'revision'), JSON.stringify(revisions.slice(0, 5)))
        const stored = await engine.db.kysely
          .selectFrom('events')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
        const distinct = await engine.db.kysely
          .selectFrom('events')
          .select((eb) => eb.fn.count<string>('id').distinct().as('n'))
          .executeTakeFirstOrThrow()
        assert.is(Number(stored.n), sent, 'every event stored once')
        assert.is(Number(distinct.n), sent)
        const { realtime, revisions: checked } = await lateview.verifyStore()
        assert.equal([realtime.differences, checked.differences], [[], []])
      } finally {
        await engine.close()
      }
    } finally {
      for (const server of servers) await stop(server)
      await database.cleanup()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test.run()
