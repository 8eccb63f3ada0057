import type { FastifyInstance, FastifyRequest } from 'fastify'
import { parseTarget } from '../../domain/analysis.js'
import type { AnalysisQuery } from '../../services/analysis.js'
import { vintagesCsv } from '../../services/analysis.js'
import type { Lateview } from '../../services/lateview.js'
import { MIN_SEQ, routeRead, withSeq } from '../reads.js'
import { ok, okOrCsv, pathParams, problems, ref, STORE_FAULTS, VIEW_PARAM, withDimensionFilters } from '../schemas.js'

type Query = Record<string, string | undefined>
type AnalysisRequest = FastifyRequest<{ Params: { view: string }; Querystring: Query }>

const PERIODS = {
  from: { type: 'string', description: 'first period key, inclusive (default: 30 periods before to)' },
  to: { type: 'string', description: 'last period key, inclusive (default: the last period with events or a revision)' },
  measure: { type: 'string', description: "a measure of the view (default: the view's first)" },
  minSeq: MIN_SEQ,
} as const
const AGAINST = { type: 'string', description: 'the benchmark: final (the final revision) or latest (what is known now)' } as const
const LAGS = { type: 'string', description: 'comma-separated ISO 8601 durations after the end of the period, possibly negative (default -PT2H,PT0S,PT3H,PT6H,PT12H,P1D,P2D,P3D,P7D)' } as const
/** Any other parameter filters a dimension, as in realtime. */
const FILTERS = { type: 'string', description: 'a dimension filter, e.g. store=store-001' } as const

function querystring(properties: Record<string, unknown>) {
  return { type: 'object', properties: { ...PERIODS, ...properties }, additionalProperties: FILTERS }
}

const VIEW = pathParams({ view: VIEW_PARAM })
const ANALYSIS_PROBLEMS = problems({
  400: ['LV_ERR_QUERY_INVALID', 'LV_ERR_PERIOD_MALFORMED', 'LV_ERR_URL_INVALID'],
  404: ['LV_ERR_VIEW_NOT_FOUND'],
  409: ['LV_ERR_SEQ_NOT_YET'],
  503: STORE_FAULTS,
})

/** The schema parts of an analysis route: its own parameters besides the shared ones, and its answer. */
function analysisSchema(operationId: string, properties: Record<string, unknown>, answer: Record<string, unknown>) {
  const query = querystring(properties)
  return { operationId, tags: ['analysis'], querystring: query, documented: { params: VIEW, querystring: withDimensionFilters(query) }, response: { 200: answer, ...ANALYSIS_PROBLEMS } }
}

/** The query of an analysis route: the parameters it names, and every other one as a dimension filter. */
function analysisQuery(request: AnalysisRequest, own: readonly string[]): AnalysisQuery & { lags?: string; target?: string } {
  const named: Record<string, string | undefined> = {}
  const where: Record<string, string> = {}
  for (const [key, value] of Object.entries(request.query)) {
    if (value === undefined) continue
    if (key === 'minSeq') continue
    if (key === 'from' || key === 'to' || key === 'measure' || own.includes(key)) named[key] = value
    else where[key] = value
  }
  return { ...named, where }
}

function wantsCsv(request: AnalysisRequest): boolean {
  if (request.query.format === 'csv') return true
  if (request.query.format === 'json') return false
  const accept = request.headers.accept ?? ''
  return /\btext\/csv\b/.test(accept) && !/\bapplication\/json\b/.test(accept)
}

/** The revision-analysis routes: accuracy by release, vintages, completeness, close advice. */
export function analysisRoutes(app: FastifyInstance, lateview: Lateview): void {
  app.get<{ Params: { view: string }; Querystring: Query }>(
    '/v1/views/:view/accuracy',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'How far each release kind (flash, consolidated, revision, final, restatement) was from the final or latest figure',
        description:
          'Per release kind: n, meanRevision, meanAbsRevision, relativeMeanAbsRevision, minRevision, maxRevision, stdRevision, accuracy, withinOnePercent (6 significant digits); per period the exact benchmark, value and revision (b − v) of each release. See the README, "Revision analysis".',
        ...analysisSchema('getAccuracy', { against: AGAINST }, ok(ref('Accuracy'), 'The statistics per release kind and the figures per period', { read: true })),
      },
    },
    async (request, reply) => {
      const read = routeRead(reply, request.query.minSeq)
      return withSeq(await lateview.accuracy(request.params.view, analysisQuery(request, ['against']), read.options), read)
    },
  )

  app.get<{ Params: { view: string }; Querystring: Query }>(
    '/v1/views/:view/vintages',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The revision triangle: the value of each period known at each lag after its end, and its share of the benchmark; JSON or CSV',
        description: 'format=csv (or Accept: text/csv) answers period,knownAt,lag,value lines.',
        ...analysisSchema(
          'getVintages',
          { lags: LAGS, against: AGAINST, format: { type: 'string', enum: ['json', 'csv'], description: 'csv: the answer as CSV (also with Accept: text/csv)' } },
          okOrCsv(ref('Vintages'), 'The revision triangle', 'period,knownAt,lag,value lines'),
        ),
      },
    },
    async (request, reply) => {
      const read = routeRead(reply, request.query.minSeq)
      const answer = await lateview.vintages(request.params.view, analysisQuery(request, ['lags', 'against', 'format']), read.options)
      if (!wantsCsv(request)) return withSeq(answer, read)
      reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${answer.view}-vintages.csv"`)
      return vintagesCsv(answer)
    },
  )

  app.get<{ Params: { view: string }; Querystring: Query }>(
    '/v1/views/:view/completeness',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The share of the benchmark value and event count known at each lag across periods (min, p10, p50, p90), and the lags of each source',
        ...analysisSchema('getCompleteness', { lags: LAGS, against: AGAINST }, ok(ref('Completeness'), 'The completeness curve and the lags of each source', { read: true })),
      },
    },
    async (request, reply) => {
      const read = routeRead(reply, request.query.minSeq)
      return withSeq(await lateview.completeness(request.params.view, analysisQuery(request, ['lags', 'against']), read.options), read)
    },
  )

  app.get<{ Params: { view: string }; Querystring: Query }>(
    '/v1/views/:view/close-advice',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'What closing at D+1 … D+14 would have cost in restatements, the earliest close that keeps the target share of the value, and an SLA per source',
        ...analysisSchema(
          'getCloseAdvice',
          { target: { type: 'string', description: 'a share above 0 and at most 1 (default 0.999)' }, against: AGAINST },
          ok(ref('CloseAdvice'), 'The cost of each candidate close, the one to choose and an SLA per source', { read: true }),
        ),
      },
    },
    async (request, reply) => {
      const read = routeRead(reply, request.query.minSeq)
      const query = analysisQuery(request, ['target', 'against'])
      return withSeq(await lateview.closeAdvice(request.params.view, { ...query, target: parseTarget(query.target) }, read.options), read)
    },
  )
}
