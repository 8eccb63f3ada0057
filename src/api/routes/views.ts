import type { FastifyInstance } from 'fastify'
import { toViewFile } from '../../domain/view.js'
import { LateviewError } from '../../errors.js'
import type { Lateview } from '../../services/lateview.js'

export function viewRoutes(app: FastifyInstance, lateview: Lateview): void {
  app.get('/v1/views', { config: { scope: 'read' }, schema: { summary: 'Every view definition', tags: ['views'] } }, async () => ({
    views: lateview.programs.map((p) => toViewFile(p.view)),
  }))

  app.get<{ Params: { view: string } }>('/v1/views/:view', { config: { scope: 'read' }, schema: { summary: 'A view definition and the status of its periods', tags: ['views'] } }, async (request) => {
    const program = lateview.view(request.params.view)
    return {
      ...toViewFile(program.view),
      status: await lateview.status(program.name),
    }
  })

  app.get<{ Params: { view: string } }>(
    '/v1/views/:view/versions',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Every definition version of a view, oldest first, with its canonical definition, hash and when it took effect',
        description: 'A revision is always read, compared and verified under the version it was published with (its viewVersion).',
        tags: ['views'],
      },
    },
    async (request) => {
      const program = lateview.view(request.params.view)
      return { view: program.name, current: program.view.version, versions: await lateview.versions(program.name) }
    },
  )

  app.get<{ Params: { view: string }; Querystring: Record<string, string> }>(
    '/v1/views/:view/realtime',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Live cells of a view and their totals, exact at the returned seq',
        description: 'from and to are period keys (inclusive); any other parameter filters a dimension, e.g. ?store=042. totals are over the cells returned.',
        tags: ['views'],
        querystring: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' } }, additionalProperties: { type: 'string' } },
      },
    },
    async (request) => {
      const program = lateview.view(request.params.view)
      const { from, to, ...where } = request.query
      for (const [name, key] of Object.entries({ from, to })) {
        if (key !== undefined && !program.bucketer.rangeOf(key)) {
          throw new LateviewError('LV_ERR_PERIOD_MALFORMED', `${name}=${JSON.stringify(key)} is not a ${program.view.granularity} period key (e.g. ${program.bucketer.keyOf(lateview.clock.now())})`)
        }
      }
      for (const dim of Object.keys(where)) {
        if (!program.view.dimensions.includes(dim))
          throw new LateviewError('LV_ERR_QUERY_INVALID', `${dim} is neither from, to nor a dimension of view ${program.name} (${program.view.dimensions.join(', ')})`)
      }
      return lateview.realtime(program.name, { ...(from ? { from } : {}), ...(to ? { to } : {}), where })
    },
  )
}
