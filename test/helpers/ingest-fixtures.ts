import { fileURLToPath } from 'node:url'
import * as assert from 'uvu/assert'
import { parseInstant } from '../../src/domain/time.js'
import { parseViewDefinition, type ViewDefinition } from '../../src/domain/view.js'
import { LateviewError, type ErrorCode } from '../../src/errors.js'
import type { Lateview } from '../../src/services/lateview.js'
import type { RealtimeCell } from '../../src/services/realtime.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import { headSeq } from '../../src/store/events.js'

/** The view definitions shipped in views/ (daily_positive_tests, daily_revenue). */
/** Sales per UTC day and store, with both extremes: retracting an extreme changes them. */
export const extremesView: ViewDefinition = parseViewDefinition(
  {
    name: 'extremes',
    eventTypes: ['sale'],
    timezone: 'UTC',
    granularity: 'day',
    dimensions: ['store'],
    measures: { smallest: { min: 'amount', decimals: 2 }, largest: { max: 'amount', decimals: 2 }, n: { count: true } },
  },
  'extremes.json',
)

export function shippedViews(): ViewDefinition[] {
  return loadViewFiles(fileURLToPath(new URL('../../views', import.meta.url)))
}

/** UTC epoch ms of an ISO instant; throws on a malformed one so a typo cannot pass silently. */
export function at(iso: string): number {
  const ms = parseInstant(iso)
  if (ms === null) throw new Error(`bad instant ${iso}`)
  return ms
}

export interface RawEvent {
  id: string
  source: string
  type: string
  occurredAt: string
  data?: Record<string, unknown>
  retracts?: string
  receivedAt?: string
}

/** A sale for daily_revenue, by default on 2026-11-25 (Asia/Taipei) from store-001. */
export function sale(id: string, amount: number, over: Partial<RawEvent> & { store?: string; channel?: string } = {}): RawEvent {
  const { store = '001', channel = 'pos', ...rest } = over
  return { id, source: 'store-001', type: 'sale', occurredAt: '2026-11-25T10:00:00+08:00', data: { store, channel, amount }, ...rest }
}

export function refund(id: string, amount: number, over: Partial<RawEvent> & { store?: string; channel?: string } = {}): RawEvent {
  return { ...sale(id, amount, over), type: 'refund', ...(over.type ? { type: over.type } : {}) }
}

/** A retraction of `target` from the same source (store-001 unless told). */
export function retraction(id: string, target: string, over: Partial<RawEvent> = {}): RawEvent {
  return { id, source: 'store-001', type: 'sale', occurredAt: '2026-11-25T12:00:00+08:00', retracts: target, ...over }
}

/** Awaits `run` and returns the LateviewError it rejects with, failing unless its code is `code`. */
export async function rejection(run: () => Promise<unknown>, code: ErrorCode): Promise<LateviewError> {
  let outcome: unknown
  try {
    outcome = await run()
  } catch (error) {
    if (!(error instanceof LateviewError)) throw error
    assert.is(error.code, code, `${error.code}: ${error.message}`)
    return error
  }
  assert.unreachable(`expected ${code}, got ${JSON.stringify(outcome)}`)
  throw new Error('unreachable')
}

/** The `details.errors` of an LV_ERR_EVENTS_INVALID error, reduced to index, id, code and field. */
export function problems(error: LateviewError): Array<{ index: number; id?: string; code: string; field?: string }> {
  const errors = error.details.errors as Array<{ index: number; id?: string; code: string; field?: string; message: string }>
  return errors.map((e) => ({ index: e.index, ...(e.id !== undefined ? { id: e.id } : {}), code: e.code, ...(e.field !== undefined ? { field: e.field } : {}) }))
}

/** Everything an ingest can change that the tests read: head seq, event count and every view's cells. */
export async function observable(lv: Lateview): Promise<{ head: number; events: number; cells: Record<string, RealtimeCell[]> }> {
  const head = await headSeq(lv.engine.db)
  const row = await lv.engine.db.kysely
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow()
  const cells: Record<string, RealtimeCell[]> = {}
  for (const name of lv.views.keys()) cells[name] = (await lv.realtime(name)).cells
  return { head, events: Number(row.n), cells }
}
