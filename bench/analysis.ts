/**
 * Figure 8: revision analysis over every day of the large store, against one full rebuild scan
 * of the same events in the same process (recomputeStore: every Realtime cell of the view from
 * one pass over its events). Vintages at 8 lags read the events of the whole range once, in seq
 * order; accuracy reads the stored revisions only. Every period is closed first (a final
 * revision each, as the "latest" figure leaves them), so both have a benchmark everywhere.
 */
import { recomputeStore } from '../src/services/recompute.js'
import { headSeq } from '../src/store/events.js'
import { compare, openLateview, timed, VIEW, type Comparison, type Log } from './common.js'
import { addDays, localMidnight, START } from './data.js'
import type { ReadStore } from './reads.js'
import { median } from './stats.js'

const DAY = 86_400_000
/** Eight lags: before the end of the day to a week after. */
export const BENCH_LAGS = '-PT2H,PT0S,PT3H,PT12H,P1D,P2D,P3D,P7D'

export interface AnalysisFigures {
  events: number
  days: number
  /** Revisions of the view in the range (what accuracy reads). */
  revisions: number
  /** Closing the periods that had no final revision yet (setup, not timed in the figures). */
  closeMs: number
  repeats: number
  /** One full rebuild pass over the view's events (the baseline). */
  rebuildMs: number
  vintagesMs: number
  accuracyMs: number
  vintages: Comparison
  accuracy: Comparison
  /** Vintage values checked against as-of reports at the same instants (a few periods and lags). */
  checked: number
  mismatches: number
}

export async function measureAnalysis(store: ReadStore, quick: boolean, log: Log): Promise<AnalysisFigures> {
  const lateview = await openLateview(store.location)
  try {
    const from = START
    const to = addDays(START, store.days - 1)
    const close = await timed(() => lateview.jobs.run('close', { view: VIEW, now: localMidnight(addDays(START, store.days)) + 30 * DAY, trigger: 'manual' }))
    const failed = close.result.filter((r) => r.outcome === 'failed')
    if (failed.length > 0) throw new Error(`close: ${failed.length} runs failed, e.g. ${failed[0]?.detail}`)
    log(`  analysis: ${close.result.filter((r) => r.outcome === 'published').length} periods closed in ${Math.round(close.ms)} ms`)
    const program = lateview.view(VIEW)
    const db = lateview.engine.db
    const rebuild = async () => recomputeStore(db, [program], await headSeq(db), { cells: true })
    const vintages = () => lateview.vintages(VIEW, { from, to, lags: BENCH_LAGS })
    const accuracy = () => lateview.accuracy(VIEW, { from, to })
    // One untimed pass of each first: the timed ones then read a warm cache alike.
    const first = await vintages()
    const revisions = (await accuracy()).periods.reduce((n, p) => n + Object.keys(p.releases).length, 0)
    await rebuild()
    const repeats = quick ? 3 : 1
    const times = { rebuild: [] as number[], vintages: [] as number[], accuracy: [] as number[] }
    for (let i = 0; i < repeats; i++) {
      times.rebuild.push((await timed(rebuild)).ms)
      times.vintages.push((await timed(vintages)).ms)
      times.accuracy.push((await timed(accuracy)).ms)
    }
    // The figure is only worth its time if it is right: a few values against as-of reports.
    let checked = 0
    let mismatches = 0
    const rows = first.rows
    for (const row of [rows[0], rows[Math.floor(rows.length / 2)], rows[rows.length - 1]]) {
      if (!row) continue
      for (const v of [row.values[0], row.values[3], row.values[5]]) {
        if (!v) continue
        const report = await lateview.report(VIEW, row.period, { asOf: Date.parse(v.knownAt) })
        checked++
        if (String(report.totals.measures[first.measure]) !== String(v.value)) mismatches++
      }
    }
    const rebuildMs = median(times.rebuild)
    const vintagesMs = median(times.vintages)
    const accuracyMs = median(times.accuracy)
    return {
      events: store.events,
      days: store.days,
      revisions,
      closeMs: close.ms,
      repeats,
      rebuildMs,
      vintagesMs,
      accuracyMs,
      vintages: compare(vintagesMs, rebuildMs, null, false),
      accuracy: compare(accuracyMs, rebuildMs, null, false),
      checked,
      mismatches,
    }
  } finally {
    await lateview.close()
  }
}
