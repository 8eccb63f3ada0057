import type { EventProblem, EventReason } from '../errors.js'
import { EVENT_REASONS } from '../errors.js'
import { CloudEventItem } from './cloudevent.js'
import { isPrintable } from './content.js'
import { Decimal } from './decimal.js'
import { INSTANT_FORM, parseInstantInRange } from './time.js'
import { isObject } from './view.js'

/** An event as a producer sends it, validated and normalised (times in UTC epoch ms). */
export interface NewEvent {
  id: string
  source: string
  type: string
  occurredAt: number
  data: Record<string, unknown>
  retracts: string | null
  /** Only with an admin import; otherwise the server's clock decides. */
  receivedAt: number | null
  /** The JSON text of `data` once its content was checked (see content.ts): what the store keeps. */
  dataJson?: string
  /**
   * What a CloudEvent carried besides lateview's fields (see cloudevent.ts); absent for a lateview
   * event and a CloudEvent without any. Not part of what makes two events the same.
   */
  attributes?: EventAttributes
}

/** CloudEvents attributes kept with an event, by name: values as sent. */
export type EventAttributes = Record<string, string | number | boolean>

/** An event as the store holds it. */
export interface StoredEvent extends Omit<NewEvent, 'receivedAt'> {
  seq: number
  receivedAt: number
  /** For a retraction: the seq of the event it voids. */
  targetSeq: number | null
}

/** How far `occurredAt` may lie after `receivedAt` (producer clock skew). */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

const EVENT_FIELDS = new Set(['id', 'source', 'type', 'occurredAt', 'data', 'retracts', 'receivedAt'])

/** An input item that was not even JSON (an NDJSON line that fails to parse). */
export class NotJson {
  constructor(
    readonly message: string,
    readonly line?: number,
  ) {}
}

export type ParsedEvent = { ok: true; event: NewEvent } | { ok: false; problems: EventProblem[] }

/**
 * Validates one incoming event. `imported` keeps the event's `receivedAt` (required then);
 * otherwise a `receivedAt` in the body is ignored, as the server sets it.
 */
export function parseEvent(raw: unknown, index: number, imported: boolean): ParsedEvent {
  const event = acceptEvent(raw, imported)
  return event ? { ok: true, event } : parseEventFully(raw, index, imported)
}

const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && isPrintable(v)

/**
 * The common case, a well-formed event, checked without building any problem list; null when
 * anything is unusual (`parseEvent` then says what, or accepts it). A CloudEventItem is unusual:
 * none of its own keys is an event field.
 */
export function acceptEvent(raw: unknown, imported: boolean): NewEvent | null {
  if (!isObject(raw)) return null
  for (const key in raw) if (!EVENT_FIELDS.has(key)) return null
  const { id, source, type, data, retracts } = raw
  if (!isText(id, 200) || !isText(source, 200) || !isText(type, 100)) return null
  if (data !== undefined && !isObject(data)) return null
  if (retracts !== undefined && retracts !== null && (!isText(retracts, 200) || retracts === id)) return null
  const occurredAt = parseInstantInRange(raw.occurredAt)
  if (occurredAt === null) return null
  let receivedAt: number | null = null
  if (imported) {
    receivedAt = parseInstantInRange(raw.receivedAt)
    if (receivedAt === null) return null
  }
  return { id, source, type, occurredAt, data: data ?? {}, retracts: (retracts as string | null | undefined) ?? null, receivedAt }
}

/** Every check of `parseEvent`, each problem listed: for items the fast path did not accept. */
export function parseEventFully(raw: unknown, index: number, imported: boolean): ParsedEvent {
  if (raw instanceof CloudEventItem) return parseCloudEvent(raw, index, imported)
  const problems: EventProblem[] = []
  const id = isObject(raw) && typeof raw.id === 'string' ? raw.id : undefined
  const problem = (code: EventReason, field: string | undefined, message?: string): void => {
    problems.push({ index, ...(id !== undefined ? { id } : {}), code, ...(field ? { field } : {}), message: message ?? EVENT_REASONS[code] })
  }
  if (raw instanceof NotJson) {
    problems.push({ index, ...(raw.line !== undefined ? { line: raw.line } : {}), code: 'LV_EVENT_NOT_JSON', message: raw.message })
    return { ok: false, problems }
  }
  if (!isObject(raw)) {
    problem('LV_EVENT_NOT_JSON', undefined)
    return { ok: false, problems }
  }
  for (const key of Object.keys(raw)) {
    if (!EVENT_FIELDS.has(key)) problem('LV_EVENT_FIELD_UNKNOWN', key, `unknown field ${key}`)
  }
  const text = (field: 'id' | 'source' | 'type', max: number): string => {
    const v = raw[field]
    if (v === undefined) problem('LV_EVENT_FIELD_MISSING', field, `${field} is required`)
    else if (typeof v !== 'string' || v.length === 0 || v.length > max) problem('LV_EVENT_FIELD_INVALID', field, `${field} must be a string of 1 to ${max} characters`)
    else if (!isPrintable(v)) problem('LV_EVENT_TEXT_INVALID', field, `${field} must be printable text: no control character, no lone surrogate`)
    return typeof v === 'string' ? v : ''
  }
  const eventId = text('id', 200)
  const source = text('source', 200)
  const type = text('type', 100)
  let occurredAt = 0
  if (raw.occurredAt === undefined) problem('LV_EVENT_FIELD_MISSING', 'occurredAt', 'occurredAt is required')
  else {
    const ms = parseInstantInRange(raw.occurredAt)
    if (ms === null) problem('LV_EVENT_FIELD_INVALID', 'occurredAt', `occurredAt must be ${INSTANT_FORM}`)
    else occurredAt = ms
  }
  let data: Record<string, unknown> = {}
  if (raw.data !== undefined) {
    if (!isObject(raw.data)) problem('LV_EVENT_FIELD_INVALID', 'data', 'data must be a JSON object')
    else data = raw.data
  }
  let retracts: string | null = null
  if (raw.retracts !== undefined && raw.retracts !== null) {
    if (typeof raw.retracts !== 'string' || raw.retracts.length === 0 || raw.retracts.length > 200)
      problem('LV_EVENT_FIELD_INVALID', 'retracts', 'retracts must be the id of an event of the same source')
    else if (!isPrintable(raw.retracts)) problem('LV_EVENT_TEXT_INVALID', 'retracts', 'retracts must be printable text: no control character, no lone surrogate')
    else if (raw.retracts === eventId) problem('LV_EVENT_FIELD_INVALID', 'retracts', 'an event cannot retract itself')
    else retracts = raw.retracts
  }
  let receivedAt: number | null = null
  if (imported) {
    const ms = raw.receivedAt === undefined ? null : parseInstantInRange(raw.receivedAt)
    if (raw.receivedAt === undefined) problem('LV_EVENT_FIELD_MISSING', 'receivedAt', 'an import needs receivedAt on every event')
    else if (ms === null) problem('LV_EVENT_FIELD_INVALID', 'receivedAt', `receivedAt must be ${INSTANT_FORM}`)
    else receivedAt = ms
  }
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, event: { id: eventId, source, type, occurredAt, data, retracts, receivedAt } }
}

/**
 * A mapped CloudEvent: its fields checked as a lateview event's, its own problems listed first,
 * its attributes kept on the event.
 */
function parseCloudEvent(ce: CloudEventItem, index: number, imported: boolean): ParsedEvent {
  const fast = ce.problems.length === 0 ? acceptEvent(ce.fields, imported) : null
  const parsed: ParsedEvent = fast ? { ok: true, event: fast } : parseEventFully(ce.fields, index, imported)
  if (ce.problems.length > 0) {
    const id = typeof ce.fields.id === 'string' ? ce.fields.id : undefined
    const own = ce.problems.map((p): EventProblem => ({ index, ...(id !== undefined ? { id } : {}), code: p.code, field: p.field, message: p.message }))
    return { ok: false, problems: parsed.ok ? own : [...own, ...parsed.problems] }
  }
  if (parsed.ok && ce.attributes !== null) parsed.event.attributes = ce.attributes
  return parsed
}

/**
 * The numbers of a losslessly parsed item that no JS number holds exactly (Decimals), with their
 * paths (`data.amount`): JSON.parse would have changed them, so they are refused, never rounded.
 */
export function inexactNumbers(value: unknown, path = '', depth = 0): Array<{ field: string; text: string }> {
  // A CloudEvent's numbers are those of its fields (its attributes' are checked as it is mapped).
  if (value instanceof CloudEventItem) return inexactNumbers(value.fields, path, depth)
  if (value instanceof Decimal) return [{ field: path, text: value.text }]
  // Deeper than any event may nest: the depth rule refuses it (and recursion must stop somewhere).
  if (depth > 64) return []
  if (Array.isArray(value)) return value.flatMap((v, i) => inexactNumbers(v, `${path}[${i}]`, depth + 1))
  if (isObject(value)) return Object.entries(value).flatMap(([k, v]) => inexactNumbers(v, path ? `${path}.${k}` : k, depth + 1))
  return []
}

/** A key-order-independent text of what makes two events with the same id the same event. */
export function canonicalBody(e: { type: string; occurredAt: number; data: Record<string, unknown>; retracts: string | null }): string {
  return canonicalJson({ type: e.type, occurredAt: e.occurredAt, data: e.data, retracts: e.retracts })
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isObject(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** `store-042` → `store`: sources are grouped by their leading letters for lag metrics. */
export function sourceKind(source: string): string {
  const match = /^[A-Za-z]+/.exec(source)
  return match ? match[0].toLowerCase() : 'other'
}

/** The ids of one source in an `EventKeyMap`. */
interface SourceIds<T> {
  /** Ids in the order they were kept, each above the one before, and their values. */
  ids: string[]
  values: T[]
  /** Ids kept after a greater one (null until there is one), with their values. */
  others: Map<string, T> | null
}

/** Where `id` is in the ascending `ids`, or -1. */
function indexOf(ids: string[], id: string): number {
  let lo = 0
  let hi = ids.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const at = ids[mid] as string
    if (at === id) return mid
    if (at < id) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

/**
 * A map keyed by (source, id) without building a joined string per event; values are never
 * undefined. Ingest claims every event of a batch once, and most producers number their events
 * increasingly: an id above the greatest one kept cannot be there yet, so it needs no lookup and
 * is appended to its source's ascending list. An id below it (a retraction, a re-sent event) is
 * looked for in that list by bisection, then among the few others; no hash map of every id is
 * ever built.
 */
export class EventKeyMap<T> {
  readonly #bySource = new Map<string, SourceIds<T>>()
  #size = 0

  get size(): number {
    return this.#size
  }

  #source(source: string): SourceIds<T> {
    let s = this.#bySource.get(source)
    if (!s) this.#bySource.set(source, (s = { ids: [], values: [], others: null }))
    return s
  }

  /** The value kept for `id` in `s`. */
  #find(s: SourceIds<T>, id: string): T | undefined {
    const ids = s.ids
    const n = ids.length
    // Every id kept, in the list or among the others, is at most the list's last.
    if (n === 0 || id > (ids[n - 1] as string)) return undefined
    const i = indexOf(ids, id)
    if (i >= 0) return s.values[i]
    return s.others === null ? undefined : s.others.get(id)
  }

  get(source: string, id: string): T | undefined {
    const s = this.#bySource.get(source)
    return s ? this.#find(s, id) : undefined
  }

  has(source: string, id: string): boolean {
    return this.get(source, id) !== undefined
  }

  /** Appends `id` to its source's ascending list if it is above every id kept there. */
  #appended(s: SourceIds<T>, id: string, value: T): boolean {
    const n = s.ids.length
    if (n > 0 && !(id > (s.ids[n - 1] as string))) return false
    s.ids.push(id)
    s.values.push(value)
    this.#size++
    return true
  }

  set(source: string, id: string, value: T): void {
    const s = this.#source(source)
    if (this.#appended(s, id, value)) return
    const i = indexOf(s.ids, id)
    if (i >= 0) {
      s.values[i] = value
      return
    }
    const others = (s.others ??= new Map())
    if (!others.has(id)) this.#size++
    others.set(id, value)
  }

  /** The value already kept for (source, id), or undefined after keeping `value` for it. */
  claim(source: string, id: string, value: T): T | undefined {
    const s = this.#source(source)
    if (this.#appended(s, id, value)) return undefined
    const found = this.#find(s, id)
    if (found !== undefined) return found
    ;(s.others ??= new Map()).set(id, value)
    this.#size++
    return undefined
  }

  *values(): IterableIterator<T> {
    for (const s of this.#bySource.values()) {
      yield* s.values
      if (s.others !== null) yield* s.others.values()
    }
  }
}
