import { SlaPolicy } from './alerts.js'
import { addScaled, amount, divRound, scaledText, subScaled, toScaled, type Decimal, type Scaled } from './decimal.js'
import { LateviewError } from '../errors.js'
import { Bucketer } from './time.js'
import type { MeasureDefinition, ViewDefinition } from './view.js'

/** How a slot of cell state combines: added, or kept as the smallest or largest value. */
export type SlotOp = 'add' | 'min' | 'max'

export type DimValue = string | number | boolean | null

/** The mutable state of one cell: event count and one exact integer per slot (null: no value yet). */
export interface CellState {
  eventCount: number
  slots: Array<Scaled | null>
}

/** A measure as a reader sees it: a number, or a Decimal when no JS number shows it exactly. */
export type Amount = number | Decimal

/** One event's effect on one cell of one view. */
export interface Contribution {
  period: string
  dimsKey: string
  eventCount: number
  slots: Array<Scaled | null>
}

/** The stored fields an event contributes from. */
export interface EventFacts {
  type: string
  occurredAt: number
  data: Record<string, unknown>
}

/** A value a dimension may take (a missing one counts as null). */
function isDimValue(v: unknown): boolean {
  return v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
}

/** Dimension-value combinations `ViewProgram.dimsKey` remembers before it starts over. */
export const DIMS_KEYS_KEPT = 100_000

/**
 * A view compiled for the hot path: slot layout, bucketing and value extraction.
 * Measures are kept as integers scaled by 10^decimals (a value rounded half away from zero from
 * its decimal form), so that additions and the subtractions of retractions are exact, whatever
 * order they happen in and however large the sums grow.
 */
export class ViewProgram {
  readonly ops: SlotOp[] = []
  readonly #slotOf: number[] = []
  readonly #types: Set<string>
  readonly bucketer: Bucketer
  readonly sla: SlaPolicy
  /** `dimsKey`'s memory: dimension values, level by level, to the key text. */
  readonly #keys = new Map<unknown, unknown>()
  #keyCount = 0

  constructor(readonly view: ViewDefinition) {
    this.#types = new Set(view.eventTypes)
    this.bucketer = new Bucketer(view.timezone, view.granularity)
    this.sla = new SlaPolicy(view)
    for (const m of view.measures) {
      this.#slotOf.push(this.ops.length)
      if (m.kind === 'min' || m.kind === 'max') this.ops.push(m.kind)
      else if (m.kind === 'avg') this.ops.push('add', 'add')
      else this.ops.push('add')
    }
  }

  get name(): string {
    return this.view.name
  }

  /**
   * A value as an integer scaled to the measure's decimals. Ingest refuses a value too large for
   * its view; one stored under a definition with fewer decimals can still be too large for this
   * one, and is refused here rather than counted as anything else.
   */
  #scaled(raw: number, m: MeasureDefinition): number {
    const scaled = toScaled(raw, m.decimals)
    if (scaled === null) {
      throw new LateviewError('LV_ERR_MEASURE_OVERFLOW', `a stored value ${raw} is too large for measure ${m.name} of view ${this.name} at ${m.decimals} decimals (version ${this.view.version})`, {
        view: this.name,
        measure: m.name,
      })
    }
    return scaled
  }

  /** The measure a slot of cell state belongs to (an avg has two). */
  measureOfSlot(slot: number): MeasureDefinition {
    let i = this.#slotOf.length - 1
    while (i > 0 && (this.#slotOf[i] as number) > slot) i--
    return this.view.measures[i] as MeasureDefinition
  }

  get hasMinMax(): boolean {
    return this.ops.some((op) => op !== 'add')
  }

  selects(type: string): boolean {
    return this.#types.has(type)
  }

  /** Why this event cannot feed the view (a bad dimension or measure value), or null. */
  problemWith(data: Record<string, unknown>): { field: string; message: string } | null {
    for (const dim of this.view.dimensions) {
      const v = data[dim]
      if (!isDimValue(v)) {
        return { field: `data.${dim}`, message: `dimension ${dim} of view ${this.name} must be a string, number, boolean or null` }
      }
    }
    for (let i = 0; i < this.view.measures.length; i++) {
      const m = this.view.measures[i] as MeasureDefinition
      if (m.field === null) continue
      const v = data[m.field]
      if (v === undefined || v === null) continue
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        return { field: `data.${m.field}`, message: `measure ${m.name} of view ${this.name} needs a finite number` }
      }
      if (toScaled(v, m.decimals) === null) {
        const largest = scaledText(Number.MAX_SAFE_INTEGER, m.decimals)
        return { field: `data.${m.field}`, message: `value is too large for measure ${m.name} of view ${this.name}: at ${m.decimals} decimals a value is at most ${largest}` }
      }
    }
    return null
  }

  /**
   * The JSON array of the event's dimension values (missing: null). Remembered by the values
   * themselves, in nested maps: ingest and scans meet the same few combinations over and over,
   * and a lookup costs a fraction of building the text. Only primitive values are looked up (a
   * Map tells "1" from 1, and undefined and null give the same text anyway); anything else is
   * built each time. The memory is bounded: past `DIMS_KEYS_KEPT` combinations it starts over.
   */
  dimsKey(data: Record<string, unknown>): string {
    const dims = this.view.dimensions
    const last = dims.length - 1
    if (last < 0) return '[]'
    let node = this.#keys
    for (let i = 0; i < last; i++) {
      const v = data[dims[i] as string]
      if (!isDimValue(v)) return this.buildDimsKey(data)
      let next = node.get(v) as Map<unknown, unknown> | undefined
      if (next === undefined) node.set(v, (next = new Map()))
      node = next
    }
    const v = data[dims[last] as string]
    if (!isDimValue(v)) return this.buildDimsKey(data)
    let key = node.get(v) as string | undefined
    if (key === undefined) {
      key = this.buildDimsKey(data)
      if (++this.#keyCount > DIMS_KEYS_KEPT) {
        this.#keys.clear()
        this.#keyCount = 0
      } else node.set(v, key)
    }
    return key
  }

  /** `dimsKey` built from the values, without an intermediate array. */
  buildDimsKey(data: Record<string, unknown>): string {
    const dims = this.view.dimensions
    let key = '['
    for (let i = 0; i < dims.length; i++) {
      const v = data[dims[i] as string]
      if (i > 0) key += ','
      key += v === undefined ? 'null' : JSON.stringify(v)
    }
    return key + ']'
  }

  dimsOf(dimsKey: string): Record<string, DimValue> {
    const values = JSON.parse(dimsKey) as DimValue[]
    const dims: Record<string, DimValue> = {}
    this.view.dimensions.forEach((d, i) => {
      dims[d] = values[i] ?? null
    })
    return dims
  }

  /** The contribution of an event (already known to be selected and valid); negate for a retraction. */
  contribution(event: EventFacts): Contribution {
    const sign = this.view.sign[event.type] ?? 1
    const slots: Array<number | null> = new Array(this.ops.length).fill(null)
    const measures = this.view.measures
    for (let i = 0; i < measures.length; i++) {
      const m = measures[i] as MeasureDefinition
      const slot = this.#slotOf[i] as number
      if (m.kind === 'count') {
        slots[slot] = sign
        continue
      }
      const raw = event.data[m.field as string]
      const scaled = typeof raw === 'number' ? sign * this.#scaled(raw, m) : null
      if (m.kind === 'avg') {
        slots[slot] = scaled ?? 0
        slots[slot + 1] = scaled === null ? 0 : 1
      } else if (m.kind === 'sum') slots[slot] = scaled ?? 0
      else slots[slot] = scaled
    }
    return { period: this.bucketer.keyOf(event.occurredAt), dimsKey: this.dimsKey(event.data), eventCount: 1, slots }
  }

  /**
   * Adds an event's contribution (its type's sign applied) straight into a cell state: the same
   * arithmetic as `contribution` + `applyContribution`, without the intermediate arrays. With
   * `direction` -1 it takes back the contribution of an event a retraction voids: sums and counts
   * subtract, a min or max is left as it is (arithmetic cannot undo it). Prefer `foldEvent`.
   */
  addTo(state: CellState, type: string, data: Record<string, unknown>, direction: 1 | -1 = 1): void {
    const sign = direction * (this.view.sign[type] ?? 1)
    const measures = this.view.measures
    const slots = state.slots
    state.eventCount += direction
    for (let i = 0; i < measures.length; i++) {
      const m = measures[i] as MeasureDefinition
      const slot = this.#slotOf[i] as number
      if (m.kind === 'count') {
        slots[slot] = addScaled(slots[slot] ?? 0, sign)
        continue
      }
      const raw = data[m.field as string]
      const scaled = typeof raw === 'number' ? sign * this.#scaled(raw, m) : null
      if (m.kind === 'sum') {
        if (scaled !== null) slots[slot] = addScaled(slots[slot] ?? 0, scaled)
        else slots[slot] ??= 0
      } else if (m.kind === 'avg') {
        if (scaled !== null) {
          slots[slot] = addScaled(slots[slot] ?? 0, scaled)
          slots[slot + 1] = addScaled(slots[slot + 1] ?? 0, direction)
        } else {
          slots[slot] ??= 0
          slots[slot + 1] ??= 0
        }
      } else if (scaled !== null && direction === 1) {
        const cur = slots[slot] ?? null
        if (cur === null || (m.kind === 'min' ? scaled < cur : scaled > cur)) slots[slot] = scaled
      }
    }
  }

  /**
   * The value a reader sees of measure `i`, as an integer scaled by 10^decimals: a sum or count
   * (0 without events), a min or max (null without a value), an avg rounded half away from zero
   * to the measure's decimals (null without a value).
   */
  shownScaled(state: CellState, i: number): Scaled | null {
    const m = this.view.measures[i] as MeasureDefinition
    const slot = this.#slotOf[i] as number
    const v = state.slots[slot] ?? null
    switch (m.kind) {
      case 'count':
      case 'sum':
        return v ?? 0
      case 'min':
      case 'max':
        return v
      case 'avg': {
        const n = state.slots[slot + 1] ?? 0
        return n === 0 ? null : divRound(v ?? 0, n)
      }
    }
  }

  /** The measures a reader sees, from a cell's integer state: exact decimals. */
  measuresOf(state: CellState): Record<string, Amount | null> {
    const out: Record<string, Amount | null> = {}
    const measures = this.view.measures
    for (let i = 0; i < measures.length; i++) {
      const m = measures[i] as MeasureDefinition
      const v = this.shownScaled(state, i)
      out[m.name] = v === null ? null : m.kind === 'count' ? (v as number) : amount(v, m.decimals)
    }
    return out
  }
}

/** Adds a contribution to a cell state in place (retractions pass `direction` -1; min/max ignore them). */
export function applyContribution(state: CellState, c: Contribution, ops: SlotOp[], direction: 1 | -1 = 1): void {
  state.eventCount += direction * c.eventCount
  for (let i = 0; i < ops.length; i++) {
    const v = c.slots[i] ?? null
    const op = ops[i]
    if (op === 'add') {
      const cur = state.slots[i] ?? 0
      state.slots[i] = v === null ? cur : direction === 1 ? addScaled(cur, v) : subScaled(cur, v)
    } else if (direction === 1 && v !== null) {
      const cur = state.slots[i] ?? null
      if (cur === null || (op === 'min' ? v < cur : v > cur)) state.slots[i] = v
    }
  }
}

export function emptyCell(slotCount: number): CellState {
  return { eventCount: 0, slots: new Array(slotCount).fill(null) }
}

/** `view|period|dimsKey`: the identity of a cell in maps. */
export function cellId(period: string, dimsKey: string): string {
  return `${period}\u0000${dimsKey}`
}

export function splitCellId(id: string): { period: string; dimsKey: string } {
  const at = id.indexOf('\u0000')
  return { period: id.slice(0, at), dimsKey: id.slice(at + 1) }
}

/**
 * The one aggregation step, which every reader uses (aggregate, reports as of a cutoff, the
 * recomputation of cells and revisions, ingest's deltas): folds an event of `program`'s view
 * (selected and valid; its type's sign applied) into the cell `key` of `cells`, created empty
 * when missing, and returns that cell. `key` is whatever identifies a cell in the map: a
 * `cellId`, or a dims key in a map of one period. `direction` -1 takes back the contribution of
 * an event a retraction voids (sums and counts subtract; min and max are left as they are).
 */
export function foldEvent(program: ViewProgram, cells: Map<string, CellState>, key: string, type: string, data: Record<string, unknown>, direction: 1 | -1 = 1): CellState {
  let state = cells.get(key)
  if (state === undefined) cells.set(key, (state = emptyCell(program.ops.length)))
  program.addTo(state, type, data, direction)
  return state
}

/**
 * Aggregates events from scratch: the one definition (DESIGN.md) for a given set of
 * non-retracted events. Returns cells keyed by `cellId`.
 */
export function aggregate(program: ViewProgram, events: Iterable<EventFacts>): Map<string, CellState> {
  const cells = new Map<string, CellState>()
  for (const e of events) {
    if (!program.selects(e.type)) continue
    foldEvent(program, cells, cellId(program.bucketer.keyOf(e.occurredAt), program.dimsKey(e.data)), e.type, e.data)
  }
  return cells
}

/** True when two cell states hold the same figures. */
export function sameCell(a: CellState, b: CellState): boolean {
  if (a.eventCount !== b.eventCount || a.slots.length !== b.slots.length) return false
  return a.slots.every((v, i) => (v ?? null) === (b.slots[i] ?? null))
}
