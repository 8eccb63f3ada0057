import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Amount } from '../../src/domain/aggregate.js'
import { ManualClock } from '../../src/domain/clock.js'
import { amountScaled } from '../../src/domain/decimal.js'
import type { JobName, JobRun } from '../../src/services/jobs.js'
import { Lateview } from '../../src/services/lateview.js'
import type { DiffSide, ReportDocument } from '../../src/services/reports.js'
import { engines } from '../helpers/engines.js'
import { at, rejection, shippedViews } from '../helpers/ingest-fixtures.js'
import { frozen } from '../helpers/lifecycle.js'

const NUM_RUNS = Number(process.env.LATEVIEW_PROPERTY_RUNS ?? 15)
const VIEW = 'daily_revenue'
const views = shippedViews().filter((v) => v.name === VIEW)
const MINUTE = 60_000
const HOUR = 60 * MINUTE
/** The first arrival; events occur up to 36 hours before they arrive, over 2–3 Taipei days. */
const START = at('2026-11-25T00:00:00+08:00')
const SOURCES = ['store-001', 'store-002', 'online-1']
const EXPECTED = new Set(views[0]?.expectedSources?.sources ?? [])
const PERIODS = ['2026-11-24', '2026-11-25', '2026-11-26']

/** Taipei is UTC+8 all year: a local day is the UTC date 8 hours later, and ends at 16:00 UTC. */
const taipeiDay = (ms: number): string => new Date(ms + 8 * HOUR).toISOString().slice(0, 10)
const dayEnd = (period: string): number => at(`${period}T00:00:00+08:00`) + 24 * HOUR
/** An exact amount in cents (revenue has 2 decimals; orders 0). */
const cents = (x: Amount | null | undefined): number => Number(amountScaled(x ?? 0, 2))
const whole = (x: Amount | null | undefined): number => Number(amountScaled(x ?? 0, 0))

// ------------------------------------------------------------------------------ the test's model

interface Sale {
  source: string
  id: string
  type: 'sale' | 'refund'
  store: string
  channel: string
  cents: number
  occurredAt: number
}

/** One item as delivered: a sale (maybe a re-send of an earlier one) or a retraction. */
type Item = { kind: 'sale'; sale: Sale; receivedAt: number } | { kind: 'void'; source: string; id: string; target: Sale; receivedAt: number }

/** A stored event as the model numbers it. */
interface Stored {
  seq: number
  receivedAt: number
  sale: Sale | null
  /** For a retraction: the seq it voids. */
  voids: number | null
}

interface ModelCell {
  revenue: number
  orders: number
  largest: number
  eventCount: number
}

/** The store as the test understands it, written independently of lateview's code. */
class Model {
  readonly events: Stored[] = []
  readonly #bySaleKey = new Map<string, number>()

  deliver(batch: Item[]): void {
    for (const item of batch) {
      const key = `${item.kind === 'sale' ? item.sale.source : item.source}\u0000${item.kind === 'sale' ? item.sale.id : item.id}`
      if (this.#bySaleKey.has(key)) continue // a re-send: a duplicate, nothing stored
      const seq = this.events.length + 1
      this.#bySaleKey.set(key, seq)
      if (item.kind === 'sale') this.events.push({ seq, receivedAt: item.receivedAt, sale: item.sale, voids: null })
      else this.events.push({ seq, receivedAt: item.receivedAt, sale: null, voids: this.#bySaleKey.get(`${item.target.source}\u0000${item.target.id}`) as number })
    }
  }

  /** The last seq received at or before `t` (0 if none). */
  cutoffAt(t: number): number {
    let seq = 0
    for (const e of this.events) if (e.receivedAt <= t) seq = e.seq
    return seq
  }

  /** The sales of a period that count at knowledge `k`. */
  counted(period: string, k: number): Stored[] {
    const voided = new Set(this.events.filter((e) => e.seq <= k && e.voids !== null).map((e) => e.voids))
    return this.events.filter((e) => e.seq <= k && e.sale !== null && !voided.has(e.seq) && taipeiDay(e.sale.occurredAt) === period)
  }

  /** Cells of a period at knowledge `k`, by `store|channel`, in exact cents. */
  cells(period: string, k: number): Record<string, ModelCell> {
    const cells: Record<string, ModelCell> = {}
    for (const e of this.counted(period, k)) {
      const s = e.sale as Sale
      const sign = s.type === 'refund' ? -1 : 1
      const key = `${s.store}|${s.channel}`
      const c = (cells[key] ??= { revenue: 0, orders: 0, largest: -Infinity, eventCount: 0 })
      c.revenue += sign * s.cents
      c.orders += sign
      c.largest = Math.max(c.largest, sign * s.cents)
      c.eventCount += 1
    }
    return cells
  }

  /** What a revision of `period` at knowledge `k` records besides its cells. */
  facts(period: string, k: number) {
    const counted = this.counted(period, k)
    const reporting = new Set(counted.map((e) => (e.sale as Sale).source).filter((s) => EXPECTED.has(s)))
    return {
      eventCount: counted.length,
      lateEventCount: counted.filter((e) => e.receivedAt >= dayEnd(period)).length,
      completeness: reporting.size / EXPECTED.size,
    }
  }
}

/** A report's rows in the model's terms. */
function cellsOf(doc: ReportDocument): Record<string, ModelCell> {
  const cells: Record<string, ModelCell> = {}
  for (const r of doc.rows) {
    cells[`${r.dims.store}|${r.dims.channel}`] = { revenue: cents(r.measures.revenue), orders: whole(r.measures.orders), largest: cents(r.measures.largest), eventCount: r.eventCount }
  }
  return cells
}

const sameCell = (a: ModelCell | undefined, b: ModelCell | undefined): boolean =>
  a !== undefined && b !== undefined && a.revenue === b.revenue && a.orders === b.orders && a.largest === b.largest && a.eventCount === b.eventCount

// ------------------------------------------------------------------------------ generators

const itemArb = fc.record({
  retraction: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
  source: fc.nat({ max: SOURCES.length - 1 }),
  id: fc.nat({ max: 7 }),
  type: fc.constantFrom<'sale' | 'refund'>('sale', 'sale', 'sale', 'refund'),
  store: fc.constantFrom('001', '002'),
  channel: fc.constantFrom('pos', 'web'),
  cents: fc.integer({ min: 1, max: 99_999 }),
  gapMinutes: fc.integer({ min: 0, max: 240 }),
  lagMinutes: fc.integer({ min: 0, max: 36 * 60 }),
  pick: fc.nat(),
})

const jobArb = fc.record({
  slot: fc.nat(),
  job: fc.constantFrom<JobName | 'restate'>('flash', 'flash', 'consolidate', 'consolidate', 'rebuild', 'rebuild', 'rebuild', 'close', 'restate'),
  period: fc.nat({ max: PERIODS.length }),
  fraction: fc.double({ min: 0, max: 1, noNaN: true }),
})

const scenarioArb = fc.record({
  items: fc.array(itemArb, { minLength: 4, maxLength: 30 }),
  batchSizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 10 }),
  jobs: fc.array(jobArb, { minLength: 1, maxLength: 16 }),
  asOfFractions: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 2 }),
})

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never

interface Plan {
  batches: Item[][]
  /** Jobs to run right after batch i is delivered, each at its now. */
  jobs: Array<Array<{ job: JobName | 'restate'; period: string | undefined; now: number }>>
  asOf: number[]
}

/** Turns generated numbers into deliveries: sales, re-sends of earlier sales, retractions, and jobs at non-decreasing nows. */
function planOf(s: Scenario): Plan {
  const items: Item[] = []
  const firsts = new Map<string, Sale>()
  const voided = new Set<Sale>()
  let receivedAt = START
  let voids = 0
  for (const g of s.items) {
    receivedAt += g.gapMinutes * MINUTE
    if (g.retraction) {
      const candidates = [...firsts.values()].filter((sale) => !voided.has(sale))
      const target = candidates[g.pick % Math.max(1, candidates.length)]
      if (!target) continue
      voided.add(target)
      items.push({ kind: 'void', source: target.source, id: `void-${voids++}`, target, receivedAt })
      continue
    }
    const source = SOURCES[g.source] as string
    const id = `e${g.id}`
    // The same (source, id) again is a producer retrying: the same body, received later.
    const sale = firsts.get(`${source}|${id}`) ?? { source, id, type: g.type, store: g.store, channel: g.channel, cents: g.cents, occurredAt: receivedAt - g.lagMinutes * MINUTE }
    firsts.set(`${source}|${id}`, sale)
    items.push({ kind: 'sale', sale, receivedAt })
  }
  const batches: Item[][] = []
  for (let i = 0, b = 0; i < items.length; b++) {
    const size = s.batchSizes[b % s.batchSizes.length] as number
    batches.push(items.slice(i, i + size))
    i += size
  }
  const last = items[items.length - 1]?.receivedAt ?? START
  const slots = batches.length
  const jobs: Plan['jobs'] = Array.from({ length: slots }, () => [])
  let now = START
  const ordered = [...s.jobs].sort((a, b) => (a.slot % slots) - (b.slot % slots))
  for (const j of ordered) {
    const slot = j.slot % slots
    // Between this batch's first arrival and the next batch's (or up to 4 days after the last).
    const lo = Math.max(now, batches[slot]?.[0]?.receivedAt ?? START)
    const next = batches[slot + 1]?.[0]?.receivedAt ?? last + 4 * 24 * HOUR
    now = Math.floor(lo + j.fraction * (next - lo))
    const period = j.period === 0 && j.job !== 'restate' ? undefined : PERIODS[j.period % PERIODS.length]
    jobs[slot]?.push({ job: j.job, period, now })
  }
  const asOf = s.asOfFractions.map((f) => Math.floor(START - HOUR + f * (last - START + 2 * HOUR)))
  return { batches, jobs, asOf }
}

function raw(item: Item): Record<string, unknown> {
  const receivedAt = new Date(item.receivedAt).toISOString()
  if (item.kind === 'void') {
    return { id: item.id, source: item.source, type: item.target.type, occurredAt: new Date(item.target.occurredAt).toISOString(), retracts: item.target.id, receivedAt }
  }
  const s = item.sale
  return { id: s.id, source: s.source, type: s.type, occurredAt: new Date(s.occurredAt).toISOString(), data: { store: s.store, channel: s.channel, amount: s.cents / 100 }, receivedAt }
}

// ------------------------------------------------------------------------------ the property

const snapshotKey = (period: string, revision: number) => `${period}#${revision}`

for (const factory of await engines()) {
  const test = suite(`lifecycle/property (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  /** Delivers a scenario with jobs in between, then checks every revision, re-read and diff. */
  async function check(scenario: Scenario): Promise<void> {
    const plan = planOf(scenario)
    const engine = await factory.open()
    try {
      const clock = new ManualClock(START)
      const lv = await Lateview.fromEngine(engine, views, clock)
      const model = new Model()
      const snapshots = new Map<string, ReportDocument>()
      /** What each revision must record: its job's now, and the last seq received by then of what had been delivered. */
      const expected = new Map<string, { computedAt: string; cutoffSeq: number }>()
      const published = async (runs: JobRun[], now: number) => {
        for (const run of runs) {
          assert.is.not(run.outcome, 'failed', run.detail ?? '')
          if (run.outcome !== 'published') continue
          const key = snapshotKey(run.period, run.revision as number)
          assert.not.ok(snapshots.has(key), `revision ${key} published twice`)
          snapshots.set(key, await lv.report(VIEW, run.period, { revision: run.revision as number }))
          expected.set(key, { computedAt: new Date(now).toISOString(), cutoffSeq: model.cutoffAt(now) })
        }
      }

      for (let b = 0; b < plan.batches.length; b++) {
        const batch = plan.batches[b] as Item[]
        clock.set((batch[batch.length - 1] as Item).receivedAt)
        await lv.ingest(batch.map(raw), { imported: true })
        model.deliver(batch)
        for (const { job, period, now } of plan.jobs[b] ?? []) {
          clock.set(now)
          // A period asked for by name must have begun: nothing of it is written otherwise.
          const ask = () => (job === 'restate' ? lv.restate(VIEW, period as string) : lv.jobs.run(job, { view: VIEW, period, now, trigger: 'cron' }))
          if (period !== undefined && (lv.view(VIEW).bucketer.rangeOf(period)?.start as number) > now) {
            await rejection(ask, 'LV_ERR_PERIOD_NOT_BEGUN')
            continue
          }
          // Nor one with neither events (counted now) nor a revision: there is nothing to report.
          const known = [...snapshots.keys()].some((key) => key.startsWith(`${period}#`)) || Object.keys(model.cells(period as string, Number.MAX_SAFE_INTEGER)).length > 0
          if (period !== undefined && !known) {
            await rejection(ask, 'LV_ERR_PERIOD_EMPTY')
            continue
          }
          if (job === 'restate') await published([await lv.restate(VIEW, period as string)], now)
          else await published(await lv.jobs.run(job, { view: VIEW, ...(period !== undefined ? { period } : {}), now, trigger: 'cron' }), now)
        }
      }

      // (a) Every revision equals a recomputation at its cutoff, by lateview and by the model.
      const verified = await lv.verifyRevisions()
      assert.equal(verified.differences, [])
      assert.is(verified.revisions, snapshots.size, 'every revision came from a recorded run')
      const periods = [...new Set((await engine.db.kysely.selectFrom('revisions').select('period').execute()).map((r) => r.period))].sort()
      for (const period of periods) {
        const history = (await lv.revisions(VIEW, period)).revisions
        assert.equal(
          history.map((r) => r.revision),
          history.map((_, i) => i + 1),
        )
        for (const meta of history) {
          const doc = await lv.report(VIEW, period, { revision: meta.revision })
          // (b) Unchanged since it was written.
          assert.equal(frozen(doc), frozen(snapshots.get(snapshotKey(period, meta.revision)) as ReportDocument), `${period} revision ${meta.revision} changed`)
          assert.equal(
            { computedAt: doc.computedAt, cutoffSeq: doc.cutoffSeq },
            expected.get(snapshotKey(period, meta.revision)),
            `${period} revision ${meta.revision}: the cutoff is the last seq received by its now`,
          )
          assert.equal(cellsOf(doc), model.cells(period, doc.cutoffSeq), `${period} revision ${meta.revision} at seq ${doc.cutoffSeq}`)
          assert.equal({ eventCount: doc.eventCount, lateEventCount: doc.lateEventCount, completeness: doc.completeness }, model.facts(period, doc.cutoffSeq))
          const previous = history[meta.revision - 2]
          if (previous && meta.kind !== 'final') assert.is.not(meta.hash, previous.hash, `${period} revision ${meta.revision} repeats the figures of ${previous.revision}`)
        }

        // (c) Diffs between revisions (both ways) and as-of instants are explained exactly.
        const sides: Array<{ side: DiffSide; cutoff: number }> = [
          ...history.map((r) => ({ side: { revision: r.revision }, cutoff: r.cutoffSeq })),
          ...plan.asOf.map((t) => ({ side: { asOf: t }, cutoff: model.cutoffAt(t) })),
        ]
        for (let i = 0; i < sides.length; i++) {
          for (let j = 0; j < sides.length; j++) {
            const a = sides[i] as (typeof sides)[number]
            const b = sides[j] as (typeof sides)[number]
            // Every pair of revisions forwards, neighbours backwards too, and every pair touching an as-of side.
            const bothRevisions = 'revision' in a.side && 'revision' in b.side
            if (i === j || (bothRevisions && j < i - 1)) continue
            await checkDiff(lv, model, period, a, b)
          }
        }
      }
    } finally {
      await engine.close()
    }
  }

  async function checkDiff(lv: Lateview, model: Model, period: string, a: { side: DiffSide; cutoff: number }, b: { side: DiffSide; cutoff: number }): Promise<void> {
    const diff = await lv.diff(VIEW, period, a.side, b.side)
    const label = `${period} ${JSON.stringify(a.side)} → ${JSON.stringify(b.side)}`
    assert.equal([diff.from.cutoffSeq, diff.to.cutoffSeq], [a.cutoff, b.cutoff], label)
    const before = model.cells(period, a.cutoff)
    const after = model.cells(period, b.cutoff)
    const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !sameCell(before[k], after[k])).sort()
    assert.equal(diff.changes.map((c) => `${c.dims.store}|${c.dims.channel}`).sort(), changed, `${label}: changed cells`)
    const low = Math.min(a.cutoff, b.cutoff)
    const high = Math.max(a.cutoff, b.cutoff)
    for (const change of diff.changes) {
      const key = `${change.dims.store}|${change.dims.channel}`
      const m = { before: before[key], after: after[key] }
      assert.equal(
        [cents(change.before?.revenue), whole(change.before?.orders), cents(change.after?.revenue), whole(change.after?.orders)],
        [m.before?.revenue ?? 0, m.before?.orders ?? 0, m.after?.revenue ?? 0, m.after?.orders ?? 0],
        `${label} ${key}: before and after`,
      )
      assert.is(cents(change.delta.revenue), (m.after?.revenue ?? 0) - (m.before?.revenue ?? 0), `${label} ${key}: revenue delta`)
      assert.is(whole(change.delta.orders), (m.after?.orders ?? 0) - (m.before?.orders ?? 0), `${label} ${key}: orders delta`)
      const revenue = change.events.reduce((sum, e) => sum + cents(e.contribution.revenue), 0)
      const orders = change.events.reduce((sum, e) => sum + whole(e.contribution.orders), 0)
      assert.is(revenue, cents(change.delta.revenue), `${label} ${key}: events add up to the revenue delta`)
      assert.is(orders, whole(change.delta.orders), `${label} ${key}: events add up to the orders delta`)
      for (const e of change.events) assert.ok(e.seq > low && e.seq <= high, `${label} ${key}: seq ${e.seq} outside (${low}, ${high}]`)
    }
  }

  test(`revisions equal recomputations, never change, and diffs add up (${NUM_RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, check), { numRuns: NUM_RUNS, includeErrorInReport: true })
  })

  test.run()
}
