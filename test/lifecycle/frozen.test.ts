/**
 * A published revision reads the same forever. Whatever happens after it is published — later
 * events, retractions, restatements, jobs, new versions of the view definition (other measures,
 * decimals, dimensions, time zone) — its JSON (all but `status`), its CSV, its totals and its hash
 * stay byte for byte what they were, read through a new process too; and `verify` holds.
 */
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'
import { LateviewError } from '../../src/errors.js'
import { Lateview } from '../../src/services/lateview.js'
import type { Engine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { at } from '../helpers/ingest-fixtures.js'

const DAYS = ['2026-11-20', '2026-11-21', '2026-11-22']
const START = at('2026-11-23T00:00:00Z')
const RUNS = Number(process.env.LATEVIEW_PROPERTY_RUNS ?? 12)

interface Layout {
  dims: string[]
  decimals: number
  extra: 'none' | 'max' | 'min' | 'avg'
  timezone: string
}

function definition(version: number, layout: Layout): ViewDefinition {
  const measures: Record<string, unknown> = { rev: { sum: 'amount', decimals: layout.decimals }, n: { count: true } }
  if (layout.extra !== 'none') measures[layout.extra] = { [layout.extra]: 'amount', decimals: 2 }
  return parseViewDefinition({ name: 'fz', version, eventTypes: ['sale', 'refund'], sign: { refund: -1 }, timezone: layout.timezone, granularity: 'day', dimensions: layout.dims, measures }, 'fz.json')
}

const layoutArb: fc.Arbitrary<Layout> = fc.record({
  dims: fc.constantFrom([], ['store'], ['store', 'channel'], ['channel']),
  decimals: fc.constantFrom(0, 2, 6),
  extra: fc.constantFrom('none' as const, 'max' as const, 'min' as const, 'avg' as const),
  timezone: fc.constantFrom('UTC', 'Asia/Taipei', 'Pacific/Chatham'),
})

type Op =
  | { op: 'ingest'; sales: Array<{ day: number; hour: number; store: number; channel: number; cents: number; refund: boolean }>; retract: number[] }
  | { op: 'job'; job: 'flash' | 'consolidate' | 'rebuild' | 'close'; day: number }
  | { op: 'restate'; day: number }
  | { op: 'redefine'; layout: Layout }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('ingest' as const),
      sales: fc.array(
        fc.record({ day: fc.nat({ max: 2 }), hour: fc.nat({ max: 23 }), store: fc.nat({ max: 2 }), channel: fc.nat({ max: 1 }), cents: fc.integer({ min: 1, max: 99_999_999 }), refund: fc.boolean() }),
        { minLength: 1, maxLength: 8 },
      ),
      retract: fc.array(fc.nat(), { maxLength: 2 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('job' as const), job: fc.constantFrom('flash' as const, 'consolidate' as const, 'rebuild' as const, 'close' as const), day: fc.nat({ max: 2 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('restate' as const), day: fc.nat({ max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('redefine' as const), layout: layoutArb }) },
)

/** What `fn` returns, or null when it refuses a period with neither events nor a revision (nothing to publish). */
async function unlessEmpty<T>(fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof LateviewError && error.code === 'LV_ERR_PERIOD_EMPTY') return null
    throw error
  }
}

for (const factory of await engines()) {
  const test = suite(`lifecycle/frozen (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  /** What a revision looked like when it was published: JSON without status, CSV, hash. */
  interface Snapshot {
    period: string
    revision: number
    json: string
    csv: string
    hash: string
  }

  async function read(app: FastifyInstance, period: string, revision: number): Promise<Omit<Snapshot, 'period' | 'revision'>> {
    const url = `/v1/views/fz/periods/${period}?revision=${revision}`
    const json = await app.inject({ method: 'GET', url })
    const csv = await app.inject({ method: 'GET', url: `${url}&format=csv` })
    assert.is(json.statusCode, 200, json.body)
    assert.is(csv.statusCode, 200, csv.body)
    const body = json.json() as { hash: string }
    // `status` is the one field that moves (provisional → final).
    return { json: json.body.replace(/,"status":"(open|provisional|final)"/, ''), csv: csv.body, hash: body.hash }
  }

  async function check(first: Layout, ops: Op[]): Promise<void> {
    const engine: Engine = await factory.open()
    const apps: FastifyInstance[] = []
    try {
      const clock = new ManualClock(START)
      let version = 1
      let lv = await Lateview.fromEngine(engine, [definition(version, first)], clock)
      const appOf = async (lateview: Lateview) => {
        const app = await buildApp({ tokens: null, logLevel: 'silent' }, { lateview })
        apps.push(app)
        return app
      }
      let app = await appOf(lv)
      const snapshots: Snapshot[] = []
      const ids: string[] = []
      const retracted = new Set<string>()
      let n = 0
      const published = async (run: { outcome: string; period: string; revision: number | null }) => {
        if (run.outcome !== 'published') return
        snapshots.push({ period: run.period, revision: run.revision as number, ...(await read(app, run.period, run.revision as number)) })
      }
      const same = async (label: string) => {
        for (const s of snapshots) assert.equal({ period: s.period, revision: s.revision, ...(await read(app, s.period, s.revision)) }, s, `${label}: ${s.period} revision ${s.revision}`)
      }
      for (const step of ops) {
        clock.advance(60_000)
        switch (step.op) {
          case 'ingest': {
            const items: Array<Record<string, unknown>> = step.sales.map((s) => {
              const id = `s${String(++n).padStart(4, '0')}`
              ids.push(id)
              return {
                id,
                source: 'shop',
                type: s.refund ? 'refund' : 'sale',
                occurredAt: `${DAYS[s.day]}T${String(s.hour).padStart(2, '0')}:30:00Z`,
                data: { store: `s${s.store}`, channel: s.channel === 0 ? 'pos' : 'web', amount: s.cents / 100 },
              }
            })
            for (const pick of step.retract) {
              const live = ids.filter((id) => !retracted.has(id) && !items.some((i) => i.id === id))
              const target = live[pick % Math.max(1, live.length)]
              if (target === undefined) continue
              retracted.add(target)
              items.push({ id: `${target}-void`, source: 'shop', type: 'sale', occurredAt: `${DAYS[0]}T00:00:00Z`, retracts: target })
            }
            await lv.ingest(items)
            break
          }
          case 'job':
            for (const run of (await unlessEmpty(() => lv.jobs.run(step.job, { view: 'fz', period: DAYS[step.day] as string, trigger: 'manual' }))) ?? []) await published(run)
            break
          case 'restate': {
            const run = await unlessEmpty(() => lv.restate('fz', DAYS[step.day] as string))
            if (run) await published(run)
            break
          }
          case 'redefine':
            // A new process with the next version of the view file.
            lv = await Lateview.fromEngine(engine, [definition(++version, step.layout)], clock)
            app = await appOf(lv)
            // The rebuilder republishes provisional periods under the new rules.
            for (const run of await lv.jobs.run('rebuild', { view: 'fz', trigger: 'cron' })) await published(run)
            break
        }
        await same(`after ${step.op}`)
      }
      // A process started afresh (no cache) reads every revision the same.
      app = await appOf(await Lateview.fromEngine(engine, [definition(version, ops.filter((o): o is Extract<Op, { op: 'redefine' }> => o.op === 'redefine').at(-1)?.layout ?? first)], clock))
      await same('a new process')
      const { realtime, revisions } = await lv.verifyStore()
      assert.equal([realtime.differences, revisions.differences], [[], []])
      assert.is(revisions.revisions, snapshots.length)
    } finally {
      for (const app of apps) await app.close()
      await engine.close()
    }
  }

  test(`property: a published revision's JSON, CSV, totals and hash never change (${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(layoutArb, fc.array(opArb, { minLength: 4, maxLength: 24 }), check), { numRuns: RUNS })
  })

  test.run()
}
