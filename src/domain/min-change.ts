import type { Amount } from './aggregate.js'
import { amount, numeral, parseNumeral } from './decimal.js'
import { deltaScaled, rescale, totalCell, type Figures } from './lifecycle.js'

/**
 * `rebuild.minChange`: how far a measure's total must move before the rebuilder publishes a late
 * `revision`. Trickling uploads would otherwise publish a revision every rebuild (up to 23 of one
 * day), drowning the few that matter. Only the rebuilder's late revisions are held back: flash,
 * consolidation, close, restatements after close and republication under a new definition
 * publish whatever moved.
 */
export interface MinChange {
  /** |Δ| must exceed this share of |the previous total| (0.001 is 0.1 %). */
  relative?: number
  /** |Δ| must exceed this amount, in the measure's own units. */
  absolute?: number
}

/** One measure's total, now against the latest revision, and whether it moved past the threshold. */
export interface MeasureMove {
  measure: string
  /** Total now − total in the latest revision, exact; null when one side has no value or the revision lacks the measure. */
  delta: Amount | null
  /** What |delta| must exceed (the larger of the bounds given), exact; null when the rule does not apply. */
  threshold: Amount | null
  moved: boolean
}

/** A finite non-negative number as the exact fraction its decimal form denotes: num / 10^scale. */
function fraction(n: number): { num: bigint; scale: number } {
  const text = numeral(n)
  const dot = text.indexOf('.')
  return dot < 0 ? { num: BigInt(text), scale: 0 } : { num: BigInt(text.slice(0, dot) + text.slice(dot + 1)), scale: text.length - dot - 1 }
}

/** num / 10^scale as a reader sees it: a number when one is exact, else a Decimal. */
function shownFraction(num: bigint, scale: number): Amount {
  const digits = num.toString().padStart(scale + 1, '0')
  return parseNumeral(scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`)
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x)

/**
 * Each measure of `after`'s definition, its total over all rows compared with `before`'s (the
 * latest revision's) by name. A measure moved when |Δ| > absolute (when given) and |Δ| > relative
 * × |previous total| (when given), all in exact decimals. Totals that are not sums (min, max, avg)
 * follow the same rule. A measure the revision does not have, or whose total gains or loses a
 * value (null on one side), always moved; one without a value on either side did not. The number
 * of events is not a measure: it moving alone moves nothing.
 */
export function measureMoves(minChange: MinChange, before: Figures, after: Figures): MeasureMove[] {
  const a = totalCell(before.program, before.cells.values())
  const b = totalCell(after.program, after.cells.values())
  const deltas = new Map(deltaScaled({ program: before.program, cell: a }, { program: after.program, cell: b }).map((d) => [d.name, d]))
  const absolute = minChange.absolute === undefined ? null : fraction(minChange.absolute)
  const relative = minChange.relative === undefined ? null : fraction(minChange.relative)
  return after.program.view.measures.map((m) => {
    const d = deltas.get(m.name)
    if (d === undefined || d.value === null) return { measure: m.name, delta: null, threshold: null, moved: true }
    const i = before.program.view.measures.findIndex((x) => x.name === m.name)
    const old = before.program.view.measures[i]
    const previous = before.program.shownScaled(a, i)
    if (previous === null || old === undefined) return { measure: m.name, delta: amount(d.value, d.decimals), threshold: null, moved: false }
    // Everything at one scale S, as integers: Δ and the bounds times 10^S.
    const y = abs(BigInt(rescale(previous, old.decimals, d.decimals)))
    const scale = Math.max(absolute?.scale ?? 0, (relative?.scale ?? 0) + d.decimals)
    let bound = 0n
    if (absolute) bound = absolute.num * 10n ** BigInt(scale - absolute.scale)
    if (relative) {
      const r = relative.num * y * 10n ** BigInt(scale - relative.scale - d.decimals)
      if (r > bound) bound = r
    }
    const change = abs(BigInt(d.value)) * 10n ** BigInt(scale - d.decimals)
    return { measure: m.name, delta: amount(d.value, d.decimals), threshold: shownFraction(bound, scale), moved: change > 0n && change > bound }
  })
}

/** Why a rebuild published nothing: every measure's move against the revision it was compared with. */
export function belowMinChange(moves: MeasureMove[], revision: number): string {
  const shown = (x: Amount) => {
    const text = typeof x === 'number' ? numeral(x) : x.text
    return text.startsWith('-') || text === '0' ? text : `+${text}`
  }
  const parts = moves.map(
    (m) => `${m.measure} ${m.delta === null ? 'null' : shown(m.delta)}${m.threshold === null ? '' : ` (threshold ${typeof m.threshold === 'number' ? numeral(m.threshold) : m.threshold.text})`}`,
  )
  return `below rebuild.minChange against revision ${revision}: ${parts.join(', ')}; the period stays dirty`
}
