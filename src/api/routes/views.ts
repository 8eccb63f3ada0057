import type { FastifyInstance } from 'fastify'
import { toViewFile } from '../../domain/view.js'
import { LateviewError } from '../../errors.js'
import type { Lateview } from '../../services/lateview.js'
import { MIN_SEQ, routeRead } from '../reads.js'
import { ok, pathParams, problems, ref, STORE_FAULTS, VIEW_PARAM, withDimensionFilters } from '../schemas.js'

const VIEW = pathParams({ view: VIEW_PARAM })
const REALTIME_QUERY = {
  type: 'object',
  properties: {
    from: { type: 'string', description: 'the first period key, inclusive' },
    to: { type: 'string', description: 'the last period key, inclusive' },
    minSeq: MIN_SEQ,
  },
  additionalProperties: { type: 'string' },
}

export function viewRoutes(app: FastifyInstance, lateview: Lateview): void {
  app.get(
    '/v1/views',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listViews',
        summary: 'Every view definition',
        tags: ['views'],
        response: {
          200: ok({ type: 'object', required: ['views'], properties: { views: { type: 'array', items: ref('ViewDefinition') } }, additionalProperties: false }, 'The views, by name'),
          ...problems({}),
        },
      },
    },
    async () => ({
      views: lateview.programs.map((p) => toViewFile(p.view)),
    }),
  )

  app.get<{ Params: { view: string } }>(
    '/v1/views/:view',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getView',
        summary: 'A view definition and the status of its periods',
        tags: ['views'],
        documented: { params: VIEW },
        response: { 200: ok(ref('ViewAnswer'), 'The definition and status'), ...problems({ 400: ['LV_ERR_URL_INVALID'], 404: ['LV_ERR_VIEW_NOT_FOUND'], 503: STORE_FAULTS }) },
      },
    },
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
        operationId: 'listViewVersions',
        tags: ['views'],
        documented: { params: VIEW },
        response: { 200: ok(ref('ViewVersions'), 'The versions, oldest first'), ...problems({ 400: ['LV_ERR_URL_INVALID'], 404: ['LV_ERR_VIEW_NOT_FOUND'], 503: STORE_FAULTS }) },
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
        operationId: 'getRealtime',
        tags: ['views'],
        querystring: REALTIME_QUERY,
        documented: { params: VIEW, querystring: withDimensionFilters(REALTIME_QUERY) },
        response: {
          200: ok(ref('RealtimeAnswer'), 'The live cells and their totals', { read: true }),
          ...problems({
            400: ['LV_ERR_QUERY_INVALID', 'LV_ERR_PERIOD_MALFORMED', 'LV_ERR_URL_INVALID'],
            404: ['LV_ERR_VIEW_NOT_FOUND'],
            409: ['LV_ERR_SEQ_NOT_YET'],
            503: STORE_FAULTS,
          }),
        },
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
