/**
 * The broker consumer against the real NATS server, on SQLite and PostgreSQL: a stream with
 * re-sent duplicates, invalid messages and conflicts lands exactly (Realtime equals an oracle
 * computed here), the refused messages are in the dead-letter stream with their problem and
 * payload, a store that cannot write makes the consumer leave the batch unacknowledged and back
 * off, and CloudEvents in structured and binary mode are the same event.
 */
import BetterSqlite3 from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { NatsSource } from '../../src/broker/nats.js'
import type { NatsConfig } from '../../src/config.js'
import { ManualClock } from '../../src/domain/clock.js'
import { EventConsumer, type BatchOutcome } from '../../src/services/consumer.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import { openEngine } from '../../src/store/engine.js'
import { CuttableProxy } from '../helpers/cuttable-proxy.js'
import { brokerStream, oracle, realtimeCells, streamEvent } from '../helpers/broker-stream.js'
import { engines, TEST_PG_URL } from '../helpers/engines.js'
import { consumerPending, deadLetters, deleteStreams, eventSubject, natsReachable, publishRaw, testConnection, testNatsConfig, waitFor } from '../helpers/nats.js'
import { dropSchemas } from '../helpers/store-locations.js'

const VIEWS = loadViewFiles(join(import.meta.dirname, '../../views'))
const NOW = Date.parse('2026-12-01T00:00:00Z')
const test = suite('services/consumer with NATS JetStream')

/** What every batch came to, added up. */
function tally() {
  const t = { batches: 0, ingested: 0, duplicates: 0, deadLettered: 0, retried: 0, failures: [] as string[] }
  return {
    t,
    onBatch: (o: BatchOutcome) => {
      t.batches++
      t.ingested += o.ingested
      t.duplicates += o.duplicates
      t.deadLettered += o.deadLettered
      t.retried += o.retried
      if (o.failure) t.failures.push(o.failure.code)
    },
  }
}

/** Runs a consumer over `lateview` for a test's own stream, then stops it and deletes the streams. */
async function withConsumer(
  lateview: Lateview,
  config: NatsConfig,
  fn: (ctx: { nc: NatsConnection; source: NatsSource; start: (options?: { backoff?: { initialMs: number; maxMs: number } }) => EventConsumer; t: ReturnType<typeof tally>['t'] }) => Promise<void>,
): Promise<void> {
  const nc = await testConnection()
  const source = await NatsSource.open(config, () => undefined)
  const { t, onBatch } = tally()
  let consumer: EventConsumer | null = null
  try {
    await fn({
      nc,
      source,
      t,
      start: (options = {}) => {
        consumer = new EventConsumer(lateview, source, { batch: config.batch, onBatch, ...options })
        consumer.start()
        return consumer
      },
    })
  } finally {
    await (consumer as EventConsumer | null)?.stop()
    await source.close()
    await nc.close()
    await deleteStreams(config)
  }
}

async function storedEvents(lateview: Lateview): Promise<number> {
  return (await lateview.verify()).seq
}

const reachable = await natsReachable()
const factories = reachable ? await engines() : []
if (!reachable) test.skip('NATS JetStream is not reachable', () => {})

for (const factory of factories) {
  // 50,000 events on SQLite; PostgreSQL takes 20,000 (its ingest is slower, and CI runs both).
  const count = factory.name === 'sqlite' ? 50_000 : 20_000
  test(`${factory.name}: ${count} events with 1 % re-sent, invalid messages and conflicts land exactly; the refused ones are dead letters`, async () => {
    const lateview = await Lateview.fromEngine(await factory.open(), VIEWS, new ManualClock(NOW))
    const config = testNatsConfig()
    try {
      const { messages, events } = brokerStream(count, { resentShare: 0.01, conflicts: 3, prefix: 'a' })
      await withConsumer(lateview, config, async ({ nc, start, t }) => {
        const subject = eventSubject(config)
        await publishRaw(
          nc,
          messages.map((m) => ({ subject, data: m.text })),
        )
        start()
        await waitFor('every message handled', async () => t.ingested + t.duplicates + t.deadLettered === messages.length, 240_000)
        const invalid = messages.filter((m) => m.kind === 'invalid')
        assert.is(t.ingested, count)
        assert.is(t.duplicates, messages.filter((m) => m.kind === 'resent').length)
        assert.is(t.deadLettered, invalid.length)
        assert.equal(await realtimeCells(lateview), oracle(events))
        assert.is(await storedEvents(lateview), count)
        const { realtime, revisions } = await lateview.verifyStore()
        assert.equal([realtime.differences, revisions.differences], [[], []])

        // Every refused message is a dead letter: its problem (the code HTTP would give) and its payload.
        const letters = await deadLetters(nc, config)
        assert.equal(letters.map((l) => [l.body.original.payload, l.body.problem.code, l.code]).sort(), invalid.map((m) => [m.text, m.code, m.code]).sort())
        for (const l of letters) {
          assert.is(l.body.problem.type, `urn:lateview:problem:${l.body.problem.code}`)
          assert.is(l.body.original.subject, subject)
          if (l.body.problem.code === 'LV_ERR_EVENTS_INVALID') assert.is((l.body.problem.errors as Array<{ index: number }>)[0]?.index, 0)
        }
        const missing = letters.find((l) => String(l.body.original.payload).includes('"a-nosource"'))
        assert.equal(missing?.body.problem.errors, [{ index: 0, id: 'a-nosource', code: 'LV_EVENT_FIELD_MISSING', field: 'source', message: 'source is required' }])
        // Acknowledgements are sent without waiting: the consumer holds nothing once they arrive.
        await waitFor('every message acknowledged', async () => (await consumerPending(nc, config)).unacknowledged === 0)
        assert.equal(await consumerPending(nc, config), { undelivered: 0, unacknowledged: 0 })
      })
    } finally {
      await lateview.close()
      await factory.cleanup()
    }
  })

  test(`${factory.name}: CloudEvents in structured and binary mode are the same event`, async () => {
    const lateview = await Lateview.fromEngine(await factory.open(), VIEWS, new ManualClock(NOW))
    const config = testNatsConfig()
    try {
      await withConsumer(lateview, config, async ({ nc, start, t }) => {
        const subject = eventSubject(config)
        const e = streamEvent(42, 'ce')
        const structured = { specversion: '1.0', id: e.id, source: e.source, type: e.type, time: e.occurredAt, datacontenttype: 'application/json', data: e.data }
        const binary = natsHeaders()
        binary.set('ce-specversion', '1.0')
        binary.set('ce-id', e.id)
        binary.set('ce-source', e.source)
        binary.set('ce-type', e.type)
        binary.set('ce-time', e.occurredAt)
        binary.set('content-type', 'application/json')
        // Another event in binary mode only, and one whose binary data is not JSON.
        const other = streamEvent(43, 'ce')
        const binaryOnly = natsHeaders()
        for (const [k, v] of Object.entries({ 'ce-specversion': '1.0', 'ce-id': other.id, 'ce-source': other.source, 'ce-type': other.type, 'ce-time': other.occurredAt })) binaryOnly.set(k, v)
        const notJson = natsHeaders()
        for (const [k, v] of Object.entries({ 'ce-specversion': '1.0', 'ce-id': 'ce-text', 'ce-source': 'store-001', 'ce-type': 'sale', 'ce-time': other.occurredAt, 'content-type': 'text/plain' }))
          notJson.set(k, v)
        await publishRaw(nc, [
          { subject, data: JSON.stringify(structured) },
          { subject, data: JSON.stringify(e.data), headers: binary },
          { subject, data: JSON.stringify(other.data), headers: binaryOnly },
          { subject, data: 'hello', headers: notJson },
        ])
        start()
        await waitFor('four messages handled', async () => t.ingested + t.duplicates + t.deadLettered === 4)
        assert.equal([t.ingested, t.duplicates, t.deadLettered], [2, 1, 1])
        const stored = await lateview.event(e.source, e.id)
        assert.equal(stored?.event.data, e.data)
        assert.is(stored?.event.type, 'sale')
        assert.is(stored?.event.occurredAt, Date.parse(e.occurredAt))
        assert.equal((await lateview.event(other.source, other.id))?.event.data, other.data)
        assert.equal(await realtimeCells(lateview), oracle([e, other]))
        const [letter] = await deadLetters(nc, config)
        assert.is(letter?.code, 'LV_ERR_EVENTS_INVALID')
        assert.equal(letter?.body.problem.errors, [
          { index: 0, id: 'ce-text', code: 'LV_EVENT_DATA_NOT_JSON', field: 'data', message: 'the data is text/plain, not JSON: lateview keeps a JSON object as data' },
        ])
        assert.is(letter?.body.original.payload, 'hello')
        assert.is(((letter?.body.original.headers ?? {}) as Record<string, string[]>)['ce-id']?.[0], 'ce-text')
      })
    } finally {
      await lateview.close()
      await factory.cleanup()
    }
  })
}

/** Holds SQLite's write lock from another connection, as a second writer process would. */
function lockSqlite(file: string): () => void {
  const other = new BetterSqlite3(file)
  other.exec('begin immediate')
  return () => {
    other.exec('rollback')
    other.close()
  }
}

for (const factory of factories) {
  test(`${factory.name}: the store unavailable for a moment: batches left unacknowledged, backoff, then resumed and exact`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lateview-consumer-'))
    const proxy = new CuttableProxy()
    let schema: string | null = null
    let location: string
    if (factory.name === 'sqlite') location = join(dir, 'store.db')
    else {
      await proxy.start()
      schema = `lvt_${process.pid}_${Date.now().toString(36)}_broker`
      const url = new URL(TEST_PG_URL)
      url.port = String(proxy.port)
      url.searchParams.set('schema', schema)
      location = url.toString()
    }
    const lateview = await Lateview.fromEngine(await openEngine(location), VIEWS, new ManualClock(NOW))
    const config = testNatsConfig({ batch: 500 })
    try {
      const { messages, events } = brokerStream(4000, { resentShare: 0.01, invalid: false, prefix: 'd' })
      await withConsumer(lateview, config, async ({ nc, start, t }) => {
        const subject = eventSubject(config)
        const half = messages.slice(0, 2000)
        await publishRaw(
          nc,
          half.map((m) => ({ subject, data: m.text })),
        )
        start({ backoff: { initialMs: 100, maxMs: 800 } })
        await waitFor('the first half handled', async () => t.ingested + t.duplicates === half.length)
        await waitFor('the first half acknowledged', async () => (await consumerPending(nc, config)).unacknowledged === 0)
        // The store goes away: SQLite locked by another writer, PostgreSQL's connections cut.
        let release: () => void = () => void proxy.start()
        if (factory.name === 'sqlite') release = lockSqlite(location)
        else await proxy.cut()
        const before = t.ingested
        await publishRaw(
          nc,
          messages.slice(2000).map((m) => ({ subject, data: m.text })),
        )
        await waitFor('two failed batches', async () => t.failures.length >= 2, 60_000, 20)
        assert.is(t.ingested, before)
        const pending = await consumerPending(nc, config)
        assert.is(pending.undelivered + pending.unacknowledged, messages.length - half.length, 'nothing of the second half is acknowledged')
        assert.ok(t.retried > 0)
        assert.ok(
          t.failures.every((c) => c === (factory.name === 'sqlite' ? 'LV_ERR_STORE_BUSY' : 'LV_ERR_STORE_UNAVAILABLE')),
          t.failures.join(),
        )
        release()
        await waitFor('every message handled', async () => t.ingested + t.duplicates >= messages.length && (await consumerPending(nc, config)).unacknowledged === 0, 120_000)
        assert.is(t.ingested, events.length)
        assert.equal(await realtimeCells(lateview), oracle(events))
        assert.is(await storedEvents(lateview), events.length)
        assert.equal(await consumerPending(nc, config), { undelivered: 0, unacknowledged: 0 })
      })
    } finally {
      await lateview.close()
      await proxy.cut()
      if (schema) await dropSchemas([schema])
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test.run()
