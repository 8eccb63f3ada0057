// @ts-check
// Formatting shared by the analyst page: numbers as the view defines them, times in the view's zone.

/** @import { Granularity, MeasureDefinition, MeasureKind } from './types.js' */

const MINUS = '\u2212'

/**
 * The aggregation of a measure definition: sum, count, min, max or avg.
 * @param {MeasureDefinition | undefined} definition
 * @returns {MeasureKind}
 */
export function measureKind(definition) {
  return /** @type {MeasureKind[]} */ (['sum', 'count', 'min', 'max', 'avg']).find((k) => definition && k in definition) ?? 'sum'
}

/**
 * Whether a measure's contributions and changes add up (sum and count do; min, max and avg do not).
 * @param {MeasureDefinition | undefined} definition
 */
export function isAdditive(definition) {
  const kind = measureKind(definition)
  return kind === 'sum' || kind === 'count'
}

/**
 * @param {MeasureDefinition | undefined} definition
 * @returns {{ min: number, max: number }}
 */
function digits(definition) {
  const decimals = definition?.decimals
  if (decimals !== undefined && Number.isInteger(decimals)) return { min: decimals, max: decimals }
  if (measureKind(definition) === 'count') return { min: 0, max: 0 }
  return { min: 0, max: 2 }
}

/**
 * A measure value with thousands separators and the view's decimals; "—" when there is none.
 * @param {number | null | undefined} value
 * @param {MeasureDefinition | undefined} definition
 */
export function formatNumber(value, definition) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—'
  const d = digits(definition)
  const text = Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: d.min, maximumFractionDigits: d.max })
  return value < 0 && Number(text.replace(/,/g, '')) !== 0 ? `${MINUS}${text}` : text
}

/**
 * A change, always signed: +1,234.50, −20.00 or 0.
 * @param {number | null | undefined} value
 * @param {MeasureDefinition | undefined} definition
 */
export function formatDelta(value, definition) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—'
  const text = formatNumber(Math.abs(value), definition)
  if (Number(text.replace(/,/g, '')) === 0) return text
  return value > 0 ? `+${text}` : `${MINUS}${text}`
}

/**
 * Rounds as shown, so sums of shown values compare without floating-point noise.
 * @param {number} value
 * @param {MeasureDefinition | undefined} definition
 */
export function roundAs(value, definition) {
  const d = digits(definition).max
  return Math.round(value * 10 ** d) / 10 ** d
}

/** @param {number | null | undefined} value */
export function formatInt(value) {
  return value === null || value === undefined ? '—' : value.toLocaleString('en-US')
}

/**
 * "38% (3 of 8 sources)", or "38% (3/8)" when `compact`.
 * @param {number | null | undefined} share
 * @param {number} expected
 * @param {{ compact?: boolean }} [options]
 */
export function formatPercent(share, expected, { compact = false } = {}) {
  if (share === null || share === undefined) return '—'
  const percent = `${Math.round(share * 100)}%`
  if (!expected) return percent
  const seen = Math.round(share * expected)
  return compact ? `${percent} (${seen}/${expected})` : `${percent} (${seen} of ${expected} sources)`
}

/** @type {Map<string, Intl.DateTimeFormat>} */
const formatters = new Map()

/**
 * @param {string} timeZone
 * @param {Intl.DateTimeFormatOptions} options
 * @returns {Intl.DateTimeFormat}
 */
function formatter(timeZone, options) {
  const key = `${timeZone}|${JSON.stringify(options)}`
  if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', ...options }))
  return /** @type {Intl.DateTimeFormat} */ (formatters.get(key))
}

/**
 * "Tue 03 Nov, 22:30" in the view's time zone ("03 Nov, 22:30" without the weekday).
 * @param {string | null | undefined} iso
 * @param {string} timeZone
 * @param {{ seconds?: boolean, weekday?: boolean }} [options]
 */
export function formatTime(iso, timeZone, { seconds = false, weekday = true } = {}) {
  if (!iso) return '—'
  return formatter(timeZone, {
    ...(weekday ? { weekday: 'short' } : {}),
    day: '2-digit',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
  }).format(new Date(iso))
}

/**
 * "03 Nov 22:00" or "03 Nov" at midnight: the x-axis labels of the chart.
 * @param {number} ms
 * @param {string} timeZone
 */
export function formatTick(ms, timeZone) {
  const parts = zonedParts(ms, timeZone)
  const day = formatter(timeZone, { day: '2-digit', month: 'short' }).format(new Date(ms))
  return parts.hour === 0 && parts.minute === 0 ? day : `${day} ${String(parts.hour).padStart(2, '0')}:${String(parts.minute).padStart(2, '0')}`
}

/**
 * "12 s", "5 min 3 s", "3 h 12 min", "2 d 4 h": how late an event reached lateview.
 * @param {number | null | undefined} ms
 */
export function formatLag(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—'
  const sign = ms < 0 ? MINUS : ''
  let s = Math.round(Math.abs(ms) / 1000)
  const d = Math.floor(s / 86400)
  s -= d * 86400
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  if (d > 0) return `${sign}${d} d${h ? ` ${h} h` : ''}`
  if (h > 0) return `${sign}${h} h${m ? ` ${m} min` : ''}`
  if (m > 0) return `${sign}${m} min${s ? ` ${s} s` : ''}`
  return `${sign}${s} s`
}

/**
 * Year, month, day, hour, minute, second of an instant in a time zone.
 * @param {number} ms
 * @param {string} timeZone
 */
export function zonedParts(ms, timeZone) {
  /** @type {Record<string, number>} */
  const parts = {}
  for (const p of formatter(timeZone, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour % 24, minute: parts.minute, second: parts.second }
}

/**
 * The offset of a time zone from UTC at an instant, in ms.
 * @param {number} ms
 * @param {string} timeZone
 */
export function zoneOffset(ms, timeZone) {
  const p = zonedParts(ms, timeZone)
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000
}

/**
 * A datetime-local value ("2026-11-03T23:00[:ss]") read in a time zone, as an ISO instant.
 * @param {string | null | undefined} value
 * @param {string} timeZone
 */
export function localInputToIso(value, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value ?? '')
  if (!m) return null
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0))
  let at = wall - zoneOffset(wall, timeZone)
  const again = wall - zoneOffset(at, timeZone)
  if (again !== at) at = again
  return new Date(at).toISOString()
}

/**
 * An ISO instant as a datetime-local value in a time zone.
 * @param {string} iso
 * @param {string} timeZone
 */
export function isoToLocalInput(iso, timeZone) {
  const p = zonedParts(Date.parse(iso), timeZone)
  /** @param {number} n */
  const two = (n) => String(n).padStart(2, '0')
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}:${two(p.second)}`
}

/**
 * "Tue 3 Nov 2026" for a day key; other period keys as they are.
 * @param {string} key
 * @param {Granularity} granularity
 */
export function periodLabel(key, granularity) {
  if (granularity !== 'day') return key
  const [y, m, d] = key.split('-').map(Number)
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }).format(new Date(Date.UTC(y, m - 1, d)))
}

/** @param {string | number | boolean | null | undefined} value */
export function dimLabel(value) {
  return value === null || value === undefined || value === '' ? '(none)' : String(value)
}

/**
 * A share as a percentage with `digits` decimals ("97.3%"); "—" when there is none.
 * @param {number | null | undefined} share
 * @param {number} [digits]
 */
export function formatShare(share, digits = 1) {
  if (share === null || share === undefined || Number.isNaN(share)) return '—'
  const text = Math.abs(share * 100).toFixed(digits)
  return `${share < 0 && Number(text) !== 0 ? MINUS : ''}${text}%`
}

const DURATION = /^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/

/**
 * The parts of an ISO 8601 duration ("-PT2H", "P1D", "PT26H3M4.5S"), or null when it is none.
 * @param {string} iso
 */
function durationParts(iso) {
  const m = DURATION.exec(iso)
  if (!m || iso.endsWith('P') || iso.endsWith('T')) return null
  const [years, months, weeks, days, hours, minutes, seconds] = m.slice(2).map((x) => Number(x ?? 0))
  return { negative: m[1] === '-', years, months, weeks, days, hours, minutes, seconds }
}

/**
 * An ISO 8601 duration of hours, minutes and seconds in ms (as the server writes lags of
 * events); null when it is none or names calendar units.
 * @param {string | null | undefined} iso
 */
export function durationMs(iso) {
  const p = durationParts(iso ?? '')
  if (!p || p.years || p.months || p.weeks || p.days) return null
  const ms = Math.round(((p.hours * 60 + p.minutes) * 60 + p.seconds) * 1000)
  return p.negative ? -ms : ms
}

/**
 * A lag after the end of a period, short: "end", "+3 h", "−2 h", "+1 d 12 h", "+1 mo".
 * @param {string} iso
 */
export function lagLabel(iso) {
  const p = durationParts(iso)
  if (!p) return iso
  const parts = [
    [p.years, 'y'],
    [p.months, 'mo'],
    [p.weeks, 'w'],
    [p.days, 'd'],
    [p.hours, 'h'],
    [p.minutes, 'min'],
    [p.seconds, 's'],
  ]
    .filter(([n]) => n)
    .map(([n, unit]) => `${n} ${unit}`)
  if (parts.length === 0) return 'end'
  return `${p.negative ? MINUS : '+'}${parts.join(' ')}`
}
