/**
 * View definitions are versioned data: a revision is read, written out, compared, alerted on and
 * verified under the definition it was published with, whatever the view files say later.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition, ViewDefinitionError, type ViewDefinition } from '../../src/domain/view.js'
import type { AlertDocument } from '../../src/services/alert-documents.js'
import { Lateview } from '../../src/services/lateview.js'
import type { Engine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { at, rejection } from '../helpers/ingest-fixtures.js'
import { summarise } from '../helpers/lifecycle.js'

const D = '2026-11-20'
const base = {
  name: 'kt',
  eventTypes: ['sale'],
  timezone: 'UTC',
  granularity: 'day',
  dimensions: ['store'],
}
const V1 = parseViewDefinition({ ...base, version: 1, measures: { rev: { sum: 'amount', decimals: 2 }, cnt: { count: true }, top: { max: 'amount', decimals: 2 } } }, 'views/kt.json')
/** Measures reordered, rev at 0 decimals, an avg added. */
const V2 = parseViewDefinition(
  { ...base, version: 2, measures: { cnt: { count: true }, rev: { sum: 'amount', decimals: 0 }, top: { max: 'amount', decimals: 2 }, avgamt: { avg: 'amount' } } },
  'views/kt.json',
)

const sale = (id: string, store: string, amount: number, received: string) => ({
  id,
  source: `store-${store}`,
  type: 'sale',
  occurredAt: `${D}T10:00:00Z`,
  receivedAt: received,
  data: { store, amount },
})

for (const factory of await engines()) {
  const test = suite(`services/definitions (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  /** A Lateview on `engine` with `views`, its HTTP app, and the alerts it hears. */
  async function open(engine: Engine, views: ViewDefinition[], clock: ManualClock) {
    const lateview = await Lateview.fromEngine(engine, views, clock)
    const heard: AlertDocument[] = []
    lateview.onAlerts((alerts) => heard.push(...alerts))
    const app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: true }, { lateview })
    return { lateview, app, heard }
  }
  const json = async (app: FastifyInstance, url: string) => {
    const res = await app.inject({ method: 'GET', url })
    assert.is(res.statusCode, 200, res.body)
    return res.json() as Record<string, unknown>
  }
  const csv = async (app: FastifyInstance, url: string) => (await app.inject({ method: 'GET', url: `${url}${url.includes('?') ? '&' : '?'}format=csv` })).body

  test('a revision is read, written out, compared and verified under its own definition after a new version', async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(at(`${D}T12:00:00Z`))
      const first = await open(engine, [V1], clock)
      await first.lateview.ingest([sale('e1', 'A', 10.4, `${D}T10:01:00Z`), sale('e2', 'A', 5.2, `${D}T10:02:00Z`), sale('e3', 'B', 7, `${D}T10:03:00Z`)], { imported: true })
      assert.equal(summarise(await first.lateview.jobs.run('flash', { view: 'kt', period: D, now: at(`${D}T22:00:00Z`), trigger: 'cron' })), [
        ['flash', 'kt', D, 'published', 1, 'flash at cutoff seq 3'],
      ])
      const url = `/v1/views/kt/periods/${D}`
      const published = await json(first.app, `${url}?revision=1`)
      const publishedCsv = await csv(first.app, `${url}?revision=1`)
      await first.app.close()

      // Restarted with version 2 of the view file.
      clock.set(at('2026-11-21T01:00:00Z'))
      const second = await open(engine, [V2], clock)
      const v1Rows = [
        { dims: { store: 'A' }, measures: { rev: 15.6, cnt: 2, top: 10.4 }, eventCount: 2 },
        { dims: { store: 'B' }, measures: { rev: 7, cnt: 1, top: 7 }, eventCount: 1 },
      ]
      const again = await json(second.app, `${url}?revision=1`)
      assert.equal(again, published)
      assert.equal([again.viewVersion, again.rows, again.totals], [1, v1Rows, { measures: { rev: 22.6, cnt: 3, top: 10.4 }, eventCount: 3 }])
      assert.is(await csv(second.app, `${url}?revision=1`), publishedCsv)
      assert.is(publishedCsv, 'store,rev,cnt,top,eventCount\r\nA,15.6,2,10.4,2\r\nB,7,1,7,1\r\n')
      // Realtime follows the new rules at once.
      assert.equal((await json(second.app, '/v1/views/kt/realtime')).cells, [
        { period: D, dims: { store: 'A' }, measures: { cnt: 2, rev: 15, top: 10.4, avgamt: 7.8 }, eventCount: 2 },
        { period: D, dims: { store: 'B' }, measures: { cnt: 1, rev: 7, top: 7, avgamt: 7 }, eventCount: 1 },
      ])

      // The rebuilder republishes the provisional period under version 2, as a definition change.
      assert.equal(summarise(await second.lateview.jobs.run('rebuild', { view: 'kt', trigger: 'cron' })), [['rebuild', 'kt', D, 'published', 2, 'revision at cutoff seq 3']])
      const r2 = await json(second.app, url)
      assert.equal([r2.revision, r2.kind, r2.trigger, r2.viewVersion, r2.cutoffSeq], [2, 'revision', 'definition', 2, 3])
      assert.is(await csv(second.app, url), 'store,cnt,rev,top,avgamt,eventCount\r\nA,2,15,10.4,7.8,2\r\nB,1,7,7,7,1\r\n')
      assert.equal(
        second.heard.map((a) => a.data),
        [
          {
            revision: 2,
            previousRevision: 1,
            kind: 'revision',
            trigger: 'definition',
            cutoffSeq: 3,
            viewVersion: 2,
            previousViewVersion: 1,
            definitionChanged: true,
            measuresAdded: ['avgamt'],
            measuresRemoved: [],
            totalsBefore: { measures: { rev: 22.6, cnt: 3, top: 10.4 }, eventCount: 3 },
            totalsAfter: { measures: { cnt: 3, rev: 22, top: 10.4, avgamt: 7.533333 }, eventCount: 3 },
            changedCells: 2,
            // Measures compared by name: only rev moved, by the rounding of the new definition.
            changes: [
              { dims: { store: 'A' }, delta: { cnt: 0, rev: -0.6, top: 0 } },
              { dims: { store: 'B' }, delta: { cnt: 0, rev: 0, top: 0 } },
            ],
          },
        ],
      )
      // The diff across the change says so, and invents no event.
      const diff = await json(second.app, `${url}/diff?from=1&to=2`)
      assert.equal(diff.definition, {
        from: 1,
        to: 2,
        measuresAdded: ['avgamt'],
        measuresRemoved: [],
        dimensionsChanged: false,
        note: 'the view definition changed from version 1 to 2 between the two sides: cells are matched by dimension values, measures by name, and definitionEffect is the part of each delta no event explains',
      })
      assert.equal(diff.changes, [
        {
          dims: { store: 'A' },
          before: { rev: 15.6, cnt: 2, top: 10.4 },
          after: { cnt: 2, rev: 15, top: 10.4, avgamt: 7.8 },
          delta: { cnt: 0, rev: -0.6, top: 0 },
          events: [],
          definitionEffect: { cnt: 0, rev: -0.6 },
        },
        {
          dims: { store: 'B' },
          before: { rev: 7, cnt: 1, top: 7 },
          after: { cnt: 1, rev: 7, top: 7, avgamt: 7 },
          delta: { cnt: 0, rev: 0, top: 0 },
          events: [],
          definitionEffect: { cnt: 0, rev: 0 },
        },
      ])
      // The totals: each side's under its own definition, the delta for the measures both have, by name.
      assert.equal(diff.totals, {
        before: { rev: 22.6, cnt: 3, top: 10.4 },
        after: { cnt: 3, rev: 22, top: 10.4, avgamt: 7.533333 },
        delta: { cnt: 0, rev: -0.6, top: 0 },
      })
      // As CSV: the measures in version 2's order, avgamt with no value before and no delta.
      assert.is(
        await csv(second.app, `${url}/diff?from=1&to=2`),
        'store,cnt_before,cnt_after,cnt_delta,rev_before,rev_after,rev_delta,top_before,top_after,top_delta,avgamt_before,avgamt_after,avgamt_delta,events,status\r\n' +
          'A,2,2,0,15.6,15,-0.6,10.4,10.4,0,,7.8,,0,changed\r\n' +
          'B,1,1,0,7,7,0,7,7,0,,7,,0,changed\r\n',
      )

      // A late sale: revision 3 under version 2; a diff from revision 1 splits the change between the event and the rules.
      clock.set(at('2026-11-21T02:00:00Z'))
      await second.lateview.ingest([sale('e4', 'A', 2.6, '2026-11-21T02:00:00Z')], { imported: true })
      assert.equal(summarise(await second.lateview.jobs.run('rebuild', { view: 'kt', trigger: 'cron' })), [['rebuild', 'kt', D, 'published', 3, 'revision at cutoff seq 4']])
      const late = await json(second.app, `${url}/diff?from=1&to=3`)
      assert.equal((late.changes as unknown[])[0], {
        dims: { store: 'A' },
        before: { rev: 15.6, cnt: 2, top: 10.4 },
        after: { cnt: 3, rev: 18, top: 10.4, avgamt: 6.066667 },
        delta: { cnt: 1, rev: 2.4, top: 0 },
        events: [{ id: 'e4', source: 'store-A', seq: 4, receivedAt: '2026-11-21T02:00:00.000Z', occurredAt: `${D}T10:00:00.000Z`, contribution: { cnt: 1, rev: 3, top: 2.6, avgamt: 2.6 } }],
        definitionEffect: { cnt: 0, rev: -0.6 },
      })
      const sameRules = await json(second.app, `${url}/diff?from=2&to=3`)
      assert.is(sameRules.definition, null)

      // Every revision holds under its own definition; the versions are listed.
      const { realtime, revisions } = await second.lateview.verifyStore()
      assert.equal([realtime.differences, revisions.differences, revisions.revisions], [[], [], 3])
      const versions = await json(second.app, '/v1/views/kt/versions')
      const hash = (text: string) => createHash('sha256').update(text).digest('hex')
      const listed = versions.versions as Array<{ version: number; hash: string; effectiveFrom: string; current: boolean; definition: Record<string, unknown> }>
      assert.equal(
        listed.map((v) => [v.version, v.effectiveFrom, v.current, Object.keys(v.definition.measures as object)]),
        [
          [1, `${D}T12:00:00.000Z`, false, ['rev', 'cnt', 'top']],
          [2, '2026-11-21T01:00:00.000Z', true, ['cnt', 'rev', 'top', 'avgamt']],
        ],
      )
      const stored = await engine.db.kysely.selectFrom('view_versions').select(['version', 'definition', 'hash']).orderBy('version').execute()
      assert.equal(
        stored.map((r) => r.hash),
        listed.map((v) => v.hash),
      )
      for (const r of stored) assert.is(r.hash, hash(r.definition))
      assert.is(versions.current, 2)
      await second.app.close()
    } finally {
      await engine.close()
    }
  })

  test('start-up refuses a changed definition without a new version, and a version going back; the store is left as it was', async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(at(`${D}T12:00:00Z`))
      await Lateview.fromEngine(engine, [V1], clock)
      const edited = parseViewDefinition({ ...base, version: 1, measures: { rev: { sum: 'amount', decimals: 0 }, cnt: { count: true }, top: { max: 'amount', decimals: 2 } } }, 'views/kt.json')
      const refused = async (views: ViewDefinition[]) => {
        try {
          await Lateview.fromEngine(engine, views, clock)
        } catch (error) {
          assert.instance(error, ViewDefinitionError)
          return (error as Error).message
        }
        return assert.unreachable('start-up went on')
      }
      assert.is(
        await refused([edited]),
        'view kt: version: the definition differs from version 1 recorded in the store, and revisions are read under the definition they were published with: give the changed definition "version": 2',
      )
      await Lateview.fromEngine(engine, [V2], clock)
      assert.is(await refused([V1]), 'view kt: version: is 1, older than version 2 in the store; versions never go back: give the definition you want version 3')
      const rows = await engine.db.kysely.selectFrom('view_versions').select(['view', 'version']).orderBy('version').execute()
      assert.equal(rows, [
        { view: 'kt', version: 1 },
        { view: 'kt', version: 2 },
      ])
    } finally {
      await engine.close()
    }
  })

  test('a new version its stored events cannot be counted under is refused at start-up, and not recorded', async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(at(`${D}T12:00:00Z`))
      const first = await Lateview.fromEngine(engine, [V1], clock)
      // 90 trillion at 2 decimals is within one value's limit; at 6 decimals it is not.
      await first.ingest([sale('e1', 'A', 90_000_000_000_000, `${D}T10:01:00Z`)], { imported: true })
      const finer = parseViewDefinition({ ...base, version: 2, measures: { rev: { sum: 'amount', decimals: 6 }, cnt: { count: true }, top: { max: 'amount', decimals: 2 } } }, 'views/kt.json')
      const error = await rejection(() => Lateview.fromEngine(engine, [finer], clock), 'LV_ERR_MEASURE_OVERFLOW')
      assert.equal([error.message, error.details], ['a stored value 90000000000000 is too large for measure rev of view kt at 6 decimals (version 2)', { view: 'kt', measure: 'rev' }])
      assert.equal(await engine.db.kysely.selectFrom('view_versions').select('version').execute(), [{ version: 1 }])
      const again = await Lateview.fromEngine(engine, [V1], clock)
      assert.equal(
        (await again.realtime('kt')).cells.map((c) => c.measures),
        [{ rev: 90_000_000_000_000, cnt: 1, top: 90_000_000_000_000 }],
      )
    } finally {
      await engine.close()
    }
  })

  test('a process left on an older version refuses to ingest or publish once a newer one is registered', async () => {
    const engine = await factory.open()
    try {
      const clock = new ManualClock(at(`${D}T12:00:00Z`))
      const old = await Lateview.fromEngine(engine, [V1], clock)
      await old.ingest([sale('e1', 'A', 10, `${D}T10:01:00Z`)], { imported: true })
      await Lateview.fromEngine(engine, [V2], clock)
      const error = await rejection(() => old.ingest([sale('e2', 'A', 5, `${D}T10:02:00Z`)], { imported: true }), 'LV_ERR_VIEW_OUTDATED')
      assert.is(error.message, 'view kt is at version 2 in the store; this process runs version 1: restart it with the current view files')
      await rejection(() => old.restate('kt', D), 'LV_ERR_VIEW_OUTDATED')
      const [run] = await old.jobs.run('flash', { view: 'kt', period: D, now: at(`${D}T22:00:00Z`), trigger: 'cron' })
      assert.equal([run?.outcome, run?.detail], ['failed', 'view kt is at version 2 in the store; this process runs version 1: restart it with the current view files'])
      assert.equal(await engine.db.kysely.selectFrom('revisions').select('revision').execute(), [])
      assert.is((await engine.db.kysely.selectFrom('events').select('id').execute()).length, 1)
    } finally {
      await engine.close()
    }
  })

  test.run()
}
