/**
 * Exact decimal arithmetic for measures. A measure value is kept as an integer scaled by
 * 10^decimals ("scaled"), so that sums do not depend on the order events arrive in; this module
 * rounds inputs into that form, adds, divides and prints such integers without ever going through
 * a binary fraction, and reads and writes JSON without losing digits.
 *
 * It is longer than a module should be because its parts share one representation and one
 * invariant (a Scaled value is normalized): rounding, addition, division, printing and the
 * lossless JSON reader each rely on what the others guarantee, and split apart they would only
 * import each other's internals.
 */

/**
 * An exact integer, normalized: a `number` whenever it is a safe integer, a `bigint` only beyond.
 * One value has one representation, so `===` compares two Scaled values, and `<` / `>` compare a
 * number with a bigint exactly.
 */
export type Scaled = number | bigint

const MAX_SAFE = Number.MAX_SAFE_INTEGER
const MAX_SAFE_BIG = BigInt(MAX_SAFE)

/** The smallest and largest values an SQL int64 column (SQLite integer, PostgreSQL bigint) holds. */
export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n

// Every power is an exact double (10^9 < 2^53), so `value * POW10[d]` rounds only once.
const POW10: readonly number[] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]

/** 10^decimals; throws unless decimals is an integer from 0 to 9. */
function scaleOf(decimals: number): number {
  const p = POW10[decimals]
  if (p === undefined) throw new RangeError(`decimals must be an integer from 0 to 9, not ${decimals}`)
  return p
}

/** The normalized Scaled form of an integer; throws when given a number that is not an integer. */
export function normalize(x: bigint | number): Scaled {
  if (typeof x === 'number') {
    // `+ 0` turns -0 into 0: one value, one representation.
    if (Number.isSafeInteger(x)) return x + 0
    if (Number.isInteger(x)) return BigInt(x)
    throw new RangeError(`${x} is not an integer`)
  }
  return x >= -MAX_SAFE_BIG && x <= MAX_SAFE_BIG ? Number(x) : x
}

/** a + b, exact. */
export function addScaled(a: Scaled, b: Scaled): Scaled {
  if (typeof a === 'number' && typeof b === 'number') {
    // |a|, |b| <= 2^53 - 1, so the exact sum is an integer of magnitude below 2^54. If that
    // magnitude is at most 2^53 the sum is a double and the addition is exact. If it is above,
    // rounding is monotonic and 2^53 is a double, so the rounded sum is at least 2^53 in
    // magnitude and fails the test below. Hence a sum that passes the test is the exact sum.
    const s = a + b
    if (s <= MAX_SAFE && s >= -MAX_SAFE) return s
  }
  return normalize(BigInt(a) + BigInt(b))
}

/** -a. */
export function negateScaled(a: Scaled): Scaled {
  // The safe range is symmetric, so negation keeps a value on its side of normalization.
  return typeof a === 'number' ? 0 - a : -a
}

/** a - b, exact. */
export function subScaled(a: Scaled, b: Scaled): Scaled {
  if (typeof a === 'number' && typeof b === 'number') {
    // Same argument as in addScaled: a - b is a + (-b) and -b is safe.
    const s = a - b
    if (s <= MAX_SAFE && s >= -MAX_SAFE) return s
  }
  return normalize(BigInt(a) - BigInt(b))
}

/** -1, 0 or 1 as a is below, equal to or above b. */
export function compareScaled(a: Scaled, b: Scaled): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Whether x is zero. */
export function isZero(x: Scaled): boolean {
  return x === 0 || x === 0n
}

/** Whether x fits an SQL int64 column. */
export function fitsInt64(x: Scaled): boolean {
  return typeof x === 'number' || (x >= INT64_MIN && x <= INT64_MAX)
}

// ---------------------------------------------------------------------------------------------
// Rounding inputs

// Past 2^48 the margin below exceeds a quarter and the fast path would rarely apply anyway; below
// it the result is at most 2^48 + 1, a safe integer.
const FAST_LIMIT = 2 ** 48
const FAST_MARGIN = 2 ** -50

/**
 * The value rounded to `decimals` places and scaled by 10^decimals: the value's shortest decimal
 * form (`String(value)`, what the JSON it came from carried) rounded half away from zero. Null when
 * the value is not finite or the result is not a safe integer.
 */
export function toScaled(value: number, decimals: number): number | null {
  const p = POW10[decimals]
  if (p === undefined) return scaleOf(decimals)
  const x = value * p
  // Math.abs rather than a sign test: it maps -0 to 0, which must not come back out as -0.
  const ax = Math.abs(x)
  if (ax < FAST_LIMIT) {
    // Let s be the decimal String(value) shows and y = s·10^d the exact number to round. Because
    // s parses back to value, |s - value| <= half a spacing of doubles at value <= 2^-53·|value|;
    // scaling by the exact 10^d keeps that relative bound, and x = value·10^d rounded adds at
    // most 2^-53·|value·10^d|. So |x - y| <= 2^-52·|x|·(1 + 2^-52) (plus an absolute 2^-1040
    // or so for subnormals, where x is so small that its distance to 0.5 dwarfs it). Rounding
    // to the nearest integer only changes at half-integers, so if the nearest half-integer to x
    // (at distance |frac(|x|) - 0.5|) is farther than 2^-50·|x|, y rounds to the same integer.
    // ax - r is exact, and so is the subtraction of 0.5 whenever its result is within 0.25 of 0,
    // the only place the comparison is tight; the margin product is an exact power-of-two scaling.
    const r = Math.floor(ax)
    const gap = ax - r - 0.5
    const margin = ax * FAST_MARGIN
    if (gap > margin) return x < 0 ? -1 - r : r + 1
    // `0 - r` rather than `-r`: a negative value that rounds to zero gives 0, not -0.
    if (gap < -margin) return x < 0 ? 0 - r : r
    return nearHalf(value, decimals, r)
  }
  return toScaledExact(value, decimals)
}

/** toScaled of a value whose scaled form is within the fast path's margin of r + 0.5. */
function nearHalf(value: number, decimals: number, r: number): number | null {
  // Most often a true tie: a value with one more decimal, ending in 5. The half-way decimal
  // H = (10r + 5) / 10^(d+1) has at most 15 significant digits when r < 10^14, so the double
  // nearest it (one correctly rounded division of exact doubles) prints as H itself (see
  // `amount`). If value is that double, it is an exact tie, and ties round away from zero.
  if (r < 1e14 && (10 * r + 5) / ((POW10[decimals] as number) * 10) === Math.abs(value)) return value < 0 ? -1 - r : r + 1
  return toScaledExact(value, decimals)
}

/**
 * `toScaled` computed from the decimal digits of `String(value)` only (no fast path): the
 * reference the fast path is held to, and its fallback near half-way points.
 */
export function toScaledExact(value: number, decimals: number): number | null {
  scaleOf(decimals)
  if (!Number.isFinite(value)) return null
  const p = partsOf(String(value)) as Parts
  const digits = p.digits
  if (digits === '') return 0
  const k = p.exp + decimals
  let n: number
  // Digit strings of up to 16 digits convert exactly when the value is safe (it has at most 16
  // digits and fits a double's 53 bits) and to at least 2^53 otherwise (2^53 is a double and
  // conversion rounds monotonically); more than 16 digits is at least 10^16, never safe.
  if (k >= 0) {
    if (digits.length + k > 16) return null
    n = Number(k === 0 ? digits : digits + '0'.repeat(k))
  } else {
    const keep = digits.length + k
    // Everything is dropped and the first dropped digit is a leading zero: rounds to 0.
    if (keep < 0) return 0
    if (keep > 16) return null
    n = keep === 0 ? 0 : Number(digits.slice(0, keep))
    // Half away from zero on the magnitude: a first dropped digit of 5 or more rounds up, ties included.
    if (digits.charCodeAt(keep) >= 53) n += 1
  }
  if (!Number.isSafeInteger(n)) return null
  return p.neg ? 0 - n : n
}

// ---------------------------------------------------------------------------------------------
// Numerals

/** A numeral taken apart: the value is (neg ? -1 : 1) · digits · 10^exp. */
interface Parts {
  neg: boolean
  /** Significant digits: no leading or trailing zeros; empty for zero. */
  digits: string
  exp: number
}

const NUMERAL = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/

/** The parts of a JSON number text, or null when it is not one. */
function partsOf(text: string): Parts | null {
  const m = NUMERAL.exec(text)
  if (m === null) return null
  const frac = m[3] ?? ''
  let digits = (m[2] as string) + frac
  let exp = (m[4] === undefined ? 0 : Number(m[4])) - frac.length
  if (!Number.isSafeInteger(exp)) throw new RangeError(`the exponent of ${text} is out of range`)
  let start = 0
  while (start < digits.length && digits.charCodeAt(start) === 48) start++
  let end = digits.length
  while (end > start && digits.charCodeAt(end - 1) === 48) end--
  exp += digits.length - end
  digits = digits.slice(start, end)
  return { neg: m[1] === '-' && digits !== '', digits, exp }
}

/** The canonical numeral of some parts: no exponent, no trailing fraction zeros, no `-0`. */
function layout(p: Parts): string {
  const { digits, exp } = p
  if (digits === '') return '0'
  let s: string
  if (exp >= 0) s = exp === 0 ? digits : digits + '0'.repeat(exp)
  else {
    const point = digits.length + exp
    s = point > 0 ? `${digits.slice(0, point)}.${digits.slice(point)}` : `0.${'0'.repeat(-point)}${digits}`
  }
  return p.neg ? '-' + s : s
}

/** The canonical numeral of a JSON number text (no exponent, no trailing fraction zeros), or null. */
export function canonicalNumeral(text: string): string | null {
  const p = partsOf(text)
  return p === null ? null : layout(p)
}

/** The exact numeral of x / 10^decimals: no exponent, no trailing fraction zeros, no trailing dot. */
export function scaledText(x: Scaled, decimals: number): string {
  scaleOf(decimals)
  const neg = x < 0
  // Safe integers print without an exponent (that starts at 1e21), bigints never have one.
  let digits = (neg ? negateScaled(x) : x).toString()
  if (decimals === 0) return neg ? '-' + digits : digits
  if (digits.length <= decimals) digits = '0'.repeat(decimals - digits.length + 1) + digits
  const point = digits.length - decimals
  let end = digits.length
  while (end > point && digits.charCodeAt(end - 1) === 48) end--
  const s = end === point ? digits.slice(0, point) : `${digits.slice(0, point)}.${digits.slice(point, end)}`
  return neg ? '-' + s : s
}

/** A finite number as its shortest decimal form, without exponent. */
export function numeral(n: number): string {
  // String(n) uses an exponent exactly when |n| >= 1e21 or 0 < |n| < 1e-6 (Number::toString); the
  // test is a shortcut only, the other branch handles any form.
  if (n < 1e21 && n > -1e21 && (n >= 1e-6 || n <= -1e-6 || n === 0)) return '' + n
  if (!Number.isFinite(n)) throw new RangeError(`${n} has no numeral`)
  return layout(partsOf(String(n)) as Parts)
}

// ---------------------------------------------------------------------------------------------
// Values as readers see them

const CANONICAL = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/

/** How many times Decimal.toJSON has run: toJson watches it to notice a Decimal in JSON.stringify's pass. */
let decimalsSerialized = 0

/**
 * An exact decimal value, for values no JS number shows exactly (too many digits, or too large).
 * JSON written by `toJson` carries its digits; a plain JSON.stringify falls back to the nearest number.
 */
export class Decimal {
  /** The canonical numeral, as `scaledText` makes them. */
  readonly text: string

  /** A decimal from any JSON number text; throws when the text is not one. */
  constructor(text: string) {
    if (CANONICAL.test(text) && text !== '-0') this.text = text
    else {
      const c = canonicalNumeral(text)
      if (c === null) throw new SyntaxError(`${JSON.stringify(text)} is not a decimal numeral`)
      this.text = c
    }
  }

  /** The canonical numeral. */
  toString(): string {
    return this.text
  }

  /** The nearest number, for serializers that know nothing of Decimal. */
  toJSON(): number {
    decimalsSerialized++
    return Number(this.text)
  }
}

/** What a reader sees of x / 10^decimals: a number when it prints back exactly as the value, else a Decimal. */
export function amount(x: Scaled, decimals: number): number | Decimal {
  const p = scaleOf(decimals)
  // Below 10^15 the value has at most 15 significant digits. Distinct decimals of at most 15
  // significant digits round to distinct doubles (in the normal range, which [10^-9, 10^15)
  // is in), so the shortest form of the double nearest the value is the value's own digits;
  // and x / p, two exact doubles divided with one rounding, is that nearest double.
  if (typeof x === 'number' && x < 1e15 && x > -1e15) return x / p
  return numberOrDecimal(scaledText(x, decimals))
}

/** A canonical numeral as a number when one prints back as exactly it, else as a Decimal. */
function numberOrDecimal(text: string): number | Decimal {
  const n = Number(text)
  return Number.isFinite(n) && numeral(n) === text ? n : new Decimal(text)
}

/** What a JSON number text denotes, as `amount` would show it: a number, or a Decimal when no number is exact. */
export function parseNumeral(text: string): number | Decimal {
  const c = canonicalNumeral(text)
  if (c === null) throw new SyntaxError(`${JSON.stringify(text)} is not a JSON number`)
  return numberOrDecimal(c)
}

/** The scaled integer of a shown amount, exact; throws when it has more than `decimals` fraction digits. */
export function amountScaled(a: number | Decimal, decimals: number): Scaled {
  scaleOf(decimals)
  const text = typeof a === 'number' ? numeral(a) : a.text
  const dot = text.indexOf('.')
  const fraction = dot < 0 ? 0 : text.length - dot - 1
  if (fraction > decimals) throw new RangeError(`${text} has more than ${decimals} decimals`)
  const digits = (dot < 0 ? text : text.slice(0, dot) + text.slice(dot + 1)) + '0'.repeat(decimals - fraction)
  // Fifteen digits or fewer (plus a sign) convert to a number exactly.
  return digits.length <= 15 ? Number(digits) + 0 : normalize(BigInt(digits))
}

/** a / b rounded half away from zero, exact; throws when b is zero. */
export function divRound(a: Scaled, b: Scaled): Scaled {
  if (isZero(b)) throw new RangeError('division by zero')
  if (typeof a === 'number' && typeof b === 'number') {
    // % is exact on doubles, a - r is then an exact multiple of b (|a - r| <= |a|), and dividing
    // an exact multiple gives the exact quotient; 2|r| < 2^54 is exact too. `+ 0` drops a -0.
    const r = a % b
    let q = (a - r) / b + 0
    const ar = r < 0 ? -r : r
    const ab = b < 0 ? -b : b
    if (2 * ar >= ab) q += a < 0 === b < 0 ? 1 : -1
    return q
  }
  const x = BigInt(a)
  const y = BigInt(b)
  let q = x / y
  const r = x % y
  const ar = r < 0n ? -r : r
  const ay = y < 0n ? -y : y
  if (2n * ar >= ay) q += x < 0n === y < 0n ? 1n : -1n
  return normalize(q)
}

// ---------------------------------------------------------------------------------------------
// JSON

// Characters JSON.stringify escapes: quote, backslash, controls and (lone) surrogates. A string
// without any is quoted as is, which is cheaper than a call into JSON.stringify.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"'
}

function numberText(n: number): string {
  if (n < 1e21 && n > -1e21 && (n >= 1e-6 || n <= -1e-6 || n === 0)) return '' + n
  return Number.isFinite(n) ? layout(partsOf(String(n)) as Parts) : 'null'
}

/** Objects being written, outermost first, to refuse cycles as JSON.stringify does. */
const writing: object[] = []

type WithToJson = { toJSON: (key: string) => unknown }

function hasToJson(value: object): value is WithToJson {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function'
}

/**
 * JSON text like JSON.stringify(value), except that numbers never have an exponent, bigints print
 * as their digits and a Decimal prints its digits. Throws a TypeError when the value itself has no
 * JSON form (undefined, a function, a symbol), where JSON.stringify would return undefined.
 */
export function toJson(value: unknown): string {
  // The native JSON.stringify is several times faster than any writer in JS, and its text is
  // the answer unless the value holds a bigint (it throws), a Decimal (its toJSON runs, or when
  // another toJSON returned one, it shows as {"text":"…"}) or a number it writes with an
  // exponent. Those values are written again by the writer below, which calls their toJSON
  // methods a second time: toJSON methods are expected to have no side effects.
  const before = decimalsSerialized
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    text = undefined
  }
  if (text !== undefined && decimalsSerialized === before && !NATIVE_SUSPECT.test(text)) return text
  // A toJSON method may itself call toJson: leave the outer call's ancestors as they were.
  const depth = writing.length
  try {
    const written = write(value, '')
    if (written === undefined) throw new TypeError(`${typeof value} has no JSON form`)
    return written
  } finally {
    writing.length = depth
  }
}

// What JSON.stringify writes for a number with an exponent (a digit, then e+ or e-), or for a
// Decimal that another toJSON returned. Inside a string it only makes toJson take the long way.
const NATIVE_SUSPECT = /\de[+-]|\{"text":"/

/** The JSON of a value held under `key` (a string, or an array index not yet made into one). */
function write(value: unknown, key: string | number): string | undefined {
  // toJSON's result is written as it is: JSON.stringify does not call toJSON on it again.
  if ((typeof value === 'object' && value !== null && !(value instanceof Decimal)) || typeof value === 'function') {
    if (hasToJson(value)) return writeResolved(value.toJSON(String(key)))
  }
  return writeResolved(value)
}

/** The JSON of a value whose toJSON, if any, has been applied. */
function writeResolved(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value)
    case 'number':
      return numberText(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      if (value === null) return 'null'
      return value instanceof Decimal ? value.text : writeObject(value)
    case 'bigint':
      return value.toString()
    default:
      return undefined
  }
}

function writeObject(value: object): string {
  if (Array.isArray(value)) {
    enter(value)
    const n = value.length
    let out = '['
    for (let i = 0; i < n; i++) {
      // An element with no JSON form (undefined, a hole, a function) is written as null.
      const s = write(value[i], i)
      if (i > 0) out += ','
      out += s === undefined ? 'null' : s
    }
    writing.pop()
    return out + ']'
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    // JSON.stringify unwraps primitive wrapper objects.
    if (value instanceof Number) return numberText(Number(value))
    if (value instanceof String) return quote(String(value))
    if (value instanceof Boolean) return value.valueOf() ? 'true' : 'false'
    if (value instanceof BigInt) return String(value.valueOf())
  }
  enter(value)
  let out = '{'
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    const s = write(record[key], key)
    if (s === undefined) continue
    if (out.length > 1) out += ','
    out += quote(key) + ':' + s
  }
  writing.pop()
  return out + '}'
}

function enter(value: object): void {
  // Report-like values are a few levels deep: a linear look at the ancestors costs less than a Set.
  if (writing.includes(value)) throw new TypeError('Converting circular structure to JSON')
  writing.push(value)
}

/**
 * A lossless JSON.parse: a number that no JS number represents exactly (per `amount`'s rule, on
 * the canonical numeral of its text) becomes a Decimal. Throws a SyntaxError on malformed text.
 */
export function parseJson(text: string): unknown {
  return parseJsonExact(text).value
}

/** `parseJson`, saying whether every number was exact (then no Decimal is in the value). */
export function parseJsonExact(text: string): { value: unknown; exact: boolean } {
  // The common case, every number exact, costs a scan for numbers plus the native parser; only
  // text with an inexact number goes through the slower reader below. (A regular expression
  // looking for long or exponent numbers first was slower than the scan: it has no literal to
  // skip ahead by.)
  return allNumbersExact(text) ? { value: JSON.parse(text), exact: true } : { value: new JsonReader(text).document(), exact: false }
}

/** Whether every number token of some JSON text is exact; true also for malformed text (JSON.parse will say why). */
function allNumbersExact(text: string): boolean {
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 34) {
      const end = stringEnd(text, i)
      if (end < 0) return true
      i = end + 1
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      const end = numberEnd(text, i)
      if (end < 0) return true
      if (!exactToken(text, i, end)) return false
      i = end
    } else i++
  }
  return true
}

/** Set by numberEnd: whether the token it scanned has an exponent. */
let scannedExponent = false

/** The end of the JSON number token at i, or -1 when the text there is not one. */
function numberEnd(text: string, i: number): number {
  scannedExponent = false
  if (text.charCodeAt(i) === 45) i++
  let c = text.charCodeAt(i)
  if (c === 48) c = text.charCodeAt(++i)
  else if (c >= 49 && c <= 57) {
    do c = text.charCodeAt(++i)
    while (c >= 48 && c <= 57)
  } else return -1
  if (c === 46) {
    c = text.charCodeAt(++i)
    if (!(c >= 48 && c <= 57)) return -1
    do c = text.charCodeAt(++i)
    while (c >= 48 && c <= 57)
  }
  if (c === 101 || c === 69) {
    scannedExponent = true
    c = text.charCodeAt(++i)
    if (c === 43 || c === 45) c = text.charCodeAt(++i)
    if (!(c >= 48 && c <= 57)) return -1
    do c = text.charCodeAt(++i)
    while (c >= 48 && c <= 57)
  }
  return i
}

/** Whether the number token text[start, end) (just scanned by numberEnd) is exactly a JS number. */
function exactToken(text: string, start: number, end: number): boolean {
  // Without an exponent, 15 characters hold at most 15 digits, so the value has at most 15
  // significant digits and lies in [1e-14, 1e15): such decimals map to distinct doubles, which
  // print back as those digits (see `amount`).
  if (end - start <= 15 && !scannedExponent) return true
  const token = text.slice(start, end)
  const n = Number(token)
  // The token as the number prints is its shortest form (and canonical); the common case of
  // 16 or 17 digit doubles ends here.
  if ('' + n === token) return true
  return Number.isFinite(n) && numeral(n) === canonicalNumeral(token)
}

/** The index of the quote closing the string that opens at i, or -1. */
function stringEnd(text: string, i: number): number {
  let end = text.indexOf('"', i + 1)
  while (end > 0) {
    // A quote preceded by an odd run of backslashes is escaped; the run cannot reach past the
    // opening quote.
    let k = end - 1
    while (text.charCodeAt(k) === 92) k--
    if ((end - 1 - k) % 2 === 0) return end
    end = text.indexOf('"', end + 1)
  }
  return -1
}

// Backslashes and raw control characters need the native parser (escapes, and its error).
const STRING_NEEDS_PARSE = /[\\\u0000-\u001f]/

/** A recursive-descent JSON reader, for text that holds at least one inexact number. */
class JsonReader {
  #i = 0
  readonly #text: string

  constructor(text: string) {
    this.#text = text
  }

  document(): unknown {
    const v = this.#value()
    this.#space()
    if (this.#i !== this.#text.length) this.#fail()
    return v
  }

  #fail(): never {
    const at = this.#i
    throw new SyntaxError(at < this.#text.length ? `Unexpected character in JSON at position ${at}` : 'Unexpected end of JSON input')
  }

  #space(): void {
    const text = this.#text
    let i = this.#i
    let c = text.charCodeAt(i)
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++i)
    this.#i = i
  }

  #value(): unknown {
    this.#space()
    const text = this.#text
    const c = text.charCodeAt(this.#i)
    switch (c) {
      case 123:
        return this.#object()
      case 91:
        return this.#array()
      case 34:
        return this.#string()
      case 116:
        return this.#literal('true', true)
      case 102:
        return this.#literal('false', false)
      case 110:
        return this.#literal('null', null)
      default: {
        if (c !== 45 && !(c >= 48 && c <= 57)) this.#fail()
        const start = this.#i
        const end = numberEnd(text, start)
        if (end < 0) this.#fail()
        this.#i = end
        if (exactToken(text, start, end)) return Number(text.slice(start, end))
        return new Decimal(canonicalNumeral(text.slice(start, end)) as string)
      }
    }
  }

  #literal<T>(word: string, value: T): T {
    if (!this.#text.startsWith(word, this.#i)) this.#fail()
    this.#i += word.length
    return value
  }

  #string(): string {
    const text = this.#text
    const start = this.#i
    const end = stringEnd(text, start)
    if (end < 0) {
      this.#i = text.length
      this.#fail()
    }
    this.#i = end + 1
    const raw = text.slice(start + 1, end)
    return STRING_NEEDS_PARSE.test(raw) ? (JSON.parse(text.slice(start, end + 1)) as string) : raw
  }

  #array(): unknown[] {
    const out: unknown[] = []
    this.#i++
    this.#space()
    if (this.#text.charCodeAt(this.#i) === 93) {
      this.#i++
      return out
    }
    for (;;) {
      out.push(this.#value())
      this.#space()
      const c = this.#text.charCodeAt(this.#i)
      if (c === 44) this.#i++
      else if (c === 93) {
        this.#i++
        return out
      } else this.#fail()
    }
  }

  #object(): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    this.#i++
    this.#space()
    if (this.#text.charCodeAt(this.#i) === 125) {
      this.#i++
      return out
    }
    for (;;) {
      this.#space()
      if (this.#text.charCodeAt(this.#i) !== 34) this.#fail()
      const key = this.#string()
      this.#space()
      if (this.#text.charCodeAt(this.#i) !== 58) this.#fail()
      this.#i++
      const v = this.#value()
      // JSON.parse makes "__proto__" an own property; an assignment would set the prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true })
      else out[key] = v
      this.#space()
      const c = this.#text.charCodeAt(this.#i)
      if (c === 44) this.#i++
      else if (c === 125) {
        this.#i++
        return out
      } else this.#fail()
    }
  }
}
