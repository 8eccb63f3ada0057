import { checkBatch, invalid } from '../domain/ingest.js'
import { messageItem, type MessageHeaders, type MessageItem } from '../domain/message.js'
import { NotJson } from '../domain/event.js'
import { type EventProblem, LateviewError, type Problem, problemOf } from '../errors.js'
import type { Lateview } from './lateview.js'

/**
 * Broker ingestion: batches of messages from a durable consumer go through the same atomic,
 * idempotent ingest as HTTP, and are acknowledged only after the commit. A message that cannot be
 * an event (invalid, or a conflict by (source, id)) is split out of its batch, sent to the
 * dead-letter subject with its problem document and terminated; a store that cannot take the
 * batch leaves every message unacknowledged (asked again after a delay) and the loop backs off.
 * The broker itself is behind `MessageSource` (broker/nats.ts for NATS JetStream).
 */

/** One delivered message, as the consumer handles it. */
export interface BrokerMessage {
  readonly subject: string
  readonly body: Uint8Array
  /** Header names in lower case; null when the message has none. */
  readonly headers: MessageHeaders | null
  /** Its position in the stream. */
  readonly streamSeq: number
  /** How many times it was delivered, this time included. */
  readonly deliveries: number
  ack(): void
  /** Asks for it again after `delayMs`. */
  nak(delayMs: number): void
  /** Never delivers it again (its problem is in the dead letter and the log). */
  term(): void
}

/** What a refused message is published as on the dead-letter subject. */
export interface DeadLetter {
  problem: Problem
  message: BrokerMessage
}

/** Where messages come from: one durable consumer of a stream. */
export interface MessageSource {
  /** Up to `max` messages, or what arrives within a short wait (possibly none). */
  fetch(max: number): Promise<BrokerMessage[]>
  /** Publishes a refused message with its problem, resolving once the broker holds it. */
  deadLetter(letter: DeadLetter): Promise<void>
  /** Ends a waiting `fetch` early (it resolves with what it has). */
  interrupt(): void
  /** What `/readyz` shows: whether the connection is up, and what is consumed. */
  status(): BrokerStatus
}

export interface BrokerStatus {
  connected: boolean
  stream: string
  durable: string
}

/** What one batch came to, for metrics and logs. */
export interface BatchOutcome {
  messages: number
  /** Events stored by this batch. */
  ingested: number
  /** Messages whose event the store held already (a redelivery, a re-sent event). */
  duplicates: number
  /** Messages refused, published to the dead-letter subject and terminated. */
  deadLettered: number
  /** Messages left unacknowledged and asked again later (the store could not take them). */
  retried: number
  ms: number
  /** Why the batch was not stored, when the store (not an event) was the cause. */
  failure: LateviewError | null
}

export type ConsumerLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void

export interface ConsumerOptions {
  /** Most messages per ingest batch (LATEVIEW_NATS_BATCH). */
  batch: number
  /** The first delay after a failed batch, doubled after each further one up to `maxMs`. */
  backoff?: { initialMs: number; maxMs: number }
  log?: ConsumerLog
  onBatch?: (outcome: BatchOutcome) => void
}

export const DEFAULT_BACKOFF = Object.freeze({ initialMs: 250, maxMs: 15_000 })

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A message read as an ingest item. */
function decode(message: BrokerMessage): MessageItem {
  let text: string
  try {
    text = utf8.decode(message.body)
  } catch {
    return { item: new NotJson('the message is not UTF-8 text'), exact: true }
  }
  return messageItem(text, message.headers)
}

/** The problem of one item of a batch, as if it had been posted alone (index 0). */
function alone(error: LateviewError, problems?: EventProblem[]): LateviewError {
  if (error.code === 'LV_ERR_EVENTS_INVALID') return invalid((problems ?? []).map((p) => ({ ...p, index: 0 })))
  return new LateviewError(error.code, error.message, { ...error.details, ...('index' in error.details ? { index: 0 } : {}) })
}

/** Whether an ingest error is the events' doing (4xx: refuse them) rather than the store's (retry). */
const eventsAtFault = (error: unknown): error is LateviewError => error instanceof LateviewError && error.status < 500

/** The delay after `failures` failed batches in a row. */
export function backoffDelay(failures: number, backoff: { initialMs: number; maxMs: number }): number {
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1))
}

/** Consumes messages into a Lateview's store until stopped. */
export class EventConsumer {
  readonly #backoff: { initialMs: number; maxMs: number }
  readonly #log: ConsumerLog
  #running: Promise<void> | null = null
  #stopped = false
  #failures = 0
  #wake: (() => void) | null = null

  constructor(
    readonly lateview: Lateview,
    readonly source: MessageSource,
    readonly options: ConsumerOptions,
  ) {
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF
    this.#log = options.log ?? (() => undefined)
  }

  /** Starts the loop (once). */
  start(): void {
    this.#running ??= this.#loop()
  }

  /** Stops taking messages and waits for the batch in hand to be settled. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.source.interrupt()
    this.#wake?.()
    await this.#running
  }

  /** What `/readyz` reports. */
  status(): BrokerStatus {
    return this.source.status()
  }

  async #loop(): Promise<void> {
    // The next batch is asked for while one is handled, so that the broker sends it meanwhile.
    let ahead: Promise<BrokerMessage[]> | null = null
    while (!this.#stopped) {
      let messages: BrokerMessage[]
      try {
        messages = await (ahead ?? this.source.fetch(this.options.batch))
        ahead = null
      } catch (error) {
        ahead = null
        // The broker is away: the client reconnects by itself; ask again after a growing delay.
        this.#failures++
        const delay = backoffDelay(this.#failures, this.#backoff)
        this.#log('warn', 'fetching from the broker failed; backing off', { error: (error as Error).message, delayMs: delay })
        await this.#sleep(delay)
        continue
      }
      if (messages.length === 0) continue
      // Not after a failure: the loop waits before it asks again.
      if (this.#failures === 0 && !this.#stopped) {
        ahead = this.source.fetch(this.options.batch)
        ahead.catch(() => undefined)
      }
      const outcome = await this.handle(messages)
      this.options.onBatch?.(outcome)
      if (outcome.failure) {
        this.#failures++
        const delay = backoffDelay(this.#failures, this.#backoff)
        this.#log('warn', 'the store did not take the batch: left unacknowledged, backing off', {
          code: outcome.failure.code,
          error: outcome.failure.message,
          messages: outcome.retried,
          delayMs: delay,
        })
        await this.#sleep(delay)
      } else {
        if (this.#failures > 0) this.#log('info', 'the store takes batches again', { after: this.#failures })
        this.#failures = 0
      }
    }
    // Stopped with a batch fetched ahead: handed back at once, for this or another process.
    if (ahead !== null) {
      const left = await ahead.catch(() => [] as BrokerMessage[])
      for (const m of left) m.nak(0)
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
  }

  /**
   * Handles one batch: refuses the messages that are no event, ingests the others as one atomic
   * batch, then acknowledges them (after the commit) and dead-letters the refused ones. When
   * the store cannot take the batch, every message not refused is asked again after the
   * current backoff delay, and nothing is acknowledged.
   */
  async handle(messages: BrokerMessage[]): Promise<BatchOutcome> {
    const started = performance.now()
    const decoded = messages.map(decode)
    const inexactNumbers = decoded.some((d) => !d.exact)
    const refused = new Map<number, LateviewError>()
    let live = messages.map((_, i) => i)
    const refuse = (positions: Iterable<number>, why: (position: number) => LateviewError) => {
      const out = new Set<number>()
      for (const p of positions) {
        const at = live[p]
        if (at === undefined || refused.has(at)) continue
        refused.set(at, why(p))
        out.add(at)
      }
      live = live.filter((i) => !out.has(i))
    }
    const rules = { imported: false, limits: this.lateview.limits, inexactNumbers, now: this.lateview.clock.now() }
    // Each message is checked first with the domain's own rules, so that one bad message is split
    // out of the batch instead of refusing the whole batch, as HTTP would.
    this.#splitOut(
      decoded,
      () => live,
      refuse,
      (items) => checkBatch(this.lateview.programs, items, rules),
    )

    let ingested = 0
    let duplicates = 0
    let failure: LateviewError | null = null
    const stored = new Set<number>()
    const ingestLive = async (positions: number[]): Promise<void> => {
      const result = await this.lateview.ingest(
        positions.map((i) => (decoded[i] as MessageItem).item),
        { inexactNumbers },
      )
      ingested += result.accepted
      duplicates += result.duplicates
      for (const i of positions) stored.add(i)
    }
    // What only the store can tell (a conflict with a stored event, a retraction of an unknown
    // one) refuses the batch whole: the culprits are split out and the rest sent again.
    for (let round = 0; live.length > 0; round++) {
      try {
        await ingestLive(live)
        break
      } catch (error) {
        if (!eventsAtFault(error)) {
          failure = this.#storeFailure(error)
          break
        }
        const before = live.length
        if (round < 8) this.#refuseNamed(error, refuse)
        if (live.length === before) {
          // Refused for a reason no single event is named for: one by one finds the culprits.
          failure = await this.#oneByOne([...live], ingestLive, (i, e) => refuse([live.indexOf(i)], () => alone(e, (e.details.errors as EventProblem[] | undefined) ?? [])))
          live = live.filter((i) => !stored.has(i))
          break
        }
      }
    }

    const retried = failure ? live.filter((i) => !stored.has(i)) : []
    const delay = failure ? backoffDelay(this.#failures + 1, this.#backoff) : 0
    for (const i of stored) (messages[i] as BrokerMessage).ack()
    for (const i of retried) (messages[i] as BrokerMessage).nak(delay)
    const deadLettered = await this.#deadLetter(messages, refused, delay)
    return { messages: messages.length, ingested, duplicates, deadLettered, retried: retried.length + (refused.size - deadLettered), ms: performance.now() - started, failure }
  }

  /** Runs the domain's batch check, refusing the items it names, until it passes. */
  #splitOut(decoded: MessageItem[], live: () => number[], refuse: (positions: Iterable<number>, why: (position: number) => LateviewError) => void, check: (items: unknown[]) => unknown): void {
    for (;;) {
      const positions = live()
      if (positions.length === 0) return
      try {
        check(positions.map((i) => (decoded[i] as MessageItem).item))
        return
      } catch (error) {
        if (!(error instanceof LateviewError)) throw error
        const before = positions.length
        this.#refuseNamed(error, refuse)
        // A check that names no item would loop: what is left goes to ingest, which decides.
        if (live().length === before) return
      }
    }
  }

  /** Refuses the items an ingest error names: every invalid one, or the conflicting one. */
  #refuseNamed(error: LateviewError, refuse: (positions: Iterable<number>, why: (position: number) => LateviewError) => void): void {
    if (error.code === 'LV_ERR_EVENTS_INVALID') {
      const problems = (error.details.errors as EventProblem[] | undefined) ?? []
      const byIndex = new Map<number, EventProblem[]>()
      for (const p of problems) byIndex.set(p.index, [...(byIndex.get(p.index) ?? []), p])
      refuse(byIndex.keys(), (p) => alone(error, byIndex.get(p)))
    } else if (error.code === 'LV_ERR_EVENT_CONFLICT' && typeof error.details.index === 'number') {
      refuse([error.details.index], () => alone(error))
    }
  }

  /** Ingests messages one at a time, refusing those the store refuses; the store's failure, if any stops it. */
  async #oneByOne(positions: number[], ingestLive: (positions: number[]) => Promise<void>, refuseOne: (position: number, error: LateviewError) => void): Promise<LateviewError | null> {
    for (const i of positions) {
      try {
        await ingestLive([i])
      } catch (error) {
        if (!eventsAtFault(error)) return this.#storeFailure(error)
        refuseOne(i, error)
      }
    }
    return null
  }

  #storeFailure(error: unknown): LateviewError {
    if (error instanceof LateviewError) return error
    this.#log('error', 'ingest of a broker batch failed unexpectedly', { error: (error as Error).stack ?? String(error) })
    return new LateviewError('LV_ERR_INTERNAL', (error as Error).message)
  }

  /** Publishes each refused message with its problem, then terminates it; one the broker did not take is asked again. */
  async #deadLetter(messages: BrokerMessage[], refused: Map<number, LateviewError>, delay: number): Promise<number> {
    if (refused.size === 0) return 0
    const results = await Promise.allSettled(
      [...refused].map(async ([i, error]) => {
        const message = messages[i] as BrokerMessage
        await this.source.deadLetter({ problem: problemOf(error), message })
        message.term()
        this.#log('warn', 'message refused: sent to the dead-letter subject', { subject: message.subject, streamSeq: message.streamSeq, code: error.code, detail: error.message })
      }),
    )
    let done = 0
    results.forEach((r, k) => {
      if (r.status === 'fulfilled') done++
      else {
        const i = [...refused.keys()][k] as number
        ;(messages[i] as BrokerMessage).nak(Math.max(delay, this.#backoff.initialMs))
        this.#log('warn', 'publishing a dead letter failed: the message will be delivered again', { error: (r.reason as Error).message })
      }
    })
    return done
  }
}
