import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import type { LateviewConfig } from '../config.js'
import { isPrintable } from '../domain/content.js'
import { toJson } from '../domain/decimal.js'
import { LateviewError } from '../errors.js'
import type { BrokerStatus } from '../services/consumer.js'
import type { Lateview } from '../services/lateview.js'
import { authenticate } from './auth.js'
import { Metrics } from './metrics.js'
import { RouteMethods } from './methods.js'
import { BODY_LIMIT } from './bodies.js'
import { problemOf, sendProblem, toLateviewError } from './problem.js'
import { addSharedSchemas, problems, SHARED_SCHEMAS } from './schemas.js'
import { serializerCompiler, useSchemaSerializers } from './serialization.js'
import { eventRoutes } from './routes/events.js'
import { alertRoutes } from './routes/alerts.js'
import { analysisRoutes } from './routes/analysis.js'
import { jobRoutes } from './routes/jobs.js'
import { opsRoutes } from './routes/ops.js'
import { reportRoutes } from './routes/reports.js'
import { uiRoutes } from './routes/ui.js'
import { viewRoutes } from './routes/views.js'

/** The serializer compiler of every app: its serializers are built once for the process. */
const SERIALIZER_COMPILER = serializerCompiler(SHARED_SCHEMAS)

export interface AppDeps {
  lateview: Lateview
  metrics?: Metrics
  /** Woken when a subscription or a retry makes deliveries due. */
  dispatcher?: { wake(): void }
  /** The broker consumer of this process, when on: `/readyz` reports its connection. */
  broker?: { status(): BrokerStatus }
}

export type AppConfig = Pick<LateviewConfig, 'tokens' | 'logLevel'> & { simulatedClock?: boolean; host?: string; port?: number }

/** Builds the HTTP app from configuration and services; only server.ts listens. */
export async function buildApp(config: AppConfig, deps: AppDeps): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? new Metrics()
  let closing = false
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    bodyLimit: BODY_LIMIT,
    // Errors raised before a route runs are problem documents too.
    frameworkErrors: (error, request, reply) => {
      const problem =
        error.code === 'FST_ERR_BAD_URL' ? new LateviewError('LV_ERR_URL_INVALID', `${JSON.stringify(request.url)} is not a valid URL: a percent-encoding is malformed`) : toLateviewError(error)
      void sendProblem(request, reply, problem)
    },
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return
      const overflow = (error as { code?: string }).code === 'HPE_HEADER_OVERFLOW'
      const problem = overflow ? new LateviewError('LV_ERR_HEADERS_TOO_LARGE') : new LateviewError('LV_ERR_REQUEST_INVALID', `the HTTP request cannot be read: ${error.message}`)
      const body = JSON.stringify(problemOf(problem))
      socket.end(
        `HTTP/1.1 ${problem.status} ${overflow ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    },
    // lateview answers requests that arrive while it closes itself (a problem document), and
    // closes each connection after its answer: see the hooks below.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace',
    // fastify's default removes properties a schema does not allow instead of refusing them: a
    // typo such as ?imprt=true or { "perod": … } would then run silently as something else.
    ajv: { customOptions: { removeAdditional: false } },
  })
  app.decorateRequest('scopes', null)
  // Every route's path and methods, registered from here on: a known path asked with another method is a 405.
  const methods = new RouteMethods()
  app.addHook('onRoute', (route) => methods.add(route.url, route.method))
  // Every JSON answer carries exact decimal numerals (no exponent, no digit lost past 2^53); a
  // fixed-shape answer is written from its schema, to the same text (see serialization.ts).
  app.setReplySerializer((payload) => toJson(payload))
  addSharedSchemas(app)
  app.setSerializerCompiler(SERIALIZER_COMPILER)
  app.addHook('onRoute', (route) => {
    documentRoute(route)
    useSchemaSerializers(route, SHARED_SCHEMAS)
  })

  const bodyNotes = new Map<string, { description?: string; required?: boolean }>()
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'lateview',
        version: '0.1.0',
        description:
          'Reports on data that arrives late: an append-only event store, an exact Realtime view and revision-tagged reports. Figures are exact decimal numerals, written without an exponent and with every digit they hold: parse them losslessly to keep every digit. Errors are application/problem+json with a stable code (docs/errors.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token of LATEVIEW_TOKENS; its scopes (ingest, read, admin) decide what it may do' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'events', description: 'Ingest events and read them back' },
        { name: 'views', description: 'View definitions, their status and live figures' },
        { name: 'reports', description: 'Revisions of periods, their comparison, late events and restatements' },
        { name: 'analysis', description: 'Revision analysis: accuracy, vintages, completeness, close advice' },
        { name: 'alerts', description: 'Alerts and the lateness of sources' },
        { name: 'webhooks', description: 'Subscriptions to alerts and their deliveries' },
        { name: 'jobs', description: 'Publication jobs' },
        { name: 'operations', description: 'Health, readiness and metrics' },
        { name: 'ui', description: 'The analyst page' },
      ],
    },
    // Shared schemas are #/components/schemas/<$id>.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // The request parts a handler checks itself are shown in place of those fastify validates.
    transform: ({ schema, url, route }) => {
      if (!schema?.documented) return { schema, url }
      const { documented, ...rest } = schema
      // @fastify/swagger keeps only the media types of a body given by content type: its
      // description and whether it is required are set on the document below.
      const body = documented.body as { content?: unknown; description?: string; required?: boolean } | undefined
      if (body?.content) bodyNotes.set(`${route.method} ${url}`, { ...(body.description ? { description: body.description } : {}), ...(body.required ? { required: true } : {}) })
      return { schema: { ...rest, ...documented }, url }
    },
    transformObject: (document) => {
      const openapiObject = 'openapiObject' in document ? document.openapiObject : document.swaggerObject
      const paths = (openapiObject as { paths?: Record<string, Record<string, { requestBody?: object }>> }).paths ?? {}
      for (const [key, note] of bodyNotes) {
        const [method, url] = key.split(' ') as [string, string]
        const operation = paths[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()]
        if (operation?.requestBody) operation.requestBody = { ...note, ...operation.requestBody }
      }
      return openapiObject
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  // Shutting down: answers in flight go out with `connection: close`, so that keep-alive
  // connections end with them instead of idling until their timeout; new requests get a 503.
  app.addHook('preClose', async () => {
    closing = true
    const server = app.server as { closeIdleConnections?: () => void }
    server.closeIdleConnections?.()
  })
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return
    reply.header('connection', 'close')
    throw new LateviewError('LV_ERR_SHUTTING_DOWN', 'the server is shutting down; retry on another instance')
  })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
  app.addHook('onResponse', async () => {
    if (closing) (app.server as { closeIdleConnections?: () => void }).closeIdleConnections?.()
  })

  // No name lateview knows holds a control character or a lone surrogate (content.ts): a path
  // segment or query value that does is refused here, before any store sees it (PostgreSQL text
  // cannot even hold a NUL).
  app.addHook('preValidation', async (request) => {
    for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'string' && !isPrintable(value)) throw new LateviewError('LV_ERR_URL_INVALID', `the path segment ${name} holds a control character or a lone surrogate`)
    }
    for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string' && !isPrintable(v)) throw new LateviewError('LV_ERR_QUERY_INVALID', `the query parameter ${name} holds a control character or a lone surrogate`)
      }
    }
  })

  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope
    // Routes of plugins (the /docs pages) declare no scope: they are documentation, open to all.
    authenticate(config as LateviewConfig, request, scope === undefined ? null : scope)
  })
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
  app.setErrorHandler((error, request, reply) => {
    const problem = toLateviewError(error)
    if (problem.code === 'LV_ERR_INTERNAL') request.log.error({ err: error }, 'unhandled error')
    return sendProblem(request, reply, problem)
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] as string
    const allow = methods.allowed(path)
    if (allow.length > 0) {
      return sendProblem(request, reply, new LateviewError('LV_ERR_METHOD_NOT_ALLOWED', `${path} takes ${allow.join(', ')}, not ${request.method}`, { allow }))
    }
    return sendProblem(request, reply, new LateviewError('LV_ERR_ROUTE_NOT_FOUND', `no route ${request.method} ${path}`))
  })

  eventRoutes(app, config as LateviewConfig, deps.lateview, metrics)
  viewRoutes(app, deps.lateview)
  deps.lateview.onAlerts((alerts) => {
    for (const a of alerts) metrics.alertsRaised.inc({ kind: a.type, event: a.status === 'resolved' ? 'resolved' : 'raised' })
  })
  metrics.pendingSource = () => deps.lateview.pendingDeliveries()
  deps.lateview.jobs.onRun((run) => metrics.jobRun(run))
  metrics.lastJobSuccessSource = () => deps.lateview.lastJobSuccesses()
  metrics.retriesSource = () => deps.lateview.engine.retried?.() ?? 0
  alertRoutes(app, deps.lateview, { host: config.host ?? '127.0.0.1', port: config.port ?? null }, () => deps.dispatcher?.wake())
  reportRoutes(app, deps.lateview)
  analysisRoutes(app, deps.lateview)
  jobRoutes(app, deps.lateview, config.simulatedClock === true)
  opsRoutes(app, deps.lateview, metrics, deps.broker)
  uiRoutes(app)
  return app
}

/**
 * What the OpenAPI document says of a route follows from its scope: open routes need no token
 * (`security: []`), the others may answer 401 and 403.
 */
function documentRoute(route: RouteOptions): void {
  const schema = route.schema
  if (!schema || schema.hide) return
  const scope = route.config?.scope
  if (scope === null) {
    route.schema = { ...schema, security: [] }
    return
  }
  if (scope === undefined) return
  const needs = `Needs a token with the ${scope} scope${scope === 'admin' ? '' : ' (or admin)'} when LATEVIEW_TOKENS is set.`
  const { default: fallback, ...forbidden } = problems({ 401: ['LV_ERR_AUTH_REQUIRED', 'LV_ERR_AUTH_INVALID'], 403: ['LV_ERR_AUTH_FORBIDDEN'] })
  const responses = (schema.response ?? {}) as Record<string, unknown>
  route.schema = {
    ...schema,
    description: schema.description ? `${schema.description}\n\n${needs}` : needs,
    response: { ...responses, ...Object.fromEntries(Object.entries(forbidden).filter(([status]) => !(status in responses))), ...(responses.default ? {} : { default: fallback }) },
  }
}
