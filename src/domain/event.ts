import type { EventProblem, EventReason } from '../errors.js'
import { EVENT_REASONS } from '../errors.js'
import { parseInstant } from './time.js'
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
}

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
const CLOUDEVENT_FIELDS = new Set(['specversion', 'id', 'source', 'type', 'time', 'data', 'datacontenttype', 'dataschema', 'subject', 'retracts', 'receivedat'])

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

const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max

/**
 * The common case, a well-formed event, checked without building any problem list; null when
 * anything is unusual (`parseEvent` then says what, or accepts it).
 */
export function acceptEvent(raw: unknown, imported: boolean): NewEvent | null {
  if (!isObject(raw)) return null
  for (const key in raw) if (!EVENT_FIELDS.has(key)) return null
  const { id, source, type, data, retracts } = raw
  if (!isText(id, 200) || !isText(source, 200) || !isText(type, 100)) return null
  if (data !== undefined && !isObject(data)) return null
  if (retracts !== undefined && retracts !== null && (!isText(retracts, 200) || retracts === id)) return null
  const occurredAt = parseInstant(raw.occurredAt)
  if (occurredAt === null) return null
  let receivedAt: number | null = null
  if (imported) {
    receivedAt = parseInstant(raw.receivedAt)
    if (receivedAt === null) return null
  }
  return { id, source, type, occurredAt, data: data ?? {}, retracts: (retracts as string | null | undefined) ?? null, receivedAt }
}

/** Every check of `parseEvent`, each problem listed: for items the fast path did not accept. */
export function parseEventFully(raw: unknown, index: number, imported: boolean): ParsedEvent {
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
    return typeof v === 'string' ? v : ''
  }
  const eventId = text('id', 200)
  const source = text('source', 200)
  const type = text('type', 100)
  let occurredAt = 0
  if (raw.occurredAt === undefined) problem('LV_EVENT_FIELD_MISSING', 'occurredAt', 'occurredAt is required')
  else {
    const ms = parseInstant(raw.occurredAt)
    if (ms === null) problem('LV_EVENT_FIELD_INVALID', 'occurredAt', 'occurredAt must be an ISO 8601 instant with an offset or Z')
    else occurredAt = ms
  }
  let data: Record<string, unknown> = {}
  if (raw.data !== undefined) {
    if (!isObject(raw.data)) problem('LV_EVENT_FIELD_INVALID', 'data', 'data must be a JSON object')
    else data = raw.data
  }
  let retracts: string | null = null
  if (raw.retracts !== undefined && raw.retracts !== null) {
    if (typeof raw.retracts !== 'string' || raw.retracts.length === 0 || raw.retracts.length > 200) problem('LV_EVENT_FIELD_INVALID', 'retracts', 'retracts must be the id of an event of the same source')
    else if (raw.retracts === eventId) problem('LV_EVENT_FIELD_INVALID', 'retracts', 'an event cannot retract itself')
    else retracts = raw.retracts
  }
  let receivedAt: number | null = null
  if (imported) {
    const ms = raw.receivedAt === undefined ? null : parseInstant(raw.receivedAt)
    if (raw.receivedAt === undefined) problem('LV_EVENT_FIELD_MISSING', 'receivedAt', 'an import needs receivedAt on every event')
    else if (ms === null) problem('LV_EVENT_FIELD_INVALID', 'receivedAt', 'receivedAt must be an ISO 8601 instant with an offset or Z')
    else receivedAt = ms
  }
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, event: { id: eventId, source, type, occurredAt, data, retracts, receivedAt } }
}

/** Maps a CloudEvents 1.0 structured event onto lateview's event shape (`time` → `occurredAt`). */
export function fromCloudEvent(raw: unknown): unknown {
  if (!isObject(raw)) return raw
  const mapped: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (!CLOUDEVENT_FIELDS.has(key)) mapped[key] = value
  }
  if (raw.specversion !== '1.0') mapped['specversion'] = raw.specversion
  for (const key of ['id', 'source', 'type', 'data', 'retracts'] as const) {
    if (raw[key] !== undefined) mapped[key] = raw[key]
  }
  if (raw.time !== undefined) mapped.occurredAt = raw.time
  if (raw.receivedat !== undefined) mapped.receivedAt = raw.receivedat
  return mapped
}

/** A key-order-independent text of what makes two events with the same id the same event. */
export function canonicalBody(e: { type: string; occurredAt: number; data: Record<string, unknown>; retracts: string | null }): string {
  return canonicalJson({ type: e.type, occurredAt: e.occurredAt, data: e.data, retracts: e.retracts })
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isObject(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.filter((k) => value[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`
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
  /** The greatest id kept: a greater one cannot be there yet. */
  last: string | null
  /** While ids came in ascending order, the ids and values in order; then a map of them. */
  ids: string[] | null
  values: T[] | null
  map: Map<string, T> | null
}

/**
 * A map keyed by (source, id) without building a joined string per event. Ingest claims every
 * event of a batch once, and most producers number their events increasingly: an id above the
 * greatest one kept cannot be there yet, so it needs no lookup, and while a source's ids ascend
 * no hash map is built for them at all.
 */
export class EventKeyMap<T> {
  readonly #bySource = new Map<string, SourceIds<T>>()
  #size = 0

  get size(): number {
    return this.#size
  }

  #source(source: string): SourceIds<T> {
    let ids = this.#bySource.get(source)
    if (!ids) this.#bySource.set(source, (ids = { last: null, ids: [], values: [], map: null }))
    return ids
  }

  #map(s: SourceIds<T>): Map<string, T> {
    if (s.map === null) {
      const ids = s.ids as string[]
      const values = s.values as T[]
      s.map = new Map()
      for (let i = 0; i < ids.length; i++) s.map.set(ids[i] as string, values[i] as T)
      s.ids = s.values = null
    }
    return s.map
  }

  get(source: string, id: string): T | undefined {
    const s = this.#bySource.get(source)
    return s ? this.#map(s).get(id) : undefined
  }

  has(source: string, id: string): boolean {
    const s = this.#bySource.get(source)
    return s ? this.#map(s).has(id) : false
  }

  set(source: string, id: string, value: T): void {
    const s = this.#source(source)
    const map = this.#map(s)
    if (!map.has(id)) this.#size++
    map.set(id, value)
    if (s.last === null || id > s.last) s.last = id
  }

  /** The value already kept for (source, id), or undefined after keeping `value` for it. */
  claim(source: string, id: string, value: T): T | undefined {
    const s = this.#source(source)
    if (s.last === null || id > s.last) {
      s.last = id
      if (s.map !== null) s.map.set(id, value)
      else {
        ;(s.ids as string[]).push(id)
        ;(s.values as T[]).push(value)
      }
      this.#size++
      return undefined
    }
    const map = this.#map(s)
    const found = map.get(id)
    if (found !== undefined) return found
    map.set(id, value)
    this.#size++
    return undefined
  }

  *values(): IterableIterator<T> {
    for (const s of this.#bySource.values()) {
      if (s.map !== null) yield* s.map.values()
      else yield* s.values as T[]
    }
  }
}
