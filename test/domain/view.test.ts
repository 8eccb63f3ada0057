import { readFileSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_SLOTS, parseViewDefinition, ViewDefinitionError, type ViewDefinition, type ViewProblem } from '../../src/domain/view.js'

const VIEWS = new URL('../../views/', import.meta.url)
const readView = (name: string): unknown => JSON.parse(readFileSync(new URL(`${name}.json`, VIEWS), 'utf8'))

const FILE = 'views/broken_view.json'
const cron = (e: string): boolean => e.split(' ').length === 5

/** A valid definition to break one field at a time. */
function base(): Record<string, unknown> {
  return {
    name: 'daily_revenue',
    eventTypes: ['sale', 'refund'],
    timezone: 'Asia/Taipei',
    granularity: 'day',
    dimensions: ['store', 'channel'],
    measures: { revenue: { sum: 'amount', decimals: 2 }, orders: { count: true } },
    sign: { refund: -1 },
  }
}

/** Parses and returns the problems, failing the test when nothing is thrown. */
function problemsOf(input: unknown): ViewProblem[] {
  try {
    parseViewDefinition(input, FILE, cron)
  } catch (error) {
    assert.instance(error, ViewDefinitionError)
    const e = error as ViewDefinitionError
    assert.is(e.file, FILE)
    assert.ok(e.message.startsWith(`${FILE}: `), e.message)
    for (const p of e.problems) assert.ok(e.message.includes(`${p.field}: ${p.problem}`), e.message)
    return e.problems
  }
  assert.unreachable('expected a ViewDefinitionError')
  return []
}

/** Asserts the problems are exactly these fields, each with a message containing its substring. */
function expectProblems(input: unknown, expected: Array<[field: string, substring: string]>): void {
  const problems = problemsOf(input)
  assert.equal(
    problems.map((p) => p.field),
    expected.map(([field]) => field),
    JSON.stringify(problems),
  )
  problems.forEach((p, i) => {
    const substring = (expected[i] as [string, string])[1]
    assert.ok(p.problem.includes(substring), `${p.field}: "${p.problem}" lacks "${substring}"`)
  })
}

// ---------------------------------------------------------------------------------------------
const shipped = suite('view: shipped definitions')

shipped('views/daily_revenue.json parses to the full definition', () => {
  const view = parseViewDefinition(readView('daily_revenue'), 'views/daily_revenue.json', cron)
  const expected: ViewDefinition = {
    name: 'daily_revenue',
    version: 1,
    description: 'Net revenue per store and channel of the retail chain (refunds count negative)',
    eventTypes: ['sale', 'refund'],
    timezone: 'Asia/Taipei',
    granularity: 'day',
    dimensions: ['store', 'channel'],
    measures: [
      { name: 'revenue', kind: 'sum', field: 'amount', decimals: 2 },
      { name: 'orders', kind: 'count', field: null, decimals: 0 },
      { name: 'largest', kind: 'max', field: 'amount', decimals: 2 },
    ],
    sign: { refund: -1 },
    flash: { at: '22:00', afterDays: 0 },
    consolidate: { at: '03:00', afterDays: 1 },
    rebuild: { every: '*/15 * * * *', windowDays: 7 },
    close: { at: '03:30', afterDays: 3, lateAfterClose: 'restate' },
    sla: { maxDelay: 'PT6H', bySource: { 'online-*': 'PT5M', 'store-*': 'P1D' } },
    expectedSources: {
      sources: ['store-001', 'store-002', 'store-003', 'store-004', 'store-005', 'store-006', 'store-007', 'store-008'],
      by: 'PT26H',
    },
  }
  assert.equal(view, expected)
})

shipped('views/daily_positive_tests.json parses to the full definition', () => {
  const view = parseViewDefinition(readView('daily_positive_tests'), 'views/daily_positive_tests.json', cron)
  const expected: ViewDefinition = {
    name: 'daily_positive_tests',
    version: 1,
    description: 'Tests and positive results per lab and region of the lab network',
    eventTypes: ['test_result'],
    timezone: 'Europe/Berlin',
    granularity: 'day',
    dimensions: ['lab', 'region'],
    measures: [
      { name: 'tests', kind: 'count', field: null, decimals: 0 },
      { name: 'positives', kind: 'sum', field: 'positive', decimals: 0 },
    ],
    sign: {},
    flash: { at: '20:00', afterDays: 0 },
    consolidate: { at: '06:00', afterDays: 1 },
    rebuild: { every: '*/30 * * * *', windowDays: 14 },
    close: { at: '07:00', afterDays: 7, lateAfterClose: 'hold' },
    sla: { maxDelay: 'P3D', bySource: { 'lab-*': 'P2D' } },
    expectedSources: { sources: ['lab-berlin', 'lab-hamburg', 'lab-munich', 'lab-cologne'], by: 'P2D' },
  }
  assert.equal(view, expected)
})

shipped.run()

// ---------------------------------------------------------------------------------------------
const defaults = suite('view: defaults')

defaults('a minimal definition gets every default', () => {
  const view = parseViewDefinition({ name: 'v', eventTypes: ['e'], timezone: 'UTC', granularity: 'hour', dimensions: [], measures: { n: { count: true }, s: { sum: 'x' } } }, FILE)
  assert.equal(view, {
    name: 'v',
    version: 1,
    description: '',
    eventTypes: ['e'],
    timezone: 'UTC',
    granularity: 'hour',
    dimensions: [],
    measures: [
      { name: 'n', kind: 'count', field: null, decimals: 0 },
      { name: 's', kind: 'sum', field: 'x', decimals: 6 },
    ],
    sign: {},
    flash: { at: '22:00', afterDays: 0 },
    consolidate: { at: '03:00', afterDays: 1 },
    rebuild: { every: '*/15 * * * *', windowDays: 7 },
    close: { at: '03:30', afterDays: 3, lateAfterClose: 'restate' },
    sla: { maxDelay: null, bySource: {} },
    expectedSources: null,
  } satisfies ViewDefinition)
})

defaults('a partial schedule keeps the defaults of the fields it leaves out', () => {
  const view = parseViewDefinition({ ...base(), flash: { at: '21:15' }, close: { lateAfterClose: 'hold' }, rebuild: { windowDays: 3 } }, FILE, cron)
  assert.equal(view.flash, { at: '21:15', afterDays: 0 })
  assert.equal(view.close, { at: '03:30', afterDays: 3, lateAfterClose: 'hold' })
  assert.equal(view.rebuild, { every: '*/15 * * * *', windowDays: 3 })
})

defaults('exactly MAX_SLOTS slots is allowed (eight averages)', () => {
  const measures: Record<string, unknown> = {}
  for (let i = 0; i < MAX_SLOTS / 2; i++) measures[`a${i}`] = { avg: 'x' }
  const view = parseViewDefinition({ ...base(), measures }, FILE, cron)
  assert.is(view.measures.length, 8)
})

defaults.run()

// ---------------------------------------------------------------------------------------------
const invalid = suite('view: invalid definitions')

invalid('not an object', () => {
  expectProblems([], [['(root)', 'must be a JSON object']])
  expectProblems(null, [['(root)', 'must be a JSON object']])
})

invalid('unknown top-level field', () => {
  expectProblems({ ...base(), colour: 'red' }, [['colour', 'unknown field']])
})

invalid('unknown nested fields', () => {
  expectProblems({ ...base(), flash: { at: '22:00', when: 'evening' } }, [['flash.when', 'unknown field']])
  expectProblems({ ...base(), close: { afterDays: 3, policy: 'hold' } }, [['close.policy', 'unknown field']])
  expectProblems({ ...base(), sla: { maxDelay: 'PT6H', perSource: {} } }, [['sla.perSource', 'unknown field']])
  expectProblems({ ...base(), rebuild: { every: '*/5 * * * *', window: 2 } }, [['rebuild.window', 'unknown field']])
  expectProblems({ ...base(), expectedSources: { sources: ['a'], by: 'P1D', extra: 1 } }, [['expectedSources.extra', 'unknown field']])
})

invalid('unknown measure kind', () => {
  expectProblems({ ...base(), measures: { median: { median: 'amount' } } }, [['measures.median', 'unknown measure kind "median"']])
  expectProblems({ ...base(), measures: { both: { sum: 'amount', max: 'amount' } } }, [['measures.both', 'exactly one measure kind']])
  expectProblems({ ...base(), measures: { n: { count: 'yes' } } }, [['measures.n.count', 'must be true']])
  expectProblems({ ...base(), measures: { s: { sum: '' } } }, [['measures.s.sum', 'must name a key of event.data']])
  expectProblems({ ...base(), measures: { s: { sum: 'x', decimals: 10 } } }, [['measures.s.decimals', 'integer from 0 to 9']])
  expectProblems({ ...base(), measures: {} }, [['measures', 'at least one measure']])
})

invalid('bad time zone', () => {
  expectProblems({ ...base(), timezone: 'Mars/Olympus_Mons' }, [['timezone', 'unknown time zone "Mars/Olympus_Mons"']])
  expectProblems({ ...base(), timezone: undefined }, [['timezone', 'unknown time zone']])
})

invalid('bad ISO durations in sla.maxDelay and sla.bySource', () => {
  expectProblems({ ...base(), sla: { maxDelay: '6h' } }, [['sla.maxDelay', 'ISO 8601 duration']])
  expectProblems({ ...base(), sla: { maxDelay: 'P0D' } }, [['sla.maxDelay', 'positive ISO 8601 duration']])
  expectProblems({ ...base(), sla: { bySource: { 'store-*': 'one day', 'online-*': 'PT5M' } } }, [['sla.bySource.store-*', 'ISO 8601 duration']])
  expectProblems({ ...base(), expectedSources: { sources: ['store-001'], by: 'tomorrow' } }, [['expectedSources.by', 'ISO 8601 duration']])
})

invalid('missing dimensions list', () => {
  const input = base()
  delete input.dimensions
  expectProblems(input, [['dimensions', 'is missing']])
  expectProblems({ ...base(), dimensions: ['store', 'store'] }, [['dimensions', 'has duplicates']])
  expectProblems({ ...base(), dimensions: 'store' }, [['dimensions', 'list of non-empty strings']])
})

invalid('empty eventTypes (and a sign for a type no longer selected)', () => {
  expectProblems({ ...base(), eventTypes: [] }, [
    ['eventTypes', 'must not be empty'],
    ['sign.refund', 'names an event type the view does not select'],
  ])
  const { sign: _sign, ...noSign } = base()
  expectProblems({ ...noSign, eventTypes: [] }, [['eventTypes', 'must not be empty']])
  expectProblems({ ...noSign, eventTypes: ['sale', ''] }, [['eventTypes', 'list of non-empty strings']])
  expectProblems({ ...base(), sign: { refund: 0 } }, [['sign.refund', 'non-zero integer']])
})

invalid('bad granularity', () => {
  expectProblems({ ...base(), granularity: 'daily' }, [['granularity', 'must be one of hour, day, week, month']])
})

invalid('bad `at` clocks', () => {
  expectProblems({ ...base(), flash: { at: '24:00' } }, [['flash.at', 'HH:MM']])
  expectProblems({ ...base(), consolidate: { at: '3:00' } }, [['consolidate.at', 'HH:MM']])
  expectProblems({ ...base(), close: { at: '03:60' } }, [['close.at', 'HH:MM']])
  expectProblems({ ...base(), consolidate: { afterDays: -1 } }, [['consolidate.afterDays', 'non-negative integer']])
  expectProblems({ ...base(), close: { lateAfterClose: 'drop' } }, [['close.lateAfterClose', '"restate" or "hold"']])
})

invalid('bad cron expression', () => {
  expectProblems({ ...base(), rebuild: { every: 'every 15 minutes' } }, [['rebuild.every', 'cron expression']])
  expectProblems({ ...base(), rebuild: { every: '*/15 * * * *', windowDays: 0 } }, [['rebuild.windowDays', 'positive integer']])
})

invalid('too many measures', () => {
  const measures: Record<string, unknown> = {}
  for (let i = 0; i <= MAX_SLOTS; i++) measures[`m${i}`] = { count: true }
  expectProblems({ ...base(), measures }, [['measures', `too many measures (avg counts twice; at most ${MAX_SLOTS})`]])
  const avgs: Record<string, unknown> = { extra: { sum: 'x' } }
  for (let i = 0; i < MAX_SLOTS / 2; i++) avgs[`a${i}`] = { avg: 'x' }
  expectProblems({ ...base(), measures: avgs }, [['measures', 'too many measures']])
})

invalid('every problem of a file is reported at once', () => {
  expectProblems({ ...base(), name: 'Daily Revenue', granularity: 'fortnight', timezone: 'Nowhere', flash: { when: 1 } }, [
    ['name', 'lower-case'],
    ['timezone', 'unknown time zone "Nowhere"'],
    ['granularity', 'must be one of'],
    ['flash.when', 'unknown field'],
  ])
})

invalid.run()
