import type { EventReason } from '../errors.js'
import { isPrintable } from './content.js'
import { parseJsonExact } from './decimal.js'
import type { EventAttributes } from './event.js'
import { isObject } from './view.js'

/**
 * CloudEvents 1.0 onto lateview's events, one mapping for every mode: structured and batch (the
 * JSON event format) over HTTP and NATS, binary (attributes in `ce-*` headers, the data in the
 * body) over both too (see message.ts). `specversion` must be 1.0; `id`, `source`, `type`,
 * `time` (→ `occurredAt`) and `data` (or `data_base64`, decoded) make the event, with lateview's
 * own extensions `retracts` and `receivedat` (→ `receivedAt`, for an admin import); `subject`,
 * `dataschema`, `datacontenttype` and every extension attribute are kept with the event as its
 * attributes, values as sent. The mapped event is then validated as any lateview event is.
 */

/** The most UTF-8 bytes the JSON of an event's attributes may take. */
export const MAX_ATTRIBUTES_BYTES = 4096

/** What is wrong with a CloudEvent as such (its index and id are added when the batch is read). */
export interface CloudEventProblem {
  code: EventReason
  field: string
  message: string
}

/**
 * A CloudEvent mapped onto lateview's event: `fields` in lateview's shape (validated as any
 * lateview event is), the attributes kept besides them (null: none), and what is wrong with the
 * CloudEvent itself. Ingest reads it in place of the object it was made from.
 */
export class CloudEventItem {
  constructor(
    readonly fields: Record<string, unknown>,
    readonly attributes: EventAttributes | null,
    readonly problems: readonly CloudEventProblem[],
    /** Whether every number of data decoded here (`data_base64`, a binary body) is exactly a JS number. */
    readonly exact: boolean,
  ) {}
}

/**
 * A CloudEvent's data as its mode carries it: absent (null), a JSON value (structured `data`, a
 * decoded `data_base64`, a binary body; a body whose type is not JSON as its text), or why the
 * bytes could not be read.
 */
export type CloudEventData = null | { json: unknown; exact: boolean } | { problem: CloudEventProblem }

/** The attributes that are lateview's fields, with the field each becomes. */
const FIELDS: ReadonlyMap<string, string> = new Map([
  ['id', 'id'],
  ['source', 'source'],
  ['type', 'type'],
  ['time', 'occurredAt'],
  ['retracts', 'retracts'],
  ['receivedat', 'receivedAt'],
])
/** Optional attributes of the specification lateview keeps with the event: non-empty strings. */
const KEPT = new Set(['datacontenttype', 'dataschema', 'subject'])
/** The members that carry the data in the JSON format: never attributes. */
const DATA_MEMBERS = new Set(['data', 'data_base64'])
/** An extension attribute's name (CloudEvents 1.0: lower-case a-z and 0-9; at most 20 of them). */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/
const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Whether a media type says JSON (`application/json`, `…+json`, `text/json`); absent counts as JSON. */
export function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return true
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase()
  return type === 'application/json' || type.endsWith('+json') || type === 'text/json'
}

/**
 * A structured CloudEvent (an object of the JSON event format) as an item for ingest; anything
 * else is returned as it is (validation says it is not an event).
 */
export function fromCloudEvent(raw: unknown): unknown {
  if (!isObject(raw)) return raw
  const context = new Map<string, unknown>()
  for (const key of Object.keys(raw)) if (!DATA_MEMBERS.has(key)) context.set(key, raw[key])
  const problems: CloudEventProblem[] = []
  const base64 = raw.data_base64 ?? undefined
  let data: CloudEventData = null
  if (raw.data !== undefined) {
    data = { json: raw.data, exact: true }
    if (base64 !== undefined) problems.push({ code: 'LV_EVENT_FIELD_INVALID', field: 'data_base64', message: 'a CloudEvent holds data or data_base64, not both' })
  } else if (base64 !== undefined) data = decodeBase64(base64)
  return cloudEventItem(context, data, problems)
}

/** `data_base64` decoded and read as JSON, losslessly. */
function decodeBase64(value: unknown): CloudEventData {
  if (typeof value !== 'string' || !BASE64.test(value)) {
    return { problem: { code: 'LV_EVENT_FIELD_INVALID', field: 'data_base64', message: 'data_base64 must be base64 text (RFC 4648, with its = padding)' } }
  }
  let text: string
  try {
    text = utf8.decode(Buffer.from(value, 'base64'))
  } catch {
    return { problem: { code: 'LV_EVENT_DATA_NOT_JSON', field: 'data_base64', message: 'data_base64 does not decode to UTF-8 text, so not to JSON' } }
  }
  try {
    const { value: json, exact } = parseJsonExact(text)
    return { json, exact }
  } catch (error) {
    return { problem: { code: 'LV_EVENT_DATA_NOT_JSON', field: 'data_base64', message: `data_base64 does not decode to JSON: ${(error as Error).message}` } }
  }
}

/**
 * The item of a CloudEvent given as its attributes (`context`, every one but the data) and its
 * data, whatever the mode; `problems` are those its mode met already (a header not decodable).
 */
export function cloudEventItem(context: ReadonlyMap<string, unknown>, data: CloudEventData, problems: CloudEventProblem[] = []): CloudEventItem {
  const fields: Record<string, unknown> = {}
  let attributes: EventAttributes | null = null
  const problem = (code: EventReason, field: string, message: string): void => {
    problems.push({ code, field, message })
  }
  const specversion = context.get('specversion') ?? undefined
  if (specversion === undefined) problem('LV_EVENT_FIELD_MISSING', 'specversion', 'specversion is required')
  else if (specversion !== '1.0') problem('LV_EVENT_SPECVERSION_UNSUPPORTED', 'specversion', `specversion ${JSON.stringify(specversion)} is not supported: lateview takes CloudEvents 1.0 only`)
  for (const [name, value] of context) {
    // An attribute set to null is absent (the JSON format's rule for optional attributes).
    if (value === undefined || name === 'specversion') continue
    const field = FIELDS.get(name)
    if (field !== undefined) {
      fields[field] = value
      continue
    }
    if (value === null) continue
    if (DATA_MEMBERS.has(name)) problem('LV_EVENT_ATTRIBUTE_NAME_INVALID', name, `${name} is not an attribute: the data is the body in binary mode`)
    else if (KEPT.has(name)) {
      if (typeof value !== 'string' || value.length === 0) problem('LV_EVENT_FIELD_INVALID', name, `${name} must be a non-empty string`)
      else if (!isPrintable(value)) problem('LV_EVENT_TEXT_INVALID', name, `${name} must be printable text: no control character, no lone surrogate`)
      else (attributes ??= {})[name] = value
    } else if (!ATTRIBUTE_NAME.test(name)) {
      problem('LV_EVENT_ATTRIBUTE_NAME_INVALID', name, `${JSON.stringify(name)} is not a CloudEvents attribute name: 1 to 20 lower-case letters a-z and digits 0-9`)
    } else if (typeof value === 'string') {
      if (!isPrintable(value)) problem('LV_EVENT_TEXT_INVALID', name, `${name} must be printable text: no control character, no lone surrogate`)
      else (attributes ??= {})[name] = value
    } else if (typeof value === 'boolean' || (Number.isInteger(value) && (value as number) >= INT32_MIN && (value as number) <= INT32_MAX)) {
      ;(attributes ??= {})[name] = value as boolean | number
    } else problem('LV_EVENT_FIELD_INVALID', name, `${name} must be a string, a boolean or an integer from ${INT32_MIN} to ${INT32_MAX}`)
  }
  if (attributes !== null && Buffer.byteLength(JSON.stringify(attributes)) > MAX_ATTRIBUTES_BYTES) {
    problem('LV_EVENT_TOO_LARGE', 'attributes', `the attributes kept with the event (subject, dataschema, datacontenttype and extensions) take more than ${MAX_ATTRIBUTES_BYTES} bytes as JSON`)
  }
  let exact = true
  if (data !== null) {
    const type = context.get('datacontenttype')
    if (typeof type === 'string' && !isJsonType(type)) problem('LV_EVENT_DATA_NOT_JSON', 'data', `the data is ${type}, not JSON: lateview keeps a JSON object as data`)
    else if ('problem' in data) problems.push(data.problem)
    else {
      fields.data = data.json
      exact = data.exact
    }
  }
  return new CloudEventItem(fields, attributes, problems, exact)
}
