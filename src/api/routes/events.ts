import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { LateviewConfig } from '../../config.js'
import { fromCloudEvent } from '../../domain/cloudevent.js'
import { parseJsonExact } from '../../domain/decimal.js'
import { NotJson, sourceKind } from '../../domain/event.js'
import { binaryCloudEvent } from '../../domain/message.js'
import { toIso } from '../../domain/time.js'
import { LateviewError } from '../../errors.js'
import type { Lateview } from '../../services/lateview.js'
import { requireScope } from '../auth.js'
import { BodyBudget } from '../bodies.js'
import type { Metrics } from '../metrics.js'
import { INGEST_DOCUMENTED, ok, pathParams, problems, ref, STORE_FAULTS } from '../schemas.js'

/** A request body already split into items by one of the content-type parsers. */
class Items {
  constructor(
    readonly items: unknown[],
    /** Some number of the body is not exactly a JS number (see `parseJsonExact`). */
    readonly inexact = false,
  ) {}
}

/**
 * JSON bodies whose numbers were not all exact JS numbers: read losslessly, so that ingest
 * refuses the events holding such a number instead of storing what JSON.parse made of it.
 */
const inexactBodies = new WeakSet<object>()

const parseNdjson = (text: string): Items => {
  let inexact = false
  const items = text
    .split('\n')
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line.length > 0)
    .map(({ line, n }) => {
      try {
        const parsed = parseJsonExact(line)
        inexact ||= !parsed.exact
        return parsed.value
      } catch (error) {
        return new NotJson(`line ${n} is not JSON: ${(error as Error).message}`, n)
      }
    })
  return new Items(items, inexact)
}

/**
 * CloudEvents binary mode: a request to POST /v1/events with a `ce-specversion` header and a
 * content type that is not a CloudEvents format holds one event, its attributes in `ce-*`
 * headers and its data in the body, whatever the body's type. Before the body is parsed, such a
 * request's content type is set to this one, which only the binary parser reads, and the one it
 * came with is kept here: its `datacontenttype`.
 */
const BINARY_CLOUDEVENT = 'application/vnd.lateview.binary-cloudevent'
const binaryRequests = new WeakMap<FastifyRequest, { contentType: string | undefined }>()

/** Whether a request is a binary-mode CloudEvent (structured and batch mode name their format). */
function isBinaryCloudEvent(request: FastifyRequest): boolean {
  if (request.headers['ce-specversion'] === undefined) return false
  const type = request.headers['content-type']
  return type === undefined || !type.trimStart().toLowerCase().startsWith('application/cloudevents')
}

/** The headers of a binary-mode request as binaryCloudEvent reads them: `ce-*` and the content type it came with. */
function binaryHeaders(request: FastifyRequest, contentType: string | undefined): Map<string, string[]> {
  const headers = new Map<string, string[]>()
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.startsWith('ce-') && value !== undefined) headers.set(name, Array.isArray(value) ? value : [value])
  }
  if (contentType !== undefined) headers.set('content-type', [contentType])
  return headers
}

const parseJson = (text: string): { value: unknown; exact: boolean } => {
  try {
    return parseJsonExact(text)
  } catch (error) {
    throw new LateviewError('LV_ERR_BODY_INVALID', `body is not valid JSON: ${(error as Error).message}`)
  }
}

export function eventRoutes(app: FastifyInstance, config: LateviewConfig, lateview: Lateview, metrics: Metrics): void {
  // fastify parses text/plain by default: a plain-text body would reach ingest as one string item
  // and be answered 400 LV_EVENT_NOT_JSON instead of 415 LV_ERR_BODY_UNSUPPORTED_TYPE.
  app.removeContentTypeParser('text/plain')
  // JSON is read losslessly. A body naming __proto__ or constructor goes to fastify's own parser,
  // which refuses prototype poisoning (its numbers read as JSON.parse reads them).
  const guarded = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string
    if (text.includes('"__proto__"') || text.includes('"constructor"')) return guarded(request, text, done)
    try {
      const parsed = parseJson(text)
      if (!parsed.exact && typeof parsed.value === 'object' && parsed.value !== null) inexactBodies.add(parsed.value)
      done(null, parsed.value)
    } catch (error) {
      done(error as Error)
    }
  })
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => done(null, parseNdjson(body as string)))
  app.addContentTypeParser('application/cloudevents+json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      const parsed = parseJson(body as string)
      done(null, new Items([fromCloudEvent(parsed.value)], !parsed.exact))
    } catch (error) {
      done(error as Error)
    }
  })
  app.addContentTypeParser('application/cloudevents-batch+json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      const parsed = parseJson(body as string)
      if (!Array.isArray(parsed.value)) throw new LateviewError('LV_ERR_BODY_INVALID', 'a CloudEvents batch must be a JSON array')
      done(null, new Items(parsed.value.map(fromCloudEvent), !parsed.exact))
    } catch (error) {
      done(error as Error)
    }
  })

  app.addContentTypeParser(BINARY_CLOUDEVENT, { parseAs: 'string' }, (request, body, done) => {
    const binary = binaryRequests.get(request)
    // Sent as such by a client, not set by the route below: a type lateview does not take.
    if (binary === undefined) return done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(BINARY_CLOUDEVENT))
    const { item, exact } = binaryCloudEvent(body as string, binaryHeaders(request, binary.contentType), { percentEncoded: true })
    done(null, new Items([item], !exact))
  })

  // Memory is bounded by the bytes of bodies read at once (see bodies.ts).
  const budget = new BodyBudget()
  const released = new WeakMap<object, () => void>()
  app.post<{ Querystring: { import?: string } }>(
    '/v1/events',
    {
      config: { scope: 'ingest' },
      onRequest: async (request) => {
        const header = request.headers['content-length']
        const release = await budget.take(header === undefined ? undefined : Number(header))
        // The client may have gone while this waited: onRequestAbort has then already run.
        if (request.raw.destroyed) release()
        else released.set(request, release)
      },
      onResponse: async (request) => {
        released.get(request)?.()
      },
      onRequestAbort: async (request) => {
        released.get(request)?.()
      },
      preParsing: async (request) => {
        if (!isBinaryCloudEvent(request)) return
        binaryRequests.set(request, { contentType: request.headers['content-type'] })
        request.raw.headers['content-type'] = BINARY_CLOUDEVENT
      },
      schema: {
        operationId: 'ingestEvents',
        summary: 'Append one event, an array, NDJSON or CloudEvents (binary, structured or batch); atomic',
        description:
          'The batch is written whole or not at all. Each event is checked by lateview itself: a batch with invalid events is refused with 400 LV_ERR_EVENTS_INVALID listing every problem (errors[], each with a per-event LV_EVENT_* code).',
        tags: ['events'],
        querystring: {
          type: 'object',
          properties: { import: { type: 'string', enum: ['true', 'false'], description: 'true: keep each event’s receivedAt (admin scope)' } },
          additionalProperties: false,
        },
        documented: INGEST_DOCUMENTED,
        response: {
          200: ok(ref('IngestAnswer'), 'The batch was stored (duplicates counted, not stored again)'),
          ...problems({
            400: ['LV_ERR_BODY_INVALID', 'LV_ERR_EVENTS_INVALID', 'LV_ERR_QUERY_INVALID'],
            403: ['LV_ERR_AUTH_FORBIDDEN'],
            409: ['LV_ERR_EVENT_CONFLICT'],
            413: ['LV_ERR_BODY_TOO_LARGE'],
            415: ['LV_ERR_BODY_UNSUPPORTED_TYPE'],
            422: ['LV_ERR_MEASURE_OVERFLOW'],
            503: [...STORE_FAULTS, 'LV_ERR_VIEW_OUTDATED'],
          }),
        },
      },
    },
    async (request) => {
      const imported = request.query.import === 'true'
      if (imported) requireScope(request, 'admin', config)
      const body = request.body
      const items = body instanceof Items ? body.items : Array.isArray(body) ? body : [body]
      const inexactNumbers = body instanceof Items ? body.inexact : typeof body === 'object' && body !== null && inexactBodies.has(body)
      try {
        const result = await lateview.ingest(items, { imported, inexactNumbers })
        metrics.eventsIngested.inc({ outcome: 'accepted' }, result.accepted)
        metrics.eventsIngested.inc({ outcome: 'duplicate' }, result.duplicates)
        for (const { source, lagMs } of result.lags) metrics.lag.observe({ source_kind: sourceKind(source) }, lagMs / 1000)
        const { lags: _lags, ...answer } = result
        return answer
      } catch (error) {
        if (error instanceof LateviewError && error.code === 'LV_ERR_EVENTS_INVALID') metrics.eventsIngested.inc({ outcome: 'rejected' }, items.length)
        if (error instanceof LateviewError && error.code === 'LV_ERR_EVENT_CONFLICT') metrics.eventsIngested.inc({ outcome: 'conflict' }, items.length)
        throw error
      }
    },
  )

  app.get<{ Params: { source: string; id: string } }>(
    '/v1/events/:source/:id',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getEvent',
        summary: 'One stored event with its seq, receivedAt and CloudEvents attributes',
        tags: ['events'],
        documented: { params: pathParams({ source: 'the source of the event', id: 'the id of the event' }) },
        response: {
          200: ok(ref('StoredEvent'), 'The event; a retraction names the event it voids (retracts), a voided event its retraction (retractedBy)'),
          ...problems({ 400: ['LV_ERR_URL_INVALID'], 404: ['LV_ERR_EVENT_NOT_FOUND'], 503: STORE_FAULTS }),
        },
      },
    },
    async (request) => {
      const { source, id } = request.params
      const found = await lateview.event(source, id)
      if (!found) throw new LateviewError('LV_ERR_EVENT_NOT_FOUND', `no event ${JSON.stringify(id)} from source ${JSON.stringify(source)}`)
      const { event, retractedBy: voidedBy } = found
      return {
        seq: event.seq,
        id: event.id,
        source: event.source,
        type: event.type,
        occurredAt: toIso(event.occurredAt),
        receivedAt: toIso(event.receivedAt),
        lagMs: event.receivedAt - event.occurredAt,
        data: event.data,
        ...(event.attributes !== undefined ? { attributes: event.attributes } : {}),
        ...(event.retracts !== null ? { retracts: event.retracts } : {}),
        ...(voidedBy ? { retractedBy: { id: voidedBy.id, seq: voidedBy.seq, receivedAt: toIso(voidedBy.receivedAt) } } : {}),
      }
    },
  )
}
