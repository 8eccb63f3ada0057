import type { FastifyInstance } from 'fastify'
import { LateviewError } from '../../errors.js'
import type { BrokerStatus } from '../../services/consumer.js'
import type { Lateview } from '../../services/lateview.js'
import type { Metrics } from '../metrics.js'
import { ok, problems, ref, STORE_FAULTS } from '../schemas.js'

export function opsRoutes(app: FastifyInstance, lateview: Lateview, metrics: Metrics, broker?: { status(): BrokerStatus }): void {
  app.get(
    '/healthz',
    { config: { scope: null }, schema: { summary: 'The process is up', operationId: 'getHealth', tags: ['operations'], response: { 200: ok(ref('Health'), 'Up'), ...problems({}) } } },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/readyz',
    {
      config: { scope: null },
      schema: {
        summary: "The store answers and takes writes, and the broker consumer (when on) is connected; with a read replica, the replica's state too (it does not decide readiness)",
        operationId: 'getReadiness',
        tags: ['operations'],
        response: { 200: ok(ref('Readiness'), 'Ready'), ...problems({ 503: [...STORE_FAULTS, 'LV_ERR_BROKER_UNAVAILABLE'] }) },
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

  app.get(
    '/metrics',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Prometheus metrics',
        operationId: 'getMetrics',
        tags: ['operations'],
        response: {
          200: { description: 'The metrics in the Prometheus text format', content: { 'text/plain': { schema: { type: 'string', description: 'text/plain; version=0.0.4' } } } },
          ...problems({}),
        },
      },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType)
      return metrics.registry.metrics()
    },
  )
}
