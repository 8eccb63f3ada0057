// @ts-check
// The revision timeline: a step line of a measure's total over knowledge time, drawn as inline SVG.

import { formatTick, zoneOffset } from './format.js'

const NS = 'http://www.w3.org/2000/svg'

export const KINDS = [
  { id: 'flash', color: '#c0510c', help: 'the quick report on the day' },
  { id: 'consolidated', color: '#1f63a8', help: 'the nightly consolidation, the day after' },
  { id: 'revision', color: '#5f6b78', help: 'republished because late events changed the figures' },
  { id: 'final', color: '#19723a', help: 'the period was closed' },
  { id: 'restatement', color: '#a3261b', help: 'a late event arrived after the period was closed' },
  { id: 'manual', color: '#6c3483', help: 'requested by an operator' },
]

/** @param {string | undefined} kind */
export function kindColor(kind) {
  return KINDS.find((k) => k.id === kind)?.color ?? '#333'
}

/**
 * An SVG element with attributes; null and undefined leave one out.
 * @param {string} name
 * @param {Record<string, string | number | null | undefined>} [attrs]
 * @param {string} [text]
 */
function el(name, attrs = {}, text) {
  const e = document.createElementNS(NS, name)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}

/** @param {number} raw */
function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw))
  const f = raw / power
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * power
}

/**
 * @param {number} min
 * @param {number} max
 * @param {number} count
 */
function valueTicks(min, max, count) {
  const step = niceStep((max - min) / Math.max(1, count - 1))
  const ticks = []
  for (let v = Math.floor(min / step) * step; v <= max + step / 2; v += step) ticks.push(Math.round(v / step) * step)
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step)
  return ticks
}

const STEPS = [15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * 60_000)

/**
 * @param {number} x0
 * @param {number} x1
 * @param {string} timeZone
 * @param {number} most
 */
function timeTicks(x0, x1, timeZone, most) {
  const step = STEPS.find((s) => (x1 - x0) / s <= most) ?? STEPS[STEPS.length - 1]
  const ticks = []
  const offset = zoneOffset(x0, timeZone)
  for (let t = Math.ceil((x0 + offset) / step) * step - offset; t <= x1; t += step) ticks.push(t)
  return ticks
}

/**
 * A published revision on the chart; its y is null or undefined when the measure has no total.
 * @typedef {object} ChartPoint
 * @property {number} x when it was published, in ms
 * @property {number | null | undefined} y
 * @property {string} kind
 * @property {string} revision
 * @property {boolean} [highlight]
 * @property {string} title
 */

/**
 * @typedef {object} StepChartOptions
 * @property {ChartPoint[]} points oldest first
 * @property {{ y: number, title: string } | null} now the live figure, drawn after the last point
 * @property {Array<{ x: number, label: string }>} [marks] the two compared sides
 * @property {string} timeZone
 * @property {(value: number) => string} format
 * @property {string} caption
 * @property {(revision: string) => void} [onPick] called when a point is clicked
 */

/**
 * Draws the step chart into `container`.
 * @param {HTMLElement} container
 * @param {StepChartOptions} options
 */
export function renderStepChart(container, { points, now, marks = [], timeZone, format, caption, onPick }) {
  container.replaceChildren()
  const pts = points.filter(/** @returns {p is ChartPoint & { y: number }} */ (p) => typeof p.y === 'number')
  if (pts.length === 0 && !now) {
    const p = document.createElement('p')
    p.className = 'hint'
    p.textContent = 'No revision published yet, and no live figure to draw.'
    container.append(p)
    return
  }
  const width = Math.max(360, container.clientWidth || 800)
  const height = 260
  const m = { left: 88, right: 16, top: 40, bottom: 36 }
  const nowGap = now ? 110 : 0
  const plotRight = width - m.right
  const seriesRight = plotRight - nowGap
  let x0 = pts.length ? Math.min(...pts.map((p) => p.x)) : Date.now() - 3_600_000
  let x1 = pts.length ? Math.max(...pts.map((p) => p.x)) : Date.now()
  if (x1 - x0 < 3_600_000) {
    x0 -= 1_800_000
    x1 += 1_800_000
  }
  const span = x1 - x0
  x0 -= span * 0.03
  x1 += span * 0.03
  /** @param {number} t */
  const sx = (t) => m.left + ((Math.min(Math.max(t, x0), x1) - x0) / (x1 - x0)) * (seriesRight - m.left)
  const values = [...pts.map((p) => p.y), ...(now && typeof now.y === 'number' ? [now.y] : [])]
  let y0 = Math.min(...values)
  let y1 = Math.max(...values)
  if (y0 === y1) {
    y0 -= Math.abs(y0) * 0.05 || 1
    y1 += Math.abs(y1) * 0.05 || 1
  }
  const yTicks = valueTicks(y0, y1, 5)
  y0 = yTicks[0]
  y1 = yTicks[yTicks.length - 1]
  const plotBottom = height - m.bottom
  /** @param {number} v */
  const sy = (v) => m.top + (1 - (v - y0) / (y1 - y0)) * (plotBottom - m.top)

  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'step-chart' })
  svg.append(el('title', {}, caption))
  svg.append(el('desc', {}, `Step line of ${caption}: ${pts.map((p) => `revision ${p.revision} (${p.kind}) ${format(p.y)}`).join('; ')}${now ? `; now ${format(now.y)}` : ''}.`))

  const grid = el('g', { class: 'grid' })
  for (const v of yTicks) {
    grid.append(el('line', { x1: m.left, x2: plotRight, y1: sy(v), y2: sy(v) }))
    grid.append(el('text', { x: m.left - 8, y: sy(v) + 4, 'text-anchor': 'end', class: 'tick' }, format(v)))
  }
  for (const t of timeTicks(x0, x1, timeZone, Math.max(2, Math.floor((seriesRight - m.left) / 120)))) {
    grid.append(el('line', { x1: sx(t), x2: sx(t), y1: m.top, y2: plotBottom, class: 'vertical' }))
    grid.append(el('text', { x: sx(t), y: plotBottom + 16, 'text-anchor': 'middle', class: 'tick' }, formatTick(t, timeZone)))
  }
  grid.append(el('line', { x1: m.left, x2: plotRight, y1: plotBottom, y2: plotBottom, class: 'axis' }))
  svg.append(grid)
  svg.append(el('text', { x: m.left, y: 16, class: 'axis-title' }, caption))
  svg.append(el('text', { x: seriesRight, y: height - 4, 'text-anchor': 'end', class: 'axis-note' }, `published at (${timeZone}) →`))

  // The compared sides: a shaded band between them, so the step(s) inside it are the change shown below.
  const xs = marks.filter((mk) => typeof mk.x === 'number').map((mk) => sx(mk.x))
  if (xs.length === 2) {
    svg.append(el('rect', { x: Math.min(...xs), y: m.top, width: Math.max(2, Math.abs(xs[0] - xs[1])), height: plotBottom - m.top, class: 'band' }))
  }
  /** @typedef {{ x0: number, x1: number, y0: number, y1: number }} Box */
  /** @type {Box[]} */
  const placed = []
  marks.forEach((mk, i) => {
    if (typeof mk.x !== 'number') return
    const x = sx(mk.x)
    svg.append(el('line', { x1: x, x2: x, y1: m.top, y2: plotBottom, class: 'mark' }))
    // Outside the band, on the axis line, so the labels of the points stay clear of them.
    const w = mk.label.length * 6.4
    // The first mark's label goes left of its line and the second's right, unless that leaves the chart.
    const leftward = i === 0 ? x - 4 - w >= 0 : x + 4 + w > width
    const left = leftward ? x - 4 - w : x + 4
    const box = { x0: left, x1: left + w, y0: plotBottom - 17, y1: plotBottom }
    if (placed.some((b) => box.x0 < b.x1 && box.x1 > b.x0)) {
      box.y0 -= 14
      box.y1 -= 14
    }
    placed.push(box)
    svg.append(el('text', { x: leftward ? x - 4 : x + 4, y: box.y1 - 5, 'text-anchor': leftward ? 'end' : 'start', class: 'mark-label' }, mk.label))
  })

  if (pts.length) {
    let d = `M ${sx(pts[0].x)} ${sy(pts[0].y)}`
    for (const p of pts.slice(1)) d += ` H ${sx(p.x)} V ${sy(p.y)}`
    svg.append(el('path', { d, class: 'step' }))
  }
  const nowX = plotRight - 24
  if (now && typeof now.y === 'number') {
    const last = pts[pts.length - 1]
    if (last) svg.append(el('path', { d: `M ${sx(last.x)} ${sy(last.y)} H ${nowX} V ${sy(now.y)}`, class: 'step now-line' }))
    svg.append(el('text', { x: (seriesRight + nowX) / 2 - 6, y: plotBottom + 16, 'text-anchor': 'middle', class: 'tick' }, '…'))
    svg.append(el('text', { x: nowX, y: plotBottom + 16, 'text-anchor': 'middle', class: 'tick now-tick' }, 'now'))
  }

  /** @param {Box} box */
  const fits = (box) => box.x0 >= 0 && box.x1 <= width && box.y0 >= m.top - 14 && box.y1 <= plotBottom && !placed.some((b) => box.x0 < b.x1 && box.x1 > b.x0 && box.y0 < b.y1 && box.y1 > b.y0)
  /**
   * @param {number} x
   * @param {number} y
   * @param {string} text
   * @param {string} cls
   */
  const label = (x, y, text, cls) => {
    const w = text.length * 6.4 + 4
    for (const dy of [-10, 18, -24, 32]) {
      const box = { x0: x - w / 2, x1: x + w / 2, y0: y + dy - 11, y1: y + dy + 2 }
      if (!fits(box)) continue
      placed.push(box)
      svg.append(el('text', { x, y: y + dy, 'text-anchor': 'middle', class: cls }, text))
      return
    }
  }
  const dots = el('g', { class: 'points' })
  for (const p of pts) placed.push({ x0: sx(p.x) - 6, x1: sx(p.x) + 6, y0: sy(p.y) - 6, y1: sy(p.y) + 6 })
  for (const p of pts) {
    const g = el('g', { class: `point${p.highlight ? ' highlight' : ''}`, 'data-revision': p.revision })
    g.append(el('title', {}, p.title))
    g.append(el('circle', { cx: sx(p.x), cy: sy(p.y), r: p.highlight ? 7 : 5, fill: kindColor(p.kind) }))
    if (onPick) g.addEventListener('click', () => onPick(p.revision))
    dots.append(g)
  }
  svg.append(dots)
  // Unusual kinds first, so "flash", "final" and "restatement" keep their labels when space is short.
  const byPriority = [...pts].sort((a, b) => Number(a.kind === 'revision') - Number(b.kind === 'revision') || a.x - b.x)
  for (const p of byPriority) label(sx(p.x), sy(p.y), p.kind === 'revision' ? `r${p.revision}` : `r${p.revision} ${p.kind}`, `point-label k-${p.kind}`)
  if (now && typeof now.y === 'number') {
    const g = el('g', { class: 'point now' })
    g.append(el('title', {}, now.title))
    g.append(el('circle', { cx: nowX, cy: sy(now.y), r: 6 }))
    svg.append(g)
    label(nowX - 20, sy(now.y), 'now (live)', 'point-label k-now')
  }
  container.append(svg)
}

/**
 * A spread of shares at one lag of the completeness curve; null where no period counts.
 * @typedef {object} CurvePoint
 * @property {string} label the lag, short
 * @property {number | null} min
 * @property {number | null} p10
 * @property {number | null} p50
 * @property {number | null} p90
 * @property {string} title
 */

/**
 * Draws the completeness curve into `container`: lags evenly spaced in the order given, the
 * p10–p90 band, the median line and the minimum as a dashed line, on a scale of shares.
 * @param {HTMLElement} container
 * @param {{ points: CurvePoint[], caption: string, format: (share: number) => string }} options
 */
export function renderCurveChart(container, { points, caption, format }) {
  container.replaceChildren()
  const known = points.filter((p) => p.p50 !== null)
  if (known.length === 0) {
    const p = document.createElement('p')
    p.className = 'hint'
    p.textContent = 'No period in range has a benchmark to compare with yet.'
    container.append(p)
    return
  }
  const width = Math.max(360, container.clientWidth || 800)
  const height = 230
  const m = { left: 52, right: 16, top: 28, bottom: 34 }
  const values = points.flatMap((p) => [p.min, p.p10, p.p50, p.p90]).filter(/** @returns {v is number} */ (v) => typeof v === 'number')
  const yTicks = valueTicks(Math.min(0, ...values), Math.max(1, ...values), 5)
  const y0 = yTicks[0]
  const y1 = yTicks[yTicks.length - 1]
  const plotBottom = height - m.bottom
  const stepX = (width - m.left - m.right) / Math.max(1, points.length)
  /** @param {number} i */
  const sx = (i) => m.left + stepX * (i + 0.5)
  /** @param {number} v */
  const sy = (v) => m.top + (1 - (v - y0) / (y1 - y0)) * (plotBottom - m.top)

  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'step-chart curve-chart' })
  svg.append(el('title', {}, caption))
  svg.append(el('desc', {}, points.map((p) => `${p.label}: median ${p.p50 === null ? 'none' : format(p.p50)}`).join('; ')))
  const grid = el('g', { class: 'grid' })
  for (const v of yTicks) {
    grid.append(el('line', { x1: m.left, x2: width - m.right, y1: sy(v), y2: sy(v), class: v === 1 ? 'full' : null }))
    grid.append(el('text', { x: m.left - 6, y: sy(v) + 4, 'text-anchor': 'end', class: 'tick' }, format(v)))
  }
  // Labels thin out when lags crowd: every other one on a narrow chart.
  const every = stepX < 44 ? 2 : 1
  points.forEach((p, i) => {
    grid.append(el('line', { x1: sx(i), x2: sx(i), y1: m.top, y2: plotBottom, class: 'vertical' }))
    if (i % every === 0 || i === points.length - 1) grid.append(el('text', { x: sx(i), y: plotBottom + 16, 'text-anchor': 'middle', class: 'tick' }, p.label))
  })
  grid.append(el('line', { x1: m.left, x2: width - m.right, y1: plotBottom, y2: plotBottom, class: 'axis' }))
  svg.append(grid)
  svg.append(el('text', { x: m.left, y: 14, class: 'axis-title' }, caption))
  svg.append(el('text', { x: width - m.right, y: height - 2, 'text-anchor': 'end', class: 'axis-note' }, 'time after the end of the period →'))

  /**
   * A path through the points that have `key`, broken where one has none.
   * @param {'min' | 'p10' | 'p50' | 'p90'} key
   */
  const line = (key) => {
    let d = ''
    let pen = false
    points.forEach((p, i) => {
      const v = p[key]
      if (v === null) {
        pen = false
        return
      }
      d += `${pen ? 'L' : 'M'} ${sx(i)} ${sy(v)} `
      pen = true
    })
    return d.trim()
  }
  const band = points.map((p, i) => ({ i, lo: p.p10, hi: p.p90 })).filter((b) => b.lo !== null && b.hi !== null)
  if (band.length > 1) {
    const top = band.map((b) => `${sx(b.i)} ${sy(/** @type {number} */ (b.hi))}`)
    const bottom = band.map((b) => `${sx(b.i)} ${sy(/** @type {number} */ (b.lo))}`).reverse()
    svg.append(el('path', { d: `M ${top.join(' L ')} L ${bottom.join(' L ')} Z`, class: 'spread' }))
  }
  svg.append(el('path', { d: line('min'), class: 'curve-min' }))
  svg.append(el('path', { d: line('p50'), class: 'curve-median' }))
  const dots = el('g', { class: 'points' })
  points.forEach((p, i) => {
    if (p.p50 === null) return
    const g = el('g', { class: 'curve-point' })
    g.append(el('title', {}, p.title))
    g.append(el('circle', { cx: sx(i), cy: sy(p.p50), r: 4 }))
    dots.append(g)
  })
  svg.append(dots)
  container.append(svg)
}
