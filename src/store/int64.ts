import type { CellState, ViewProgram } from '../domain/aggregate.js'
import { fitsInt64, INT64_MAX, scaledText } from '../domain/decimal.js'
import { LateviewError } from '../errors.js'

/**
 * The error for a figure an int64 column (SQLite integer, PostgreSQL bigint) cannot hold: the
 * range every stored measure state lives in, on both engines. Refused, never stored wrong.
 */
export function overflowError(program: ViewProgram, slot: number, period: string, dimsKey: string): LateviewError {
  const measure = program.measureOfSlot(slot)
  const limit = scaledText(INT64_MAX, measure.decimals)
  return new LateviewError(
    'LV_ERR_MEASURE_OVERFLOW',
    `measure ${measure.name} of view ${program.name} would leave the range lateview keeps exactly (±${limit} at ${measure.decimals} decimals) in period ${period}, cell ${dimsKey}; nothing was written`,
    { view: program.name, measure: measure.name, period, dims: program.dimsOf(dimsKey) },
  )
}

/** Throws LV_ERR_MEASURE_OVERFLOW when a slot of the cell does not fit an int64 column. */
export function assertStorable(program: ViewProgram, period: string, dimsKey: string, cell: CellState): void {
  for (let i = 0; i < cell.slots.length; i++) {
    const v = cell.slots[i]
    if (typeof v === 'bigint' && !fitsInt64(v)) throw overflowError(program, i, period, dimsKey)
  }
}
