import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance } from 'fastify'
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
import { eventRoutes } from './routes/events.js'
import { alertRoutes } from './routes/alerts.js'
import { analysisRoutes } from './routes/analysis.js'
import { jobRoutes } from './routes/jobs.js'
import { opsRoutes } from './routes/ops.js'
import { reportRoutes } from './routes/reports.js'
import { uiRoutes } from './routes/ui.js'
import { viewRoutes } from './routes/views.js'

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
  // Every JSON answer carries exact decimal numerals (no exponent, no digit lost past 2^53).
  app.setReplySerializer((payload) => toJson(payload))

  await app.register(swagger, {
    openapi: {
      info: { title: 'lateview', version: '0.1.0', description: 'Reports on data that arrives late. Errors are application/problem+json with a stable code.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
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
