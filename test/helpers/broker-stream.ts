import type { Lateview } from '../../src/services/lateview.js'
import { prng } from './analysis-history.js'

/**
 * A stream of retail events for the broker tests, with its re-sent duplicates and invalid
 * messages, and the oracle of what daily_revenue must show once it is consumed: computed here
 * from the distinct events alone, in integer cents, without lateview's code.
 */

export interface StreamEvent {
  id: string
  source: string
  type: 'sale' | 'refund'
  occurredAt: string
  data: { store: string; channel: string; amount: number }
}

/** A message to publish: its text, and what it is. */
export interface StreamMessage {
  text: string
  kind: 'event' | 'resent' | 'invalid'
  /** For an invalid one: the code its dead letter must carry. */
  code?: string
}

/** The nth event: 8 stores, 2 channels, 3 days in Nov 2026 (Asia/Taipei), one in ten a refund. */
export function streamEvent(n: number, prefix = 'e'): StreamEvent {
  const store = String((n % 8) + 1).padStart(3, '0')
  const day = 20 + (n % 3)
  const minute = (n * 7) % (24 * 60)
  const hh = String(Math.floor(minute / 60)).padStart(2, '0')
  const mm = String(minute % 60).padStart(2, '0')
  return {
    id: `${prefix}-${String(n).padStart(7, '0')}`,
    source: `store-${store}`,
    type: n % 10 === 9 ? 'refund' : 'sale',
    occurredAt: `2026-11-${day}T${hh}:${mm}:00+08:00`,
    data: { store, channel: n % 3 === 0 ? 'online' : 'pos', amount: ((n * 7919) % 100_000) / 100 },
  }
}

/** The invalid messages every stream carries, each with the code of its dead letter. */
export function invalidMessages(prefix: string): StreamMessage[] {
  const base = streamEvent(1, `${prefix}-bad`)
  return [
    { text: '{"id": "broken", ', kind: 'invalid', code: 'LV_ERR_EVENTS_INVALID' },
    { text: JSON.stringify({ ...base, id: `${prefix}-nosource`, source: undefined }), kind: 'invalid', code: 'LV_ERR_EVENTS_INVALID' },
    { text: JSON.stringify({ ...base, id: `${prefix}-baddata`, data: 'not an object' }), kind: 'invalid', code: 'LV_ERR_EVENTS_INVALID' },
    { text: JSON.stringify({ ...base, id: `${prefix}-future`, occurredAt: '2030-01-01T00:00:00Z' }), kind: 'invalid', code: 'LV_ERR_EVENTS_INVALID' },
    { text: JSON.stringify({ ...base, id: `${prefix}-unknown`, retracts: `${prefix}-never-sent` }), kind: 'invalid', code: 'LV_ERR_EVENTS_INVALID' },
  ]
}

/**
 * `count` distinct events in order, with `resentShare` of them re-sent (same body) a little
 * later, the invalid messages spread through, and, if asked, conflicts (an id re-sent with
 * another amount, after its original). Returns the messages and the distinct events.
 */
export function brokerStream(
  count: number,
  options: { seed?: number; resentShare?: number; invalid?: boolean; conflicts?: number; prefix?: string } = {},
): { messages: StreamMessage[]; events: StreamEvent[] } {
  const rnd = prng(options.seed ?? 7)
  const prefix = options.prefix ?? 'e'
  const events = Array.from({ length: count }, (_, n) => streamEvent(n, prefix))
  const messages: StreamMessage[] = []
  const later: Array<{ at: number; message: StreamMessage }> = []
  const resent = Math.round(count * (options.resentShare ?? 0.01))
  const resendAt = new Set<number>()
  while (resendAt.size < resent) resendAt.add(Math.floor(rnd() * count))
  const conflictAt = new Set<number>()
  while (conflictAt.size < (options.conflicts ?? 0)) conflictAt.add(Math.floor(rnd() * count))
  const invalid = options.invalid === false ? [] : invalidMessages(prefix)
  const invalidAt = new Map(invalid.map((m, k) => [Math.floor(((k + 1) * count) / (invalid.length + 1)), m]))
  for (let n = 0; n < count; n++) {
    const e = events[n] as StreamEvent
    messages.push({ text: JSON.stringify(e), kind: 'event' })
    if (resendAt.has(n)) later.push({ at: n + 1 + Math.floor(rnd() * 3000), message: { text: JSON.stringify(e), kind: 'resent' } })
    if (conflictAt.has(n))
      later.push({ at: n + 1 + Math.floor(rnd() * 3000), message: { text: JSON.stringify({ ...e, data: { ...e.data, amount: e.data.amount + 1 } }), kind: 'invalid', code: 'LV_ERR_EVENT_CONFLICT' } })
    const bad = invalidAt.get(n)
    if (bad) messages.push(bad)
    for (let k = later.length - 1; k >= 0; k--) {
      if ((later[k] as { at: number }).at <= n) {
        messages.push((later[k] as { message: StreamMessage }).message)
        later.splice(k, 1)
      }
    }
  }
  for (const l of later) messages.push(l.message)
  return { messages, events }
}

/** The Taipei calendar day of an occurredAt with a +08:00 offset. */
const taipeiDay = (occurredAt: string) => occurredAt.slice(0, 10)

/** One cell of daily_revenue as the oracle computes it. */
export interface OracleCell {
  period: string
  store: string
  channel: string
  revenueCents: number
  orders: number
  eventCount: number
}

/** daily_revenue over distinct events (refunds count negative), in integer cents. */
export function oracle(events: readonly StreamEvent[]): OracleCell[] {
  const cells = new Map<string, OracleCell>()
  for (const e of events) {
    const key = `${taipeiDay(e.occurredAt)}|${e.data.store}|${e.data.channel}`
    const c = cells.get(key) ?? { period: taipeiDay(e.occurredAt), store: e.data.store, channel: e.data.channel, revenueCents: 0, orders: 0, eventCount: 0 }
    const sign = e.type === 'refund' ? -1 : 1
    c.revenueCents += sign * Math.round(e.data.amount * 100)
    c.orders += sign
    c.eventCount++
    cells.set(key, c)
  }
  return [...cells.values()].sort((a, b) => `${a.period}|${a.store}|${a.channel}`.localeCompare(`${b.period}|${b.store}|${b.channel}`))
}

/** daily_revenue's Realtime cells in the oracle's shape. */
export async function realtimeCells(lateview: Lateview): Promise<OracleCell[]> {
  const answer = await lateview.realtime('daily_revenue')
  return answer.cells
    .map((c) => ({
      period: c.period,
      store: String(c.dims.store),
      channel: String(c.dims.channel),
      revenueCents: Math.round(Number(c.measures.revenue) * 100),
      orders: Number(c.measures.orders),
      eventCount: c.eventCount,
    }))
    .sort((a, b) => `${a.period}|${a.store}|${a.channel}`.localeCompare(`${b.period}|${b.store}|${b.channel}`))
}
