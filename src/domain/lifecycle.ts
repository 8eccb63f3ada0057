import { createHash } from 'node:crypto'
import { DateTime } from 'luxon'
import { applyContribution, emptyCell, sameCell, type CellState, type Contribution, type ViewProgram } from './aggregate.js'
import type { PeriodRange } from './time.js'
import type { ScheduleAt, ViewDefinition } from './view.js'

export type RevisionKind = 'flash' | 'consolidated' | 'revision' | 'restatement' | 'manual' | 'final'
export const REVISION_KINDS: readonly RevisionKind[] = ['flash', 'consolidated', 'revision', 'restatement', 'manual', 'final']

export type Trigger = 'cron' | 'catch-up' | 'late-arrival' | 'manual' | 'restatement'

export type PeriodStatus = 'open' | 'provisional' | 'final'

/**
 * When a scheduled step of a period falls due: `afterDays` local calendar days after the
 * period's last day, at the local time `at`. For a day period that is D+N; for a week or month,
 * N days after its last day; for an hour, N days after the hour's date.
 */
export function dueAt(view: ViewDefinition, range: PeriodRange, schedule: ScheduleAt): number {
  const lastDay = DateTime.fromMillis(range.end - 1, { zone: view.timezone }).startOf('day')
  const [hour, minute] = schedule.at.split(':').map(Number) as [number, number]
  return lastDay.plus({ days: schedule.afterDays }).set({ hour, minute, second: 0, millisecond: 0 }).toMillis()
}

/** The figures of one report: cells by dims key plus the facts a revision records. */
export interface Report {
  cells: Map<string, CellState>
  eventCount: number
  lateEventCount: number
  completeness: number | null
}

/** The row of totals over all cells: sums add, min/max take the extreme, avg is recomputed. */
export function totalsOf(program: ViewProgram, cells: Iterable<CellState>): { measures: Record<string, number | null>; eventCount: number } {
  const total = emptyCell(program.ops.length)
  for (const cell of cells) {
    const c: Contribution = { period: '', dimsKey: '', eventCount: cell.eventCount, slots: cell.slots }
    applyContribution(total, c, program.ops, 1)
  }
  return { measures: program.measuresOf(total), eventCount: total.eventCount }
}

/** A content hash of a report's cells: equal figures, equal hash. */
export function cellsHash(cells: Map<string, CellState>): string {
  const hash = createHash('sha256')
  for (const key of [...cells.keys()].sort()) {
    const c = cells.get(key) as CellState
    hash.update(`${key}\u0000${c.eventCount}\u0000${c.slots.map((v) => (v === null ? '' : String(v))).join(',')}\n`)
  }
  return hash.digest('hex')
}

export interface CellChange {
  dimsKey: string
  before: CellState | null
  after: CellState | null
}

/** The cells that differ between two reports, ordered by dims key. */
export function changedCells(before: Map<string, CellState>, after: Map<string, CellState>): CellChange[] {
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort()
  const changes: CellChange[] = []
  for (const dimsKey of keys) {
    const b = before.get(dimsKey) ?? null
    const a = after.get(dimsKey) ?? null
    if (b && a && sameCell(a, b)) continue
    changes.push({ dimsKey, before: b, after: a })
  }
  return changes
}

/**
 * `after - before` per measure. Sums and counts are differenced on the exact integer state;
 * min, max and avg give the difference of the shown values (null when one side has none).
 */
export function deltaOf(program: ViewProgram, before: CellState | null, after: CellState | null): Record<string, number | null> {
  const n = program.ops.length
  const b = before ?? emptyCell(n)
  const a = after ?? emptyCell(n)
  const diff = emptyCell(n)
  diff.eventCount = a.eventCount - b.eventCount
  program.ops.forEach((op, i) => {
    diff.slots[i] = op === 'add' ? (a.slots[i] ?? 0) - (b.slots[i] ?? 0) : null
  })
  const exact = program.measuresOf(diff)
  const shownA = program.measuresOf(a)
  const shownB = program.measuresOf(b)
  const delta: Record<string, number | null> = {}
  for (const m of program.view.measures) {
    if (m.kind === 'sum' || m.kind === 'count') delta[m.name] = exact[m.name] ?? 0
    else {
      const x = shownA[m.name] ?? null
      const y = shownB[m.name] ?? null
      delta[m.name] = x === y ? 0 : x === null || y === null ? null : roundTo(x - y, m.decimals)
    }
  }
  return delta
}

/** Rounds a difference of two scaled values to their decimals, removing binary noise. */
export function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals
  return Math.round(value * f) / f
}

/** `HH:MM` → the cron expression of that time every day. */
export function dailyAt(at: string): string {
  const [hour, minute] = at.split(':').map(Number)
  return `${minute} ${hour} * * *`
}

/** The cron expression of each job of a view, in the view's time zone. */
export function viewSchedule(program: ViewProgram): Partial<Record<'flash' | 'consolidate' | 'rebuild' | 'close' | 'sla-watch', string>> {
  const v = program.view
  return {
    flash: dailyAt(v.flash.at),
    consolidate: dailyAt(v.consolidate.at),
    rebuild: v.rebuild.every,
    close: dailyAt(v.close.at),
    // Missing sources are looked for every five minutes, where the view expects any.
    ...(v.expectedSources ? { 'sla-watch': SLA_WATCH_EVERY } : {}),
  }
}

export const SLA_WATCH_EVERY = '*/5 * * * *'
