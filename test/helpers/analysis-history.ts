/**
 * A seeded, generated history of a day view for the revision-analysis oracle tests, and a driver
 * that plays it into a Lateview: events arrive at their receivedAt (admin import) and the period
 * jobs run at their scheduled local times on a simulated clock, as the scheduler would run them.
 */
import { DateTime } from 'luxon'
import type { ManualClock } from '../../src/domain/clock.js'
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'
import type { Lateview } from '../../src/services/lateview.js'
import { daysBetween, localAt, type OracleView, type StoredEvent } from './analysis-oracle.js'

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface SentEvent {
  id: string
  source: string
  type: string
  occurredAt: string
  receivedAt: string
  data?: Record<string, unknown>
  retracts?: string
}

export interface PlannedEvent extends SentEvent {
  occurredMs: number
  receivedMs: number
}

export type JobName = 'flash' | 'consolidate' | 'rebuild' | 'close'

export interface PlannedJob {
  job: JobName
  at: number
}

/** The view file of the main history (and its oracle twin). */
export function salesViewJson(name: string, zone: string, version = 1, revenueDecimals = 2): Record<string, unknown> {
  return {
    name,
    version,
    description: 'revision analysis oracle tests',
    eventTypes: ['sale', 'refund'],
    timezone: zone,
    granularity: 'day',
    dimensions: ['store'],
    measures: {
      revenue: { sum: 'amount', decimals: revenueDecimals },
      orders: { count: true },
      largest: { max: 'amount', decimals: 2 },
    },
    sign: { refund: -1 },
    flash: { at: '22:00', afterDays: 0 },
    consolidate: { at: '03:00', afterDays: 1 },
    rebuild: { every: '15 */2 * * *', windowDays: 7 },
    close: { afterDays: 3, at: '03:30', lateAfterClose: 'restate' },
  }
}

export function viewOf(json: Record<string, unknown>): ViewDefinition {
  return parseViewDefinition(json, `views/${json.name}.json`)
}

/** The oracle's reading of the same view file (written from the JSON, not from lateview's parser). */
export function oracleViewOf(json: Record<string, unknown>): OracleView {
  const measures = Object.entries(json.measures as Record<string, Record<string, unknown>>).map(([name, m]) => {
    if (m.count !== undefined) return { name, kind: 'count' as const, field: null, decimals: 0 }
    if (m.sum !== undefined) return { name, kind: 'sum' as const, field: m.sum as string, decimals: (m.decimals as number | undefined) ?? 6 }
    if (m.max !== undefined) return { name, kind: 'max' as const, field: m.max as string, decimals: (m.decimals as number | undefined) ?? 6 }
    throw new Error('the oracle knows sum, count and max')
  })
  return {
    zone: json.timezone as string,
    eventTypes: json.eventTypes as string[],
    dimensions: json.dimensions as string[],
    measures,
    sign: (json.sign as Record<string, number> | undefined) ?? {},
  }
}

/** Local wall-clock instant `day` + `plusDays` at `hh:mm:ss` in `zone`. */
function local(day: string, plusDays: number, seconds: number, zone: string): number {
  return DateTime.fromISO(day, { zone }).plus({ days: plusDays }).startOf('day').plus({ seconds }).toMillis()
}

const isoLocal = (ms: number, zone: string): string => DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true }) as string
const isoUtc = (ms: number): string => new Date(ms).toISOString()

export function planned(e: Omit<PlannedEvent, 'occurredAt' | 'receivedAt'>, zone: string): PlannedEvent {
  return { ...e, occurredAt: isoLocal(e.occurredMs, zone), receivedAt: isoUtc(e.receivedMs) }
}

export interface History {
  zone: string
  days: string[]
  /** Every event that arrived by `end`, in arrival order. */
  events: PlannedEvent[]
  jobs: PlannedJob[]
  end: number
  /** Special days, by what they show. */
  special: { zeroDay: string; voidDay: string; noFlashDay: string; restatedDays: string[] }
}

/**
 * The main history: 15 days of America/New_York (the clocks fall back on 2026-11-01, a 25-hour
 * day), four sources with lags from seconds to six days, refunds, retractions, a day whose
 * sales and refunds cancel, a day whose every event is retracted, a day without a flash, and
 * late events after close.
 */
export function mainHistory(seed: number, zone = 'America/New_York'): History {
  const rnd = prng(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1))
  const days = daysBetween('2026-10-24', '2026-11-07')
  const zeroDay = days[4] as string
  const voidDay = days[7] as string
  const noFlashDay = days[9] as string
  const restatedDays = [days[2] as string, days[3] as string]
  const end = localAt('2026-11-09', 0, '01:00', zone)
  const all: PlannedEvent[] = []
  let n = 0
  /** An amount: cents, or now and then thousandths ending in 5 (rounded half away from zero at 2 decimals). */
  const amount = (lo: number, hi: number): number => (rnd() < 0.12 ? Number(`${int(lo, hi - 1)}.${int(0, 99).toString().padStart(2, '0')}5`) : int(lo * 100, hi * 100) / 100)
  const add = (day: string, source: string, type: string, occurredS: number, lagS: number, value: number, over: { receivedMs?: number } = {}): PlannedEvent => {
    const occurredMs = local(day, 0, occurredS, zone)
    const store = source === 'web' ? 'web' : source.replace(/^store-/, '')
    const e = planned({ id: `${source}-${day}-${n++}`, source, type, occurredMs, receivedMs: over.receivedMs ?? occurredMs + lagS * 1000, data: { store, amount: value } }, zone)
    all.push(e)
    return e
  }
  const retract = (original: PlannedEvent, receivedMs: number): PlannedEvent => {
    const e = planned({ id: `${original.id}-void`, source: original.source, type: original.type, occurredMs: original.occurredMs, receivedMs, retracts: original.id }, zone)
    all.push(e)
    return e
  }
  const H = 3600
  const D = 86400
  days.forEach((day, i) => {
    if (day === zeroDay) {
      // Sales and refunds cancel: revenue 0 and net orders 0 once all of it is in.
      add(day, 'web', 'sale', 10 * H, 30, 42.5)
      add(day, 'store-a', 'refund', 11 * H, 0, 42.5, { receivedMs: local(day, 1, 1.5 * H, zone) })
      add(day, 'store-a', 'sale', 12 * H, 0, 7.125, { receivedMs: local(day, 1, 1.5 * H, zone) })
      add(day, 'store-a', 'refund', 13 * H, 0, 7.125, { receivedMs: local(day, 1, 1.5 * H, zone) })
      const b = add(day, 'store-b', 'sale', 14 * H, 5 * H, 19.99)
      retract(b, b.receivedMs + 20 * H)
      return
    }
    if (day === voidDay) {
      // Every event is retracted, the last retraction after the flash.
      for (const [h, v] of [
        [10, 12.34],
        [12, 56.78],
        [15, 9.1],
      ] as const) {
        const w = add(day, 'web', 'sale', h * H, int(2, 40), v)
        retract(w, local(day, 1, 0.5 * H, zone))
      }
      const b = add(day, 'store-b', 'sale', 16 * H, 2 * D, 88.8)
      retract(b, b.receivedMs + 6 * H)
      return
    }
    const noFlash = day === noFlashDay
    // Everything on the no-flash day happens after 22:00, so nothing is known at the flash.
    const when = (lo: number, hi: number) => (noFlash ? int(22 * H + 60, 24 * H - 120) : int(lo, hi))
    const web: PlannedEvent[] = []
    for (let k = int(6, 10); k > 0; k--) web.push(add(day, 'web', 'sale', when(8 * H, 21 * H + 40 * 60), int(2, 900), amount(5, 250)))
    web.push(add(day, 'web', 'refund', when(9 * H, 21 * H), int(2, 300), amount(5, 60)))
    if (!noFlash && rnd() < 0.4) web.push(add(day, 'web', 'sale', int(21 * H + 50 * 60, 21 * H + 59 * 60), int(11 * 60, 20 * 60), amount(5, 250)))
    // store-a uploads the day in one batch at 02:40 the next night, some nights only at 05:00 (after consolidation).
    const upload = local(day, 1, (i % 5 === 1 ? 5 * 60 : 2 * 60 + 40) * 60, zone)
    for (let k = int(4, 7); k > 0; k--) add(day, 'store-a', 'sale', when(9 * H, 20 * H), 0, amount(5, 250), { receivedMs: upload })
    if (rnd() < 0.6) add(day, 'store-a', 'refund', when(9 * H, 20 * H), 0, amount(5, 80), { receivedMs: upload })
    const storeB: PlannedEvent[] = []
    for (let k = int(3, 5); k > 0; k--) storeB.push(add(day, 'store-b', 'sale', when(10 * H, 20 * H), int(1 * H, 2.5 * D), amount(5, 250)))
    for (let k = int(2, 3); k > 0; k--) add(day, 'partner', 'sale', when(11 * H, 19 * H), int(1.5 * D, 4 * D), amount(5, 250))
    for (const e of [...web, ...storeB]) if (rnd() < 0.08) retract(e, e.receivedMs + int(1 * H, 4 * D) * 1000)
    if (day === restatedDays[0]) add(day, 'partner', 'sale', 12 * H, 5 * D + 10 * H, 77.77)
    if (day === restatedDays[1]) {
      const late = add(day, 'store-b', 'sale', 13 * H, 5 * H, 31.41)
      retract(late, local(day, 4, 12 * H, zone))
    }
  })
  // What arrived by the end, in arrival order (generation order among equal instants: an
  // original is generated before its retraction).
  const events = all.filter((e) => e.receivedMs <= end).sort((a, b) => a.receivedMs - b.receivedMs)
  return { zone, days, events, jobs: jobsBetween(days[0] as string, end, zone), end, special: { zeroDay, voidDay, noFlashDay, restatedDays } }
}

/**
 * A smaller history: `days` days from `firstDay` in `zone`, web sales arriving in seconds (one
 * refund a day), a store uploading at 02:40 the next night, another with lags of 1 hour to
 * 2 days, amounts in cents with a few half cents, and a retraction now and then. Only what
 * arrived by `end` is kept.
 */
export function smallHistory(seed: number, zone: string, firstDay: string, days: number, end: number): { events: PlannedEvent[]; days: string[] } {
  const rnd = prng(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1))
  const list = daysBetween(
    firstDay,
    DateTime.fromISO(firstDay, { zone: 'UTC' })
      .plus({ days: days - 1 })
      .toISODate() as string,
  )
  const all: PlannedEvent[] = []
  let n = 0
  const H = 3600
  const amount = () => (rnd() < 0.25 ? int(5, 99) + 0.5 : int(500, 9000) / 100)
  const add = (day: string, source: string, type: string, occurredS: number, receivedMs: (o: number) => number, value: number): PlannedEvent => {
    const occurredMs = local(day, 0, occurredS, zone)
    const store = source === 'web' ? 'web' : source.replace(/^store-/, '')
    const e = planned({ id: `${source}-${day}-${n++}`, source, type, occurredMs, receivedMs: receivedMs(occurredMs), data: { store, amount: value } }, zone)
    all.push(e)
    return e
  }
  for (const day of list) {
    const web: PlannedEvent[] = []
    for (let k = int(3, 5); k > 0; k--) web.push(add(day, 'web', 'sale', int(8 * H, 21 * H), (o) => o + int(2, 600) * 1000, amount()))
    add(day, 'web', 'refund', int(9 * H, 20 * H), (o) => o + int(2, 60) * 1000, amount())
    const upload = local(day, 1, (2 * 60 + 40) * 60, zone)
    for (let k = int(2, 4); k > 0; k--) add(day, 'store-a', 'sale', int(9 * H, 20 * H), () => upload, amount())
    for (let k = int(2, 3); k > 0; k--) add(day, 'store-b', 'sale', int(10 * H, 20 * H), (o) => o + int(H, 2 * 86400) * 1000, amount())
    const victim = web[0] as PlannedEvent
    if (rnd() < 0.5)
      all.push(planned({ id: `${victim.id}-void`, source: 'web', type: 'sale', occurredMs: victim.occurredMs, receivedMs: victim.receivedMs + int(H, 30 * H) * 1000, retracts: victim.id }, zone))
  }
  return { events: all.filter((e) => e.receivedMs <= end).sort((a, b) => a.receivedMs - b.receivedMs), days: list }
}

/** The scheduled runs of the view's jobs from the first day to `end`: flash 22:00, consolidate 03:00, close 03:30, rebuild every two hours at :15. */
export function jobsBetween(firstDay: string, end: number, zone: string): PlannedJob[] {
  const jobs: PlannedJob[] = []
  const lastDay = DateTime.fromMillis(end, { zone }).toISODate() as string
  for (const day of daysBetween(firstDay, lastDay)) {
    jobs.push({ job: 'consolidate', at: localAt(day, 0, '03:00', zone) })
    jobs.push({ job: 'close', at: localAt(day, 0, '03:30', zone) })
    jobs.push({ job: 'flash', at: localAt(day, 0, '22:00', zone) })
    for (let h = 0; h < 24; h += 2) jobs.push({ job: 'rebuild', at: localAt(day, 0, `${String(h).padStart(2, '0')}:15`, zone) })
  }
  const order: JobName[] = ['flash', 'consolidate', 'rebuild', 'close']
  return jobs.filter((j) => j.at <= end).sort((a, b) => a.at - b.at || order.indexOf(a.job) - order.indexOf(b.job))
}

const sent = (e: PlannedEvent): SentEvent => {
  const { occurredMs: _o, receivedMs: _r, ...rest } = e
  return rest
}

/**
 * Plays events and jobs into `lv` in time order, from `state` on: before each job, the events
 * received by its instant are imported in one batch; the job runs at its instant without a
 * period (every period due then), as cron would. Returns every event with its seq.
 */
export async function play(lv: Lateview, clock: ManualClock, view: string, events: PlannedEvent[], jobs: PlannedJob[], until: number, stored: StoredEvent[] = []): Promise<StoredEvent[]> {
  const out = [...stored]
  let next = events.findIndex((e) => !out.some((s) => s.source === e.source && s.id === e.id))
  if (next < 0) next = events.length
  const flush = async (upTo: number) => {
    const batch: PlannedEvent[] = []
    while (next < events.length && (events[next] as PlannedEvent).receivedMs <= upTo) batch.push(events[next++] as PlannedEvent)
    if (batch.length === 0) return
    clock.set(Math.max(clock.now(), (batch[batch.length - 1] as PlannedEvent).receivedMs))
    const result = await lv.ingest(batch.map(sent), { imported: true })
    if (result.accepted !== batch.length || result.firstSeq === null) throw new Error(`ingest accepted ${result.accepted} of ${batch.length}`)
    const first = result.firstSeq
    for (const [i, e] of batch.entries()) out.push({ ...e, seq: first + i })
  }
  for (const job of jobs) {
    if (job.at > until) break
    await flush(job.at)
    clock.set(job.at)
    const runs = await lv.jobs.run(job.job, { view, now: job.at, trigger: 'cron' })
    for (const run of runs) if (run.outcome === 'failed') throw new Error(`${job.job} ${run.period} failed: ${run.detail}`)
  }
  await flush(until)
  clock.set(until)
  return out
}
