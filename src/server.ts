import type { FastifyInstance } from 'fastify'
import { buildApp } from './api/app.js'
import { Metrics } from './api/metrics.js'
import type { LateviewConfig } from './config.js'
import { systemClock, type Clock } from './domain/clock.js'
import { startScheduler, type Scheduler } from './scheduler.js'
import { NatsSource } from './broker/nats.js'
import { EventConsumer } from './services/consumer.js'
import { Lateview } from './services/lateview.js'
import { WebhookDispatcher } from './services/webhooks.js'
import { loadViewFiles } from './services/view-files.js'

export interface RunningServer {
  app: FastifyInstance
  lateview: Lateview
  address: string
  close(): Promise<void>
}

/** Wires configuration, store, services and the HTTP app, and listens. */
export async function startServer(config: Readonly<LateviewConfig>, clock: Clock = systemClock): Promise<RunningServer> {
  const views = loadViewFiles(config.viewsDir)
  const lateview = await Lateview.open({ db: config.db, readDb: config.readDb, readWaitMs: config.readWaitMs, views, clock, limits: config.eventLimits })
  let app: FastifyInstance
  const metrics = new Metrics(true)
  // Webhook delivery runs in every server process, whatever LATEVIEW_SCHEDULER says.
  const dispatcher = new WebhookDispatcher(lateview.engine, {
    backoff: config.webhookBackoff,
    timeoutMs: config.webhookTimeoutMs,
    clock: systemClock,
    log: (message, fields) => app?.log.warn(fields ?? {}, message),
    onAttempt: (outcome) => metrics.deliveryAttempt(outcome),
  })
  lateview.onAlerts(() => dispatcher.wake())
  let source: NatsSource | null = null
  let consumer: EventConsumer | null = null
  try {
    // With LATEVIEW_NATS_URL, this process also consumes from the broker (started once listening).
    if (config.nats) {
      const log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => app?.log[level](fields ?? {}, message)
      source = await NatsSource.open(config.nats, log)
      const natsSource = source
      consumer = new EventConsumer(lateview, source, { batch: config.nats.batch, log, onBatch: (outcome) => metrics.recordBatch(outcome) })
      metrics.brokerPendingSource = () => natsSource.pending()
    }
    app = await buildApp(config, { lateview, metrics, dispatcher, ...(consumer ? { broker: consumer } : {}) })
    lateview.jobs.onLog((message, fields) => app.log.warn(fields ?? {}, message))
    lateview.reads.onFault((message) => app.log.warn(message))
    const address = await app.listen({ host: config.host, port: config.port })
    const redacted = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@')
    app.log.info({ db: redacted(config.db), ...(config.readDb ? { readDb: redacted(config.readDb) } : {}), engine: lateview.engine.kind, views: [...lateview.views.keys()] }, 'lateview is serving')
    dispatcher.start()
    if (consumer && config.nats) {
      consumer.start()
      app.log.info(
        { stream: config.nats.stream, subjects: config.nats.subjects, durable: config.nats.durable, deadLetter: config.nats.deadLetter, batch: config.nats.batch },
        'consuming from NATS JetStream',
      )
    }
    let scheduler: Scheduler | null = null
    if (config.scheduler) {
      // Runs missed while the server was down are published now, then cron takes over.
      const caughtUp = await lateview.jobs.catchUp()
      const published = caughtUp.filter((r) => r.outcome === 'published')
      if (caughtUp.length > 0) app.log.info({ runs: caughtUp.length, published: published.map((r) => `${r.job}:${r.view}:${r.period}#${r.revision}`) }, 'caught up on missed jobs')
      scheduler = startScheduler(lateview.jobs, lateview.programs, (message, fields) => app.log.info(fields ?? {}, message))
    }
    let closing: Promise<void> | null = null
    return {
      app,
      lateview,
      address,
      close() {
        // Stop consuming (the batch in hand is settled and acknowledged), stop taking requests,
        // let running ones finish, then close the store.
        closing ??= (consumer ? consumer.stop() : Promise.resolve())
          .then(() => source?.close())
          .then(() => (scheduler ? scheduler.stop() : undefined))
          .then(() => app.close())
          .then(() => dispatcher.stop())
          .then(() => lateview.close())
        return closing
      },
    }
  } catch (error) {
    await consumer?.stop()
    await source?.close()
    await dispatcher.stop()
    await lateview.close()
    throw error
  }
}
