import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ViewProgram, type CellState } from '../../src/domain/aggregate.js'
import { Decimal } from '../../src/domain/decimal.js'
import { canonicalJson } from '../../src/domain/event.js'
import { belowMinChange, measureMoves, type MinChange } from '../../src/domain/min-change.js'
import { parseViewDefinition, toViewFile, ViewDefinitionError, type ViewDefinition } from '../../src/domain/view.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import { shippedViews } from '../helpers/ingest-fixtures.js'

const FILE = 'views/trickle.json'
const cron = (e: string): boolean => e.split(' ').length === 5
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** A view with every kind of measure, and `rebuild` as given. */
function definition(rebuild?: unknown): Record<string, unknown> {
  return {
    name: 'trickle',
    eventTypes: ['sale'],
    timezone: 'UTC',
    granularity: 'day',
    dimensions: ['store'],
    measures: {
      revenue: { sum: 'amount', decimals: 2 },
      orders: { count: true },
      largest: { max: 'amount', decimals: 2 },
      smallest: { min: 'amount', decimals: 2 },
      mean: { avg: 'amount', decimals: 2 },
    },
    ...(rebuild === undefined ? {} : { rebuild }),
  }
}

/** The problems of an invalid definition, as [field, problem]; fails when it parses. */
function problemsOf(input: unknown): Array<[string, string]> {
  try {
    parseViewDefinition(input, FILE, cron)
  } catch (error) {
    assert.instance(error, ViewDefinitionError)
    const e = error as ViewDefinitionError
    assert.is(e.file, FILE)
    return e.problems.map((p) => [p.field, p.problem])
  }
  assert.unreachable('expected a ViewDefinitionError')
  return []
}

// ---------------------------------------------------------------------------------------------
const parsing = suite('min-change: rebuild.minChange in a view definition')

parsing('kept as given, and absent unless given', () => {
  const every = '*/15 * * * *'
  assert.equal(parseViewDefinition(definition({ minChange: { relative: 0.001 } }), FILE, cron).rebuild, { every, windowDays: 7, minChange: { relative: 0.001 } })
  assert.equal(parseViewDefinition(definition({ windowDays: 3, minChange: { absolute: 100 } }), FILE, cron).rebuild, { every, windowDays: 3, minChange: { absolute: 100 } })
  assert.equal(parseViewDefinition(definition({ minChange: { relative: 0, absolute: 0.005 } }), FILE, cron).rebuild, { every, windowDays: 7, minChange: { relative: 0, absolute: 0.005 } })
  const without = parseViewDefinition(definition({ windowDays: 3 }), FILE, cron)
  assert.equal(without.rebuild, { every, windowDays: 3 })
  assert.not.ok('minChange' in without.rebuild)
  assert.not.ok('minChange' in parseViewDefinition(definition(), FILE, cron).rebuild)
  // It shows in the view file form (GET /v1/views) as given.
  assert.equal((toViewFile(parseViewDefinition(definition({ minChange: { relative: 0.001 } }), FILE, cron)) as { rebuild: unknown }).rebuild, { every, windowDays: 7, minChange: { relative: 0.001 } })
})

parsing('the canonical JSON and hash of a definition without minChange do not change', () => {
  // Measured with the lateview before rebuild.minChange existed: stored versions keep their hash.
  const hashes = Object.fromEntries(shippedViews().map((v) => [v.name, sha256(canonicalJson(v))]))
  assert.equal(hashes, {
    daily_positive_tests: '3f5497da11d52ca09ecf387b7b99bffff6cec69fb8ac312b79318f54cd7782c3',
    daily_revenue: 'b0579a4aded5f8f55b84acb29cd3858ed9dd48f7d1d42d6847ba6c8bf7b3fea7',
  })
  const revenue = shippedViews().find((v) => v.name === 'daily_revenue') as ViewDefinition
  assert.match(canonicalJson(revenue), /"rebuild":\{"every":"\*\/15 \* \* \* \*","windowDays":7\},/)
  // With minChange, it is part of the definition (a change of it needs a new version).
  const withMinChange = { ...revenue, rebuild: { ...revenue.rebuild, minChange: { relative: 0.001 } } }
  assert.match(canonicalJson(withMinChange), /"rebuild":\{"every":"\*\/15 \* \* \* \*","minChange":\{"relative":0\.001\},"windowDays":7\},/)
  assert.is.not(sha256(canonicalJson(withMinChange)), hashes.daily_revenue)
})

parsing('invalid values name the field and the problem', () => {
  assert.equal(problemsOf(definition({ minChange: 0.001 })), [['rebuild.minChange', 'must be an object such as { "relative": 0.001 } or { "absolute": 100 }']])
  assert.equal(problemsOf(definition({ minChange: [] })), [['rebuild.minChange', 'must be an object such as { "relative": 0.001 } or { "absolute": 100 }']])
  assert.equal(problemsOf(definition({ minChange: {} })), [['rebuild.minChange', 'must give relative, absolute or both']])
  assert.equal(problemsOf(definition({ minChange: { relative: -0.001 } })), [['rebuild.minChange.relative', 'must be a number >= 0 (a share of the total: 0.001 is 0.1 %)']])
  assert.equal(problemsOf(definition({ minChange: { relative: '0.1%' } })), [['rebuild.minChange.relative', 'must be a number >= 0 (a share of the total: 0.001 is 0.1 %)']])
  assert.equal(problemsOf(definition({ minChange: { absolute: -5 } })), [['rebuild.minChange.absolute', "must be a number >= 0 (in the measure's units)"]])
  assert.equal(problemsOf(definition({ minChange: { absolute: Number.POSITIVE_INFINITY } })), [['rebuild.minChange.absolute', "must be a number >= 0 (in the measure's units)"]])
  assert.equal(problemsOf(definition({ minChange: { relative: 0.001, percent: 1 } })), [['rebuild.minChange.percent', 'unknown field']])
  assert.equal(problemsOf(definition({ minChange: { relative: null, absolute: true } })), [
    ['rebuild.minChange.relative', 'must be a number >= 0 (a share of the total: 0.001 is 0.1 %)'],
    ['rebuild.minChange.absolute', "must be a number >= 0 (in the measure's units)"],
  ])
})

parsing('an invalid view file stops the load naming the file, the field and the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lateview-min-change-'))
  const file = join(dir, 'trickle.json')
  writeFileSync(file, JSON.stringify(definition({ every: '*/15 * * * *', minChange: { relative: -1 } })))
  try {
    loadViewFiles(dir)
    assert.unreachable('the load should fail')
  } catch (error) {
    assert.instance(error, ViewDefinitionError)
    assert.is((error as Error).message, `${file}: rebuild.minChange.relative: must be a number >= 0 (a share of the total: 0.001 is 0.1 %)`)
  }
})

parsing.run()

// ---------------------------------------------------------------------------------------------
const moves = suite('min-change: which measure totals moved')

const program = new ViewProgram(parseViewDefinition(definition(), FILE, cron))
const sales = (...amounts: Array<[store: string, amount: number | null]>): Map<string, CellState> => {
  const cells = new Map<string, CellState>()
  for (const [store, amount] of amounts) {
    const data = amount === null ? { store } : { store, amount }
    const key = program.dimsKey(data)
    const state = cells.get(key) ?? { eventCount: 0, slots: new Array(program.ops.length).fill(null) }
    program.addTo(state, 'sale', data)
    cells.set(key, state)
  }
  return cells
}
const figures = (cells: Map<string, CellState>, p = program) => ({ program: p, cells })
const movesOf = (minChange: MinChange, before: Map<string, CellState>, after: Map<string, CellState>) =>
  Object.fromEntries(measureMoves(minChange, figures(before), figures(after)).map((m) => [m.measure, [m.delta, m.threshold, m.moved]]))

// Revenue 1234.56 over 3 orders: largest 1000, smallest 34.56, mean 411.52.
const BEFORE: Array<[string, number]> = [
  ['a', 1000],
  ['b', 200],
  ['c', 34.56],
]

moves('relative: |Δ| must exceed the share of |the previous total|, exactly (equal is not more)', () => {
  const before = sales(...BEFORE)
  // 0.001 × 1234.56 = 1.23456: +1.23 stays below, +1.24 moves; the count moves by 1 of 3.
  assert.equal(movesOf({ relative: 0.001 }, before, sales(...BEFORE, ['b', 1.23])), {
    revenue: [1.23, 1.23456, false],
    orders: [1, 0.003, true],
    largest: [0, 1, false],
    smallest: [-33.33, 0.03456, true],
    mean: [-102.57, 0.41152, true],
  })
  const plus = (amount: number) => sales(['a', 1000], ['b', 200 + amount], ['c', 34.56])
  assert.equal(movesOf({ relative: 0.001 }, before, plus(1.23)).revenue, [1.23, 1.23456, false])
  assert.equal(movesOf({ relative: 0.001 }, before, plus(1.24)).revenue, [1.24, 1.23456, true])
  // A move equal to the threshold is not more than it.
  assert.equal(movesOf({ relative: 0.01 }, before, plus(12.3456)).revenue, [12.35, 12.3456, true])
  assert.equal(movesOf({ relative: 0.5 }, before, plus(617.28)).revenue, [617.28, 617.28, false])
  // Downwards the same: |Δ| counts.
  assert.equal(movesOf({ relative: 0.001 }, before, plus(-1.24)).revenue, [-1.24, 1.23456, true])
  // The same events, the same figures: nothing moved (eventCount is not a measure).
  const same = movesOf({ relative: 0.001 }, before, sales(...BEFORE))
  assert.equal(
    Object.values(same).map(([, , moved]) => moved),
    [false, false, false, false, false],
  )
})

moves('absolute, and both: |Δ| must exceed each bound given', () => {
  const before = sales(...BEFORE)
  const after = sales(['a', 1000], ['b', 202], ['c', 34.56])
  assert.equal(movesOf({ absolute: 2 }, before, after).revenue, [2, 2, false])
  assert.equal(movesOf({ absolute: 1.99 }, before, after).revenue, [2, 1.99, true])
  // Both: the larger bound decides (1.23456 from relative, 5 from absolute).
  assert.equal(movesOf({ relative: 0.001, absolute: 5 }, before, after).revenue, [2, 5, false])
  assert.equal(movesOf({ relative: 0.01, absolute: 1 }, before, after).revenue, [2, 12.3456, false])
  assert.equal(movesOf({ relative: 0.001, absolute: 1 }, before, after).revenue, [2, 1.23456, true])
  // Zero thresholds: any change moves, none does not.
  assert.equal(movesOf({ relative: 0 }, before, after).revenue, [2, 0, true])
  assert.equal(movesOf({ absolute: 0 }, before, before).revenue, [0, 0, false])
  // From a total of 0 any relative move counts.
  assert.equal(movesOf({ relative: 0.5 }, sales(['a', 10], ['b', -10]), sales(['a', 10], ['b', -10], ['c', 0.01])).revenue, [0.01, 0, true])
})

moves('min, max and avg totals follow the same rule; a value appearing or a new measure always moves', () => {
  const before = sales(...BEFORE)
  // A new largest sale: max 1000 → 1000.5 is below 0.1 % of 1000; 1001.5 is above.
  assert.equal(movesOf({ relative: 0.001 }, before, sales(...BEFORE, ['d', 1000.5])).largest, [0.5, 1, false])
  assert.equal(movesOf({ relative: 0.001 }, before, sales(...BEFORE, ['d', 1001.5])).largest, [1.5, 1, true])
  // Only events without an amount: min, max and avg stay null (not moved); the count moves.
  const none = sales(['a', null])
  assert.equal(movesOf({ relative: 0.5 }, none, sales(['a', null], ['b', null])), {
    revenue: [0, 0, false],
    orders: [1, 0.5, true],
    largest: [0, null, false],
    smallest: [0, null, false],
    mean: [0, null, false],
  })
  // A value where there was none moves, however large the threshold.
  assert.equal(movesOf({ relative: 1000, absolute: 1000 }, none, sales(['a', null], ['b', 0.01])).largest, [null, null, true])
  // A measure the latest revision's definition does not have moves.
  const older = new ViewProgram(parseViewDefinition({ ...definition(), measures: { revenue: { sum: 'amount', decimals: 2 } } }, FILE, cron))
  const olderCells = new Map([[program.dimsKey({ store: 'a' }), { eventCount: 1, slots: [100000] }]])
  const result = measureMoves({ relative: 0.001 }, figures(olderCells, older), figures(sales(['a', 1000])))
  assert.equal(
    result.map((m) => [m.measure, m.delta, m.moved]),
    [
      ['revenue', 0, false],
      ['orders', null, true],
      ['largest', null, true],
      ['smallest', null, true],
      ['mean', null, true],
    ],
  )
})

moves('thresholds are exact decimals, beyond what a number holds', () => {
  // 0.000123 × 12345678901234.56 = 1518518504.85185088 (18 significant digits: a Decimal).
  const before = sales(['a', 12345678901234.56])
  const m = measureMoves({ relative: 0.000123 }, figures(before), figures(sales(['a', 12345678901234.56], ['b', 1])))[0]
  assert.equal(m, { measure: 'revenue', delta: 1, threshold: new Decimal('1518518504.85185088'), moved: false })
})

moves('the reason recorded for a run below the threshold', () => {
  const before = sales(...BEFORE)
  const result = measureMoves({ relative: 0.01 }, figures(before), figures(sales(['a', 1000], ['b', 201.25], ['c', 34.56])))
  assert.is(
    belowMinChange(result, 3),
    'below rebuild.minChange against revision 3: revenue +1.25 (threshold 12.3456), orders 0 (threshold 0.03), largest 0 (threshold 10), smallest 0 (threshold 0.3456), mean +0.42 (threshold 4.1152); the period stays dirty',
  )
})

moves.run()
