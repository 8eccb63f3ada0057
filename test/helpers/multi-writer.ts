/**
 * A workload for several lateview writers on one store (engines, processes, a pooler between),
 * the figures it must end with, and the checks of the store afterwards: every event stored
 * once, revision numbers 1..n per (view, period), and the live figures equal to an oracle
 * computed from the distinct events sent.
 */
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'
import type { Engine } from '../../src/store/engine.js'

export const FLEET = 'fleet'

/** Sales per UTC day and store; rebuilt every second, so that a scheduler has work all the time. */
export const FLEET_VIEW = {
  name: FLEET,
  eventTypes: ['sale'],
  timezone: 'UTC',
  granularity: 'day',
  dimensions: ['store'],
  measures: { revenue: { sum: 'amount', decimals: 2 }, orders: { count: true } },
  rebuild: { every: '* * * * * *', windowDays: 7 },
}

export function fleetView(): ViewDefinition {
  return parseViewDefinition(FLEET_VIEW, 'fleet.json')
}

export interface Sale {
  id: string
  source: string
  type: 'sale'
  occurredAt: string
  data: { store: string; amount: number }
}

export interface Retraction {
  id: string
  source: string
  type: 'sale'
  occurredAt: string
  retracts: string
}

/** What was sent, by (source, id): the same event sent twice is one. */
export class Oracle {
  readonly sales = new Map<string, Sale>()
  readonly retracted = new Set<string>()

  /** `n` new sales from writer `writer`, batch `batch`, occurring up to 30 hours before `now` (never after it). */
  newSales(writer: string, batch: number, n: number, now: number): Sale[] {
    return Array.from({ length: n }, (_, k) => {
      const i = batch * n + k
      const store = String((i * 7 + writer.length) % 4)
      const occurredAt = new Date(now - 60_000 - ((i * 7919) % (30 * 3600)) * 1000).toISOString()
      return { id: `${writer}-${batch}-${k}`, source: `store-${store}`, type: 'sale', occurredAt, data: { store, amount: ((i * 37 + 11) % 10_000) / 100 } }
    })
  }

  /** Records sales a store acknowledged (200). */
  stored(events: ReadonlyArray<Sale | Retraction>): void {
    for (const e of events) {
      if ('retracts' in e) this.retracted.add(`${e.source}\u0000${e.retracts}`)
      else this.sales.set(`${e.source}\u0000${e.id}`, e)
    }
  }

  /** A retraction of a stored, not yet retracted sale of `writer` (the one of `pick`), or null. */
  retraction(writer: string, pick: number): Retraction | null {
    const open = [...this.sales.values()].filter((s) => s.id.startsWith(`${writer}-`) && !this.retracted.has(`${s.source}\u0000${s.id}`))
    const target = open[pick % Math.max(open.length, 1)]
    if (!target) return null
    return { id: `r-${writer}-${pick}`, source: target.source, type: 'sale', occurredAt: target.occurredAt, retracts: target.id }
  }

  /** Events stored: every sale and every retraction. */
  get eventCount(): number {
    return this.sales.size + this.retracted.size
  }

  /** Revenue (in cents) and orders per UTC day of the sales not retracted. */
  figures(): Map<string, { cents: number; orders: number }> {
    const days = new Map<string, { cents: number; orders: number }>()
    for (const s of this.sales.values()) {
      if (this.retracted.has(`${s.source}\u0000${s.id}`)) continue
      const day = s.occurredAt.slice(0, 10)
      const f = days.get(day) ?? { cents: 0, orders: 0 }
      f.cents += Math.round(s.data.amount * 100)
      f.orders += 1
      days.set(day, f)
    }
    return days
  }
}

/** Per UTC day, the revenue in cents and orders of live cells (`realtime` answers), for comparison with `Oracle.figures`. */
export function liveFigures(cells: ReadonlyArray<{ period: string; measures: Record<string, unknown> }>): Map<string, { cents: number; orders: number }> {
  const days = new Map<string, { cents: number; orders: number }>()
  for (const c of cells) {
    const f = days.get(c.period) ?? { cents: 0, orders: 0 }
    f.cents += Math.round(Number(c.measures.revenue ?? 0) * 100)
    f.orders += Number(c.measures.orders ?? 0)
    days.set(c.period, f)
  }
  for (const [day, f] of days) if (f.orders === 0 && f.cents === 0) days.delete(day)
  return days
}

export function sortedEntries<V>(map: Map<string, V>): Array<[string, V]> {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** What the store holds, for the assertions every multi-writer check makes. */
export async function storeFacts(engine: Engine, view: string): Promise<{ events: number; distinctKeys: number; revisions: number; gaps: string[] }> {
  const rows = await engine.db.kysely.selectFrom('events').select(['source', 'id']).execute()
  const keys = new Set(rows.map((r) => `${r.source}\u0000${r.id}`))
  const revisions = await engine.db.kysely.selectFrom('revisions').select(['period', 'revision']).where('view', '=', view).orderBy('period').orderBy('revision').execute()
  const byPeriod = new Map<string, number[]>()
  for (const r of revisions) byPeriod.set(r.period, [...(byPeriod.get(r.period) ?? []), r.revision])
  const gaps: string[] = []
  for (const [period, numbers] of byPeriod) {
    if (numbers.some((n, i) => n !== i + 1)) gaps.push(`${period}: ${numbers.join(',')}`)
  }
  return { events: rows.length, distinctKeys: keys.size, revisions: revisions.length, gaps }
}
