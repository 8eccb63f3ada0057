import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '../../src/domain/clock.js'
import { LateviewError } from '../../src/errors.js'
import { Lateview } from '../../src/services/lateview.js'
import { verifyRealtime } from '../../src/services/realtime.js'
import { readCellMap } from '../../src/store/cells.js'
import { headSeq } from '../../src/store/events.js'
import { engines } from '../helpers/engines.js'
import { at, shippedViews } from '../helpers/ingest-fixtures.js'

const NUM_RUNS = Number(process.env.LATEVIEW_PROPERTY_RUNS ?? 25)
/** Events occur over three local days in Taipei from here (midnight, UTC+8). */
const BASE = at('2026-11-24T00:00:00+08:00')
const MINUTES = 3 * 24 * 60
const NOW = BASE + MINUTES * 60_000 + 3_600_000
const SOURCES = ['store-001', 'store-002', 'online-1']
const views = shippedViews()

/** A sale or refund as the test generates it: amounts in integer cents. */
interface Sale {
  kind: 'event'
  source: string
  id: string
  type: 'sale' | 'refund'
  store: string
  channel: string
  cents: number
  occurredAt: number
}

interface Void {
  kind: 'void'
  source: string
  id: string
  retracts: string
  occurredAt: number
}

type Spec = Sale | Void

/** One item as sent: a spec, written with a chosen UTC offset and data key order. */
interface Sent {
  spec: Spec
  offsetMinutes: number
  reversed: boolean
}

/** An instant written with an offset, e.g. 2026-11-25T12:30:00.000+05:30. */
function isoWithOffset(ms: number, offsetMinutes: number): string {
  if (offsetMinutes === 0) return new Date(ms).toISOString()
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1)
  const abs = Math.abs(offsetMinutes)
  return `${local}${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
}

function toRaw({ spec, offsetMinutes, reversed }: Sent): Record<string, unknown> {
  const occurredAt = isoWithOffset(spec.occurredAt, offsetMinutes)
  if (spec.kind === 'void') return { id: spec.id, source: spec.source, type: 'void', occurredAt, retracts: spec.retracts }
  const amount = spec.cents / 100
  const data = reversed ? { amount, channel: spec.channel, store: spec.store } : { store: spec.store, channel: spec.channel, amount }
  return { id: spec.id, source: spec.source, type: spec.type, occurredAt, data }
}

/** What makes two items with one (source, id) the same event, in the model's own terms. */
function bodyOf(spec: Spec): string {
  return spec.kind === 'void' ? `void|${spec.retracts}|${spec.occurredAt}` : `${spec.type}|${spec.store}|${spec.channel}|${spec.cents}|${spec.occurredAt}`
}

const keyOf = (source: string, id: string): string => `${source}\u0000${id}`

/** Taipei is UTC+8 all year: a local day is the UTC date 8 hours later. */
const taipeiDay = (ms: number): string => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10)

type Outcome = { refused: 'LV_ERR_EVENT_CONFLICT' | 'LV_ERR_EVENTS_INVALID' } | { accepted: number; duplicates: number; firstSeq: number | null; lastSeq: number | null }

/** The store as the test understands it, written independently of lateview's code. */
class Model {
  stored = new Map<string, Spec>()
  voided = new Set<string>()

  apply(batch: Spec[]): Outcome {
    let duplicates = 0
    const unique = new Map<string, Spec>()
    for (const spec of batch) {
      const key = keyOf(spec.source, spec.id)
      const first = unique.get(key)
      if (first === undefined) unique.set(key, spec)
      else if (bodyOf(first) !== bodyOf(spec)) return { refused: 'LV_ERR_EVENT_CONFLICT' }
      else duplicates++
    }
    const fresh: Spec[] = []
    for (const [key, spec] of unique) {
      const old = this.stored.get(key)
      if (old === undefined) fresh.push(spec)
      else if (bodyOf(old) !== bodyOf(spec)) return { refused: 'LV_ERR_EVENT_CONFLICT' }
      else duplicates++
    }
    const stored = new Map(this.stored)
    const voided = new Set(this.voided)
    for (const spec of fresh) {
      if (spec.kind === 'void') {
        const target = keyOf(spec.source, spec.retracts)
        const old = stored.get(target)
        if (old === undefined || old.kind === 'void' || voided.has(target)) return { refused: 'LV_ERR_EVENTS_INVALID' }
        voided.add(target)
      }
      stored.set(keyOf(spec.source, spec.id), spec)
    }
    const before = this.stored.size
    this.stored = stored
    this.voided = voided
    const accepted = fresh.length
    return { accepted, duplicates, firstSeq: accepted ? before + 1 : null, lastSeq: accepted ? before + accepted : null }
  }

  /** daily_revenue cells from the counting events, in exact cents, sorted by period, store, channel. */
  cells(): Array<{ period: string; store: string; channel: string; revenue: number; orders: number; largest: number; eventCount: number }> {
    const cells = new Map<string, { period: string; store: string; channel: string; revenue: number; orders: number; largest: number; eventCount: number }>()
    for (const [key, spec] of this.stored) {
      if (spec.kind === 'void' || this.voided.has(key)) continue
      const sign = spec.type === 'refund' ? -1 : 1
      const period = taipeiDay(spec.occurredAt)
      const id = `${period}|${spec.store}|${spec.channel}`
      const c = cells.get(id) ?? { period, store: spec.store, channel: spec.channel, revenue: 0, orders: 0, largest: -Infinity, eventCount: 0 }
      c.revenue += sign * spec.cents
      c.orders += sign
      c.largest = Math.max(c.largest, sign * spec.cents)
      c.eventCount += 1
      cells.set(id, c)
    }
    return [...cells.values()].sort(byCell)
  }
}

const byCell = (a: { period: string; store: string; channel: string }, b: { period: string; store: string; channel: string }): number =>
  a.period.localeCompare(b.period) || a.store.localeCompare(b.store) || a.channel.localeCompare(b.channel)

// ------------------------------------------------------------------------------------- generators

const saleArb = fc.record({
  source: fc.nat({ max: SOURCES.length - 1 }),
  id: fc.nat({ max: 99 }),
  type: fc.constantFrom<'sale' | 'refund'>('sale', 'sale', 'sale', 'refund'),
  // Few cells, so that cells hold several events and retractions hit their extremes.
  store: fc.constantFrom('001', '001', '002'),
  channel: fc.constantFrom('pos', 'web'),
  cents: fc.integer({ min: 1, max: 99_999 }),
  minute: fc.integer({ min: 0, max: MINUTES - 1 }),
})

const scenarioArb = fc
  .record({
    sales: fc.array(saleArb, { minLength: 1, maxLength: 30 }),
    // A retraction of the target-th sale; depth 1 retracts that retraction instead (always refused).
    voids: fc.array(fc.record({ target: fc.nat(), tag: fc.nat({ max: 1 }), depth: fc.constantFrom(0, 0, 0, 0, 1) }), { maxLength: 12 }),
    // Re-sent copies of the pick-th item, written with another offset and key order.
    resends: fc.array(fc.record({ pick: fc.nat(), offsetMinutes: fc.constantFrom(-300, 0, 60, 330, 480, 840), reversed: fc.boolean() }), { maxLength: 10 }),
  })
  .chain(({ sales, voids, resends }) => {
    const specs: Spec[] = sales.map((s) => ({
      kind: 'event',
      source: SOURCES[s.source] as string,
      id: `e${s.id}`,
      type: s.type,
      store: s.store,
      channel: s.channel,
      cents: s.cents,
      occurredAt: BASE + s.minute * 60_000,
    }))
    for (const v of voids) {
      const target = specs[v.target % sales.length] as Sale
      const first = `v${v.tag}-${target.id}`
      specs.push(
        v.depth === 0
          ? { kind: 'void', source: target.source, id: first, retracts: target.id, occurredAt: NOW - 60_000 }
          : { kind: 'void', source: target.source, id: `w${v.tag}-${target.id}`, retracts: first, occurredAt: NOW - 60_000 },
      )
    }
    const items: Sent[] = specs.map((spec) => ({ spec, offsetMinutes: 480, reversed: false }))
    for (const r of resends) items.push({ ...r, spec: (items[r.pick % items.length] as Sent).spec })
    const n = items.length
    return fc
      .record({
        order: fc.array(fc.nat(), { minLength: n, maxLength: n }),
        cuts: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      })
      .map(({ order, cuts }) => {
        const shuffled = items.map((item, i) => ({ item, rank: order[i] as number, i })).sort((a, b) => a.rank - b.rank || a.i - b.i)
        const batches: Sent[][] = [[]]
        shuffled.forEach(({ item }, i) => {
          ;(batches[batches.length - 1] as Sent[]).push(item)
          if (cuts[i] && i < n - 1) batches.push([])
        })
        return batches
      })
  })

// ------------------------------------------------------------------------------------- suites

for (const factory of await engines()) {
  const test = suite(`services/realtime property (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  test('Realtime cells equal a recomputation and an independent model, whatever the order, batching, duplicates and retractions', async () => {
    let refusedBatches = 0
    let acceptedBatches = 0
    let retractionsApplied = 0
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (batches) => {
        const engine = await factory.open()
        try {
          const clock = new ManualClock(NOW)
          const lv = await Lateview.fromEngine(engine, views, clock)
          const model = new Model()
          for (const batch of batches) {
            clock.advance(1_000)
            const expected = model.apply(batch.map((s) => s.spec))
            let actual: Outcome
            try {
              const r = await lv.ingest(batch.map(toRaw))
              actual = { accepted: r.accepted, duplicates: r.duplicates, firstSeq: r.firstSeq, lastSeq: r.lastSeq }
            } catch (error) {
              if (!(error instanceof LateviewError)) throw error
              actual = { refused: error.code as 'LV_ERR_EVENT_CONFLICT' }
            }
            assert.equal(actual, expected, JSON.stringify(batch.map(toRaw)))
            if ('refused' in expected) refusedBatches++
            else acceptedBatches++
            assert.is(await headSeq(engine.db), model.stored.size)
            const cells = (await lv.realtime('daily_revenue')).cells
              .map((c) => ({
                period: c.period,
                store: c.dims.store as string,
                channel: c.dims.channel as string,
                revenue: c.measures.revenue,
                orders: c.measures.orders,
                largest: c.measures.largest,
                eventCount: c.eventCount,
              }))
              .sort(byCell)
            const want = model.cells().map((c) => ({ ...c, revenue: c.revenue / 100, largest: c.largest / 100 }))
            assert.equal(cells, want)
          }
          retractionsApplied += model.voided.size
          const daily = lv.view('daily_revenue')
          const stored = await readCellMap(engine.db, daily)
          assert.is(stored.size, model.cells().length)
          for (const c of model.cells()) {
            const state = [...stored].find(([id]) => id === `${c.period}\u0000${JSON.stringify([c.store, c.channel])}`)?.[1]
            assert.equal(state, { eventCount: c.eventCount, slots: [c.revenue, c.orders, c.largest] })
          }
          assert.equal((await lv.realtime('daily_positive_tests')).cells, [])
          const verified = await verifyRealtime(engine, lv.programs)
          assert.equal(verified.differences, [])
          assert.is(verified.seq, model.stored.size)
          assert.is(verified.cells, model.cells().length)
        } finally {
          await engine.close()
        }
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    )
    if (process.env.LATEVIEW_PROPERTY_STATS) console.log({ acceptedBatches, refusedBatches, retractionsApplied })
    // The generator must exercise both paths, or the property proves little.
    assert.ok(acceptedBatches > 0 && refusedBatches > 0 && retractionsApplied > 0, JSON.stringify({ acceptedBatches, refusedBatches, retractionsApplied }))
  })

  test.run()
}
