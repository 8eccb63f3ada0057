import type { FastifyInstance } from 'fastify'
import { toViewFile } from '../../domain/view.js'
import { LateviewError } from '../../errors.js'
import type { Lateview } from '../../services/lateview.js'
import { MIN_SEQ, routeRead } from '../reads.js'

/**
 * The answer of GET /v1/views/:view, for the OpenAPI document (the reply serializer writes exact
 * decimals, so the schema documents the answer rather than shapes it). The definition's own
 * fields are listed at /v1/views and in the README.
 */
const VIEW_STATUS_RESPONSE = {
  type: 'object',
  description: 'The view definition (as in its file, defaults written out) and the status of its periods.',
  additionalProperties: true,
  properties: {
    status: {
      type: 'object',
      required: ['seq', 'periods', 'dirty'],
      properties: {
        seq: { type: 'integer', description: 'the newest seq of the store' },
        periods: {
          type: 'object',
          properties: { open: { type: 'array', items: { type: 'string' } }, provisional: { type: 'array', items: { type: 'string' } }, final: { type: 'array', items: { type: 'string' } } },
        },
        dirty: {
          type: 'array',
          description: 'Periods changed since their latest revision (late events not yet published, held after close, or below rebuild.minChange)',
          items: {
            type: 'object',
            required: ['period', 'status', 'latestRevision', 'dirtySinceSeq', 'pending'],
            properties: {
              period: { type: 'string' },
              status: { type: 'string', enum: ['provisional', 'final'] },
              latestRevision: { type: 'integer' },
              dirtySinceSeq: { type: 'integer', description: 'the first seq that changed the period after its latest revision' },
              pending: {
                type: 'object',
                description: "What the period's live (Realtime) figures hold beyond its latest revision, exact: live totals minus the revision's totals",
                required: ['eventCount', 'measures', 'belowMinChange'],
                properties: {
                  belowMinChange: { type: 'boolean', description: "true when the rebuilder holds this back: the period is provisional and no measure moved past the view's rebuild.minChange" },
                  eventCount: { type: 'integer', description: 'events counted now minus events counted in the latest revision (a retraction takes one off)' },
                  measures: {
                    type: 'object',
                    description: "per measure, its total over all rows (the report's totals.measures) now minus in the latest revision; null when one side has no value",
                    additionalProperties: { type: 'number', nullable: true },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
}

export function viewRoutes(app: FastifyInstance, lateview: Lateview): void {
  app.get('/v1/views', { config: { scope: 'read' }, schema: { summary: 'Every view definition', tags: ['views'] } }, async () => ({
    views: lateview.programs.map((p) => toViewFile(p.view)),
  }))

  app.get<{ Params: { view: string } }>(
    '/v1/views/:view',
    { config: { scope: 'read' }, schema: { summary: 'A view definition and the status of its periods', tags: ['views'], response: { 200: VIEW_STATUS_RESPONSE } } },
    async (request) => {
      const program = lateview.view(request.params.view)
      return {
        ...toViewFile(program.view),
        status: await lateview.status(program.name),
      }
    },
  )

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
        querystring: { type: 'object', properties: { from: { type: 'string' }, to: { type: 'string' }, minSeq: MIN_SEQ }, additionalProperties: { type: 'string' } },
      },
    },
    async (request, reply) => {
      const program = lateview.view(request.params.view)
      const { from, to, minSeq, ...where } = request.query
      const read = routeRead(reply, minSeq)
      for (const [name, key] of Object.entries({ from, to })) {
        if (key !== undefined && !program.bucketer.rangeOf(key)) {
          throw new LateviewError('LV_ERR_PERIOD_MALFORMED', `${name}=${JSON.stringify(key)} is not a ${program.view.granularity} period key (e.g. ${program.bucketer.keyOf(lateview.clock.now())})`)
        }
      }
      for (const dim of Object.keys(where)) {
        if (!program.view.dimensions.includes(dim))
          throw new LateviewError('LV_ERR_QUERY_INVALID', `${dim} is neither from, to nor a dimension of view ${program.name} (${program.view.dimensions.join(', ')})`)
      }
      return lateview.realtime(program.name, { ...(from ? { from } : {}), ...(to ? { to } : {}), where }, read.options)
    },
  )
}
