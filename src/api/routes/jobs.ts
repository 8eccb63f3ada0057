import type { FastifyInstance } from 'fastify'
import { INSTANT_FORM, parseInstantInRange } from '../../domain/time.js'
import { LateviewError } from '../../errors.js'
import { isJobName, JOB_NAMES } from '../../services/jobs.js'
import type { Lateview } from '../../services/lateview.js'
import { LIMIT, limitOf } from '../query.js'
import { ok, problems, ref, STORE_FAULTS, VIEW_PARAM } from '../schemas.js'

const JOB_BODY = {
  type: 'object',
  properties: { view: { type: 'string' }, period: { type: 'string' }, now: { type: 'string' } },
  additionalProperties: false,
} as const

export function jobRoutes(app: FastifyInstance, lateview: Lateview, simulatedClock: boolean): void {
  app.post<{ Params: { job: string }; Body: { view?: string; period?: string; now?: string } | undefined }>(
    '/v1/jobs/:job',
    {
      config: { scope: 'admin' },
      schema: {
        summary: `Run a job now: ${JOB_NAMES.join(', ')}; without period, every period due at now`,
        operationId: 'runJob',
        tags: ['jobs'],
        body: JOB_BODY,
        // An unknown job is a 404 of the handler's; every body field is optional, the body too.
        documented: {
          params: { type: 'object', required: ['job'], properties: { job: { type: 'string', enum: [...JOB_NAMES], description: 'the job to run' } } },
          body: {
            ...JOB_BODY,
            properties: {
              view: { type: 'string', description: `${VIEW_PARAM} (default: every view)` },
              period: { type: 'string', description: 'a period key of the view (default: every period due at now)' },
              now: { type: 'string', description: 'an ISO 8601 instant to run at, only when the server runs with LATEVIEW_SIMULATED_CLOCK=1' },
            },
          },
        },
        response: {
          200: ok(ref('JobAnswer'), 'The runs, one per view and period'),
          ...problems({
            400: ['LV_ERR_BODY_INVALID', 'LV_ERR_PERIOD_MALFORMED', 'LV_ERR_URL_INVALID'],
            403: ['LV_ERR_AUTH_FORBIDDEN', 'LV_ERR_CLOCK_NOT_SIMULATED'],
            404: ['LV_ERR_JOB_NOT_FOUND', 'LV_ERR_VIEW_NOT_FOUND'],
            503: [...STORE_FAULTS, 'LV_ERR_VIEW_OUTDATED'],
          }),
        },
      },
      // Every body field is optional: a bare POST (no body at all) means {} rather than 400 "body must be object".
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
    },
    async (request) => {
      const { job } = request.params
      if (!isJobName(job)) throw new LateviewError('LV_ERR_JOB_NOT_FOUND', `no job ${JSON.stringify(job)}; jobs are ${JOB_NAMES.join(', ')}`)
      const body = request.body ?? {}
      // Without a simulated now the job runs live: each publication reads the clock inside its lock.
      let simulated: number | undefined
      if (body.now !== undefined) {
        if (!simulatedClock) throw new LateviewError('LV_ERR_CLOCK_NOT_SIMULATED', 'now may be given only when the server runs with LATEVIEW_SIMULATED_CLOCK=1')
        const at = parseInstantInRange(body.now)
        if (at === null) throw new LateviewError('LV_ERR_BODY_INVALID', `now=${JSON.stringify(body.now)} is not ${INSTANT_FORM}`)
        simulated = at
      }
      const now = simulated ?? lateview.clock.now()
      if (body.view !== undefined) lateview.view(body.view)
      if (body.period !== undefined) {
        if (body.view === undefined) throw new LateviewError('LV_ERR_BODY_INVALID', 'a period needs a view')
        if (!lateview.view(body.view).bucketer.rangeOf(body.period)) throw new LateviewError('LV_ERR_PERIOD_MALFORMED', `${JSON.stringify(body.period)} is not a period of view ${body.view}`)
      }
      const runs = await lateview.jobs.run(job, {
        ...(body.view !== undefined ? { view: body.view } : {}),
        ...(body.period !== undefined ? { period: body.period } : {}),
        ...(simulated !== undefined ? { now: simulated } : {}),
        trigger: 'manual',
      })
      return { job, now: new Date(now).toISOString(), runs }
    },
  )

  app.get<{ Querystring: { job?: string; view?: string; period?: string; limit?: string } }>(
    '/v1/jobs/runs',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Recent job runs, newest first, with outcome and duration',
        operationId: 'listJobRuns',
        tags: ['jobs'],
        querystring: {
          type: 'object',
          properties: {
            job: { type: 'string', description: 'the runs of this job' },
            view: { type: 'string', description: 'the runs for this view' },
            period: { type: 'string', description: 'the runs for this period' },
            limit: LIMIT,
          },
          additionalProperties: false,
        },
        response: { 200: ok(ref('JobRuns'), 'The runs'), ...problems({ 400: ['LV_ERR_QUERY_INVALID'], 503: STORE_FAULTS }) },
      },
    },
    async (request) => {
      const { job, view, period, limit } = request.query
      return { runs: await lateview.jobRuns({ ...(job ? { job } : {}), ...(view ? { view } : {}), ...(period ? { period } : {}), limit: limitOf(limit) }) }
    },
  )
}
