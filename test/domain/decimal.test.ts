import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  addScaled,
  amount,
  amountScaled,
  canonicalNumeral,
  compareScaled,
  Decimal,
  divRound,
  fitsInt64,
  INT64_MAX,
  INT64_MIN,
  isZero,
  negateScaled,
  normalize,
  numeral,
  parseJson,
  parseNumeral,
  scaledText,
  subScaled,
  toJson,
  toScaled,
  toScaledExact,
  type Scaled,
} from '../../src/domain/decimal.js'

// ---------------------------------------------------------------------------------------------
// The oracle: decimal strings and BigInt only, no floating point, written apart from the module.

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER)
const DECIMALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]

/** A decimal numeral (with or without exponent) as m · 10^e. */
function exactOf(s: string): { m: bigint; e: number } {
  const match = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s)
  if (!match) throw new Error(`oracle: not a numeral: ${s}`)
  const frac = match[3] ?? ''
  const m = BigInt(`${match[1] === '-' ? '-' : ''}${match[2]}${frac}`)
  return { m, e: Number(match[4] ?? '0') - frac.length }
}

/** m · 10^(e + d) rounded half away from zero. */
function oracleRound(m: bigint, e: number, d: number): bigint {
  const k = e + d
  if (k >= 0) return m * 10n ** BigInt(k)
  const div = 10n ** BigInt(-k)
  const a = m < 0n ? -m : m
  // floor(a / div + 1/2)
  const q = (2n * a + div) / (2n * div)
  return m < 0n ? -q : q
}

function oracleToScaled(v: number, d: number): number | null {
  if (!Number.isFinite(v)) return null
  const { m, e } = exactOf(String(v))
  const r = oracleRound(m, e, d)
  return r >= -MAX_SAFE_BIG && r <= MAX_SAFE_BIG ? Number(r) : null
}

/** The canonical numeral of m · 10^e: no exponent, no trailing fraction zeros, no -0. */
function oracleCanonical(m: bigint, e: number): string {
  if (m === 0n) return '0'
  const sign = m < 0n ? '-' : ''
  const a = m < 0n ? -m : m
  if (e >= 0) return sign + (a * 10n ** BigInt(e)).toString()
  const unit = 10n ** BigInt(-e)
  const whole = (a / unit).toString()
  const frac = (a % unit).toString().padStart(-e, '0').replace(/0+$/, '')
  return sign + whole + (frac === '' ? '' : '.' + frac)
}

const canonicalOf = (s: string): string => {
  const { m, e } = exactOf(s)
  return oracleCanonical(m, e)
}

/** m · 10^e === x · 10^-d, exactly. */
function sameValue(s: string, x: bigint, d: number): boolean {
  const { m, e } = exactOf(s)
  const k = e + d
  return k >= 0 ? m * 10n ** BigInt(k) === x : m === x * 10n ** BigInt(-k)
}

function oracleDivRound(a: bigint, b: bigint): bigint {
  const aa = a < 0n ? -a : a
  const ab = b < 0n ? -b : b
  const q = (2n * aa + ab) / (2n * ab)
  return a < 0n !== b < 0n ? -q : q
}

function isNormalized(x: Scaled): boolean {
  return typeof x === 'number' ? Number.isSafeInteger(x) && !Object.is(x, -0) : x > MAX_SAFE_BIG || x < -MAX_SAFE_BIG
}

const CANONICAL = /^-?(0|[1-9]\d*)(\.\d*[1-9])?$/

/** v moved by n units in the last place (through its bits). */
function ulpStep(v: number, n: number): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, v)
  view.setBigInt64(0, view.getBigInt64(0) + BigInt(n))
  return view.getFloat64(0)
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const digit = fc.constantFrom(...'0123456789')
const digits = (minLength: number, maxLength: number) => fc.string({ unit: digit, minLength, maxLength })

/** Decimal strings of up to 17 significant digits, a point anywhere and an exponent. */
const decimalString = fc.record({ neg: fc.boolean(), ds: digits(1, 17), point: fc.nat(17), exp: fc.integer({ min: -28, max: 22 }) }).map(({ neg, ds, point, exp }) => {
  const at = Math.min(point, ds.length)
  const body = at === 0 || at === ds.length ? ds : `${ds.slice(0, at)}.${ds.slice(at)}`
  return `${neg ? '-' : ''}${body}e${exp}`
})

/** Values at or next to a half-way point of some decimals: x.yy5, x.yy5 followed by more digits, and neighbours by ulps. */
const nearHalf = fc
  .record({
    neg: fc.boolean(),
    whole: fc.oneof(digits(1, 3), digits(1, 15)),
    d: fc.integer({ min: 0, max: 9 }),
    frac: digits(9, 9),
    tail: fc.constantFrom('', '0', '1', '49', '9', '0000001'),
    ulps: fc.integer({ min: -4, max: 4 }),
  })
  .map(({ neg, whole, d, frac, tail, ulps }) => ulpStep(Number(`${neg ? '-' : ''}${whole}.${frac.slice(0, d)}5${tail}`), ulps))

const anyDouble = fc.double()
const values = fc.oneof(
  decimalString.map(Number),
  nearHalf,
  anyDouble,
  fc.integer().map((n) => n / 100),
  fc.integer({ min: -1e9, max: 1e9 }).map((n) => n / 1000),
)

/** Integers of every magnitude that matters: small, safe, around 2^53, around int64, far beyond. */
const big = fc.oneof(
  fc.bigInt({ min: -(2n ** 20n), max: 2n ** 20n }),
  fc.bigInt({ min: -MAX_SAFE_BIG, max: MAX_SAFE_BIG }),
  fc.tuple(fc.constantFrom(MAX_SAFE_BIG, -MAX_SAFE_BIG, 2n ** 53n, -(2n ** 53n), INT64_MAX, INT64_MIN, 0n), fc.bigInt({ min: -3n, max: 3n })).map(([b, o]) => b + o),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
)

// ---------------------------------------------------------------------------------------------
const scaledSuite = suite('decimal: Scaled arithmetic')

scaledSuite('normalize: safe bigints become numbers, unsafe numbers become bigints, fractions throw', () => {
  assert.is(normalize(12n), 12)
  assert.is(normalize(-MAX_SAFE_BIG), -Number.MAX_SAFE_INTEGER)
  assert.is(normalize(MAX_SAFE_BIG + 1n), 2n ** 53n)
  assert.is(normalize(2 ** 60), 2n ** 60n)
  assert.ok(Object.is(normalize(-0), 0))
  assert.ok(Object.is(normalize(-0n), 0))
  assert.throws(() => normalize(1.5), RangeError)
  assert.throws(() => normalize(Number.NaN), RangeError)
  assert.throws(() => normalize(Number.POSITIVE_INFINITY), RangeError)
})

scaledSuite('int64 bounds', () => {
  assert.is(INT64_MAX, 9223372036854775807n)
  assert.is(INT64_MIN, -9223372036854775808n)
  assert.ok(fitsInt64(INT64_MAX))
  assert.ok(fitsInt64(INT64_MIN))
  assert.ok(fitsInt64(Number.MAX_SAFE_INTEGER))
  assert.not.ok(fitsInt64(INT64_MAX + 1n))
  assert.not.ok(fitsInt64(INT64_MIN - 1n))
})

scaledSuite('add, subtract, negate and compare at the edges of the safe range', () => {
  assert.is(addScaled(Number.MAX_SAFE_INTEGER, 1), 2n ** 53n)
  assert.is(addScaled(2n ** 53n, -1), Number.MAX_SAFE_INTEGER)
  assert.is(subScaled(-Number.MAX_SAFE_INTEGER, 1), -(2n ** 53n))
  assert.is(addScaled(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), 2n ** 54n - 2n)
  assert.ok(Object.is(addScaled(-5, 5), 0))
  assert.ok(Object.is(negateScaled(0), 0))
  assert.is(negateScaled(2n ** 60n), -(2n ** 60n))
  assert.is(compareScaled(2n ** 53n, Number.MAX_SAFE_INTEGER), 1)
  assert.is(compareScaled(-(2n ** 53n), 0), -1)
  assert.is(compareScaled(7, 7), 0)
  assert.ok(isZero(0))
  assert.not.ok(isZero(2n ** 60n))
})

scaledSuite('property: add, sub, negate, compare equal BigInt arithmetic and stay normalized', () => {
  fc.assert(
    fc.property(big, big, (a, b) => {
      const x = normalize(a)
      const y = normalize(b)
      const sum = addScaled(x, y)
      const diff = subScaled(x, y)
      const neg = negateScaled(x)
      return (
        BigInt(sum) === a + b &&
        isNormalized(sum) &&
        BigInt(diff) === a - b &&
        isNormalized(diff) &&
        BigInt(neg) === -a &&
        isNormalized(neg) &&
        compareScaled(x, y) === (a < b ? -1 : a > b ? 1 : 0) &&
        (x === y) === (a === b) &&
        isZero(x) === (a === 0n) &&
        fitsInt64(x) === (a >= INT64_MIN && a <= INT64_MAX)
      )
    }),
    { numRuns: 3000 },
  )
})

// ---------------------------------------------------------------------------------------------
const rounding = suite('decimal: toScaled')

rounding('rounds the shortest decimal form half away from zero', () => {
  assert.is(toScaled(1.005, 2), 101)
  assert.is(toScaled(1.115, 2), 112)
  assert.is(toScaled(0.125, 2), 13)
  assert.is(toScaled(-0.125, 2), -13)
  assert.is(toScaled(2.5, 0), 3)
  assert.is(toScaled(-2.5, 0), -3)
  assert.is(toScaled(19.99, 2), 1999)
  assert.is(toScaled(-19.99, 2), -1999)
  assert.is(toScaled(1e-7, 9), 100)
  assert.is(toScaled(5e-10, 9), 1)
  assert.is(toScaled(4.9e-10, 9), 0)
  assert.is(toScaled(1.5e-7, 7), 2)
  // biome-ignore lint/correctness/noPrecisionLoss: the literal is a double that lost digits, which is the point
  assert.is(toScaled(123456789.123456789, 9), null)
  assert.is(toScaled(9007199254740991, 0), 9007199254740991)
  assert.is(toScaled(900719925474099.1, 1), 9007199254740991)
  assert.is(toScaled(900719925474099.2, 1), null)
  assert.is(toScaled(-900719925474099.1, 1), -9007199254740991)
  assert.is(toScaled(1.5e21, 0), null)
  assert.is(toScaled(1e300, 0), null)
})

rounding('zero and negative zero give 0, never -0', () => {
  for (const v of [0, -0, -1e-300, -0.004, -0.0049]) {
    for (const d of [0, 2]) assert.ok(Object.is(toScaled(v, d), 0), `${v} at ${d}`)
  }
  assert.ok(Object.is(toScaledExact(-0.0049, 2), 0))
})

rounding('not finite gives null, bad decimals throw', () => {
  assert.is(toScaled(Number.NaN, 2), null)
  assert.is(toScaled(Number.POSITIVE_INFINITY, 0), null)
  assert.is(toScaled(Number.NEGATIVE_INFINITY, 9), null)
  assert.throws(() => toScaled(1, 10), RangeError)
  assert.throws(() => toScaled(1, -1), RangeError)
  assert.throws(() => toScaled(1, 1.5), RangeError)
})

rounding('property: equals the oracle on String(Number(s)) for every decimals 0..9', () => {
  fc.assert(
    fc.property(decimalString, (s) => {
      const v = Number(s)
      for (const d of DECIMALS) {
        const got = toScaled(v, d)
        const want = oracleToScaled(v, d)
        if (!Object.is(got, want)) throw new Error(`toScaled(${v}, ${d}) = ${got}, oracle ${want}`)
      }
      return true
    }),
    { numRuns: 5000 },
  )
})

rounding('property: equals the oracle near half-way points and on any double', () => {
  fc.assert(
    fc.property(values, (v) => {
      for (const d of DECIMALS) {
        const got = toScaled(v, d)
        const want = oracleToScaled(v, d)
        if (!Object.is(got, want)) throw new Error(`toScaled(${v}, ${d}) = ${got}, oracle ${want}`)
      }
      return true
    }),
    { numRuns: 5000 },
  )
})

rounding('property: symmetric, toScaled(-v) === -toScaled(v)', () => {
  fc.assert(
    fc.property(values, (v) =>
      DECIMALS.every((d) => {
        const r = toScaled(v, d)
        return Object.is(toScaled(-v, d), r === null ? null : 0 - r)
      }),
    ),
    { numRuns: 3000 },
  )
})

rounding('property: the fast path agrees with the exact path', () => {
  fc.assert(
    fc.property(values, (v) => DECIMALS.every((d) => Object.is(toScaled(v, d), toScaledExact(v, d)))),
    { numRuns: 10000 },
  )
})

// ---------------------------------------------------------------------------------------------
const text = suite('decimal: scaledText and numeral')

text('scaledText examples', () => {
  assert.is(scaledText(1500, 2), '15')
  assert.is(scaledText(1, 9), '0.000000001')
  assert.is(scaledText(-5, 1), '-0.5')
  assert.is(scaledText(0, 3), '0')
  assert.is(scaledText(5000000000000001n, 6), '5000000000.000001')
  assert.is(scaledText(-123, 0), '-123')
  assert.is(scaledText(1230, 2), '12.3')
  assert.is(scaledText(-(2n ** 64n), 9), '-18446744073.709551616')
})

text('numeral examples', () => {
  assert.is(numeral(1e-9), '0.000000001')
  assert.is(numeral(1e21), '1000000000000000000000')
  assert.is(numeral(-0), '0')
  assert.is(numeral(0.1), '0.1')
  assert.is(numeral(123.456), '123.456')
  assert.is(numeral(-1.5e-7), '-0.00000015')
  assert.is(numeral(1.2345e22), '12345000000000000000000')
  assert.is(numeral(5e-324), `0.${'0'.repeat(323)}5`)
  assert.throws(() => numeral(Number.NaN), RangeError)
  assert.throws(() => numeral(Number.POSITIVE_INFINITY), RangeError)
})

text('property: numeral is the shortest form without exponent, and reads back as the number', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
      const s = numeral(n)
      return !/e/i.test(s) && s === canonicalOf(String(n)) && Number(s) === n
    }),
    { numRuns: 5000 },
  )
})

text('property: scaledText is canonical and exactly x / 10^d', () => {
  fc.assert(
    fc.property(big, fc.constantFrom(...DECIMALS), (x, d) => {
      const s = scaledText(normalize(x), d)
      return CANONICAL.test(s) && s !== '-0' && sameValue(s, x, d)
    }),
    { numRuns: 3000 },
  )
})

// ---------------------------------------------------------------------------------------------
const shown = suite('decimal: amount and Decimal')

shown('amount: a number when it prints back exactly, else a Decimal', () => {
  assert.is(amount(1999, 2), 19.99)
  assert.is(amount(1, 9), 1e-9)
  assert.ok(Object.is(amount(0, 2), 0))
  assert.is(amount(-5, 1), -0.5)
  assert.is(amount(Number.MAX_SAFE_INTEGER, 0), Number.MAX_SAFE_INTEGER)
  const big = amount(2n ** 64n, 0)
  assert.instance(big, Decimal)
  assert.is(String(big), '18446744073709551616')
  const fine = amount(1234567890123456789n, 9)
  assert.instance(fine, Decimal)
  assert.is((fine as Decimal).text, '1234567890.123456789')
  assert.is(amountScaled(fine, 9), 1234567890123456789n)
  assert.is(amountScaled(19.99, 2), 1999)
  assert.is(amountScaled(19.99, 4), 199900)
  assert.ok(Object.is(amountScaled(-0, 2), 0))
  assert.throws(() => amountScaled(0.125, 2), RangeError)
})

shown('Decimal: canonical text, toString, toJSON', () => {
  const d = new Decimal('12345678901234567890.50')
  assert.is(d.text, '12345678901234567890.5')
  assert.is(`${d}`, '12345678901234567890.5')
  // biome-ignore lint/correctness/noPrecisionLoss: the nearest double is what toJSON gives
  assert.is(d.toJSON(), 12345678901234567890.5)
  assert.is(JSON.stringify({ a: d }), '{"a":12345678901234567000}')
  assert.is(new Decimal('-0.0').text, '0')
  assert.is(new Decimal('1.5E+3').text, '1500')
  assert.throws(() => new Decimal('abc'), SyntaxError)
  assert.throws(() => new Decimal('1.'), SyntaxError)
})

shown('parseNumeral and canonicalNumeral', () => {
  assert.is(canonicalNumeral('1.50e2'), '150')
  assert.is(canonicalNumeral('-0.000e5'), '0')
  assert.is(canonicalNumeral('12e-5'), '0.00012')
  assert.is(canonicalNumeral('01'), null)
  assert.is(parseNumeral('0.30000000000000004'), 0.30000000000000004)
  assert.is((parseNumeral('0.3000000000000000444') as Decimal).text, '0.3000000000000000444')
  assert.is(parseNumeral('9007199254740992'), 9007199254740992)
  assert.instance(parseNumeral('9007199254740993'), Decimal)
  assert.throws(() => parseNumeral('1e'), SyntaxError)
})

shown('property: amount follows its rule and amountScaled goes back exactly', () => {
  fc.assert(
    fc.property(big, fc.constantFrom(...DECIMALS), (x, d) => {
      const s = normalize(x)
      const t = scaledText(s, d)
      const a = amount(s, d)
      const n = Number(t)
      const exact = Number.isFinite(n) && numeral(n) === t
      const ruleHolds = typeof a === 'number' ? exact && Object.is(a, n + 0) : a instanceof Decimal && !exact && a.text === t
      return ruleHolds && amountScaled(a, d) === s
    }),
    { numRuns: 5000 },
  )
})

// ---------------------------------------------------------------------------------------------
const division = suite('decimal: divRound')

division('rounds half away from zero', () => {
  assert.is(divRound(5, 2), 3)
  assert.is(divRound(-5, 2), -3)
  assert.is(divRound(5, -2), -3)
  assert.is(divRound(-5, -2), 3)
  assert.is(divRound(7, 3), 2)
  assert.is(divRound(8, 3), 3)
  assert.is(divRound(2n ** 60n + 1n, 2), 2n ** 59n + 1n)
  assert.is(divRound(2n ** 60n, 2n ** 10n), 2 ** 50)
  assert.ok(Object.is(divRound(-1, 3), 0))
  assert.ok(Object.is(divRound(0, -3), 0))
  assert.throws(() => divRound(1, 0), RangeError)
})

division('property: equals the oracle, negative operands included', () => {
  fc.assert(
    fc.property(
      big,
      big.filter((b) => b !== 0n),
      (a, b) => {
        const q = divRound(normalize(a), normalize(b))
        return BigInt(q) === oracleDivRound(a, b) && isNormalized(q)
      },
    ),
    { numRuns: 5000 },
  )
})

division('property: exact halves round away from zero', () => {
  fc.assert(
    fc.property(big, fc.bigInt({ min: 1n, max: 2n ** 60n }), fc.boolean(), (q, half, negB) => {
      const b = negB ? -2n * half : 2n * half
      // a / b = q + 1/2 · sign(q·b) exactly (or 1/2 when q is 0)
      const a = q * b + (q < 0n ? -half : half) * (negB ? -1n : 1n)
      const r = divRound(normalize(a), normalize(b))
      return BigInt(r) === oracleDivRound(a, b) && BigInt(r) === (q < 0n ? q - 1n : q + 1n)
    }),
    { numRuns: 2000 },
  )
})

// ---------------------------------------------------------------------------------------------
const writing = suite('decimal: toJson')

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const jsonChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  fc.constantFrom('"', '\\', '\u0000', '\u001f', '\u2028', '\ud800', '\udfff', '\u007f', '\n', '/', '\ud83d\ude00'),
)
const jsonString = fc.string({ unit: jsonChar, maxLength: 12 })
const keyString = fc.oneof(jsonString, fc.constantFrom('__proto__', '0', '10', 'a', 'toJSON'))
const plainNumber = fc.oneof(
  fc.integer(),
  fc.integer().map((n) => n / 100),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !/e/.test(String(n))),
)

function jsonArbitrary(leaf: fc.Arbitrary<unknown>) {
  return fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 5 }),
    object: fc.dictionary(keyString, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  })).value
}

const jsonValue = jsonArbitrary(fc.oneof(fc.constant(null), fc.boolean(), plainNumber, jsonString)) as fc.Arbitrary<Json>

writing('like JSON.stringify on the special cases', () => {
  const fn = () => 1
  const withToJson = Object.assign(() => 1, { toJSON: (key: string) => `fn@${key}` })
  const keyed = { toJSON: (key: string) => ({ key }) }
  // biome-ignore lint/suspicious/noSparseArray: a hole is one of the cases under test
  const sparse = [1, , 3]
  const cases: unknown[] = [
    { a: undefined, b: fn, c: Symbol('s'), d: 1 },
    [undefined, fn, Symbol('s'), 1],
    sparse,
    { n: Number.NaN, i: Number.POSITIVE_INFINITY, m: Number.NEGATIVE_INFINITY, z: -0 },
    { d: new Date(Date.UTC(2026, 10, 25)), nested: { when: new Date(0) } },
    { k: keyed, arr: [keyed, keyed] },
    { f: withToJson, list: [withToJson] },
    { toJSON: () => ({ toJSON: () => 'not called twice' }) },
    [new Number(3), new String('s"'), new Boolean(false)],
    { s: 'quote " backslash \\ nl \n tab \t nul \u0000 us \u001f del \u007f ls \u2028 lone \ud800 \udc00 pair \ud83d\ude00' },
    { '': 1, '"': 2, '\n': 3, [Symbol('k')]: 4 },
    { text: 'a "text" key', note: 'strings like 1e-7 and 2e+5 are not numbers' },
    JSON.parse('{"__proto__": 1, "b": [{}, []]}'),
    { 2: 'b', 1: 'a', z: 'z', y: 'y' },
    new Map([[1, 2]]),
    Object.create({ inherited: 1 }, { own: { value: 2, enumerable: true }, hidden: { value: 3, enumerable: false } }),
    'top-level string',
    42,
    true,
    null,
    [],
    {},
  ]
  for (const c of cases) {
    assert.is(toJson(c), JSON.stringify(c))
    assert.is(toJson([c]), JSON.stringify([c]))
    assert.is(toJson({ k: c }), JSON.stringify({ k: c }))
    // A neighbour that JSON.stringify gets wrong makes toJson write everything itself.
    assert.is(toJson([c, 1e-7]), `[${JSON.stringify([c]).slice(1, -1)},0.0000001]`)
  }
  const dropped = { toJSON: () => undefined }
  assert.is(toJson([dropped, { dropped }]), '[null,{}]')
})

writing('numbers without exponent, bigints as digits, Decimals verbatim', () => {
  assert.is(toJson(1e-9), '0.000000001')
  assert.is(toJson([1e21, -1.5e-7, 5e-7]), '[1000000000000000000000,-0.00000015,0.0000005]')
  assert.is(toJson({ b: 12345678901234567890n, n: -5n }), '{"b":12345678901234567890,"n":-5}')
  assert.is(toJson({ d: new Decimal('1234567890.123456789') }), '{"d":1234567890.123456789}')
  assert.is(toJson([{ toJSON: () => new Decimal('0.30000000000000000001') }]), '[0.30000000000000000001]')
  assert.is(toJson(new Number(1e-7)), '0.0000001')
})

writing('top-level values without JSON form throw, cycles throw', () => {
  assert.throws(() => toJson(undefined), TypeError)
  assert.throws(() => toJson(() => 1), TypeError)
  assert.throws(() => toJson(Symbol('s')), TypeError)
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = { again: cyclic }
  assert.throws(
    () => toJson(cyclic),
    (e: unknown) => e instanceof TypeError && /circular/.test(String(e)),
  )
  // A toJSON that calls toJson itself does not make the outer call lose track of its ancestors.
  const nested = { toJSON: () => JSON.parse(toJson([1e-7, 2n])) as unknown }
  assert.is(toJson([nested, 1e-7]), '[[0.0000001,2],0.0000001]')
  const loop: unknown[] = [nested, 1e-7]
  loop.push({ loop })
  assert.throws(
    () => toJson(loop),
    (e: unknown) => e instanceof TypeError && /circular/.test(String(e)),
  )
  // After a throw the cycle bookkeeping starts clean: shared (acyclic) references are fine.
  const shared = { x: 1 }
  assert.is(toJson([shared, shared, { shared }]), '[{"x":1},{"x":1},{"shared":{"x":1}}]')
})

/** toJson(x) with a bigint or a Decimal next to x, which makes toJson write all of x itself. */
function writtenBeside(x: unknown, other: bigint | Decimal): string {
  const text = toJson({ x, other })
  const tail = `,"other":${String(other)}}`
  if (!text.startsWith('{"x":') || !text.endsWith(tail)) throw new Error(`unexpected ${text}`)
  return text.slice(5, -tail.length)
}

writing('property: equals JSON.stringify on JSON values whose numbers print without exponent', () => {
  fc.assert(
    fc.property(jsonValue, (x) => {
      const want = JSON.stringify(x)
      return toJson(x) === want && writtenBeside(x, 7n) === want && writtenBeside(x, new Decimal('0.10000000000000000001')) === want
    }),
    { numRuns: 3000 },
  )
})

writing('property: equals JSON.stringify with undefined, functions, symbols and dates inside', () => {
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    plainNumber,
    jsonString,
    fc.constant(undefined),
    fc.constant(() => 0),
    fc.constant(Symbol('s')),
    fc.date({ noInvalidDate: true }),
  )
  fc.assert(
    fc.property(fc.array(jsonArbitrary(leaf)), (x) => toJson(x) === JSON.stringify(x) && writtenBeside(x, -1n) === JSON.stringify(x)),
    { numRuns: 2000 },
  )
})

writing('property: any number, bigint or Decimal prints as its exact numeral', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), big, decimalString, (n, b, s) => {
      const dec = new Decimal(canonicalOf(s))
      return (
        toJson(n) === canonicalOf(String(n)) &&
        toJson(b) === b.toString() &&
        toJson([dec]) === `[${canonicalOf(s)}]` &&
        toJson({ n, b, dec }) === `{"n":${canonicalOf(String(n))},"b":${b},"dec":${canonicalOf(s)}}`
      )
    }),
    { numRuns: 3000 },
  )
})

// ---------------------------------------------------------------------------------------------
const reading = suite('decimal: parseJson')

reading('numbers no JS number holds exactly become Decimals', () => {
  const got = parseJson('{"big": 12345678901234567890, "small": 1, "pi": 3.14, "fine": 0.1000000000000000000001, "huge": 1e400, "neg": -0}') as Record<string, unknown>
  assert.instance(got.big, Decimal)
  assert.is((got.big as Decimal).text, '12345678901234567890')
  assert.is(got.small, 1)
  assert.is(got.pi, 3.14)
  assert.is((got.fine as Decimal).text, '0.1000000000000000000001')
  assert.is((got.huge as Decimal).text, `1${'0'.repeat(400)}`)
  assert.ok(Object.is(got.neg, -0))
  assert.ok(Object.is(parseJson('-0'), -0))
  assert.is(parseJson('1.50e2'), 150)
  assert.is(parseJson('9007199254740992'), 9007199254740992)
  assert.is((parseJson('9007199254740993') as Decimal).text, '9007199254740993')
  assert.is((parseJson('1e-400') as Decimal).text, `0.${'0'.repeat(399)}1`)
})

reading('strings, escapes, surrogates and __proto__ on the slow path too', () => {
  const body = '"q\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\ud83d\\ude00\\ud800 é", {"__proto__": {"x": [true, false, null]}, "a": 1, "a": 2}, "\\\\", [], {}'
  const fast = parseJson(`[0, ${body}]`)
  const slow = parseJson(`[12345678901234567890, ${body}]`) as unknown[]
  assert.equal(fast, JSON.parse(`[0, ${body}]`))
  assert.equal(slow.slice(1), JSON.parse(`[${body}]`))
  const proto = slow[2] as Record<string, unknown>
  assert.is(Object.getPrototypeOf(proto), Object.prototype)
  assert.equal(Object.keys(proto), ['__proto__', 'a'])
  assert.is(proto.a, 2)
})

reading('malformed text throws a SyntaxError, with or without inexact numbers', () => {
  const bad = ['', ' ', '[1,]', '{"a" 1}', '{"a":1,}', '01', '1.', '.5', '+1', '-', '1e', '[1e+]', 'tru', 'nul', '"abc', '"a\u0001"', '{"a":1}x', '[1 2]', '{a:1}', '"\\x"', "'a'", '[', '{"a":']
  for (const t of bad) {
    assert.throws(() => JSON.parse(t), SyntaxError, `JSON.parse(${JSON.stringify(t)}) should throw`)
    assert.throws(() => parseJson(t), SyntaxError, JSON.stringify(t))
    const slow = t === '' || t === ' ' ? '[12345678901234567890' : `[12345678901234567890, ${t}]`
    assert.throws(() => parseJson(slow), SyntaxError, JSON.stringify(slow))
  }
})

/** Numbers of every kind, each as amount would show it: number when exact, else Decimal. */
const anyAmount = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  big.map((b) => amount(normalize(b), 0)),
  fc.tuple(big, fc.constantFrom(...DECIMALS)).map(([b, d]) => amount(normalize(b), d)),
  digits(16, 30).map((ds) => parseNumeral(`${ds.replace(/^0+/, '') || '0'}.${ds}1`)),
)
const withDecimals = jsonArbitrary(fc.oneof(fc.constant(null), fc.boolean(), jsonString, anyAmount))

reading('property: parseJson(toJson(x)) deep-equals x, Decimals compared by text', () => {
  fc.assert(
    fc.property(withDecimals, (x) => {
      assert.equal(parseJson(toJson(x)), x)
      return true
    }),
    { numRuns: 3000 },
  )
})

reading('property: parseJson(t) deep-equals JSON.parse(t) when every number is exact', () => {
  fc.assert(
    fc.property(fc.json(), fc.constantFrom(undefined, 2, '\t'), (t, indent) => {
      const text = indent === undefined ? t : JSON.stringify(JSON.parse(t), null, indent)
      assert.equal(parseJson(text), JSON.parse(text))
      return true
    }),
    { numRuns: 3000 },
  )
})

/** JSON number tokens of every shape: signs, leading zero, fractions with trailing zeros, exponents e/E/+/-. */
const numberToken = fc
  .record({
    neg: fc.boolean(),
    whole: fc.oneof(
      fc.constant('0'),
      digits(0, 25).map((ds) => `${'123456789'[ds.length % 9]}${ds}`),
    ),
    frac: fc.option(digits(1, 25)),
    exp: fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 340 }))),
  })
  .map(({ neg, whole, frac, exp }) => `${neg ? '-' : ''}${whole}${frac === null ? '' : `.${frac}`}${exp === null ? '' : `${exp[0]}${exp[1]}${exp[2]}`}`)

reading('property: each number token reads as its exact value, a number only when exact', () => {
  fc.assert(
    fc.property(fc.array(numberToken, { minLength: 1, maxLength: 6 }), (tokens) => {
      const got = parseJson(`[${tokens.join(', ')}]`) as unknown[]
      return tokens.every((tok, i) => {
        const want = canonicalOf(tok)
        const n = Number(tok)
        const exact = Number.isFinite(n) && numeral(n) === want
        const v = got[i]
        return exact ? Object.is(v, n) : v instanceof Decimal && v.text === want
      })
    }),
    { numRuns: 3000 },
  )
})

scaledSuite.run()
rounding.run()
text.run()
shown.run()
division.run()
writing.run()
reading.run()
