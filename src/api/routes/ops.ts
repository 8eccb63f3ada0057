import type { FastifyInstance } from 'fastify'
import { LateviewError } from '../../errors.js'
import type { BrokerStatus } from '../../services/consumer.js'
import type { Lateview } from '../../services/lateview.js'
import type { Metrics } from '../metrics.js'

export function opsRoutes(app: FastifyInstance, lateview: Lateview, metrics: Metrics, broker?: { status(): BrokerStatus }): void {
  app.get('/healthz', { config: { scope: null }, schema: { summary: 'The process is up', tags: ['operations'] } }, async () => ({ status: 'ok' }))

  app.get(
    '/readyz',
    {
      config: { scope: null },
      schema: {
        summary: "The store answers and takes writes, and the broker consumer (when on) is connected; with a read replica, the replica's state too (it does not decide readiness)",
        tags: ['operations'],
      },
    },
    async () => {
      await lateview.ready()
      const consumer = broker?.status()
      if (consumer && !consumer.connected) throw new LateviewError('LV_ERR_BROKER_UNAVAILABLE', `the consumer of stream ${consumer.stream} is not connected to NATS`, { broker: consumer })
      // A replica that is down or behind only sends reads to the primary: it is shown, not failed on.
      const replica = await lateview.replicaStatus()
      return { status: 'ready', engine: lateview.engine.kind, views: lateview.programs.length, ...(replica ? { replica } : {}), ...(consumer ? { broker: consumer } : {}) }
    },
  )

  app.get('/metrics', { config: { scope: 'read' }, schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
