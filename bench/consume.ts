/**
 * Broker ingestion: the retail fixture published to a fresh NATS JetStream stream, then consumed
 * by the consumer of `lateview consume` (in this process, batches of LATEVIEW_NATS_BATCH's
 * default, 1,000) into a fresh store, timed from its start until every message is handled;
 * against library ingest of the same events in batches of 1,000 into another fresh store, in the
 * same run. Both take the events as a producer sends them (the server's clock sets receivedAt).
 */
import { randomBytes } from 'node:crypto'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { deadLetterStream, NatsSource } from '../src/broker/nats.js'
import { NATS_DEFAULTS, type NatsConfig } from '../src/config.js'
import { EventConsumer } from '../src/services/consumer.js'
import { compare, openLateview, type Comparison, type Log } from './common.js'
import { batches, fixtureStream } from './data.js'
import type { Sizes } from './options.js'
import type { Backend } from './stores.js'

export interface ConsumeFigures {
  events: number
  /** Informative: JetStream publish with acks, 1,000 in flight. */
  publish: { messagesPerSec: number; ms: number }
  consume: { eventsPerSec: number; ms: number; batches: number; ingested: number; duplicates: number; deadLettered: number }
  library: { eventsPerSec: number; ms: number }
  ratio: Comparison
}

/** The fixture's first `n` events as the lines a producer publishes. */
function lines(sizes: Sizes, n: number): string[] {
  const days = Math.ceil(n / sizes.perDay) + 3
  return [...fixtureStream({ perDay: sizes.perDay, days, limit: n })].map((e) => JSON.stringify(e))
}

export async function measureConsume(backend: Backend, sizes: Sizes, natsUrl: string, log: Log): Promise<ConsumeFigures> {
  const n = sizes.consumeEvents
  const texts = lines(sizes, n)

  // Library ingest of the same events, each batch parsed right before its call.
  const library = await openLateview(backend.location('consume_library'))
  let libraryMs = 0
  try {
    for (const batch of batches(texts)) {
      const events = batch.map((t) => JSON.parse(t) as unknown)
      const started = performance.now()
      const result = await library.ingest(events)
      libraryMs += performance.now() - started
      if (result.accepted + result.duplicates !== events.length) throw new Error(`library ingest: ${events.length} sent, ${result.accepted + result.duplicates} taken`)
    }
  } finally {
    await library.close()
  }
  log(`  consume: library ingest ${Math.round(n / (libraryMs / 1000))} events/s`)

  const tag = `bench_${process.pid}_${randomBytes(3).toString('hex')}`
  const config: NatsConfig = {
    url: natsUrl,
    stream: `LVB_${tag}`,
    subjects: [`lvb.${tag}.events.>`],
    durable: tag,
    deadLetter: `lvb.${tag}.dead`,
    batch: NATS_DEFAULTS.batch,
    create: true,
    ackWaitMs: 60_000,
  }
  const nc = await connect({ servers: natsUrl })
  const lateview = await openLateview(backend.location('consume_broker'))
  let source: NatsSource | null = null
  try {
    source = await NatsSource.open(config, (level, message) => log(`  consume: ${level} ${message}`))
    const js = jetstream(nc, { timeout: 60_000 })
    const subject = `lvb.${tag}.events.bench`
    const publishStarted = performance.now()
    let inFlight: Array<Promise<unknown>> = []
    for (const text of texts) {
      inFlight.push(js.publish(subject, text))
      if (inFlight.length >= 1000) {
        await Promise.all(inFlight)
        inFlight = []
      }
    }
    await Promise.all(inFlight)
    const publishMs = performance.now() - publishStarted
    log(`  consume: published ${n} in ${(publishMs / 1000).toFixed(1)} s`)

    const totals = { batches: 0, ingested: 0, duplicates: 0, deadLettered: 0 }
    let done: () => void = () => undefined
    const finished = new Promise<void>((resolve) => (done = resolve))
    const consumer = new EventConsumer(lateview, source, {
      batch: config.batch,
      onBatch: (o) => {
        totals.batches++
        totals.ingested += o.ingested
        totals.duplicates += o.duplicates
        totals.deadLettered += o.deadLettered
        if (o.failure) log(`  consume: a batch failed: ${o.failure.code}`)
        if (totals.ingested + totals.duplicates + totals.deadLettered >= n) done()
      },
    })
    const started = performance.now()
    consumer.start()
    await finished
    const consumeMs = performance.now() - started
    await consumer.stop()
    if (totals.deadLettered > 0) throw new Error(`consume: ${totals.deadLettered} messages dead-lettered`)
    const consumeRate = n / (consumeMs / 1000)
    const libraryRate = n / (libraryMs / 1000)
    return {
      events: n,
      publish: { messagesPerSec: n / (publishMs / 1000), ms: publishMs },
      consume: { eventsPerSec: consumeRate, ms: consumeMs, ...totals },
      library: { eventsPerSec: libraryRate, ms: libraryMs },
      ratio: compare(consumeRate, libraryRate, 0.5, true),
    }
  } finally {
    await source?.close()
    await lateview.close()
    const jsm = await jetstreamManager(nc)
    for (const s of [config.stream, deadLetterStream(config.stream)]) await jsm.streams.delete(s).catch(() => false)
    await nc.close()
  }
}
