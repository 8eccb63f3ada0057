/**
 * The one CSV writer, read back by a strict RFC 4180 parser (csv-parse: no relaxed quotes, every
 * record as wide as the header): null and the empty string stay apart, text a spreadsheet would
 * run as a formula is escaped, numbers are exact; and a report and a comparison served over HTTP
 * with hostile dimension values read back as exactly their rows, no total line.
 */
import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { table } from '../../src/cli/output.js'
import { csvText, csvValue } from '../../src/services/csv.js'
import { Lateview } from '../../src/services/lateview.js'
import { engines } from '../helpers/engines.js'

/** Parses strictly; an unquoted empty field is null, a quoted one the empty string. */
function read(text: string): Array<Array<string | null>> {
  return parse(text, {
    record_delimiter: '\r\n',
    relax_quotes: false,
    relax_column_count: false,
    cast: (value, context) => (value === '' && !context.quoting ? null : value),
  }) as Array<Array<string | null>>
}

const factories = await engines()
const unit = suite('csv writer')

unit('each rule on its own, field by field', () => {
  const cases: Array<[unknown, string]> = [
    [null, ''],
    [undefined, ''],
    ['', '""'],
    ['north', 'north'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("http://x")', '"\'=HYPERLINK(""http://x"")"'],
    ['=1+1', "'=1+1"],
    ['+cmd', "'+cmd"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['\rx', '"\'\rx"'],
    ['-5', '-5'],
    ['+1.25', '+1.25'],
    ['-PT2H', '-PT2H'],
    ['P1D', 'P1D'],
    [-5, '-5'],
    [1e21, '1000000000000000000000'],
    [0.1, '0.1'],
  ]
  for (const [value, field] of cases) assert.is(csvValue(value), field, JSON.stringify(value))
  assert.is(
    csvText(
      ['shop', 'n'],
      [
        [null, 1],
        ['', 2],
      ],
    ),
    'shop,n\r\n,1\r\n"",2\r\n',
  )
})

unit('any rows read back strictly as themselves: null as null, text as text (a formula with its apostrophe), numbers as numerals', () => {
  const field = fc.oneof(fc.constant(null), fc.string(), fc.constantFrom('', '=A1', '-1', '@x', ' spaced '), fc.integer())
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.array(field, { minLength: 4, maxLength: 4 }), { maxLength: 6 }), (width, rows) => {
      const cut = rows.map((r) => r.slice(0, width))
      const header = Array.from({ length: width }, (_, i) => `c${i}`)
      const back = read(csvText(header, cut))
      const expected = cut.map((r) =>
        r.map((v) => {
          if (v === null) return null
          if (typeof v === 'number') return String(v)
          return /^[=+\-@\t\r]/.test(v) && !/^[+-]?(\d+(\.\d*)?|\.\d+|P[\dYMWDTHS.,]+)$/.test(v) ? `'${v}` : v
        }),
      )
      assert.equal(back, [header, ...expected])
    }),
    { numRuns: 300 },
  )
})

unit('the CLI table keeps one line per row: text with a line break, an empty name and "-" are shown as JSON strings, nothing as -', () => {
  assert.is(
    table(
      ['shop', 'revenue'],
      [
        ['two\nlines', 8],
        ['', 2],
        ['-', 3],
        [null, 4],
        ['north', null],
      ],
    ),
    ['shop          revenue', '------------  -------', '"two\\nlines"        8', '""                  2', '"-"                 3', '-                   4', 'north               -'].join('\n'),
  )
})

unit.run()

const SHOPS = parseViewDefinition(
  {
    name: 'shops',
    eventTypes: ['sale'],
    timezone: 'UTC',
    granularity: 'day',
    dimensions: ['shop'],
    measures: { revenue: { sum: 'amount', decimals: 2 } },
  },
  'shops.json',
)
const D = '2026-11-20'
const HOSTILE = '=HYPERLINK("http://x","click")'

const sale = (id: string, data: Record<string, unknown>) => ({ id, source: 'till', type: 'sale', occurredAt: `${D}T09:00:00Z`, receivedAt: `${D}T10:00:00Z`, data })

for (const factory of factories) {
  const test = suite<{ lv: Lateview; app: FastifyInstance }>(`csv over HTTP (${factory.name})`, {} as { lv: Lateview; app: FastifyInstance })
  test.before.each(async (ctx) => {
    ctx.lv = await Lateview.fromEngine(await factory.open(), [SHOPS], new ManualClock(Date.parse('2026-11-22T00:00:00Z')))
    ctx.app = await buildApp({ tokens: null, logLevel: 'silent' }, { lateview: ctx.lv })
  })
  test.after.each(async ({ lv, app }) => {
    await app.close()
    await lv.close()
  })
  test.after(() => factory.cleanup())

  test('a report and a comparison with a formula, an empty name, a missing shop and a line break: exactly their rows', async ({ lv, app }) => {
    await lv.ingest([sale('a', { shop: HOSTILE, amount: 1 }), sale('b', { shop: '', amount: 2 }), sale('c', { amount: 4 })], { imported: true })
    assert.is((await lv.restate('shops', D)).revision, 1)
    await lv.ingest([{ ...sale('d', { shop: 'two\nlines', amount: 8 }), receivedAt: '2026-11-21T10:00:00Z' }], { imported: true })
    assert.is((await lv.restate('shops', D)).revision, 2)

    const report = await app.inject({ method: 'GET', url: `/v1/views/shops/periods/${D}?format=csv` })
    assert.is(report.statusCode, 200, report.body)
    const rows = read(report.body)
    assert.equal(rows[0], ['shop', 'revenue', 'eventCount'])
    assert.equal(
      rows.slice(1).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      [
        ['', '2', '1'],
        ['\'=HYPERLINK("http://x","click")', '1', '1'],
        ['two\nlines', '8', '1'],
        [null, '4', '1'],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    )

    const diff = await app.inject({ method: 'GET', url: `/v1/views/shops/periods/${D}/diff?from=1&to=2&format=csv` })
    assert.is(diff.statusCode, 200, diff.body)
    const lines = read(diff.body)
    assert.equal(lines[0], ['shop', 'revenue_before', 'revenue_after', 'revenue_delta', 'events', 'status'])
    // One line per row of either side, and nothing else: no total line.
    assert.is(lines.length, 1 + 4)
    assert.ok(!lines.some((l) => l.some((v) => typeof v === 'string' && /total/i.test(v))))
    const added = lines.find((l) => l[0] === 'two\nlines')
    assert.equal(added?.slice(1, 4), [null, '8', '8'])
  })

  test.run()
}
