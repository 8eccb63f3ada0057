/**
 * The consumer asks for the next batch while it stores one (the broker sends it meanwhile), and
 * never after a failure (it waits first); stopped with a batch fetched ahead, it hands that batch
 * back at once (nak without delay) rather than let it wait out the ack window. An in-memory
 * source stands for the broker; the store is real (SQLite).
 */
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { EventConsumer, type BrokerMessage, type MessageSource } from '../../src/services/consumer.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import { openEngine } from '../../src/store/engine.js'
import { streamEvent } from '../helpers/broker-stream.js'

const VIEWS = loadViewFiles(join(import.meta.dirname, '../../views'))
const test = suite('services/consumer: the next batch read ahead')

/** Settled messages by stream seq: what each got. */
type Settled = Map<number, string>

function message(seq: number, settled: Settled): BrokerMessage {
  return {
    subject: 'lateview.events.test',
    body: new TextEncoder().encode(JSON.stringify(streamEvent(seq))),
    headers: null,
    streamSeq: seq,
    deliveries: 1,
    ack: () => void settled.set(seq, 'ack'),
    nak: (delayMs) => void settled.set(seq, `nak ${delayMs}`),
    term: () => void settled.set(seq, 'term'),
  }
}

test('batch 2 is asked for before batch 1 is stored; stopped, the batch read ahead goes back at once', async () => {
  const settled: Settled = new Map()
  const log: string[] = []
  let next = 1
  let release: (() => void) | null = null
  const source: MessageSource = {
    async fetch(max) {
      const n = next
      log.push(`fetch ${n}`)
      // Three batches of 3, then a fetch that waits until interrupted.
      if (n > 7) {
        await new Promise<void>((resolve) => (release = resolve))
        return []
      }
      next += 3
      return [n, n + 1, n + 2].slice(0, max).map((s) => message(s, settled))
    },
    async deadLetter() {},
    interrupt: () => release?.(),
    status: () => ({ connected: true, stream: 'S', durable: 'd' }),
  }
  const lateview = await Lateview.fromEngine(await openEngine(':memory:'), VIEWS, new ManualClock(Date.parse('2026-12-01T00:00:00Z')))
  try {
    const consumer = new EventConsumer(lateview, source, {
      batch: 3,
      onBatch: (o) => log.push(`stored ${o.ingested}`),
    })
    consumer.start()
    while (settled.size < 9) await new Promise((resolve) => setTimeout(resolve, 5))
    await consumer.stop()
    assert.equal(log, ['fetch 1', 'fetch 4', 'stored 3', 'fetch 7', 'stored 3', 'fetch 10', 'stored 3'])
    assert.equal([...settled.values()], Array(9).fill('ack'))
  } finally {
    await lateview.close()
  }
})

test('stopped while a batch read ahead has arrived: it is handed back with nak(0), not stored', async () => {
  const settled: Settled = new Map()
  let calls = 0
  let gate: (() => void) | null = null
  const source: MessageSource = {
    async fetch() {
      calls++
      if (calls === 1) return [message(1, settled)]
      // The batch read ahead arrives once the first one is being stored.
      await new Promise<void>((resolve) => (gate = resolve))
      return [message(2, settled)]
    },
    async deadLetter() {},
    interrupt: () => gate?.(),
    status: () => ({ connected: true, stream: 'S', durable: 'd' }),
  }
  const lateview = await Lateview.fromEngine(await openEngine(':memory:'), VIEWS, new ManualClock(Date.parse('2026-12-01T00:00:00Z')))
  try {
    let stop: Promise<void> | null = null
    const consumer = new EventConsumer(lateview, source, {
      batch: 1,
      // Stop as soon as the first batch is stored: the second was asked for already.
      onBatch: () => {
        stop ??= consumer.stop()
      },
    })
    consumer.start()
    while (stop === null) await new Promise((resolve) => setTimeout(resolve, 5))
    await stop
    assert.equal(
      [...settled],
      [
        [1, 'ack'],
        [2, 'nak 0'],
      ],
    )
    assert.is(calls, 2)
  } finally {
    await lateview.close()
  }
})

test.run()
