import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { NatsSource, publishLines } from '../broker/nats.js'
import type { NatsConfig } from '../config.js'
import { EventConsumer, type BatchOutcome, type ConsumerLog } from '../services/consumer.js'
import type { Lateview } from '../services/lateview.js'
import { err, out, Progress } from './output.js'

/** How often `lateview consume` prints its totals while messages come. */
const REPORT_EVERY_MS = 10_000

/** A log line on stderr: `level message {fields}`. */
const stderrLog: ConsumerLog = (level, message, fields) => err(`${level} ${message}${fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}`)

/**
 * Consumes from NATS JetStream into the store until SIGINT or SIGTERM; the batch in hand is
 * settled (stored and acknowledged, or left for redelivery) before the process ends.
 */
export async function consume(lateview: Lateview, config: NatsConfig): Promise<number> {
  const source = await NatsSource.open(config, stderrLog)
  const totals = { batches: 0, ingested: 0, duplicates: 0, deadLettered: 0, retried: 0 }
  let reported = Date.now()
  const report = () =>
    out(`consumed ${totals.ingested} events, ${totals.duplicates} duplicates, ${totals.deadLettered} dead-lettered, ${totals.retried} left for redelivery in ${totals.batches} batches`)
  const consumer = new EventConsumer(lateview, source, {
    batch: config.batch,
    log: stderrLog,
    onBatch: (o: BatchOutcome) => {
      totals.batches++
      totals.ingested += o.ingested
      totals.duplicates += o.duplicates
      totals.deadLettered += o.deadLettered
      totals.retried += o.retried
      if (Date.now() - reported >= REPORT_EVERY_MS) {
        reported = Date.now()
        report()
      }
    },
  })
  consumer.start()
  out(`consuming stream ${config.stream} (${config.subjects.join(', ')}) as ${config.durable}, batches of up to ${config.batch}; dead letters to ${config.deadLetter}`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  await consumer.stop()
  await source.close()
  report()
  return 0
}

/** The subject `lateview publish` uses without --subject: the first stream subject, its wildcards made `default`. */
export function defaultSubject(config: NatsConfig): string {
  return (config.subjects[0] as string)
    .split('.')
    .map((t) => (t === '*' || t === '>' ? 'default' : t))
    .join('.')
}

/** Publishes an NDJSON file (or stdin), one message per line, with JetStream acks. */
export async function publishFile(config: NatsConfig, path: string, subject: string): Promise<number> {
  const input = path === '-' ? process.stdin : createReadStream(path)
  const lines = createInterface({ input, crlfDelay: Infinity })
  const progress = new Progress()
  const started = Date.now()
  const totals = await publishLines(config, subject, lines, { onProgress: (t) => progress.update(t.published, null, `${t.published} messages`) })
  progress.done()
  const seconds = (Date.now() - started) / 1000
  out(
    `published ${totals.published} messages to ${subject} (stream ${config.stream})${totals.duplicates > 0 ? `, ${totals.duplicates} dropped by the stream as re-sent` : ''} in ${seconds.toFixed(1)} s (${Math.round(totals.published / Math.max(seconds, 0.001))} messages/s)`,
  )
  return 0
}
