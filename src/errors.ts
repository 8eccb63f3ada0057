/**
 * Every error lateview reports has a stable code from this registry. Callers check `code`,
 * never the message. docs/errors.md lists the same codes; a test keeps the two in step.
 */
export const ERRORS = {
  LV_ERR_BODY_INVALID: { status: 400, title: 'Request body is not valid' },
  LV_ERR_BODY_UNSUPPORTED_TYPE: { status: 415, title: 'Unsupported content type' },
  LV_ERR_BODY_TOO_LARGE: { status: 413, title: 'Request body or batch too large' },
  LV_ERR_EVENTS_INVALID: { status: 400, title: 'Some events in the batch are not valid; nothing was written' },
  LV_ERR_EVENT_CONFLICT: { status: 409, title: 'An event with this source and id exists with a different body' },
  LV_ERR_MEASURE_OVERFLOW: { status: 422, title: 'A measure would leave the range lateview keeps exactly' },
  LV_ERR_EVENT_NOT_FOUND: { status: 404, title: 'No such event' },
  LV_ERR_VIEW_NOT_FOUND: { status: 404, title: 'No such view' },
  LV_ERR_PERIOD_MALFORMED: { status: 400, title: 'Period key does not fit the view granularity' },
  LV_ERR_PERIOD_NOT_FOUND: { status: 404, title: 'The period has no published revision' },
  LV_ERR_REVISION_NOT_FOUND: { status: 404, title: 'No such revision of the period' },
  LV_ERR_PERIOD_NOT_BEGUN: { status: 409, title: 'The period has not begun: there is nothing to report yet' },
  LV_ERR_PERIOD_EMPTY: { status: 409, title: 'The period has neither events nor a revision: there is nothing to report' },
  LV_ERR_JOB_NOT_FOUND: { status: 404, title: 'No such job' },
  LV_ERR_CLOCK_NOT_SIMULATED: { status: 403, title: 'This server does not accept a simulated now' },
  LV_ERR_WEBHOOK_URL_INVALID: { status: 400, title: 'The webhook target URL is not allowed' },
  LV_ERR_WEBHOOK_NOT_FOUND: { status: 404, title: 'No such webhook subscription' },
  LV_ERR_WEBHOOK_DISABLED: { status: 409, title: 'The webhook subscription is disabled' },
  LV_ERR_DELIVERY_NOT_FOUND: { status: 404, title: 'No such delivery' },
  LV_ERR_DELIVERY_DONE: { status: 409, title: 'The delivery already succeeded' },
  LV_ERR_QUERY_INVALID: { status: 400, title: 'Query parameter is not valid' },
  LV_ERR_SEQ_NOT_YET: { status: 409, title: 'The store does not hold this seq yet' },
  LV_ERR_URL_INVALID: { status: 400, title: 'The request path is not a valid URL' },
  LV_ERR_REQUEST_INVALID: { status: 400, title: 'The HTTP request cannot be read' },
  LV_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  LV_ERR_AUTH_REQUIRED: { status: 401, title: 'A bearer token is required' },
  LV_ERR_AUTH_INVALID: { status: 401, title: 'The bearer token is not known' },
  LV_ERR_AUTH_FORBIDDEN: { status: 403, title: 'The token lacks the scope this request needs' },
  LV_ERR_ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  LV_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'The route does not take this method' },
  LV_ERR_STORE_BUSY: { status: 503, title: 'The store is busy; retry shortly' },
  LV_ERR_SHUTTING_DOWN: { status: 503, title: 'The server is shutting down; retry on another instance' },
  LV_ERR_STORE_FULL: { status: 503, title: "The store's disk is full" },
  LV_ERR_STORE_UNAVAILABLE: { status: 503, title: 'The store cannot be reached' },
  LV_ERR_VIEW_OUTDATED: { status: 503, title: 'This process runs an outdated view definition' },
  LV_ERR_BROKER_UNAVAILABLE: { status: 503, title: 'The message broker cannot be reached' },
  LV_ERR_INTERNAL: { status: 500, title: 'Internal error' },
  LV_ERR_CONFIG_INVALID: { status: 500, title: 'Configuration is not valid' },
  LV_ERR_VIEW_DEFINITION_INVALID: { status: 500, title: 'A view definition is not valid' },
} as const

export type ErrorCode = keyof typeof ERRORS

/** Reasons attached to single events of a rejected batch (`errors[].code`). */
export const EVENT_REASONS = {
  LV_EVENT_FIELD_MISSING: 'a required field is missing',
  LV_EVENT_FIELD_INVALID: 'a field has the wrong type or form',
  LV_EVENT_FIELD_UNKNOWN: 'the event has a field lateview does not know',
  LV_EVENT_IN_FUTURE: 'occurredAt is more than 5 minutes after receivedAt',
  LV_EVENT_NOT_JSON: 'the item is not a JSON object',
  LV_EVENT_RETRACTS_UNKNOWN: 'the retracted event does not exist for this source',
  LV_EVENT_RETRACTS_RETRACTION: 'a retraction cannot be retracted',
  LV_EVENT_ALREADY_RETRACTED: 'the event is already retracted',
  LV_EVENT_RECEIVED_AT_ORDER: 'imported receivedAt is earlier than what the store already holds',
  LV_EVENT_TEXT_INVALID: 'a string holds a NUL or a lone surrogate, or a name (id, source, type, retracts) a control character',
  LV_EVENT_TOO_DEEP: 'data nests deeper than lateview keeps',
  LV_EVENT_TOO_LARGE: 'the event is larger than the limit',
  LV_EVENT_STRING_TOO_LONG: 'a string of data is longer than the limit',
  LV_EVENT_SPECVERSION_UNSUPPORTED: 'the CloudEvent is not of specversion 1.0, the one lateview takes',
  LV_EVENT_ATTRIBUTE_NAME_INVALID: 'a CloudEvents attribute name is not 1 to 20 lower-case letters a-z and digits 0-9',
  LV_EVENT_DATA_NOT_JSON: "the CloudEvent's data is not JSON: lateview keeps a JSON object as data",
} as const

export type EventReason = keyof typeof EVENT_REASONS

export interface EventProblem {
  index: number
  id?: string
  line?: number
  code: EventReason
  field?: string
  message: string
}

/** An error with a stable code, an HTTP status, and optional details for problem+json. */
export class LateviewError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, detail?: string, details: Record<string, unknown> = {}) {
    super(detail ?? ERRORS[code].title)
    this.name = 'LateviewError'
    this.code = code
    this.status = ERRORS[code].status
    this.details = details
  }
}

export function isLateviewError(error: unknown): error is LateviewError {
  return error instanceof LateviewError
}

/** An RFC 9457 problem document with lateview's stable `code`. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  instance?: string
  [extra: string]: unknown
}

/** The problem document of an error: what the HTTP API answers, and what a dead letter carries. */
export function problemOf(error: LateviewError, instance?: string): Problem {
  return {
    type: `urn:lateview:problem:${error.code}`,
    title: ERRORS[error.code].title,
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(instance ? { instance } : {}),
    ...error.details,
  }
}
