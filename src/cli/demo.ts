import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DateTime } from 'luxon'
import { FIXTURE_VIEWS, generateFixture, type FixtureKind } from '../../fixtures/generate.js'
import { ManualClock } from '../domain/clock.js'
import { DEFAULT_TARGET } from '../domain/analysis.js'
import { amount, amountScaled, isZero, subScaled } from '../domain/decimal.js'
import { dueAt, type Measures } from '../domain/lifecycle.js'
import { parseInstant } from '../domain/time.js'
import type { ViewDefinition } from '../domain/view.js'
import { Lateview } from '../services/lateview.js'
import { replay } from '../services/replay.js'
import { hasEvents } from '../store/events.js'
import { revisedPeriods } from '../store/revisions.js'
import { analysisSummary, printAnalysis } from './analysis.js'
import { out, prettyJson, shown, table, UsageError } from './output.js'

export interface DemoOptions {
  kind: FixtureKind
  days: number
  events: number
  seed: number
  db: string | null
  views: ViewDefinition[]
  /** table: the history for people; json: one JSON document of the same facts, printed at the end. */
  format: 'table' | 'json'
}

/**
 * Simulates a fixture's days on a simulated clock: events are imported as they would have
 * arrived, the jobs fire at their scheduled times, and each period's revision history is printed.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const db = options.db ?? join(mkdtempSync(join(tmpdir(), 'lateview-demo-')), 'demo.db')
  const viewName = FIXTURE_VIEWS[options.kind].view
  const views = options.views.filter((v) => v.name === viewName)
  if (views.length === 0) throw new Error(`the demo needs the view ${viewName} in the views folder`)
  const view = views[0] as ViewDefinition
  const events = generateFixture(options.kind, { days: options.days, events: options.events, seed: options.seed })
  const first = parseInstant(events[0]?.receivedAt) ?? 0
  const clock = new ManualClock(first)
  const lateview = await Lateview.open({ db, views, clock })
  try {
    if (await hasEvents(lateview.engine.db)) throw new UsageError(`the demo replays history into an empty store, and ${db} holds events; give --db a new file`)
    const program = lateview.view(viewName)
    const firstPeriod = program.bucketer.keyOf(parseInstant(events[0]?.receivedAt) ?? 0)
    const startRange = program.bucketer.rangeOf(firstPeriod)
    const lastOccurred = Math.max(...events.map((e) => parseInstant(e.occurredAt) ?? 0))
    const lastRange = program.bucketer.rangeOf(program.bucketer.keyOf(lastOccurred))
    const lastArrival = parseInstant(events[events.length - 1]?.receivedAt) ?? 0
    const to = Math.max(lastRange ? dueAt(view, lastRange, view.close) : lastArrival, lastArrival) + 2 * 3_600_000
    // With --format json nothing is printed until the one document at the end.
    const say = options.format === 'json' ? (_text: string): void => {} : out
    say(`lateview demo: ${events.length} ${options.kind} events (${options.days} days × ${options.events}), view ${viewName} (${view.timezone})`)
    say(`store: ${db}`)
    say(
      `simulating ${DateTime.fromMillis(startRange?.start ?? first, { zone: view.timezone }).toFormat('yyyy-LL-dd HH:mm')} → ${DateTime.fromMillis(to, { zone: view.timezone }).toFormat('yyyy-LL-dd HH:mm')} local, jobs at their scheduled times…\n`,
    )
    const started = Date.now()
    const { ingested, runs } = await replay(lateview, clock, { events, from: startRange?.start ?? first, to })
    const published = runs.filter((r) => r.outcome === 'published' && r.revision !== null).length
    say(`ingested ${ingested} events; ${runs.length} job runs, ${published} revisions published, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)

    const measures = view.measures.filter((m) => m.kind === 'sum' || m.kind === 'count').map((m) => m.name)
    const periods = await revisedPeriods(lateview.engine.db, viewName)
    const histories: Array<{ period: string; status: string; revisions: unknown[] }> = []
    for (const period of periods) {
      const { status, revisions } = await lateview.revisions(viewName, period)
      histories.push({
        period,
        status,
        revisions: revisions.map((r) => ({
          revision: r.revision,
          kind: r.kind,
          computedAt: r.computedAt,
          eventCount: r.eventCount,
          lateEventCount: r.lateEventCount,
          completeness: r.completeness,
          totals: Object.fromEntries(measures.map((name) => [name, r.totals.measures[name] ?? null])),
        })),
      })
      say(`${viewName} ${period} (${status})`)
      let previous: Measures | null = null
      const rows = revisions.map((r) => {
        const m = r.totals.measures
        const delta = measures.map((name) => {
          if (!previous) return ''
          const decimals = view.measures.find((x) => x.name === name)?.decimals ?? 0
          const d = subScaled(amountScaled(m[name] ?? 0, decimals), amountScaled(previous[name] ?? 0, decimals))
          return isZero(d) ? '0' : `${d > 0 ? '+' : ''}${shown(amount(d, decimals))}`
        })
        previous = m
        return [
          r.revision,
          r.kind,
          DateTime.fromISO(r.computedAt, { zone: view.timezone }).toFormat('LL-dd HH:mm'),
          r.eventCount,
          r.lateEventCount,
          r.completeness === null ? '-' : `${Math.round(r.completeness * 100)}%`,
          ...measures.map((name) => m[name] ?? null),
          ...delta,
        ]
      })
      say(table(['rev', 'kind', 'published', 'events', 'late', 'complete', ...measures, ...measures.map((n) => `Δ ${n}`)], rows))
      say('')
    }
    const realtime = await lateview.verify()
    const revisions = await lateview.verifyRevisions()
    say(`verify: ${realtime.differences.length} differences in ${realtime.cells} realtime cells, ${revisions.differences.length} in ${revisions.revisions} revisions`)
    say(`explore: LATEVIEW_DB=${db} npx lateview report ${viewName} ${periods[0] ?? '<period>'}  ·  npx lateview diff ${viewName} ${periods[0] ?? '<period>'} 1 2`)
    // How good the releases of these days were, as `lateview accuracy` prints it.
    const summary =
      periods.length === 0 ? null : await analysisSummary(lateview, viewName, { from: periods[0] as string, to: periods[periods.length - 1] as string, target: DEFAULT_TARGET, format: options.format })
    if (options.format === 'json') {
      out(
        prettyJson({
          kind: options.kind,
          view: viewName,
          timezone: view.timezone,
          store: db,
          events: events.length,
          ingested,
          jobRuns: runs.length,
          revisionsPublished: published,
          periods: histories,
          verify: {
            cells: realtime.cells,
            differences: realtime.differences,
            revisions: revisions.revisions,
            revisionDifferences: revisions.differences,
          },
          analysis: summary,
        }),
      )
    } else if (summary !== null) {
      out('')
      printAnalysis(summary, 'table', DEFAULT_TARGET)
      out(`\nmore: LATEVIEW_DB=${db} npx lateview accuracy ${viewName} --format json`)
    }
    return realtime.differences.length + revisions.differences.length === 0 ? 0 : 1
  } finally {
    await lateview.close()
  }
}
