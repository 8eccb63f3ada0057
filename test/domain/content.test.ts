import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { dataJson, DEFAULT_EVENT_LIMITS, isPrintable, type EventLimits } from '../../src/domain/content.js'

const limits: EventLimits = { maxDataBytes: 1000, maxStringBytes: 100, maxDepth: 4 }
const nested = (depth: number): Record<string, unknown> => {
  let value: Record<string, unknown> = { leaf: 1 }
  for (let i = 1; i < depth; i++) value = { a: value }
  return value
}

const test = suite('content')

test('names are printable: no control character (C0, DEL, C1), no lone surrogate; other Unicode is fine', () => {
  for (const ok of ['sale-000123', 'store 042', 'магазин-1', '店舗-７', 'emoji-\u{1F600}', '~!@#$%^&*()']) assert.ok(isPrintable(ok), ok)
  for (const bad of ['a\u0000b', 'line\nbreak', 'tab\t', 'del\u007f', 'c1\u0085', 'lone\ud800', '\udc00lone', 'pair-reversed\udc00\ud800']) assert.not.ok(isPrintable(bad), JSON.stringify(bad))
})

test('data: its JSON text, or the reason it cannot be kept', () => {
  assert.equal(dataJson({ store: '001', amount: 12.5 }, limits), { json: '{"store":"001","amount":12.5}' })
  assert.equal(dataJson({ note: 'a\u0000b' }, limits), { code: 'LV_EVENT_TEXT_INVALID', field: 'data', message: 'a string of data holds a NUL character' })
  assert.equal(dataJson({ 'k\u0000': 1 }, limits), { code: 'LV_EVENT_TEXT_INVALID', field: 'data', message: 'a string of data holds a NUL character' })
  assert.equal(dataJson({ note: ['x', 'lone\udbff'] }, limits), { code: 'LV_EVENT_TEXT_INVALID', field: 'data', message: 'a string of data holds a lone surrogate (not valid Unicode text)' })
  // Escapes that are neither: a quote, a backslash before "u0000" as text, other control characters.
  assert.equal(dataJson({ note: 'say "hi"\\u0000\t\u0001', pair: '\u{1F600}' }, limits), { json: JSON.stringify({ note: 'say "hi"\\u0000\t\u0001', pair: '\u{1F600}' }) })
})

test('data: nesting up to the limit, refused past it, and thousands deep refused without a crash', () => {
  assert.ok('json' in dataJson(nested(4), limits))
  assert.equal(dataJson(nested(5), limits), { code: 'LV_EVENT_TOO_DEEP', field: 'data', message: 'data nests deeper than 4 levels' })
  assert.equal(dataJson({ a: [[[['x']]]] }, limits), { code: 'LV_EVENT_TOO_DEEP', field: 'data', message: 'data nests deeper than 4 levels' })
  // Brackets inside strings do not count.
  assert.ok('json' in dataJson({ note: '{{{{{{[[[[[' }, limits))
  for (const depth of [5_000, 10_000, 100_000]) assert.is((dataJson(nested(depth), DEFAULT_EVENT_LIMITS) as { code: string }).code, 'LV_EVENT_TOO_DEEP')
})

test('data: sizes count UTF-8 bytes, for the whole and for every string and key', () => {
  // {"s":"…"} is 8 characters around the string.
  assert.ok('json' in dataJson({ s: 'x'.repeat(100) }, { ...limits, maxDataBytes: 108 }))
  assert.equal(dataJson({ s: 'x'.repeat(100) }, { ...limits, maxDataBytes: 107 }), { code: 'LV_EVENT_TOO_LARGE', field: 'data', message: 'data takes more than 107 bytes as JSON' })
  // 34 three-byte characters: 102 bytes, over a 100-byte string limit although 34 characters.
  assert.equal(dataJson({ x: 1, s: { deep: '€'.repeat(34) } }, limits), { code: 'LV_EVENT_STRING_TOO_LONG', field: 'data.s.deep', message: 'a string of data takes more than 100 bytes' })
  assert.ok('json' in dataJson({ s: '€'.repeat(33) }, limits))
  assert.equal(dataJson({ ['k'.repeat(101)]: 1 }, limits), { code: 'LV_EVENT_STRING_TOO_LONG', field: `data.${'k'.repeat(101)}`, message: 'a string of data takes more than 100 bytes' })
  assert.equal((dataJson({ s: ['a', 'b'.repeat(101)] }, limits) as { field: string }).field, 'data.s[1]')
})

/** Well-formed UTF-16: encodeURIComponent throws on a lone surrogate. */
function wellFormed(s: string): boolean {
  try {
    encodeURIComponent(s)
    return true
  } catch {
    return false
  }
}

/** The rule written plainly, walking the value: what dataJson must agree with. */
function oracle(value: unknown, l: EventLimits): string | null {
  const bytes = (s: string) => Buffer.byteLength(s, 'utf8')
  let problem: string | null = null
  const walk = (v: unknown, depth: number): void => {
    if (problem) return
    if (typeof v === 'string') {
      if (v.includes('\u0000')) problem = 'LV_EVENT_TEXT_INVALID'
      else if (!wellFormed(v)) problem = 'LV_EVENT_TEXT_INVALID'
      return
    }
    if (typeof v !== 'object' || v === null) return
    if (depth > l.maxDepth) {
      problem = 'LV_EVENT_TOO_DEEP'
      return
    }
    for (const [k, x] of Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v)) {
      if (!Array.isArray(v)) walk(k, depth)
      walk(x, depth + 1)
    }
  }
  walk(value, 1)
  const json = JSON.stringify(value)
  if (bytes(json) > l.maxDataBytes) return 'LV_EVENT_TOO_LARGE'
  if (problem) return problem
  const strings: string[] = []
  const collect = (v: unknown): void => {
    if (typeof v === 'string') strings.push(v)
    else if (Array.isArray(v)) v.forEach(collect)
    else if (typeof v === 'object' && v !== null)
      for (const [k, x] of Object.entries(v)) {
        strings.push(k)
        collect(x)
      }
  }
  collect(value)
  return strings.some((s) => bytes(s) > l.maxStringBytes) ? 'LV_EVENT_STRING_TOO_LONG' : null
}

test('property: dataJson refuses exactly what the plain rule refuses, and keeps JSON.stringify text', () => {
  const text = fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udc00', '€', '"', '\\', '\n', '{', '['), fc.string({ minLength: 1, maxLength: 1 })), maxLength: 40 })
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(text, tie('node'), { maxKeys: 3 })),
  })).node
  fc.assert(
    fc.property(fc.dictionary(text, value, { maxKeys: 4 }), fc.integer({ min: 2, max: 6 }), (data, depth) => {
      const l = { maxDataBytes: 400, maxStringBytes: 30, maxDepth: depth }
      const got = dataJson(data as Record<string, unknown>, l)
      const expected = oracle(data, l)
      if (expected === null) assert.equal(got, { json: JSON.stringify(data) })
      else {
        // Both refuse; the reason may differ when a value breaks two rules at once, but never its kind of input.
        assert.ok('code' in got, `${JSON.stringify(data)}: expected ${expected}`)
      }
    }),
    { numRuns: 3000 },
  )
})

test.run()
