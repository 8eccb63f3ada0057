/**
 * `lateview consume` processes sharing one durable consumer, on SQLite and PostgreSQL: one killed
 * with SIGKILL in the middle and started again loses nothing and counts nothing twice, and two
 * side by side split the stream between them with exact figures.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { systemClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import { brokerStream, oracle, realtimeCells } from '../helpers/broker-stream.js'
import { consumerPending, deadLetters, deleteStreams, eventSubject, natsEnv, natsReachable, publishRaw, testConnection, testNatsConfig, waitFor } from '../helpers/nats.js'
import { exited } from '../helpers/server-process.js'
import { storeLocations } from '../helpers/store-locations.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const VIEWS_DIR = join(ROOT, 'views')
const test = suite('lateview consume processes')

interface Consumer {
  child: ChildProcess
  output: () => string
}

/** Starts `lateview consume` and resolves once it consumes. */
function startConsume(db: string, env: Record<string, string>): Promise<Consumer> {
  const child = spawn(process.execPath, ['src/cli/lateview.mjs', 'consume'], { cwd: ROOT, env: { ...process.env, LATEVIEW_DB: db, LATEVIEW_VIEWS: VIEWS_DIR, ...env } })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consume did not start:\n${output}`)), 30_000)
    const seen = (d: Buffer) => {
      output += d.toString()
      if (output.includes('consuming stream')) {
        clearTimeout(timer)
        resolve({ child, output: () => output })
      }
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`consume exited with ${code ?? signal}:\n${output}`))
    })
  })
}

/** Stops a consume process with SIGTERM; the events it reports having stored. */
async function stopConsume(c: Consumer): Promise<number> {
  c.child.kill('SIGTERM')
  await exited(c.child)
  // The last summary: a process busy for more than 10 s has printed running totals before it.
  const match = [...c.output().matchAll(/consumed (\d+) events/g)].at(-1)
  if (!match) throw new Error(`no summary from consume:\n${c.output()}`)
  return Number(match[1])
}

const reachable = await natsReachable()
const locations = reachable ? await storeLocations() : []
if (!reachable) test.skip('NATS JetStream is not reachable', () => {})

for (const location of locations) {
  test(`${location.name}: a consume process killed with SIGKILL in the middle, then started again: nothing lost, nothing counted twice`, async () => {
    const db = location.next()
    // A short ack wait: what the killed process held unacknowledged comes back within seconds.
    const config = testNatsConfig({ batch: 250, ackWaitMs: 2000 })
    const nc = await testConnection()
    const consumers: Consumer[] = []
    try {
      const { messages, events } = brokerStream(12_000, { resentShare: 0.01, prefix: 'k' })
      const subject = eventSubject(config)
      const first = await startConsume(db, natsEnv(config))
      consumers.push(first)
      await publishRaw(
        nc,
        messages.map((m) => ({ subject, data: m.text })),
      )
      // Not acknowledged yet: undelivered, or delivered and held (the consumer reads a batch ahead).
      const left = async () => {
        const p = await consumerPending(nc, config)
        return p.undelivered + p.unacknowledged
      }
      await waitFor('a third acknowledged', async () => (await left()) < (messages.length * 2) / 3, 120_000, 20)
      first.child.kill('SIGKILL')
      await exited(first.child)
      assert.ok((await left()) > 0, 'killed in the middle')

      const second = await startConsume(db, natsEnv(config))
      consumers.push(second)
      await waitFor(
        'every message handled',
        async () => {
          const p = await consumerPending(nc, config)
          return p.undelivered === 0 && p.unacknowledged === 0
        },
        180_000,
        200,
      )
      const secondIngested = await stopConsume(second)
      assert.ok(secondIngested > 0 && secondIngested < events.length, String(secondIngested))

      const lateview = await Lateview.open({ db, views: loadViewFiles(VIEWS_DIR), clock: systemClock })
      try {
        assert.equal(await realtimeCells(lateview), oracle(events))
        assert.is((await lateview.verify()).seq, events.length, 'the store holds each distinct event once')
        const { realtime, revisions } = await lateview.verifyStore()
        assert.equal([realtime.differences, revisions.differences], [[], []])
      } finally {
        await lateview.close()
      }
      // A refused message may be refused twice (killed before its termination was sent): one dead letter each.
      const letters = await deadLetters(nc, config)
      assert.equal(new Set(letters.map((l) => l.body.original.payload)).size, messages.filter((m) => m.kind === 'invalid').length)
    } finally {
      for (const c of consumers) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL')
      await nc.close()
      await deleteStreams(config)
      await location.cleanup()
    }
  })

  test(`${location.name}: two consume processes split the stream; the figures stay exact`, async () => {
    const db = location.next()
    const config = testNatsConfig({ batch: 200, ackWaitMs: 5000 })
    const nc = await testConnection()
    const consumers: Consumer[] = []
    try {
      const { messages, events } = brokerStream(10_000, { resentShare: 0.01, prefix: 'p' })
      const subject = eventSubject(config)
      // The first one creates the stream and the consumer; the second binds to them.
      consumers.push(await startConsume(db, natsEnv(config)))
      consumers.push(await startConsume(db, natsEnv(config)))
      await publishRaw(
        nc,
        messages.map((m) => ({ subject, data: m.text })),
      )
      await waitFor(
        'every message handled',
        async () => {
          const p = await consumerPending(nc, config)
          return p.undelivered === 0 && p.unacknowledged === 0
        },
        180_000,
        200,
      )
      const ingested = await Promise.all(consumers.map(stopConsume))
      assert.ok(
        ingested.every((n) => n > 0),
        `each process took a share: ${ingested.join(', ')}`,
      )
      assert.is(
        ingested.reduce((a, b) => a + b, 0),
        events.length,
      )
      const lateview = await Lateview.open({ db, views: loadViewFiles(VIEWS_DIR), clock: systemClock })
      try {
        assert.equal(await realtimeCells(lateview), oracle(events))
        assert.is((await lateview.verify()).seq, events.length)
      } finally {
        await lateview.close()
      }
    } finally {
      for (const c of consumers) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL')
      await nc.close()
      await deleteStreams(config)
      await location.cleanup()
    }
  })
}

test.run()
