import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { emptyCell, ViewProgram, type CellState } from '../../src/domain/aggregate.js'
import { parseViewDefinition } from '../../src/domain/view.js'
import { raiseAlerts } from '../../src/store/alerts.js'
import { openEngine, queryRows, type Engine } from '../../src/store/engine.js'
import { periodRow, recordJobRun, revisionCells, writeRevision } from '../../src/store/revisions.js'
import type { PeriodsTable } from '../../src/store/schema.js'
import { storeLocations } from '../helpers/store-locations.js'

/**
 * The writes PostgreSQL folds into one statement each (a revision with its cells and period row,
 * a job run, alerts numbered by their insert, the begin that takes the write lock) give the same
 * rows as SQLite's, from an empty store on.
 */
const program = new ViewProgram(
  parseViewDefinition({ name: 'v', eventTypes: ['sale'], timezone: 'UTC', granularity: 'day', dimensions: ['store'], measures: { total: { sum: 'amount', decimals: 0 } } }, 'v.json'),
)
const cell = (events: number, total: number): CellState => {
  const c = emptyCell(program.ops.length)
  c.eventCount = events
  c.slots[0] = total
  return c
}
const meta = (revision: number) => ({
  view: 'v',
  period: '2026-01-05',
  revision,
  kind: 'provisional',
  cutoff_seq: revision * 10,
  cutoff_received_at: revision * 1000,
  computed_at: revision * 1000,
  trigger: 'manual',
  event_count: 3,
  late_event_count: 0,
  completeness: null,
  hash: `h${revision}`,
  view_version: 1,
  totals: '{}',
})
const period = (revision: number): PeriodsTable => ({
  view: 'v',
  period: '2026-01-05',
  status: 'provisional',
  latest_revision: revision,
  latest_cutoff_seq: revision * 10,
  dirty_since_seq: null,
  updated_at: revision * 1000,
  view_version: 1,
})
const plain = (cells: Map<string, CellState>) => Object.fromEntries([...cells].map(([k, c]) => [k, [c.eventCount, Number(c.slots[0])]]))

for (const location of await storeLocations()) {
  const test = suite(`combined writes (${location.name})`)
  let engine: Engine
  test.before(async () => {
    engine = await openEngine(location.next())
    await engine.migrate()
  })
  test.after(async () => {
    await engine.close()
    await location.cleanup()
  })

  test('a first job run and first alerts number from 1 on empty tables, then go on', async () => {
    const run = { job: 'consolidate', view: 'v', period: '2026-01-05', now: 5, trigger: 'manual', outcome: 'published', revision: 1, detail: null, started_at: 4, duration_ms: 1.5 }
    const ids = await engine.write(async (tx) => [(await recordJobRun(tx.db, run)).id, (await recordJobRun(tx.db, run)).id])
    assert.equal(ids, [1, 2])
    const alert = (n: number) => ({ kind: 'ReportRevised' as const, view: 'v', period: `2026-01-0${n}`, source: null, data: { n } })
    const first = await engine.write((tx) => raiseAlerts(tx.db, [alert(1), alert(2)], 7))
    const second = await engine.write((tx) => raiseAlerts(tx.db, [alert(3)], 8))
    assert.equal(
      [...first, ...second].map((a) => [a.id, a.period]),
      [
        [1, '2026-01-01'],
        [2, '2026-01-02'],
        [3, '2026-01-03'],
      ],
    )
    const stored = await queryRows<{ id: number; period: string }>(engine.db, 'select id, period from alerts order by id')
    assert.equal(
      stored.map((r) => [Number(r.id), r.period]),
      [
        [1, '2026-01-01'],
        [2, '2026-01-02'],
        [3, '2026-01-03'],
      ],
    )
  })

  test('a revision, its copy-on-write cells and the period row', async () => {
    const one = new Map([
      ['a', cell(1, 10)],
      ['b', cell(1, 20)],
      ['c', cell(1, 30)],
    ])
    await engine.write((tx) => writeRevision(tx.db, meta(1), one, new Map(), program, period(1)))
    // b changes, c vanishes, d is new, a is kept.
    const two = new Map([
      ['a', cell(1, 10)],
      ['b', cell(2, 25)],
      ['d', cell(1, 40)],
    ])
    await engine.write((tx) => writeRevision(tx.db, meta(2), two, one, program, period(2)))
    assert.equal(plain(await revisionCells(engine.db, 'v', '2026-01-05', 1, 1)), { a: [1, 10], b: [1, 20], c: [1, 30] })
    assert.equal(plain(await revisionCells(engine.db, 'v', '2026-01-05', 2, 1)), { a: [1, 10], b: [2, 25], d: [1, 40] })
    const rows = await queryRows<{ n: number }>(engine.db, 'select count(*) as n from revision_cells')
    assert.is(Number(rows[0]?.n), 5)
    // Under another definition every open row closes.
    await engine.write((tx) => writeRevision(tx.db, meta(3), new Map([['e', cell(1, 1)]]), null, program, period(3)))
    assert.equal(plain(await revisionCells(engine.db, 'v', '2026-01-05', 3, 1)), { e: [1, 1] })
    assert.equal(plain(await revisionCells(engine.db, 'v', '2026-01-05', 2, 1)), { a: [1, 10], b: [2, 25], d: [1, 40] })
    const row = await periodRow(engine.db, 'v', '2026-01-05')
    assert.equal(row && { ...row, latest_revision: Number(row.latest_revision) }, period(3))
  })

  test('a write that fails is rolled back, and the next one runs', async () => {
    const failed = await engine
      .write(async (tx) => {
        await recordJobRun(tx.db, { job: 'x', view: 'v', period: 'p', now: 1, trigger: 'manual', outcome: 'failed', revision: null, detail: null, started_at: 1, duration_ms: 1 })
        throw new Error('boom')
      })
      .catch((e: Error) => e.message)
    assert.is(failed, 'boom')
    const run = await engine.write((tx) =>
      recordJobRun(tx.db, { job: 'y', view: 'v', period: 'p', now: 1, trigger: 'manual', outcome: 'failed', revision: null, detail: null, started_at: 1, duration_ms: 1 }),
    )
    assert.is(run.id, 3)
  })

  test.run()
}
