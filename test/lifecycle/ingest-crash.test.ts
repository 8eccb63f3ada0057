/**
 * kill -9 in the middle of HTTP ingest. A server process takes batches from three clients at once
 * and is killed with SIGKILL while they stream; then:
 *   - every batch it acknowledged is stored, every event of it;
 *   - every batch in flight at the kill is stored whole or not at all;
 *   - a restarted server over the same store takes the in-flight batches again (idempotent: what
 *     was stored counts as duplicates), and streams on until the next kill.
 * At the end `verify` finds no difference between the events and what was derived from them.
 *
 * The short form (CI) runs 2 rounds per engine; LATEVIEW_TEST_CRASH_LONG=1 runs 5.
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
import { exited, type ServerProcess, serveProcess } from '../helpers/server-process.js'
import { storeLocations } from '../helpers/store-locations.js'

const ROUNDS = process.env.LATEVIEW_TEST_CRASH_LONG ? 5 : 2
const CLIENTS = 3
const BATCH = 250
/** Acknowledged batches before the kill is armed; it then comes after a random 0-400 ms. */
const ACKS_BEFORE_KILL = 4

const VIEW = {
  name: 'crashing',
  eventTypes: ['sale'],
  timezone: 'UTC',
  granularity: 'day',
  dimensions: ['store'],
  measures: { revenue: { sum: 'amount', decimals: 2 }, orders: { count: true } },
}

type Server = ServerProcess

const serve = (db: string, views: string) => serveProcess(db, views, 'off')

interface Batch {
  ids: string[]
  body: string
}

function batch(round: number, client: number, n: number): Batch {
  const ids: string[] = []
  const events = Array.from({ length: BATCH }, (_, k) => {
    const id = `r${round}-c${client}-b${n}-${k}`
    ids.push(id)
    const i = (round * 7 + client * 13 + n * 31 + k) % 1000
    // Up to 40 hours ago: today and yesterday, both Realtime periods.
    const occurredAt = new Date(Date.now() - 60_000 - i * 144_000).toISOString()
    return { id, source: `store-${i % 5}`, type: 'sale', occurredAt, data: { store: String(i % 5), amount: (i * 37) / 100 } }
  })
  return { ids, body: JSON.stringify(events) }
}

async function send(url: string, b: Batch): Promise<number> {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b.body })
  await res.arrayBuffer()
  return res.status
}

for (const location of await storeLocations()) {
  const test = suite(`lifecycle/ingest-crash (${location.name})`)
  test.after(() => location.cleanup())

  test(`kill -9 during a stream of batches, ${ROUNDS} rounds: nothing acknowledged is lost, nothing in flight is half stored`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lateview-crash-'))
    const db = location.next()
    let server: Server | null = null
    const acknowledged: Batch[] = []
    let inFlight: Batch[] = []
    try {
      writeFileSync(join(dir, 'crashing.json'), JSON.stringify(VIEW))
      for (let round = 0; round < ROUNDS; round++) {
        server = await serve(db, dir)
        const url = server.url
        // What was in flight at the last kill is sent again, and taken.
        for (const b of inFlight) assert.is(await send(url, b), 200, 'an in-flight batch sent again')
        acknowledged.push(...inFlight)
        inFlight = []

        let acks = 0
        let armed: () => void = () => {}
        const armedNow = new Promise<void>((resolve) => (armed = resolve))
        const stream = async (client: number) => {
          for (let n = 0; ; n++) {
            const b = batch(round, client, n)
            let status: number
            try {
              status = await send(url, b)
            } catch {
              inFlight.push(b)
              return
            }
            assert.is(status, 200)
            acknowledged.push(b)
            if (++acks === ACKS_BEFORE_KILL) armed()
          }
        }
        const child = server.child
        const killer = (async () => {
          await armedNow
          await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 400)))
          child.kill('SIGKILL')
          await exited(child)
        })()
        await Promise.all([...Array.from({ length: CLIENTS }, (_, c) => stream(c)), killer])
        server = null
        assert.is(child.signalCode, 'SIGKILL')
        // Each client had a batch on its way when the server died (or sent one to a dead server).
        assert.is(inFlight.length, CLIENTS)

        const engine = await openEngine(db)
        try {
          const rows = await engine.db.kysely.selectFrom('events').select('id').execute()
          const stored = new Set(rows.map((r) => r.id))
          assert.is(rows.length, stored.size, 'every event stored once')
          const lost = acknowledged.flatMap((b) => b.ids.filter((id) => !stored.has(id)))
          assert.equal(lost.slice(0, 5), [], `round ${round}: ${lost.length} acknowledged events lost`)
          for (const b of inFlight) {
            const present = b.ids.filter((id) => stored.has(id)).length
            assert.ok(present === 0 || present === b.ids.length, `round ${round}: an in-flight batch is half stored (${present} of ${b.ids.length})`)
          }
        } finally {
          await engine.close()
        }
      }

      // A last start over the crashed store takes what was in flight, then stops cleanly.
      server = await serve(db, dir)
      for (const b of inFlight) assert.is(await send(server.url, b), 200)
      acknowledged.push(...inFlight)
      server.child.kill('SIGTERM')
      await exited(server.child)
      server = null

      const engine = await openEngine(db)
      try {
        const lateview = await Lateview.fromEngine(engine, [parseViewDefinition(VIEW, 'crashing.json')], systemClock)
        const stored = await engine.db.kysely
          .selectFrom('events')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
        assert.is(Number(stored.n), acknowledged.length * BATCH, 'exactly the acknowledged events')
        assert.ok(acknowledged.length >= ROUNDS * ACKS_BEFORE_KILL, `${acknowledged.length} batches`)
        const { realtime, revisions } = await lateview.verifyStore()
        assert.equal([realtime.differences, revisions.differences], [[], []])
      } finally {
        await engine.close()
      }
    } finally {
      if (server) {
        server.child.kill('SIGKILL')
        await exited(server.child)
      }
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test.run()
}
