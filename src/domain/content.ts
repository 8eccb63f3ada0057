import type { EventReason } from '../errors.js'

/**
 * What an event may hold: one rule for both engines, checked before anything is stored.
 * PostgreSQL text cannot hold a NUL or a lone surrogate and SQLite can: without one rule the two
 * would disagree on what an event is (and an id with a lone surrogate could not be found again).
 */
export interface EventLimits {
  /** The JSON text of an event's `data`, in UTF-8 bytes. */
  maxDataBytes: number
  /** Any one string of `data` (keys included), in UTF-8 bytes. */
  maxStringBytes: number
  /** How deep `data` may nest (`data` itself is level 1). */
  maxDepth: number
}

export const DEFAULT_EVENT_LIMITS: Readonly<EventLimits> = Object.freeze({ maxDataBytes: 256 * 1024, maxStringBytes: 64 * 1024, maxDepth: 32 })

export interface ContentProblem {
  code: EventReason
  field: string
  message: string
}

const ASCII_PRINTABLE = /^[\x20-\x7e]*$/
const CONTROL = /[\x00-\x1f\x7f-\x9f]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** A name (id, source, type, retracts): printable characters, no control character, no lone surrogate. */
export function isPrintable(text: string): boolean {
  return ASCII_PRINTABLE.test(text) || (!CONTROL.test(text) && !LONE_SURROGATE.test(text))
}

/** The UTF-8 length of a well-formed string. */
function utf8Length(text: string): number {
  let n = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      n += 2 // a pair: 4 bytes for 2 code units
      i++
    } else if (c >= 0x800) n += 2
    else if (c >= 0x80) n += 1
  }
  return n
}

/** Whether `text` may take more than `limit` UTF-8 bytes (exact only when it could). */
function over(text: string, limit: number): boolean {
  return text.length > limit || (text.length * 3 > limit && utf8Length(text) > limit)
}

/**
 * The JSON text of an event's `data` (the text the store keeps), or why it cannot be kept: too
 * deep, too large, a string too long, a NUL or a lone surrogate anywhere (keys included). The
 * common case costs JSON.stringify, which the store needs anyway, and two scans of its text.
 */
export function dataJson(data: Record<string, unknown>, limits: EventLimits): { json: string } | ContentProblem {
  const tooDeep: ContentProblem = { code: 'LV_EVENT_TOO_DEEP', field: 'data', message: `data nests deeper than ${limits.maxDepth} levels` }
  let json: string
  try {
    json = JSON.stringify(data)
  } catch {
    // JSON.stringify runs out of stack on data nested thousands deep.
    return tooDeep
  }
  if (over(json, limits.maxDataBytes)) return { code: 'LV_EVENT_TOO_LARGE', field: 'data', message: `data takes more than ${limits.maxDataBytes} bytes as JSON` }
  // JSON.stringify escapes a NUL as \u0000 and a lone surrogate as \udXXX: only a backslash can hide one.
  if (json.indexOf('\\') >= 0) {
    for (let i = json.indexOf('\\'); i >= 0; i = json.indexOf('\\', i + 2)) {
      if (json.charCodeAt(i + 1) !== 117) continue
      const hex = json.slice(i + 2, i + 6).toLowerCase()
      if (hex === '0000') return { code: 'LV_EVENT_TEXT_INVALID', field: 'data', message: 'a string of data holds a NUL character' }
      if (hex >= 'd800' && hex <= 'dfff') return { code: 'LV_EVENT_TEXT_INVALID', field: 'data', message: 'a string of data holds a lone surrogate (not valid Unicode text)' }
    }
  }
  if (depthOver(json, limits.maxDepth)) return tooDeep
  if (over(json, limits.maxStringBytes)) {
    const long = longString(data, limits.maxStringBytes, '')
    if (long !== null) return { code: 'LV_EVENT_STRING_TOO_LONG', field: long, message: `a string of data takes more than ${limits.maxStringBytes} bytes` }
  }
  return { json }
}

/** Whether JSON text nests deeper than `max`. */
function depthOver(json: string, max: number): boolean {
  // Fewer brackets than the limit cannot nest deeper: count them first, strings included.
  let brackets = 0
  for (let i = json.indexOf('{'); i >= 0 && brackets <= max; i = json.indexOf('{', i + 1)) brackets++
  for (let i = json.indexOf('['); i >= 0 && brackets <= max; i = json.indexOf('[', i + 1)) brackets++
  if (brackets <= max) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}

/** The path of a string (or key) of `value` longer than `max` UTF-8 bytes, or null. */
function longString(value: unknown, max: number, path: string): string | null {
  if (typeof value === 'string') return over(value, max) ? path || 'data' : null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = longString(value[i], max, `${path}[${i}]`)
      if (found) return found
    }
    return null
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : `data.${key}`
      if (over(key, max)) return at
      const found = longString(v, max, at)
      if (found) return found
    }
  }
  return null
}
