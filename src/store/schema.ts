/** The events table: append-only; nothing in it is ever updated or deleted. */
export interface EventsTable {
  seq: number
  source: string
  id: string
  type: string
  occurred_at: number
  received_at: number
  /** JSON text of `event.data`. */
  data: string
  retracts: string | null
  /** For a retraction: the seq of the voided event. */
  target_seq: number | null
  /** The type and occurrence time the event counts under: its own, or its target's for a retraction. */
  eff_type: string
  eff_occurred_at: number
}

/** Realtime cells: one row per (view, period, dims), maintained inside the ingest transaction. */
export interface CellsTable {
  view: string
  period: string
  dims_key: string
  event_count: number
  m0: number | null
  m1: number | null
  m2: number | null
  m3: number | null
  m4: number | null
  m5: number | null
  m6: number | null
  m7: number | null
  m8: number | null
  m9: number | null
  m10: number | null
  m11: number | null
  m12: number | null
  m13: number | null
  m14: number | null
  m15: number | null
}

/** The definition each view's stored cells were computed under. */
export interface ViewStateTable {
  view: string
  version: number
  definition: string
  updated_at: number
}

export interface Schema {
  events: EventsTable
  cells: CellsTable
  view_state: ViewStateTable
}

export type SlotColumn = `m${number}` & keyof CellsTable

export const SLOT_COLUMNS = Array.from({ length: 16 }, (_, i) => `m${i}` as SlotColumn)

