/** The results of a run: the table printed at the end and the JSON written to --out. */
import type { AnalysisFigures } from './analysis.js'
import type { ConsumeFigures } from './consume.js'
import type { EngineName, Sizes } from './options.js'
import type { HttpFigures } from './http.js'
import type { IngestFigures } from './ingest.js'
import type { MemoryFigures } from './memory.js'
import type { ProcessesFigures } from './processes.js'
import type { AsOfFigures, ConsolidateFigures, LatestFigures, ReadStore, RebuildFigures, SourcesFigures } from './reads.js'

export interface EngineResults {
  sizes: Sizes
  where: string
  stores: { small?: ReadStore; large?: ReadStore }
  /** Wall time of each phase of the run, setup included. */
  phaseMs: Record<string, number>
  ingest?: IngestFigures
  http?: HttpFigures
  latest?: LatestFigures
  asOf?: AsOfFigures
  rebuild?: RebuildFigures
  consolidate?: ConsolidateFigures
  sources?: SourcesFigures
  memory?: MemoryFigures
  analysis?: AnalysisFigures
  processes?: ProcessesFigures
  consume?: ConsumeFigures
  skipped?: string
}

export interface TableRow {
  figure: string
  engine: EngineName
  value: number
  unit: string
  baseline: number | null
  baselineName: string | null
  ratio: number | null
  target: string | null
  pass: boolean | null
}

export function count(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n % 1e6 === 0 ? 0 : 2)}M`
  if (n >= 1e3) return `${Math.round(n / 1e3)}k`
  return String(n)
}

/** One row per figure, in the order of the issue. */
export function tableRows(engine: EngineName, r: EngineResults): TableRow[] {
  const rows: TableRow[] = []
  const add = (row: Omit<TableRow, 'engine'>) => rows.push({ engine, ...row })
  if (r.ingest) {
    for (const [key, label] of [
      ['timeIds', 'time-ordered ids'],
      ['uuidIds', 'UUIDv4 ids'],
    ] as const) {
      const v = r.ingest[key]
      add({
        figure: `library ingest, ${label}, ${count(key === 'timeIds' ? r.ingest.events : r.ingest.uuidEvents)} events`,
        value: v.library.eventsPerSec,
        unit: 'events/s',
        baseline: v.raw.eventsPerSec,
        baselineName: engine === 'postgres' ? 'unnest insert per 1,000' : 'raw prepared inserts',
        ratio: v.ratio.ratio,
        target: v.ratio.target === null ? null : `ratio ≥ ${v.ratio.target.toFixed(2)}`,
        pass: v.ratio.pass,
      })
      if (v.rawCopy) {
        add({
          figure: `COPY FROM STDIN of the same rows, ${label} (informative)`,
          value: v.rawCopy.eventsPerSec,
          unit: 'events/s',
          baseline: null,
          baselineName: null,
          ratio: null,
          target: null,
          pass: null,
        })
      }
    }
  }
  if (r.http) {
    add({
      figure: `HTTP ingest, 2 connections, ${count(r.http.events)} events`,
      value: r.http.library.eventsPerSec,
      unit: 'events/s',
      baseline: r.http.bare.eventsPerSec,
      baselineName: engine === 'postgres' ? 'bare fastify route, unnest insert' : 'bare fastify route',
      ratio: r.http.ratio.ratio,
      target: r.http.ratio.target === null ? null : `ratio ≥ ${r.http.ratio.target.toFixed(2)}`,
      pass: r.http.ratio.pass,
    })
  }
  if (r.latest) {
    const l = r.latest
    for (const [key, pass] of [
      ['small', l.passSmall],
      ['large', l.passLarge],
    ] as const) {
      const s = l[key]
      add({
        figure: `latest report HTTP p50, ${count(s.events)} events`,
        value: s.p50Ms,
        unit: 'ms',
        baseline: l.floor.p50Ms,
        baselineName: 'floor: cached report, bare fastify',
        ratio: null,
        target: null,
        pass: null,
      })
      add({
        figure: `latest report HTTP p99, ${count(s.events)} events`,
        value: s.p99Ms,
        unit: 'ms',
        baseline: l.floor.p99Ms,
        baselineName: 'floor: cached report, bare fastify',
        ratio: null,
        target: l.targetP99Ms === null ? null : `≤ ${l.targetP99Ms} ms`,
        pass,
      })
    }
    add({
      figure: `latest report p99 at ${count(l.large.events)} / at ${count(l.small.events)}`,
      value: l.scaling.value,
      unit: 'ms',
      baseline: l.scaling.baseline,
      baselineName: `p99 at ${count(l.small.events)}`,
      ratio: l.scaling.ratio,
      target: l.scaling.target === null ? null : `ratio ≤ ${l.scaling.target}`,
      pass: l.scaling.pass,
    })
  }
  if (r.asOf) {
    add({
      figure: `as-of report of one day (${count(r.asOf.eventCount)} events)`,
      value: r.asOf.library.ms,
      unit: 'ms',
      baseline: r.asOf.naive.ms,
      baselineName: 'naive indexed GROUP BY',
      ratio: r.asOf.ratio.ratio,
      target: r.asOf.ratio.target === null ? null : `ratio ≤ ${r.asOf.ratio.target}`,
      pass: r.asOf.ratio.pass,
    })
  }
  if (r.rebuild) {
    const b = r.rebuild
    add({
      figure: `full rebuild, ${count(b.events)} events`,
      value: b.eventsPerSec,
      unit: 'events/s',
      baseline: null,
      baselineName: null,
      ratio: null,
      target: b.target === null ? null : `≥ ${b.target}`,
      pass: b.pass,
    })
    add({
      figure: `full rebuild peak RSS, ${count(b.events)} events`,
      value: b.peakRssMb,
      unit: 'MB',
      baseline: null,
      baselineName: null,
      ratio: null,
      target: b.rssTargetMb === null ? null : `≤ ${b.rssTargetMb} MB`,
      pass: b.rssPass,
    })
  }
  if (r.consolidate) {
    const c = r.consolidate
    add({
      figure: `consolidate one day (${count(c.eventCount)} events), median of ${c.days}`,
      value: c.medianMs,
      unit: 'ms',
      baseline: null,
      baselineName: null,
      ratio: null,
      target: c.target === null ? null : `≤ ${c.target} ms`,
      pass: c.pass,
    })
  }
  if (r.memory) {
    const m = r.memory
    for (const s of m.scenarios) {
      const what = `${s.requests === 1 ? 'one batch' : `${s.requests} batches at once`} of ${count(s.eventsPerRequest)} events (${s.bodyMb} MiB each)`
      add({
        figure: `server peak RSS, ${what}${s.accepted ? '' : ', NOT all accepted'}`,
        value: s.peakRssMb,
        unit: 'MB',
        baseline: m.idleRssMb,
        baselineName: 'the server idle',
        ratio: null,
        target: `≤ ${m.boundMb} MB`,
        pass: s.accepted && s.peakRssMb <= m.boundMb,
      })
    }
  }
  if (r.sources) {
    const s = r.sources
    for (const w of [s.week, s.all]) {
      const idle = { baseline: s.idleTimerDelayMs, baselineName: 'the same timer, server idle', ratio: null, target: null, pass: null }
      add({
        figure: `/v1/sources at ${count(s.events)} events, window ${w.window} (${count(w.events)} in it), median of ${w.requests}`,
        value: w.medianMs,
        unit: 'ms',
        baseline: null,
        baselineName: null,
        ratio: null,
        target: null,
        pass: null,
      })
      add({ figure: `/v1/sources at ${count(s.events)} events, window ${w.window}: longest 1 ms timer delay`, value: w.maxTimerDelayMs, unit: 'ms', ...idle })
    }
    add({
      figure: `/v1/sources sketch built by migration 0008 from ${count(s.events)} events`,
      value: s.sketchBuildMs,
      unit: 'ms',
      baseline: null,
      baselineName: null,
      ratio: null,
      target: null,
      pass: null,
    })
  }
  if (r.consume) {
    const c = r.consume
    add({
      figure: `NATS JetStream consume, batches of 1,000, ${count(c.events)} events`,
      value: c.consume.eventsPerSec,
      unit: 'events/s',
      baseline: c.library.eventsPerSec,
      baselineName: 'library ingest of the same events',
      ratio: c.ratio.ratio,
      target: c.ratio.target === null ? null : `ratio ≥ ${c.ratio.target.toFixed(2)}`,
      pass: c.ratio.pass,
    })
  }
  if (r.analysis) {
    const a = r.analysis
    const baseline = { baseline: a.rebuildMs, baselineName: 'one full rebuild scan of the same events', target: null, pass: null }
    add({ figure: `vintages at 8 lags of ${a.days} days (${count(a.events)} events)`, value: a.vintagesMs, unit: 'ms', ratio: a.vintages.ratio, ...baseline })
    add({ figure: `accuracy by release of ${a.days} days (${count(a.revisions)} releases)`, value: a.accuracyMs, unit: 'ms', ratio: a.accuracy.ratio, ...baseline })
  }
  return rows
}

function num(n: number | null, unit?: string): string {
  if (n === null || !Number.isFinite(n)) return n === null ? '' : String(n)
  const digits = unit === 'ms' ? (n < 10 ? 2 : n < 100 ? 1 : 0) : n < 10 ? 2 : 0
  return `${n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}${unit === 'ms' ? ' ms' : unit === 'MB' ? ' MB' : ''}`
}

export function formatTable(rows: TableRow[]): string {
  const header = ['figure', 'engine', 'lateview', 'baseline', 'ratio', 'target', 'result']
  const cells = rows.map((r) => [
    r.figure + (r.unit === 'events/s' ? ' (events/s)' : ''),
    r.engine,
    num(r.value, r.unit),
    r.baseline === null ? '' : `${num(r.baseline, r.unit)} (${r.baselineName})`,
    r.ratio === null ? '' : r.ratio.toFixed(2),
    r.target ?? '',
    r.pass === null ? '-' : r.pass ? 'pass' : 'FAIL',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)))
  const line = (c: string[]) => `| ${c.map((v, i) => (i >= 2 && i <= 4 ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number))).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n')
}
