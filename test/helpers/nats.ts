import { randomBytes } from 'node:crypto'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node'
import { deadLetterStream } from '../../src/broker/nats.js'
import type { NatsConfig } from '../../src/config.js'

/** The NATS server (with JetStream) the suites use; each test makes its own stream and subjects and deletes them after. */
export const TEST_NATS_URL = process.env.LATEVIEW_TEST_NATS ?? 'nats://127.0.0.1:4222'

/**
 * Whether NATS answers. Without it the broker tests are skipped with a warning, unless CI is set:
 * under CI an unreachable server is a failure (as PostgreSQL is in engines.ts).
 */
export async function natsReachable(): Promise<boolean> {
  try {
    const nc = await connect({ servers: TEST_NATS_URL, timeout: 3000, reconnect: false })
    await (await jetstreamManager(nc)).getAccountInfo()
    await nc.close()
    return true
  } catch (error) {
    if (process.env.CI) throw new Error(`NATS with JetStream at ${TEST_NATS_URL} is required under CI: ${(error as Error).message}`)
    console.warn(`! NATS with JetStream at ${TEST_NATS_URL} is not reachable: skipping the broker tests`)
    return false
  }
}

/** A stream, subjects, consumer and dead-letter subject of a test's own. */
export function testNatsConfig(overrides: Partial<NatsConfig> = {}): NatsConfig {
  const tag = `t${process.pid}_${randomBytes(4).toString('hex')}`
  return {
    url: TEST_NATS_URL,
    stream: `LVT_${tag}`,
    subjects: [`lvt.${tag}.events.>`],
    durable: `lateview_${tag}`,
    deadLetter: `lvt.${tag}.dead`,
    batch: 1000,
    create: true,
    ackWaitMs: 30_000,
    ...overrides,
  }
}

/** The `LATEVIEW_NATS_*` variables of a configuration, for child processes. */
export function natsEnv(config: NatsConfig): Record<string, string> {
  return {
    LATEVIEW_NATS_URL: config.url,
    LATEVIEW_NATS_STREAM: config.stream,
    LATEVIEW_NATS_SUBJECTS: config.subjects.join(','),
    LATEVIEW_NATS_DURABLE: config.durable,
    LATEVIEW_NATS_DEAD_LETTER: config.deadLetter,
    LATEVIEW_NATS_BATCH: String(config.batch),
    LATEVIEW_NATS_ACK_WAIT: `${Math.round(config.ackWaitMs / 1000)}s`,
  }
}

/** An event subject of the configuration's stream. */
export const eventSubject = (config: NatsConfig, leaf = 'test') => (config.subjects[0] as string).replace('>', leaf)

/** A connection for the test's own publishing and inspection. */
export function testConnection(): Promise<NatsConnection> {
  return connect({ servers: TEST_NATS_URL })
}

/** Publishes raw messages with JetStream acks (no Nats-Msg-Id: re-sent ones reach the consumer), `window` in flight. */
export async function publishRaw(nc: NatsConnection, messages: Iterable<{ subject: string; data: string | Uint8Array; headers?: MsgHdrs }>, window = 1000): Promise<number> {
  // Long timeouts: a SQLite store locked by another writer blocks the test's process too (the driver is synchronous).
  const js = jetstream(nc, { timeout: 60_000 })
  let inFlight: Array<Promise<unknown>> = []
  let n = 0
  for (const m of messages) {
    inFlight.push(js.publish(m.subject, m.data, m.headers ? { headers: m.headers } : {}))
    n++
    if (inFlight.length >= window) {
      await Promise.all(inFlight)
      inFlight = []
    }
  }
  await Promise.all(inFlight)
  return n
}

/** The consumer's messages not delivered yet and not acknowledged yet. */
export async function consumerPending(nc: NatsConnection, config: NatsConfig): Promise<{ undelivered: number; unacknowledged: number }> {
  const info = await (await jetstreamManager(nc, { timeout: 60_000 })).consumers.info(config.stream, config.durable)
  return { undelivered: info.num_pending, unacknowledged: info.num_ack_pending }
}

/** Every dead letter kept so far, parsed, with its headers. */
export async function deadLetters(nc: NatsConnection, config: NatsConfig): Promise<Array<{ body: { problem: Record<string, unknown>; original: Record<string, unknown> }; code: string | undefined }>> {
  const jsm = await jetstreamManager(nc)
  const stream = deadLetterStream(config.stream)
  const info = await jsm.streams.info(stream)
  const letters = []
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq })
    if (!m) continue
    letters.push({ body: JSON.parse(new TextDecoder().decode(m.data)), code: m.header?.get('Lateview-Problem-Code') })
  }
  return letters
}

/** Deletes the configuration's streams (and so its consumer). */
export async function deleteStreams(config: NatsConfig): Promise<void> {
  const nc = await testConnection()
  try {
    const jsm = await jetstreamManager(nc)
    for (const name of [config.stream, deadLetterStream(config.stream)]) await jsm.streams.delete(name).catch(() => false)
  } finally {
    await nc.close()
  }
}

/** Resolves once `check` is true, polling; rejects with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 100): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
