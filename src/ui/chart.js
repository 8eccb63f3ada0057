// @ts-check
// The revision timeline: a step line of a measure's total over knowledge time, drawn as inline SVG.

import { formatTick, zoneOffset } from './format.js'
import { placeLabels } from './labels.js'

/** @import { Box } from './labels.js' */

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

  // In the page before any text is placed, so that every text can be measured.
  container.append(svg)
  /** @type {Array<{ text: string, cls: string, spots: Spot[] }>} */
  const texts = []
  /**
   * A text to place at the first of its spots that collides with nothing placed before it.
   * @param {string} text
   * @param {string} cls
   * @param {...Spot} spots
   */
  const text = (text, cls, ...spots) => texts.push({ text, cls, spots })

  const grid = el('g', { class: 'grid' })
  for (const v of yTicks) grid.append(el('line', { x1: m.left, x2: plotRight, y1: sy(v), y2: sy(v) }))
  const xTicks = timeTicks(x0, x1, timeZone, Math.max(2, Math.floor((seriesRight - m.left) / 120)))
  for (const t of xTicks) grid.append(el('line', { x1: sx(t), x2: sx(t), y1: m.top, y2: plotBottom, class: 'vertical' }))
  grid.append(el('line', { x1: m.left, x2: plotRight, y1: plotBottom, y2: plotBottom, class: 'axis' }))
  svg.append(grid)
  text(caption, 'axis-title', { x: m.left, y: 16, anchor: 'start' })
  text(`published at (${timeZone}) →`, 'axis-note', { x: seriesRight, y: height - 4, anchor: 'end' })
  const nowX = plotRight - 24
  const nowShown = now !== null && typeof now.y === 'number'
  if (nowShown) {
    text('now', 'tick now-tick', { x: nowX, y: plotBottom + 16, anchor: 'middle' })
    text('…', 'tick', { x: (seriesRight + nowX) / 2 - 6, y: plotBottom + 16, anchor: 'middle' })
  }
  for (const v of yTicks) text(format(v), 'tick', { x: m.left - 8, y: sy(v) + 4, anchor: 'end' })
  for (const t of xTicks) text(formatTick(t, timeZone), 'tick', { x: sx(t), y: plotBottom + 16, anchor: 'middle' })

  // The compared sides: a shaded band between them, so the step(s) inside it are the change shown below.
  const xs = marks.filter((mk) => typeof mk.x === 'number').map((mk) => sx(mk.x))
  if (xs.length === 2) {
    svg.append(el('rect', { x: Math.min(...xs), y: m.top, width: Math.max(2, Math.abs(xs[0] - xs[1])), height: plotBottom - m.top, class: 'band' }))
  }
  marks.forEach((mk, i) => {
    if (typeof mk.x !== 'number') return
    const x = sx(mk.x)
    svg.append(el('line', { x1: x, x2: x, y1: m.top, y2: plotBottom, class: 'mark' }))
    // Outside the band, along the axis line, so the labels of the points stay clear of them: the
    // first mark's label left of its line, the second's right, else the other side, else at the
    // line's top, else higher up along the line.
    const outward = [
      { x: x - 4, anchor: /** @type {const} */ ('end') },
      { x: x + 4, anchor: /** @type {const} */ ('start') },
    ]
    const sides = i === 0 ? outward : outward.reverse()
    const rows = [plotBottom - 5, m.top - 4]
    for (let y = plotBottom - 19; y > m.top + 10; y -= 14) rows.push(y)
    text(mk.label, 'mark-label', ...rows.flatMap((y) => sides.map((s) => ({ ...s, y }))))
  })

  // The step line's segments are obstacles too: a label is not crossed by the line.
  /** @type {Box[]} */
  const obstacles = []
  /**
   * @param {number} xa
   * @param {number} ya
   * @param {number} xb
   * @param {number} yb
   */
  const segment = (xa, ya, xb, yb) => obstacles.push({ x0: Math.min(xa, xb) - 1, x1: Math.max(xa, xb) + 1, y0: Math.min(ya, yb) - 1, y1: Math.max(ya, yb) + 1 })
  if (pts.length) {
    let d = `M ${sx(pts[0].x)} ${sy(pts[0].y)}`
    pts.slice(1).forEach((p, i) => {
      const from = pts[i]
      d += ` H ${sx(p.x)} V ${sy(p.y)}`
      segment(sx(from.x), sy(from.y), sx(p.x), sy(from.y))
      segment(sx(p.x), sy(from.y), sx(p.x), sy(p.y))
    })
    svg.append(el('path', { d, class: 'step' }))
  }
  if (now && nowShown) {
    const last = pts[pts.length - 1]
    if (last) {
      svg.append(el('path', { d: `M ${sx(last.x)} ${sy(last.y)} H ${nowX} V ${sy(now.y)}`, class: 'step now-line' }))
      segment(sx(last.x), sy(last.y), nowX, sy(last.y))
      segment(nowX, sy(last.y), nowX, sy(now.y))
    }
  }

  /**
   * Above the dot, below it, further above or below, then beside it.
   * @param {number} x
   * @param {number} y
   * @returns {Spot[]}
   */
  const around = (x, y) => [
    ...[-10, 20, -24, 34].map((dy) => ({ x, y: y + dy, anchor: /** @type {const} */ ('middle') })),
    { x: x + 10, y: y + 4, anchor: 'start' },
    { x: x - 10, y: y + 4, anchor: 'end' },
    ...[-9, 17].flatMap((dy) => [
      { x: x + 6, y: y + dy, anchor: /** @type {const} */ ('start') },
      { x: x - 6, y: y + dy, anchor: /** @type {const} */ ('end') },
    ]),
  ]
  for (const p of pts) obstacles.push({ x0: sx(p.x) - 7, x1: sx(p.x) + 7, y0: sy(p.y) - 7, y1: sy(p.y) + 7 })
  const dots = el('g', { class: 'points' })
  for (const p of pts) {
    const g = el('g', { class: `point${p.highlight ? ' highlight' : ''}`, 'data-revision': p.revision })
    g.append(el('title', {}, p.title))
    g.append(el('circle', { cx: sx(p.x), cy: sy(p.y), r: p.highlight ? 7 : 5, fill: kindColor(p.kind) }))
    if (onPick) g.addEventListener('click', () => onPick(p.revision))
    dots.append(g)
  }
  svg.append(dots)
  if (now && nowShown) {
    const g = el('g', { class: 'point now' })
    g.append(el('title', {}, now.title))
    g.append(el('circle', { cx: nowX, cy: sy(now.y), r: 6 }))
    svg.append(g)
    obstacles.push({ x0: nowX - 7, x1: nowX + 7, y0: sy(now.y) - 7, y1: sy(now.y) + 7 })
    text('now (live)', 'point-label k-now', ...around(nowX - 20, sy(now.y)))
  }
  // Unusual kinds first, so "flash", "final" and "restatement" keep their labels when space is short.
  const byPriority = [...pts].sort((a, b) => Number(a.kind === 'revision') - Number(b.kind === 'revision') || a.x - b.x)
  for (const p of byPriority) text(p.kind === 'revision' ? `r${p.revision}` : `r${p.revision} ${p.kind}`, `point-label k-${p.kind}`, ...around(sx(p.x), sy(p.y)))

  const labels = el('g', { class: 'labels' })
  svg.append(labels)
  const measured = texts.map((t) => {
    const node = /** @type {SVGTextElement} */ (el('text', { x: 0, y: 0, class: t.cls }, t.text))
    labels.append(node)
    const b = node.getBBox()
    // Unrendered (a hidden container): an estimate, so that labels still keep apart.
    const w = b.width || t.text.length * 6.4
    const top = b.height ? b.y : -10
    const h = b.height || 13
    const candidates = t.spots.map((s) => {
      const left = s.anchor === 'start' ? s.x : s.anchor === 'middle' ? s.x - w / 2 : s.x - w
      return { x0: left, x1: left + w, y0: s.y + top, y1: s.y + top + h }
    })
    return { node, candidates }
  })
  placeLabels(measured, obstacles, { x0: 0, x1: width, y0: 0, y1: height }).forEach((at, i) => {
    const { node } = measured[i]
    const spot = texts[i].spots[at]
    if (!spot) {
      node.remove()
      return
    }
    node.setAttribute('x', String(spot.x))
    node.setAttribute('y', String(spot.y))
    node.setAttribute('text-anchor', spot.anchor)
  })
}

/** @typedef {{ x: number, y: number, anchor: 'start' | 'middle' | 'end' }} Spot */

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
