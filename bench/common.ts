/** What the figures of a run share: the views, the clock, and the shape of a measured comparison. */
import { join } from 'node:path'
import { ManualClock } from '../src/domain/clock.js'
import type { ViewDefinition } from '../src/domain/view.js'
import { Lateview } from '../src/services/lateview.js'
import { loadViewFiles } from '../src/services/view-files.js'
import { ROOT } from './options.js'

export const VIEW = 'daily_revenue'

/** The two shipped views (daily_revenue and daily_positive_tests): both are maintained on every ingest. */
export function benchViews(): ViewDefinition[] {
  return loadViewFiles(join(ROOT, 'views'))
}

/** A clock after every fixture instant, for imports and jobs that are given their own `now`. */
export function lateClock(): ManualClock {
  return new ManualClock(Date.parse('2031-01-01T00:00:00Z'))
}

export function openLateview(location: string, clock = lateClock()): Promise<Lateview> {
  return Lateview.open({ db: location, views: benchViews(), clock })
}

export type Log = (message: string) => void

/** A throughput or a duration measured for lateview and for its same-run baseline. */
export interface Comparison {
  value: number
  baseline: number
  /** value / baseline */
  ratio: number
  /** null on PostgreSQL (reported for comparison only). */
  target: number | null
  pass: boolean | null
}

export function compare(value: number, baseline: number, target: number | null, higherIsBetter: boolean): Comparison {
  const ratio = value / baseline
  return { value, baseline, ratio, target, pass: target === null ? null : higherIsBetter ? ratio >= target : ratio <= target }
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now()
  const result = await fn()
  return { ms: performance.now() - started, result }
}
