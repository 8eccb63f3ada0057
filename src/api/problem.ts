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

/**
 * The challenge of a 401 or 403 (RFC 6750, section 3): the scheme, and for a token that was
 * refused why, so that a client library knows to fetch or change its token.
 */
function challengeOf(error: LateviewError): string | null {
  switch (error.code) {
    case 'LV_ERR_AUTH_REQUIRED':
      return 'Bearer realm="lateview"'
    case 'LV_ERR_AUTH_INVALID':
      return 'Bearer realm="lateview", error="invalid_token"'
    case 'LV_ERR_AUTH_FORBIDDEN':
      return `Bearer realm="lateview", error="insufficient_scope", scope="${String(error.details.scope ?? '')}"`
    default:
      return null
  }
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: LateviewError): FastifyReply {
  const challenge = challengeOf(error)
  if (challenge !== null) reply.header('www-authenticate', challenge)
  const allow = error.details.allow
  if (error.code === 'LV_ERR_METHOD_NOT_ALLOWED' && Array.isArray(allow)) reply.header('allow', allow.join(', '))
  return reply.code(error.status).type('application/problem+json').send(problemOf(error, request.url))
}
