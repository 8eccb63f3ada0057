import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { ALERT_KINDS, type AlertKind } from '../../domain/alerts.js'
import { INSTANT_FORM, parseDurationMs, parseInstantInRange } from '../../domain/time.js'
import { LateviewError } from '../../errors.js'
import type { Lateview } from '../../services/lateview.js'
import { systemClock } from '../../domain/clock.js'
import { createWebhook, deliveries, findWebhook, removeWebhook, retryDelivery, rotateSecret, webhookDocument, webhooks } from '../../services/webhooks.js'
import { LIMIT, limitOf } from '../query.js'
import { ok, pathParams, problems, ref, STORE_FAULTS } from '../schemas.js'

const HOOK = pathParams({ id: 'the id of a subscription (wh_…)' })
const HOOK_PROBLEMS = problems({ 400: ['LV_ERR_URL_INVALID'], 404: ['LV_ERR_WEBHOOK_NOT_FOUND'], 503: STORE_FAULTS })

export interface SelfAddress {
  host: string
  port: number | null
}

const WEBHOOK_BODY = {
  type: 'object',
  required: ['url'],
  properties: { url: { type: 'string' }, kinds: { type: 'array', items: { type: 'string' } } },
  additionalProperties: false,
} as const

export function alertRoutes(app: FastifyInstance, lateview: Lateview, self: SelfAddress, onWebhookChange: () => void): void {
  app.get<{ Querystring: { kind?: string; status?: 'firing' | 'resolved'; since?: string; view?: string; limit?: string } }>(
    '/v1/alerts',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Alerts, newest first; kept forever, whatever their delivery',
        operationId: 'listAlerts',
        tags: ['alerts'],
        querystring: {
          type: 'object',
          properties: {
            kind: { type: 'string', enum: [...ALERT_KINDS] },
            status: { type: 'string', enum: ['firing', 'resolved'] },
            since: { type: 'string', description: 'an ISO 8601 instant: alerts created from then on' },
            view: { type: 'string', description: 'the alerts of this view' },
            limit: LIMIT,
          },
          additionalProperties: false,
        },
        response: { 200: ok(ref('Alerts'), 'The alerts'), ...problems({ 400: ['LV_ERR_QUERY_INVALID'], 503: STORE_FAULTS }) },
      },
    },
    async (request) => {
      const { kind, status, since, view, limit } = request.query
      let sinceMs: number | undefined
      if (since !== undefined) {
        const at = parseInstantInRange(since)
        if (at === null) throw new LateviewError('LV_ERR_QUERY_INVALID', `since=${JSON.stringify(since)} is not ${INSTANT_FORM}`)
        sinceMs = at
      }
      const alerts = await lateview.alerts({
        ...(kind ? { kind: kind as AlertKind } : {}),
        ...(status ? { status } : {}),
        ...(sinceMs !== undefined ? { since: sinceMs } : {}),
        ...(view ? { view } : {}),
        limit: limitOf(limit),
      })
      return { alerts }
    },
  )

  app.get<{ Querystring: { window?: string } }>(
    '/v1/sources',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Lateness per source over the whole UTC hours overlapping a recent window (default P7D): count, p50, p99 (within 1/128) and max lag',
        operationId: 'listSources',
        tags: ['alerts'],
        querystring: { type: 'object', properties: { window: { type: 'string', description: 'an ISO 8601 duration (default P7D)' } }, additionalProperties: false },
        response: { 200: ok(ref('Sources'), 'The lateness of each source'), ...problems({ 400: ['LV_ERR_QUERY_INVALID'], 503: STORE_FAULTS }) },
      },
    },
    async (request) => {
      const window = request.query.window ?? 'P7D'
      const windowMs = parseDurationMs(window)
      if (windowMs === null) throw new LateviewError('LV_ERR_QUERY_INVALID', `window=${JSON.stringify(window)} is not an ISO 8601 duration such as P7D`)
      const { now, from, to, sources } = await lateview.sources(windowMs)
      return { window, now, from, to, sources }
    },
  )

  const selfOf = () => {
    const address = app.server.address() as AddressInfo | null
    return { hosts: [self.host], port: address && typeof address === 'object' ? address.port : self.port }
  }

  app.post<{ Body: { url: string; kinds?: string[] } }>(
    '/v1/webhooks',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Subscribe a URL to alerts; the answer holds the signing secret, shown only once',
        operationId: 'createWebhook',
        tags: ['webhooks'],
        body: WEBHOOK_BODY,
        // The kinds are checked by the handler, which names them in its answer.
        documented: {
          body: {
            ...WEBHOOK_BODY,
            properties: {
              url: { type: 'string', description: 'an http(s) URL without credentials, not this server' },
              kinds: { type: 'array', items: { type: 'string', enum: [...ALERT_KINDS] }, minItems: 1, description: 'the kinds of alert to deliver (default: every kind)' },
            },
          },
        },
        response: {
          201: ok(ref('CreatedWebhook'), 'The subscription and its secret'),
          ...problems({ 400: ['LV_ERR_BODY_INVALID', 'LV_ERR_WEBHOOK_URL_INVALID'], 503: STORE_FAULTS }),
        },
      },
    },
    async (request, reply) => {
      const created = await createWebhook(lateview.engine, request.body, selfOf(), lateview.clock.now())
      onWebhookChange()
      return reply.code(201).send(created)
    },
  )

  app.get(
    '/v1/webhooks',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Subscriptions (without secrets)',
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        response: { 200: ok(ref('Webhooks'), 'The subscriptions'), ...problems({ 503: STORE_FAULTS }) },
      },
    },
    async () => ({
      webhooks: await webhooks(lateview.engine),
    }),
  )

  app.get<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: { summary: 'One subscription', operationId: 'getWebhook', tags: ['webhooks'], documented: { params: HOOK }, response: { 200: ok(ref('Webhook'), 'The subscription'), ...HOOK_PROBLEMS } },
    },
    async (request) => webhookDocument(await findWebhook(lateview.engine, request.params.id)),
  )

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Remove a subscription; its pending deliveries are cancelled',
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        documented: { params: HOOK },
        response: { 204: { description: 'Removed', type: 'null' }, ...HOOK_PROBLEMS },
      },
    },
    async (request, reply) => {
      await removeWebhook(lateview.engine, request.params.id, lateview.clock.now())
      return reply.code(204).send()
    },
  )

  app.post<{ Params: { id: string }; Body: unknown }>(
    '/v1/webhooks/:id/rotate-secret',
    {
      config: { scope: 'admin' },
      // No body schema: the body is optional (a bare POST rotates with the default overlap).
      schema: {
        summary:
          'Give a subscription a new signing secret, shown only once; the older ones keep signing beside it for the overlap of the optional body { "overlap": "PT24H" } (ISO 8601, PT0S to P7D, default PT24H)',
        operationId: 'rotateWebhookSecret',
        tags: ['webhooks'],
        documented: {
          params: HOOK,
          body: {
            type: 'object',
            properties: { overlap: { type: 'string', description: 'an ISO 8601 duration from PT0S to P7D (default PT24H)' } },
            additionalProperties: false,
          },
        },
        response: {
          200: ok(ref('RotatedSecret'), 'The new secret'),
          ...problems({ 400: ['LV_ERR_BODY_INVALID', 'LV_ERR_URL_INVALID'], 404: ['LV_ERR_WEBHOOK_NOT_FOUND'], 503: STORE_FAULTS }),
        },
      },
    },
    // Deliveries are signed on the real clock, whatever clock the store's jobs run on.
    async (request) => rotateSecret(lateview.engine, request.params.id, request.body, systemClock.now()),
  )

  app.get<{ Params: { id: string }; Querystring: { limit?: string } }>(
    '/v1/webhooks/:id/deliveries',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Deliveries of a subscription, newest first, each with every attempt logged',
        operationId: 'listDeliveries',
        tags: ['webhooks'],
        documented: { params: HOOK },
        querystring: { type: 'object', properties: { limit: LIMIT }, additionalProperties: false },
        response: {
          200: ok(ref('Deliveries'), 'The deliveries'),
          ...problems({ 400: ['LV_ERR_QUERY_INVALID', 'LV_ERR_URL_INVALID'], 404: ['LV_ERR_WEBHOOK_NOT_FOUND'], 503: STORE_FAULTS }),
        },
      },
    },
    async (request) => ({ deliveries: await deliveries(lateview.engine, request.params.id, limitOf(request.query.limit)) }),
  )

  app.post<{ Params: { id: string; deliveryId: string } }>(
    '/v1/webhooks/:id/deliveries/:deliveryId/retry',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Queue a delivery (typically dead) for a fresh run of the retry schedule',
        operationId: 'retryDelivery',
        tags: ['webhooks'],
        documented: { params: pathParams({ id: 'the id of a subscription (wh_…)', deliveryId: 'the id of one of its deliveries (msg_…)' }) },
        response: {
          202: ok(ref('QueuedDelivery'), 'Queued'),
          ...problems({
            400: ['LV_ERR_URL_INVALID'],
            404: ['LV_ERR_WEBHOOK_NOT_FOUND', 'LV_ERR_DELIVERY_NOT_FOUND'],
            409: ['LV_ERR_DELIVERY_DONE', 'LV_ERR_WEBHOOK_DISABLED'],
            503: STORE_FAULTS,
          }),
        },
      },
    },
    async (request, reply) => {
      await retryDelivery(lateview.engine, request.params.id, request.params.deliveryId, 0)
      onWebhookChange()
      return reply.code(202).send({ id: request.params.deliveryId, status: 'pending' })
    },
  )
}
