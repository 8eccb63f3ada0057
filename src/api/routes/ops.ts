import type { FastifyInstance } from 'fastify'
import type { Lateview } from '../../services/lateview.js'
import type { Metrics } from '../metrics.js'

export function opsRoutes(app: FastifyInstance, lateview: Lateview, metrics: Metrics): void {
  app.get('/healthz', { config: { scope: null }, schema: { summary: 'The process is up', tags: ['operations'] } }, async () => ({ status: 'ok' }))

  app.get(
    '/readyz',
    { config: { scope: null }, schema: { summary: "The store answers and takes writes; with a read replica, the replica's state too (it does not decide readiness)", tags: ['operations'] } },
    async () => {
      await lateview.ready()
      // A replica that is down or behind only sends reads to the primary: it is shown, not failed on.
      const replica = await lateview.replicaStatus()
      return { status: 'ready', engine: lateview.engine.kind, views: lateview.programs.length, ...(replica ? { replica } : {}) }
    },
  )

  app.get('/metrics', { config: { scope: 'read' }, schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
