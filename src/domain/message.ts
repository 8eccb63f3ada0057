import { type CloudEventData, type CloudEventProblem, cloudEventItem, fromCloudEvent, isJsonType } from './cloudevent.js'
import { parseJsonExact } from './decimal.js'
import { NotJson } from './event.js'
import { isObject } from './view.js'

/**
 * A message as an ingest item. A message holds one event: lateview's JSON, a CloudEvent in
 * structured mode (JSON with `specversion`), or a CloudEvent in binary mode (attributes in `ce-*`
 * headers, the data in the body, `content-type` its `datacontenttype`). Both modes go through
 * the one mapping of cloudevent.ts, then through the same validation. HTTP's binary mode
 * (POST /v1/events with a `ce-specversion` header) reads its request with `binaryCloudEvent` too.
 */

/** Header names in lower case, each with its values. */
export type MessageHeaders = ReadonlyMap<string, readonly string[]>

/** An item for ingest, and whether its numbers were all exact JS numbers (see `parseJsonExact`). */
export interface MessageItem {
  item: unknown
  exact: boolean
}

const CE_PREFIX = 'ce-'

/** Reads JSON losslessly; text that is not JSON becomes a NotJson item (refused as LV_EVENT_NOT_JSON). */
function readJson(text: string): MessageItem {
  try {
    const { value, exact } = parseJsonExact(text)
    return { item: value, exact }
  } catch (error) {
    return { item: new NotJson(`the message is not JSON: ${(error as Error).message}`), exact: true }
  }
}

/** The first value of a header. */
const first = (headers: MessageHeaders | null, name: string): string | undefined => headers?.get(name)?.[0]

/** The ingest item of one message: its body (UTF-8 text) and its headers (null: none). */
export function messageItem(body: string, headers: MessageHeaders | null): MessageItem {
  if (first(headers, `${CE_PREFIX}specversion`) !== undefined) return binaryCloudEvent(body, headers as MessageHeaders)
  const read = readJson(body)
  // A lateview event has no `specversion`: one that does is a structured CloudEvent.
  const structured = isObject(read.item) && 'specversion' in read.item
  return structured ? { item: fromCloudEvent(read.item), exact: read.exact } : read
}

export interface BinaryOptions {
  /**
   * Header values are percent-encoded (the HTTP protocol binding: a value may also be a quoted
   * string); NATS headers are taken as they are.
   */
  percentEncoded?: boolean
}

/**
 * A binary-mode CloudEvent: each `ce-<name>` header is the attribute `<name>`, `content-type` is
 * `datacontenttype`, the body is `data` (read losslessly when its type is JSON or not given; an
 * empty body is no data; a body of another type is refused, as lateview keeps JSON data only).
 */
export function binaryCloudEvent(body: string, headers: MessageHeaders, options: BinaryOptions = {}): MessageItem {
  const context = new Map<string, unknown>()
  const problems: CloudEventProblem[] = []
  for (const [name, values] of headers) {
    const value = values[0]
    if (!name.startsWith(CE_PREFIX) || name.length === CE_PREFIX.length || value === undefined) continue
    const attribute = name.slice(CE_PREFIX.length)
    const decoded = options.percentEncoded ? decodeHeaderValue(value) : value
    if (decoded === null) problems.push({ code: 'LV_EVENT_FIELD_INVALID', field: attribute, message: `the ${name} header is not percent-encoded UTF-8` })
    else context.set(attribute, decoded)
  }
  const contentType = first(headers, 'content-type')
  if (contentType !== undefined) context.set('datacontenttype', contentType)
  let data: CloudEventData = null
  // A body whose type is not JSON is its text, as the JSON format would carry it: refused as not JSON.
  if (body.length > 0) data = isJsonType(contentType) ? readData(body) : { json: body, exact: true }
  const item = cloudEventItem(context, data, problems)
  return { item, exact: item.exact }
}

/** A binary-mode body read as JSON. */
function readData(body: string): CloudEventData {
  try {
    const { value, exact } = parseJsonExact(body)
    return { json: value, exact }
  } catch (error) {
    return { problem: { code: 'LV_EVENT_DATA_NOT_JSON', field: 'data', message: `the body of the binary-mode CloudEvent is not JSON: ${(error as Error).message}` } }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * An HTTP header value of a CloudEvents attribute, decoded as the HTTP protocol binding says: a
 * quoted string unquoted (backslash escapes included), then one round of percent-decoding, the
 * bytes read as UTF-8 (an overlong or otherwise invalid sequence refused). Null when malformed.
 */
export function decodeHeaderValue(value: string): string | null {
  let text = value
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1).replace(/\\(.)/g, '$1')
  // Printable ASCII without a percent sign is itself.
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text
  // Node reads header bytes as Latin-1: each character is a byte.
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 37) {
      const hex = text.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
      bytes.push(Number.parseInt(hex, 16))
      i += 2
    } else if (c > 0xff) return null
    else bytes.push(c)
  }
  try {
    return utf8.decode(Uint8Array.from(bytes))
  } catch {
    return null
  }
}
