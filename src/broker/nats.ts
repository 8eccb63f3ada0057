import { createHash } from 'node:crypto'
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream'
import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node'
import type { NatsConfig } from '../config.js'
import type { MessageHeaders } from '../domain/message.js'
import { LateviewError } from '../errors.js'
import type { BrokerMessage, BrokerStatus, DeadLetter, MessageSource } from '../services/consumer.js'

/**
 * NATS JetStream behind the consumer's `MessageSource`, and the publisher of `lateview publish`.
 * The only module that knows the NATS client: the stream, the dead-letter stream and the durable
 * pull consumer are created here when missing, messages are fetched in batches and adapted.
 */

const NANOS_PER_MS = 1_000_000
/** How long a fetch waits for more than one message; and for the first one when nothing is pending. */
const FETCH_WAIT_MS = 1000
const IDLE_WAIT_MS = 5000
/** Unacknowledged messages the consumer lets out at once, over every process sharing it. */
const MAX_ACK_PENDING = 100_000

export type BrokerLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void

/** The dead-letter stream made when none holds the dead-letter subject. */
export const deadLetterStream = (stream: string) => `${stream}_DEAD`

/** Opens a connection that reconnects for ever (a broker restart must not end the process). */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url.split(',').map((s) => s.trim()), name, maxReconnectAttempts: -1, reconnectTimeWait: 500 })
  } catch (error) {
    throw new LateviewError('LV_ERR_BROKER_UNAVAILABLE', `NATS at ${url} cannot be reached: ${(error as Error).message}`)
  }
}

const notFound = (error: unknown, code: number) => error instanceof JetStreamApiError && error.code === code

/** Creates the stream when missing (if allowed); a stream that exists is left as it is. */
async function ensureStream(jsm: JetStreamManager, name: string, subjects: readonly string[], create: boolean): Promise<void> {
  try {
    await jsm.streams.info(name)
    return
  } catch (error) {
    if (!notFound(error, JetStreamApiCodes.StreamNotFound)) throw error
  }
  if (!create) throw new LateviewError('LV_ERR_CONFIG_INVALID', `NATS stream ${name} does not exist and LATEVIEW_NATS_CREATE is off`, { variable: 'LATEVIEW_NATS_STREAM' })
  try {
    await jsm.streams.add({ name, subjects: [...subjects], storage: StorageType.File, duplicate_window: 2 * 60 * 1000 * NANOS_PER_MS })
  } catch (error) {
    // Another process created it meanwhile.
    await jsm.streams.info(name).catch(() => {
      throw error
    })
  }
}

/** Whether some stream holds the subject. */
async function streamOf(jsm: JetStreamManager, subject: string): Promise<string | null> {
  try {
    return await jsm.streams.find(subject)
  } catch {
    return null
  }
}

/** The durable pull consumer with explicit acks, created when missing (if allowed). */
async function ensureConsumer(jsm: JetStreamManager, config: NatsConfig, streamSubjects: readonly string[]): Promise<void> {
  try {
    await jsm.consumers.info(config.stream, config.durable)
    return
  } catch (error) {
    if (!notFound(error, JetStreamApiCodes.ConsumerNotFound)) throw error
  }
  if (!config.create)
    throw new LateviewError('LV_ERR_CONFIG_INVALID', `NATS consumer ${config.durable} of stream ${config.stream} does not exist and LATEVIEW_NATS_CREATE is off`, { variable: 'LATEVIEW_NATS_DURABLE' })
  // A stream made for other subjects too is filtered to ours (one subject: what servers before 2.10 allow).
  const same = streamSubjects.length === config.subjects.length && streamSubjects.every((s) => config.subjects.includes(s))
  const filter = same ? {} : config.subjects.length === 1 ? { filter_subject: config.subjects[0] as string } : { filter_subjects: [...config.subjects] }
  try {
    await jsm.consumers.add(config.stream, {
      durable_name: config.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: config.ackWaitMs * NANOS_PER_MS,
      max_ack_pending: MAX_ACK_PENDING,
      ...filter,
    })
  } catch (error) {
    await jsm.consumers.info(config.stream, config.durable).catch(() => {
      throw error
    })
  }
}

/** Prepares the stream, the dead-letter stream and the consumer; returns whether dead letters are kept by a stream. */
export async function ensureTopology(nc: NatsConnection, config: NatsConfig): Promise<{ deadLetterStream: string | null }> {
  const jsm = await jetstreamManager(nc)
  await ensureStream(jsm, config.stream, config.subjects, config.create)
  const info = await jsm.streams.info(config.stream)
  let dead = await streamOf(jsm, config.deadLetter)
  if (dead === null && config.create) {
    await ensureStream(jsm, deadLetterStream(config.stream), [config.deadLetter], true)
    dead = deadLetterStream(config.stream)
  }
  await ensureConsumer(jsm, config, info.config.subjects ?? [])
  return { deadLetterStream: dead }
}

/** Header names in lower case with their values. */
function headersOf(h: MsgHdrs | undefined): MessageHeaders | null {
  if (!h) return null
  const map = new Map<string, string[]>()
  for (const [name, values] of h) map.set(name.toLowerCase(), [...(map.get(name.toLowerCase()) ?? []), ...values])
  return map
}

function adapt(m: JsMsg): BrokerMessage {
  return {
    subject: m.subject,
    body: m.data,
    headers: headersOf(m.headers),
    streamSeq: m.seq,
    deliveries: m.info.deliveryCount,
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    // Without a reason: servers before 2.10 do not read `+TERM <reason>` and leave the message pending.
    term: () => m.term(),
  }
}

/** Pending messages of the consumer: not yet delivered, and delivered but not acknowledged. */
export interface ConsumerPending {
  undelivered: number
  unacknowledged: number
}

/** The consumer's side of NATS: fetches batches, dead-letters, reports its connection. */
export class NatsSource implements MessageSource {
  #connected = true
  #closed = false
  #fetching: ConsumerMessages | null = null
  /** Messages of the consumer not delivered yet, as the last message said: sizes the next fetch. */
  #pendingHint: number

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly consumer: Consumer,
    readonly config: NatsConfig,
    readonly deadLetterKept: boolean,
    log: BrokerLog,
  ) {
    this.#pendingHint = config.batch
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.#connected = false
          log('warn', 'disconnected from NATS; reconnecting', { server: s.server })
        } else if (s.type === 'reconnect') {
          this.#connected = true
          log('info', 'reconnected to NATS', { server: s.server })
        }
      }
    })().catch(() => undefined)
    void nc.closed().then(() => {
      this.#connected = false
      this.#closed = true
    })
  }

  /** Connects, prepares the stream and the consumer, and binds to it. */
  static async open(config: NatsConfig, log: BrokerLog): Promise<NatsSource> {
    const nc = await connectNats(config.url, `lateview consumer ${config.durable}`)
    try {
      const { deadLetterStream: dead } = await ensureTopology(nc, config)
      if (dead === null) log('warn', `no stream holds the dead-letter subject ${config.deadLetter}: dead letters are published without being kept`)
      const js = jetstream(nc)
      const consumer = await js.consumers.get(config.stream, config.durable)
      return new NatsSource(nc, js, consumer, config, dead !== null, log)
    } catch (error) {
      await nc.close()
      throw error
    }
  }

  async fetch(max: number): Promise<BrokerMessage[]> {
    if (this.#closed) throw new LateviewError('LV_ERR_BROKER_UNAVAILABLE', 'the NATS connection is closed')
    // As many as are pending (up to max): a fetch ends as soon as it has them. With nothing
    // pending, one message is waited for, so that the first to come is taken at once.
    const n = Math.max(1, Math.min(max, this.#pendingHint))
    const iterator = await this.consumer.fetch({ max_messages: n, expires: n === 1 ? IDLE_WAIT_MS : FETCH_WAIT_MS })
    this.#fetching = iterator
    const out: BrokerMessage[] = []
    let last: JsMsg | null = null
    try {
      for await (const m of iterator) {
        out.push(adapt(m))
        last = m
      }
    } finally {
      this.#fetching = null
    }
    this.#pendingHint = last === null ? 0 : last.info.pending
    return out
  }

  async deadLetter({ problem, message }: DeadLetter): Promise<void> {
    const h = natsHeaders()
    h.set('Content-Type', 'application/json')
    h.set('Lateview-Problem-Code', problem.code)
    const letter = JSON.stringify({ problem, original: originalOf(message) })
    if (this.deadLetterKept) await this.js.publish(this.config.deadLetter, letter, { headers: h, msgID: `${this.config.stream}:${message.streamSeq}` })
    else this.nc.publish(this.config.deadLetter, letter, { headers: h })
  }

  interrupt(): void {
    this.#fetching?.stop()
  }

  status(): BrokerStatus {
    return { connected: this.#connected && !this.#closed, stream: this.config.stream, durable: this.config.durable }
  }

  /** The consumer's pending messages, from its info. */
  async pending(): Promise<ConsumerPending> {
    const info = await this.consumer.info(false)
    return { undelivered: info.num_pending, unacknowledged: info.num_ack_pending }
  }

  /** Sends what is buffered (acknowledgements among it) and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.nc.drain().catch(() => this.nc.close())
  }
}

/** A refused message as its dead letter carries it: subject, stream position, headers and payload. */
export function originalOf(message: BrokerMessage): Record<string, unknown> {
  let payload: Record<string, string>
  try {
    payload = { payload: new TextDecoder('utf-8', { fatal: true }).decode(message.body) }
  } catch {
    payload = { payloadBase64: Buffer.from(message.body).toString('base64') }
  }
  return {
    subject: message.subject,
    streamSeq: message.streamSeq,
    deliveries: message.deliveries,
    headers: message.headers ? Object.fromEntries(message.headers) : {},
    ...payload,
  }
}

/** `Nats-Msg-Id` of an event: the stream drops a re-sent (source, id) within its duplicate window. */
export function messageId(source: string, id: string): string {
  return createHash('sha256')
    .update(JSON.stringify([source, id]))
    .digest('hex')
    .slice(0, 40)
}

/** How `lateview publish` went. */
export interface PublishTotals {
  published: number
  /** Messages the stream recognised as re-sent within its duplicate window (`Nats-Msg-Id`). */
  duplicates: number
}

/**
 * Publishes lines (one message each, sent as they are) to the stream with JetStream acks,
 * `window` at a time in flight. A line that holds an event's `source` and `id` gets a
 * `Nats-Msg-Id` from them; anything else is published too, for the consumer to refuse.
 */
export async function publishLines(
  config: NatsConfig,
  subject: string,
  lines: AsyncIterable<string>,
  options: { window?: number; onProgress?: (totals: PublishTotals) => void } = {},
): Promise<PublishTotals> {
  const nc = await connectNats(config.url, 'lateview publish')
  const totals: PublishTotals = { published: 0, duplicates: 0 }
  try {
    const jsm = await jetstreamManager(nc)
    await ensureStream(jsm, config.stream, config.subjects, config.create)
    const js = jetstream(nc)
    const window = options.window ?? 512
    let inFlight: Array<Promise<{ duplicate: boolean }>> = []
    const settle = async () => {
      for (const ack of await Promise.all(inFlight)) {
        totals.published++
        if (ack.duplicate) totals.duplicates++
      }
      inFlight = []
      options.onProgress?.(totals)
    }
    for await (const line of lines) {
      const text = line.trim()
      if (text.length === 0) continue
      const key = keyOf(text)
      inFlight.push(js.publish(subject, text, key ? { msgID: messageId(key.source, key.id) } : {}))
      if (inFlight.length >= window) await settle()
    }
    await settle()
    return totals
  } finally {
    await nc.drain().catch(() => nc.close())
  }
}

/** The (source, id) of a line holding an event or a CloudEvent; null otherwise. */
function keyOf(text: string): { source: string; id: string } | null {
  try {
    const v = JSON.parse(text) as { source?: unknown; id?: unknown }
    return typeof v === 'object' && v !== null && typeof v.source === 'string' && typeof v.id === 'string' ? { source: v.source, id: v.id } : null
  } catch {
    return null
  }
}
