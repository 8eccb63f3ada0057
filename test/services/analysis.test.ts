/**
 * Revision analysis against the one definition, on both engines: for generated histories (late
 * events, retractions, batches sharing a receivedAt, days across a DST change, flash,
 * consolidation, revisions and close at their times), every vintage value is the total the
 * as-of report of its instant shows, for every measure kind, with and without a filter; the
 * benchmarks are the final revision's figures (or today's); every release value is its
 * revision's total as published.
 */
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Amount } from '../../src/domain/aggregate.js'
import { ManualClock } from '../../src/domain/clock.js'
import { amountScaled, toJson } from '../../src/domain/decimal.js'
import { dueAt } from '../../src/domain/lifecycle.js'
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'
import { Lateview } from '../../src/services/lateview.js'
import { engines } from '../helpers/engines.js'

const ZONE = 'Europe/Berlin'
const VIEW: ViewDefinition = parseViewDefinition(
  {
    name: 'analysed',
    eventTypes: ['sale', 'refund'],
    timezone: ZONE,
    granularity: 'day',
    dimensions: ['store'],
    measures: {
      revenue: { sum: 'amount', decimals: 2 },
      orders: { count: true },
      largest: { max: 'amount', decimals: 2 },
      smallest: { min: 'amount', decimals: 2 },
      average: { avg: 'amount', decimals: 2 },
    },
    sign: { refund: -1 },
    close: { afterDays: 2, at: '03:30' },
  },
  'views/analysed.json',
)
const MEASURES = VIEW.measures.map((m) => m.name)
/** 2026-03-28 to 2026-03-30: clocks go forward in the night of the 29th. */
const DAYS = ['2026-03-28', '2026-03-29', '2026-03-30']
const MINUTE = 60_000
const LAGS = '-PT2H,PT0S,PT3H,PT6H,PT12H,P1D,P2D,P3D,P7D,PT30M,P1DT2H'

/** mulberry32: a history from one seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Planned {
  at: number
  event?: Record<string, unknown>
  job?: { job: 'flash' | 'consolidate' | 'rebuild' | 'close'; period: string }
}

/** Events of the three days arriving minutes to days late (receipts on whole minutes, so batches share them), some retracted, and the jobs at their times. */
function history(seed: number, program: { bucketer: { rangeOf(key: string): { start: number; end: number } | null } }): Planned[] {
  const random = prng(seed)
  const plan: Planned[] = []
  let n = 0
  for (const day of DAYS) {
    const range = program.bucketer.rangeOf(day) as { start: number; end: number }
    for (let i = 0; i < 14; i++) {
      const occurred = range.start + Math.floor(random() * (range.end - range.start))
      const late = random() < 0.5 ? random() * 3 * 3_600_000 : random() * 4 * 86_400_000
      const received = Math.ceil((occurred + late) / MINUTE) * MINUTE
      const store = ['a', 'b', 'c'][Math.floor(random() * 3)] as string
      const type = random() < 0.15 ? 'refund' : 'sale'
      const id = `e${n++}`
      const data: Record<string, unknown> = { store }
      if (random() < 0.9) data.amount = Math.round(random() * 100_000) / 100
      plan.push({ at: received, event: { id, source: `store-${store}`, type, occurredAt: new Date(occurred).toISOString(), receivedAt: new Date(received).toISOString(), data } })
      if (random() < 0.2) {
        const voided = received + Math.ceil((random() * 2 * 86_400_000) / MINUTE) * MINUTE
        plan.push({
          at: voided,
          event: { id: `r${id}`, source: `store-${store}`, type, occurredAt: new Date(occurred).toISOString(), receivedAt: new Date(voided).toISOString(), retracts: id, data: {} },
        })
      }
    }
    for (const [job, schedule] of [
      ['flash', VIEW.flash],
      ['consolidate', VIEW.consolidate],
      ['close', VIEW.close],
    ] as const)
      plan.push({ at: dueAt(VIEW, range, schedule), job: { job, period: day } })
    // A late revision a day after the consolidation.
    plan.push({ at: dueAt(VIEW, range, VIEW.consolidate) + 86_400_000, job: { job: 'rebuild', period: day } })
  }
  // Jobs run after the events received at their instant; events of one instant arrive in one batch.
  return plan.sort((x, y) => x.at - y.at || (x.job ? 1 : 0) - (y.job ? 1 : 0))
}

/** Plays a history into a store: imports in receipt order, jobs at their times. */
async function play(lateview: Lateview, plan: Planned[]): Promise<void> {
  let batch: Record<string, unknown>[] = []
  const flush = async () => {
    if (batch.length > 0) await lateview.ingest(batch, { imported: true })
    batch = []
  }
  for (const step of plan) {
    if (step.event) {
      if (batch.length > 0 && batch[0]?.receivedAt !== step.event.receivedAt) await flush()
      batch.push(step.event)
      continue
    }
    await flush()
    const job = step.job as NonNullable<Planned['job']>
    const runs = await lateview.jobs.run(job.job, { view: VIEW.name, period: job.period, now: step.at, trigger: 'manual' }).catch((error: Error) => {
      // A period without events yet has nothing to publish.
      if ((error as { code?: string }).code === 'LV_ERR_PERIOD_EMPTY') return []
      throw error
    })
    for (const r of runs) assert.ok(r.outcome !== 'failed', `${job.job} ${job.period}: ${r.detail}`)
  }
  await flush()
}

const shown = (v: Amount | null | undefined) => toJson(v ?? null)

/** The totals of the rows of a report whose store is `store`: sums add, max takes the largest. */
function filteredTotal(rows: Array<{ dims: Record<string, unknown>; measures: Record<string, Amount | null> }>, store: string, measure: 'revenue' | 'largest'): string {
  let total: bigint | null = measure === 'revenue' ? 0n : null
  for (const row of rows) {
    if (row.dims.store !== store) continue
    const v = row.measures[measure]
    if (v === null || v === undefined) continue
    const scaled = BigInt(amountScaled(v, 2))
    total = measure === 'revenue' ? (total as bigint) + scaled : total === null || scaled > total ? scaled : total
  }
  return total === null ? 'null' : toJson(Number(total) / 100)
}

for (const factory of await engines()) {
  const test = suite(`analysis service (${factory.name})`)
  test.after(() => factory.cleanup())

  test('every vintage value is the as-of total of its instant; benchmarks and releases are the revisions as published', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const engine = await factory.open()
        const lateview = await Lateview.fromEngine(engine, [VIEW], new ManualClock(Date.parse('2026-05-01T00:00:00Z')))
        try {
          const plan = history(seed, lateview.view(VIEW.name))
          await play(lateview, plan)
          const query = { from: DAYS[0], to: DAYS[2], lags: LAGS }
          for (const measure of MEASURES) {
            for (const against of ['final', 'latest'] as const) {
              const vintages = await lateview.vintages(VIEW.name, { ...query, measure, against })
              assert.equal(
                vintages.rows.map((r) => r.period),
                DAYS,
              )
              for (const row of vintages.rows) {
                for (const v of row.values) {
                  const asOf = await lateview.report(VIEW.name, row.period, { asOf: Date.parse(v.knownAt) })
                  assert.is(shown(v.value), shown(asOf.totals.measures[measure]), `seed ${seed} ${measure} ${row.period} ${v.lag}`)
                }
                const revisions = (await lateview.revisions(VIEW.name, row.period)).revisions
                const final = revisions.find((r) => r.kind === 'final')
                const expected = against === 'latest' ? (await lateview.report(VIEW.name, row.period, { asOf: Date.parse('2030-01-01T00:00:00Z') })).totals : final?.totals
                assert.is(shown(row.benchmark), shown(expected?.measures[measure]), `seed ${seed} ${measure} ${row.period} benchmark against ${against}`)
              }
            }
            const accuracy = await lateview.accuracy(VIEW.name, { ...query, measure })
            for (const p of accuracy.periods) {
              const revisions = (await lateview.revisions(VIEW.name, p.period)).revisions
              for (const [kind, release] of Object.entries(p.releases)) {
                const first = revisions.find((r) => r.kind === kind)
                assert.is(shown(release.value), shown(first?.totals.measures[measure]), `seed ${seed} ${measure} ${p.period} ${kind}`)
                assert.is(release.publishedAt, first?.computedAt)
              }
            }
          }
          for (const store of ['a', 'b']) {
            for (const measure of ['revenue', 'largest'] as const) {
              const vintages = await lateview.vintages(VIEW.name, { ...query, measure, where: { store } })
              for (const row of vintages.rows) {
                for (const v of row.values) {
                  const asOf = await lateview.report(VIEW.name, row.period, { asOf: Date.parse(v.knownAt) })
                  assert.is(shown(v.value), filteredTotal(asOf.rows, store, measure), `seed ${seed} ${measure} store ${store} ${row.period} ${v.lag}`)
                }
              }
            }
          }
        } finally {
          await engine.close()
        }
      }),
      { numRuns: factory.name === 'sqlite' ? 6 : 2 },
    )
  })

  test('close advice: each candidate compares the value known at the close with what is known now, over the periods whose close has come', async () => {
    const engine = await factory.open()
    const now = Date.parse('2026-04-01T12:00:00Z')
    const lateview = await Lateview.fromEngine(engine, [VIEW], new ManualClock(now))
    try {
      await play(
        lateview,
        history(7, lateview.view(VIEW.name)).filter((s) => s.at <= now),
      )
      const advice = await lateview.closeAdvice(VIEW.name, { from: DAYS[0], to: DAYS[2], target: 0.999 })
      assert.is(advice.candidates.length, 14)
      const program = lateview.view(VIEW.name)
      for (const c of advice.candidates) {
        let restated = 0
        let judged = 0
        let incomplete = false
        for (const day of DAYS) {
          const closeAt = dueAt(VIEW, program.bucketer.rangeOf(day) as { start: number; end: number }, { afterDays: c.afterDays, at: '03:30' })
          if (closeAt > now) {
            incomplete = true
            continue
          }
          judged++
          const known = (await lateview.report(VIEW.name, day, { asOf: closeAt })).totals.measures.revenue
          const today = (await lateview.report(VIEW.name, day, { asOf: now })).totals.measures.revenue
          if (shown(known) !== shown(today)) restated++
        }
        assert.is(c.at, `D+${c.afterDays} 03:30`)
        assert.is(c.n, judged, `D+${c.afterDays}`)
        assert.is(c.periodsRestated, restated, `D+${c.afterDays}`)
        assert.is(c.incomplete, incomplete, `D+${c.afterDays}`)
      }
      // A candidate whose close has come for no period judges nothing.
      const last = advice.candidates[13]
      if (last?.n === 0) assert.equal([last.valueKnown, last.shareRestated, last.incomplete], [null, null, true])
      assert.ok(advice.recommended === null || advice.recommended.afterDays <= 14)
      assert.equal(
        advice.sla.map((s) => s.source),
        ['store-a', 'store-b', 'store-c'],
      )
    } finally {
      await engine.close()
    }
  })

  test.run()
}
