import { parseJsonExact } from './decimal.js'
import { fromCloudEvent, NotJson } from './event.js'
import { isObject } from './view.js'

/**
 * A broker message as an ingest item. A message holds one event: lateview's JSON, a CloudEvent
 * in structured mode (JSON with `specversion`), or a CloudEvent in binary mode (the CloudEvents
 * NATS protocol binding: attributes in `ce-*` headers, the data in the body, `content-type` its
 * `datacontenttype`). Binary mode is first made into the structured object, so that both go
 * through the one mapping HTTP uses (`fromCloudEvent`), then through the same validation.
 */

/** Header names in lower case, each with its values. */
export type MessageHeaders = ReadonlyMap<string, readonly string[]>

/** An item for ingest, and whether its numbers were all exact JS numbers (see `parseJsonExact`). */
export interface MessageItem {
  item: unknown
  exact: boolean
}

const CE_PREFIX = 'ce-'

/** Whether a `content-type` says JSON (`application/json`, `…+json`); absent counts as JSON. */
function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return true
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase()
  return type === 'application/json' || type.endsWith('+json') || type === 'text/json'
}

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
  return structured ? { item: fromCloudEvent(read.item), exact: read.exact } : { item: read.item, exact: read.exact }
}

/**
 * A binary-mode CloudEvent as its structured object: each `ce-<name>` header is the attribute
 * `<name>`, `content-type` is `datacontenttype`, the body is `data` (parsed when it is JSON; an
 * empty body is no data). Then mapped as a structured one is.
 */
export function binaryCloudEvent(body: string, headers: MessageHeaders): MessageItem {
  const structured: Record<string, unknown> = {}
  for (const [name, values] of headers) {
    if (name.startsWith(CE_PREFIX) && name.length > CE_PREFIX.length && values[0] !== undefined) structured[name.slice(CE_PREFIX.length)] = values[0]
  }
  const contentType = first(headers, 'content-type')
  if (contentType !== undefined) structured.datacontenttype = contentType
  let exact = true
  if (body.length > 0) {
    if (isJsonType(contentType)) {
      const read = readJson(body)
      if (read.item instanceof NotJson) return { item: new NotJson(`the data of the binary-mode CloudEvent is not JSON: ${read.item.message.replace(/^the message is not JSON: /, '')}`), exact: true }
      structured.data = read.item
      exact = read.exact
    } else structured.data = body
  }
  return { item: fromCloudEvent(structured), exact }
}
