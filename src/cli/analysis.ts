/** `lateview accuracy` (and the end of `lateview demo`): accuracy by release, completeness at the consolidation and the close, close advice. */
import { scheduleLag, type Against } from '../domain/analysis.js'
import type { AccuracyAnswer, CloseAdviceAnswer, CompletenessAnswer } from '../services/analysis.js'
import type { Lateview } from '../services/lateview.js'
import { csvValue } from '../services/csv.js'
import { out, prettyJson, table, type CellValue } from './output.js'

export interface AnalysisOptions {
  from?: string
  to?: string
  measure?: string
  /** For all three answers; each has its own default otherwise (final, final, latest). */
  against?: Against
  target: number
  format: 'table' | 'json' | 'csv'
}

export interface AnalysisSummary {
  accuracy: AccuracyAnswer
  completeness: CompletenessAnswer
  closeAdvice: CloseAdviceAnswer
}

const RELEASE_COLUMNS = ['kind', 'n', 'meanRevision', 'meanAbsRevision', 'relativeMeanAbsRevision', 'minRevision', 'maxRevision', 'stdRevision', 'accuracy', 'withinOnePercent'] as const

/** The three answers over the same periods: completeness at the view's consolidation and close times. */
export async function analysisSummary(lateview: Lateview, name: string, options: AnalysisOptions): Promise<AnalysisSummary> {
  const view = lateview.view(name).view
  const query = {
    ...(options.from !== undefined ? { from: options.from } : {}),
    ...(options.to !== undefined ? { to: options.to } : {}),
    ...(options.measure !== undefined ? { measure: options.measure } : {}),
    ...(options.against !== undefined ? { against: options.against } : {}),
  }
  const accuracy = await lateview.accuracy(name, query)
  // The same periods for the other two, also when the range was left to its default.
  const range = accuracy.from !== null && accuracy.to !== null ? { from: accuracy.from, to: accuracy.to } : {}
  const completeness = await lateview.completeness(name, { ...query, ...range, lags: [scheduleLag(view, view.consolidate), scheduleLag(view, view.close)] })
  const closeAdvice = await lateview.closeAdvice(name, { ...query, ...range, target: options.target })
  return { accuracy, completeness, closeAdvice }
}

function releaseRows(accuracy: AccuracyAnswer): CellValue[][] {
  return accuracy.releases.map((r) => RELEASE_COLUMNS.map((c) => r[c] as CellValue))
}

/** Prints a summary as a table (for people), JSON or CSV (the accuracy by release). */
export function printAnalysis(summary: AnalysisSummary, format: AnalysisOptions['format'], target: number): void {
  const { accuracy, completeness, closeAdvice } = summary
  if (format === 'json') {
    out(prettyJson(summary))
    return
  }
  if (format === 'csv') {
    const lines = [RELEASE_COLUMNS.join(','), ...releaseRows(accuracy).map((r) => r.map(csvValue).join(','))]
    process.stdout.write(`${lines.join('\r\n')}\r\n`)
    return
  }
  const span = accuracy.from === null ? 'no periods yet' : `${accuracy.from} … ${accuracy.to}`
  out(`accuracy of ${accuracy.view} ${accuracy.measure} by release, against the ${accuracy.against} revision (${span}):`)
  out(
    accuracy.releases.length === 0
      ? '  no period has both a release and the benchmark'
      : table(['kind', 'n', 'mean rev', 'mean |rev|', 'rel. MAR', 'min rev', 'max rev', 'std rev', 'accuracy', 'within 1%'], releaseRows(accuracy)),
  )
  for (const e of accuracy.excluded) out(`  left out: ${e.period} ${e.kind}: ${e.reason}`)
  out('')
  out('completeness (share of the benchmark known, over the periods):')
  out(
    table(
      ['known at', 'value min', 'p10', 'p50', 'p90', 'events min', 'p10', 'p50', 'p90'],
      completeness.points.map((p) => [p.lag, p.value.min, p.value.p10, p.value.p50, p.value.p90, p.events.min, p.events.p10, p.events.p50, p.events.p90]),
    ),
  )
  out('')
  const recommended = closeAdvice.recommended === null ? 'none of D+1 … D+14' : closeAdvice.recommended.at
  out(`close advice (target ${target} of the value known at the close): ${recommended}`)
  out(
    table(
      ['close', 'periods', 'restated', 'share', 'mean |restatement|', 'max |restatement|', 'value known', ''],
      closeAdvice.candidates.map((c) => [
        c.at,
        c.n,
        c.periodsRestated,
        c.shareRestated,
        c.meanAbsRestatement,
        c.maxAbsRestatement,
        c.valueKnown,
        c.incomplete ? 'incomplete: some closes still ahead' : undefined,
      ]),
    ),
  )
  if (closeAdvice.sla.length > 0) {
    out('')
    out(`SLA per source (${target} of its events within):`)
    out(
      table(
        ['source', 'suggested', 'events', 'lag p50', 'lag p90', 'lag p99', 'lag max'],
        closeAdvice.sla.map((s) => {
          const lags = completeness.sources.find((x) => x.source === s.source)
          return [s.source, s.suggested, lags?.count ?? null, lags?.lagP50 ?? null, lags?.lagP90 ?? null, lags?.lagP99 ?? null, lags?.lagMax ?? null]
        }),
      ),
    )
  }
}
