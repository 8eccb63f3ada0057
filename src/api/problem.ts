import type { FastifyReply, FastifyRequest } from 'fastify'
import { isLateviewError, LateviewError, problemOf } from '../errors.js'
import { storeError } from '../store/engine.js'

export { type Problem, problemOf } from '../errors.js'

/** Translates anything thrown in a route into a problem+json answer. */
export function toLateviewError(error: unknown): LateviewError {
  if (isLateviewError(error)) return error
  const e = error as { code?: string; statusCode?: number; message?: string; validation?: unknown; validationContext?: string }
  if (e.validation) {
    return new LateviewError(e.validationContext === 'body' ? 'LV_ERR_BODY_INVALID' : 'LV_ERR_QUERY_INVALID', e.message ?? 'invalid request')
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LateviewError('LV_ERR_BODY_TOO_LARGE', e.message)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new LateviewError('LV_ERR_BODY_UNSUPPORTED_TYPE', 'send application/json, application/x-ndjson, application/cloudevents+json or application/cloudevents-batch+json')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new LateviewError('LV_ERR_BODY_INVALID', e.message)
  }
  if (error instanceof SyntaxError) return new LateviewError('LV_ERR_BODY_INVALID', `body is not valid JSON: ${error.message}`)
  if (e.statusCode === 400) return new LateviewError('LV_ERR_BODY_INVALID', e.message)
  // A full disk or an unreachable store met by a read outside the engine's own guards.
  const store = storeError(error)
  if (store) return store
  return new LateviewError('LV_ERR_INTERNAL', 'an internal error occurred; it has been logged')
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: LateviewError): FastifyReply {
  return reply.code(error.status).type('application/problem+json').send(problemOf(error, request.url))
}
