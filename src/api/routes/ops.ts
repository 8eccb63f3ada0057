import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { LateviewError } from '../../errors.js'
import type { Lateview } from '../../services/lateview.js'
import { storeError } from '../../store/engine.js'
import type { Metrics } from '../metrics.js'

export function opsRoutes(app: FastifyInstance, lateview: Lateview, metrics: Metrics): void {
  app.get('/healthz', { config: { scope: null }, schema: { summary: 'The process is up', tags: ['operations'] } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { config: { scope: null }, schema: { summary: 'The store answers and takes writes', tags: ['operations'] } }, async () => {
    // After a full disk or a lost store, ready again only once a small write commits.
    const failure = await lateview.engine.failure(true)
    if (failure) throw failure
    try {
      await sql`select 1`.execute(lateview.engine.db)
    } catch (error) {
      throw storeError(error) ?? new LateviewError('LV_ERR_STORE_UNAVAILABLE', `the store does not answer: ${(error as Error).message}`)
    }
    return { status: 'ready', engine: lateview.engine.kind, views: lateview.programs.length }
  })

  app.get('/metrics', { config: { scope: 'read' }, schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
