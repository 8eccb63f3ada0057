import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { toJson } from '../../domain/decimal.js'
import { INSTANT_FORM, parseInstantInRange } from '../../domain/time.js'
import { LateviewError } from '../../errors.js'
import type { Lateview } from '../../services/lateview.js'
import { reportCsv, type DiffSide, type ReportDocument } from '../../services/reports.js'
import { MIN_SEQ, routeRead, withSeq } from '../reads.js'
import { ok, okOrCsv, PERIOD_PARAM, pathParams, problems, ref, STORE_FAULTS, VIEW_PARAM } from '../schemas.js'

type PeriodParams = { Params: { view: string; period: string } }
type ReadQuery = { Querystring: { minSeq?: string } }
const READ_QUERY = { type: 'object', properties: { minSeq: MIN_SEQ }, additionalProperties: false } as const
const PERIOD_PARAMS = pathParams({ view: VIEW_PARAM, period: PERIOD_PARAM })
const FORMAT = { type: 'string', enum: ['json', 'csv'], description: 'csv: the answer as CSV (also with Accept: text/csv)' }
/** The problems of a read of a period. */
const PERIOD_READ = {
  400: ['LV_ERR_QUERY_INVALID', 'LV_ERR_PERIOD_MALFORMED', 'LV_ERR_URL_INVALID'],
  404: ['LV_ERR_VIEW_NOT_FOUND'],
  409: ['LV_ERR_SEQ_NOT_YET'],
  503: STORE_FAULTS,
} as const

function wantsCsv(request: FastifyRequest<{ Querystring: { format?: string } }>): boolean {
  if (request.query.format === 'csv') return true
  if (request.query.format === 'json') return false
  const accept = request.headers.accept ?? ''
  return /\btext\/csv\b/.test(accept) && !/\bapplication\/json\b/.test(accept)
}

function instant(name: string, text: string): number {
  const ms = parseInstantInRange(text)
  if (ms === null) throw new LateviewError('LV_ERR_QUERY_INVALID', `${name}=${JSON.stringify(text)} is not ${INSTANT_FORM}`)
  return ms
}

function revisionNumber(name: string, text: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text)) throw new LateviewError('LV_ERR_QUERY_INVALID', `${name}=${JSON.stringify(text)} is not a revision number`)
  return Number(text)
}

function diffSide(name: string, text: string): DiffSide {
  if (text.startsWith('asOf:')) return { asOf: instant(name, text.slice(5)) }
  return { revision: revisionNumber(name, text) }
}

export function reportRoutes(app: FastifyInstance, lateview: Lateview): void {
  const reportTexts = new WeakMap<ReportDocument, string>()
  app.get<PeriodParams & { Querystring: { revision?: string; asOf?: string; format?: string; minSeq?: string } }>(
    '/v1/views/:view/periods/:period',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The latest revision of a period, revision N, or what was known as of an instant; JSON or CSV',
        operationId: 'getReport',
        tags: ['reports'],
        documented: { params: PERIOD_PARAMS },
        querystring: {
          type: 'object',
          properties: {
            revision: { type: 'string', description: 'a revision number (default: the latest)' },
            asOf: { type: 'string', description: 'an ISO 8601 instant: what was known then, computed from the events received by then' },
            format: FORMAT,
            minSeq: MIN_SEQ,
          },
          additionalProperties: false,
        },
        response: {
          200: okOrCsv(ref('Report'), 'The report', 'one line per row: the dimensions, the measures and eventCount', {
            'Lateview-Revision': { type: 'string', description: 'CSV: the revision number, or as-of' },
            'Lateview-Cutoff-Seq': { type: 'integer', description: 'CSV: the cutoff seq of the report' },
          }),
          ...problems({ ...PERIOD_READ, 404: ['LV_ERR_VIEW_NOT_FOUND', 'LV_ERR_PERIOD_NOT_FOUND', 'LV_ERR_REVISION_NOT_FOUND'] }),
        },
      },
    },
    async (request, reply: FastifyReply) => {
      const { view, period } = request.params
      const { revision, asOf } = request.query
      if (revision !== undefined && asOf !== undefined) throw new LateviewError('LV_ERR_QUERY_INVALID', 'give revision or asOf, not both')
      const read = routeRead(reply, request.query.minSeq)
      const at = {
        ...(revision !== undefined ? { revision: revisionNumber('revision', revision) } : {}),
        ...(asOf !== undefined ? { asOf: instant('asOf', asOf) } : {}),
      }
      const report = await lateview.report(view, period, at, read.options)
      if (!wantsCsv(request)) {
        // A revision, and what was known at a past instant, read the same bytes forever: the seq
        // of this read is in the Lateview-Seq header only. A revision's document is the same
        // frozen object while it stays the latest with the same status: its JSON text is made once.
        if (report.revision === null || !Object.isFrozen(report)) return report
        let text = reportTexts.get(report)
        if (text === undefined) reportTexts.set(report, (text = toJson(report)))
        return reply.type('application/json; charset=utf-8').send(text)
      }
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${report.view}-${report.period}-${report.revision === null ? 'as-of' : `r${report.revision}`}.csv"`)
        .header('lateview-revision', String(report.revision ?? 'as-of'))
        .header('lateview-cutoff-seq', String(report.cutoffSeq))
      // A revision is written out under the definition it was published with.
      return reportCsv(await lateview.programOf(report), report)
    },
  )

  app.get<PeriodParams & ReadQuery>(
    '/v1/views/:view/periods/:period/revisions',
    {
      config: { scope: 'read' },
      schema: {
        summary: "Every revision's metadata and totals, oldest first",
        operationId: 'listRevisions',
        tags: ['reports'],
        documented: { params: PERIOD_PARAMS },
        querystring: READ_QUERY,
        response: { 200: ok(ref('Revisions'), 'The revisions', { read: true }), ...problems(PERIOD_READ) },
      },
    },
    async (request, reply) => {
      const read = routeRead(reply, request.query.minSeq)
      return withSeq(await lateview.revisions(request.params.view, request.params.period, read.options), read)
    },
  )

  app.get<PeriodParams & { Querystring: { from: string; to: string; format?: string; minSeq?: string } }>(
    '/v1/views/:view/periods/:period/diff',
    {
      config: { scope: 'read' },
      schema: {
        summary: "Changed cells between two revisions (or asOf:<ISO> instants), the events that explain each change and both sides' totals; JSON or CSV",
        description:
          'JSON: { changes, totals: { before, after, delta } }. CSV (?format=csv or Accept: text/csv): one line per combination of dimensions on either side, unchanged ones too, with <measure>_before, <measure>_after, <measure>_delta, events and status (changed, new, removed, same).',
        operationId: 'diffRevisions',
        tags: ['reports'],
        documented: { params: PERIOD_PARAMS },
        querystring: {
          type: 'object',
          required: ['from', 'to'],
          properties: {
            from: { type: 'string', description: 'a revision number, or asOf:<ISO 8601 instant>' },
            to: { type: 'string', description: 'a revision number, or asOf:<ISO 8601 instant>' },
            format: FORMAT,
            minSeq: MIN_SEQ,
          },
          additionalProperties: false,
        },
        response: {
          200: okOrCsv(ref('Diff'), 'The comparison', 'one line per combination of dimensions on either side'),
          ...problems({ ...PERIOD_READ, 404: ['LV_ERR_VIEW_NOT_FOUND', 'LV_ERR_REVISION_NOT_FOUND'] }),
        },
      },
    },
    async (request, reply: FastifyReply) => {
      const { view, period } = request.params
      const from = diffSide('from', request.query.from)
      const to = diffSide('to', request.query.to)
      const read = routeRead(reply, request.query.minSeq)
      // A comparison of two revisions (or instants) reads the same forever: its seq is in the header.
      if (!wantsCsv(request)) return lateview.diff(view, period, from, to, read.options)
      const csv = await lateview.diffCsv(view, period, from, to, read.options)
      const name = `${view}-${period}-${request.query.from}-vs-${request.query.to}`.replace(/[^A-Za-z0-9._-]+/g, '-')
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(csv)
    },
  )

  app.get<PeriodParams & ReadQuery>(
    '/v1/views/:view/periods/:period/exceptions',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Events received after the period was closed and not yet restated',
        operationId: 'listExceptions',
        tags: ['reports'],
        documented: { params: PERIOD_PARAMS },
        querystring: READ_QUERY,
        response: { 200: ok(ref('Exceptions'), 'The late events', { read: true }), ...problems(PERIOD_READ) },
      },
    },
    async (request, reply) => {
      const read = routeRead(reply, request.query.minSeq)
      return withSeq(await lateview.exceptions(request.params.view, request.params.period, read.options), read)
    },
  )

  app.post<PeriodParams>(
    '/v1/views/:view/periods/:period/restate',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Publish a restatement (or manual revision) of the period now; no body (or {})',
        operationId: 'restatePeriod',
        tags: ['reports'],
        documented: {
          params: PERIOD_PARAMS,
          body: { type: 'object', description: 'nothing, or {}', maxProperties: 0 },
        },
        response: {
          200: ok(ref('JobRun'), 'The run of the restatement'),
          ...problems({
            400: ['LV_ERR_BODY_INVALID', 'LV_ERR_PERIOD_MALFORMED', 'LV_ERR_URL_INVALID'],
            404: ['LV_ERR_VIEW_NOT_FOUND'],
            409: ['LV_ERR_PERIOD_NOT_BEGUN', 'LV_ERR_PERIOD_EMPTY'],
            422: ['LV_ERR_MEASURE_OVERFLOW'],
            503: [...STORE_FAULTS, 'LV_ERR_VIEW_OUTDATED'],
          }),
        },
      },
    },
    async (request) => {
      // It takes no parameters: anything sent is a mistake, better refused than ignored.
      const body: unknown = request.body
      if (body !== undefined && body !== null && !(typeof body === 'object' && body.constructor === Object && Object.keys(body).length === 0)) {
        throw new LateviewError('LV_ERR_BODY_INVALID', 'restate takes no body (or {})')
      }
      const program = lateview.view(request.params.view)
      return lateview.restate(program.name, request.params.period)
    },
  )
}
