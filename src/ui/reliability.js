// @ts-check
// The Reliability panel of a view: how far each release was from the final figure (the revision
// triangle and the accuracy by release), when a period is complete, and when to close it. It
// loads when opened, for the chosen view and measure, and shows the server's figures as they are.

import { getReliability } from './api.js'
import { handle } from './auth.js'
import { kindColor, renderCurveChart } from './chart.js'
import { $, h, thead } from './dom.js'
import { durationMs, formatInt, formatLag, formatShare, formatTime, lagLabel } from './format.js'
import { chosenView, delta, num, state, tz, writeHash } from './state.js'

/** @import { CloseAdvice, Completeness, Reliability, Vintages } from './types.js' */

/** The lateview default target of the close advice, the share of the value a close must keep. */
const TARGET = 0.999

const panel = {
  /**
   * The view and measure the shown (or loading) figures are for, "view|measure".
   * @type {string | null}
   */
  shown: null,
  /** @type {Reliability | null} */
  data: null,
  /** Counts loads: an answer overtaken by a newer load is dropped. */
  load: 0,
}

/** The view and measure the panel should show. */
function wantedKey() {
  return state.view && state.measure ? `${state.view.name}|${state.measure}` : null
}

/** Opens or closes the panel (from a link); opening loads it. @param {boolean} open */
export function openReliability(open) {
  state.reliability = open
  if ($('reliability').open !== open) $('reliability').open = open
  else if (open) refresh()
}

/** The chosen view or measure changed: an open panel reloads, a closed one loads when opened. */
export function reliabilityChanged() {
  if (state.reliability) refresh()
}

export function bindReliability() {
  const details = $('reliability')
  details.addEventListener('toggle', () => {
    state.reliability = details.open
    if (details.open) refresh()
    if (state.view) writeHash()
  })
}

/** Redraws the completeness curve at the panel's new width. */
export function redrawReliability() {
  if (state.reliability && panel.data) renderCurve(panel.data.completeness)
}

/** Loads the panel's figures unless they are already those of the chosen view and measure. */
function refresh() {
  const key = wantedKey()
  if (key === null || key === panel.shown) return
  const [view, measure] = key.split('|')
  const load = ++panel.load
  panel.shown = key
  $('reliability-status').textContent = `Loading the revision analysis of ${view} (${measure})…`
  getReliability(view, measure).then(
    (data) => {
      if (load !== panel.load) return
      panel.data = data
      render(data)
    },
    (error) => {
      if (load !== panel.load) return
      panel.shown = null
      panel.data = null
      $('reliability-body').hidden = true
      $('reliability-status').textContent = `The revision analysis could not be loaded: ${/** @type {Error} */ (error).message}`
      handle(error)
    },
  )
}

/** @param {Reliability} data */
function render(data) {
  const measure = data.vintages.measure
  const periods = data.vintages.rows
  $('reliability-status').textContent =
    periods.length === 0
      ? 'No period of this view has events or a revision yet.'
      : `${measure} over ${periods.length} period${periods.length === 1 ? '' : 's'}, ${periods[0].period} to ${periods[periods.length - 1].period}, against each period's ${data.accuracy.against === 'latest' ? 'latest figure' : 'final revision'}.`
  $('reliability-body').hidden = periods.length === 0
  renderVintages(data.vintages)
  renderAccuracy(data)
  renderCurve(data.completeness)
  renderCompletenessTable(data.completeness)
  renderClose(data.closeAdvice)
  renderSources(data.completeness, data.closeAdvice)
}

/**
 * The colour of a share in the triangle: pale when little of the benchmark is known, dark blue
 * when all of it is; the text says the share too, so colour is never the only cue.
 * @param {number} share
 */
export function heatColor(share) {
  const s = Math.min(1, Math.max(0, share))
  return { background: `hsl(212 ${Math.round(35 + 35 * s)}% ${Math.round(96 - 62 * s)}%)`, ink: s > 0.55 ? '#fff' : 'var(--ink)' }
}

/** @param {string} lag */
const lagTitle = (lag) => `${lag}: ${lagLabel(lag) === 'end' ? 'at the end of the period' : `${lagLabel(lag)} after the end of the period`}`

/** @param {Vintages} vintages */
function renderVintages(vintages) {
  const name = vintages.measure
  const table = $('vintages')
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, 'Period'),
      h('th', { scope: 'col', class: 'num' }, `Benchmark ${name}`),
      vintages.lags.map((lag) => h('th', { scope: 'col', class: 'num', title: lagTitle(lag), dataset: { lag } }, lagLabel(lag))),
    ),
  )
  table.tBodies[0].replaceChildren(
    ...vintages.rows.map((row) =>
      h(
        'tr',
        { dataset: { period: row.period } },
        h('th', { scope: 'row' }, row.period),
        h('td', { class: 'num', dataset: { col: 'benchmark' } }, num(row.benchmark, name)),
        row.values.map((v) => {
          const exact = v.value === null ? '' : String(v.value) !== num(v.value, name).replace(/,/g, '') ? ` (exactly ${v.value})` : ''
          const title = `${row.period} at ${lagLabel(v.lag)} (${v.lag}), known at ${formatTime(v.knownAt, tz())}: ${name} ${num(v.value, name)}${exact}, ${formatShare(v.share)} of ${num(row.benchmark, name)}`
          const td = h(
            'td',
            { class: `num heat${v.share === null ? ' none' : v.share > 1 ? ' over' : ''}`, title, dataset: { lag: v.lag, knownAt: v.knownAt } },
            h('span', { class: 'share' }, formatShare(v.share)),
            h('span', { class: 'value' }, num(v.value, name)),
          )
          if (v.share !== null) {
            const c = heatColor(v.share)
            td.style.background = c.background
            td.style.color = c.ink
          }
          return td
        }),
      ),
    ),
  )
  $('heat-legend').replaceChildren(
    h('span', {}, 'share known:'),
    ...[0, 0.25, 0.5, 0.75, 1].map((s) => {
      const c = heatColor(s)
      const sw = h('span', { class: 'heat-swatch' }, formatShare(s, 0))
      sw.style.background = c.background
      sw.style.color = c.ink
      return sw
    }),
    h('span', { class: 'heat-swatch over' }, 'over 100%: above the benchmark'),
    h('span', { class: 'heat-swatch none' }, '— no benchmark'),
  )
}

/** @param {Reliability} data */
function renderAccuracy({ accuracy }) {
  const name = accuracy.measure
  const bench = accuracy.against === 'latest' ? 'the latest figure' : 'the final revision'
  const excluded = accuracy.excluded ?? []
  $('accuracy-intro').textContent = `For each kind of release, its first publication of a period compared with ${bench} (revision = benchmark − release; positive: the release under-stated). ${
    excluded.length ? `${excluded.length} release${excluded.length === 1 ? ' is' : 's are'} left out: ${excluded.map((e) => `${e.period} ${e.kind} (${e.reason})`).join('; ')}.` : ''
  }`
  const table = $('accuracy')
  const heads = [
    ['Release', ''],
    ['Periods', 'num'],
    ['Mean revision', 'num'],
    ['Mean abs. revision', 'num'],
    ['Relative', 'num'],
    ['Accuracy', 'num'],
    ['Within 1 %', 'num'],
  ]
  const helps = [
    '',
    'periods that have both this release and the benchmark',
    'mean of benchmark − release: the bias',
    'mean of |benchmark − release|',
    'sum of |revision| / sum of |benchmark|',
    'mean of 1 − |revision| / |benchmark|',
    'share of periods whose revision is at most 1 % of the benchmark',
  ]
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      heads.map(([t, c], i) => h('th', { scope: 'col', class: c, title: helps[i] || null }, t)),
    ),
  )
  table.tBodies[0].replaceChildren(
    ...(accuracy.releases.length === 0
      ? [h('tr', {}, h('td', { colspan: 7, class: 'hint' }, 'No period in range has both a release and the benchmark yet.'))]
      : accuracy.releases.map((r) => {
          const kind = h('span', { class: 'kind' }, r.kind)
          kind.style.borderColor = kindColor(r.kind)
          return h(
            'tr',
            { dataset: { kind: r.kind } },
            h('th', { scope: 'row' }, kind),
            h('td', { class: 'num', dataset: { col: 'n' } }, formatInt(r.n)),
            h(
              'td',
              { class: 'num', dataset: { col: 'meanRevision' }, title: `from ${delta(r.minRevision, name)} to ${delta(r.maxRevision, name)}, standard deviation ${num(r.stdRevision, name)}` },
              delta(r.meanRevision, name),
            ),
            h('td', { class: 'num', dataset: { col: 'meanAbsRevision' } }, num(r.meanAbsRevision, name)),
            h('td', { class: 'num', dataset: { col: 'relativeMeanAbsRevision' } }, formatShare(r.relativeMeanAbsRevision, 2)),
            h('td', { class: 'num', dataset: { col: 'accuracy' } }, formatShare(r.accuracy, 2)),
            h('td', { class: 'num', dataset: { col: 'withinOnePercent' } }, formatShare(r.withinOnePercent)),
          )
        })),
  )
}

/** @param {Completeness} completeness */
function renderCurve(completeness) {
  renderCurveChart($('completeness-chart'), {
    caption: 'share of the benchmark known',
    format: (s) => formatShare(s, 0),
    points: completeness.points.map((p) => ({
      label: lagLabel(p.lag),
      ...p.value,
      title: `${lagLabel(p.lag)} (${p.lag}): median ${formatShare(p.value.p50)}, 10th–90th percentile ${formatShare(p.value.p10)}–${formatShare(p.value.p90)}, worst ${formatShare(p.value.min)}`,
    })),
  })
}

/** @param {Completeness} completeness */
function renderCompletenessTable(completeness) {
  const table = $('completeness')
  const cols = /** @type {const} */ (['min', 'p10', 'p50', 'p90'])
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, 'After the end'),
      h('th', { scope: 'col', class: 'num' }, 'Worst'),
      h('th', { scope: 'col', class: 'num' }, '10th pct'),
      h('th', { scope: 'col', class: 'num' }, 'Median'),
      h('th', { scope: 'col', class: 'num' }, '90th pct'),
      h('th', { scope: 'col', class: 'num', title: 'the median share of the events counted by the benchmark' }, 'Events (median)'),
    ),
  )
  table.tBodies[0].replaceChildren(
    ...completeness.points.map((p) =>
      h(
        'tr',
        { dataset: { lag: p.lag } },
        h('th', { scope: 'row', title: lagTitle(p.lag) }, lagLabel(p.lag)),
        cols.map((c) => h('td', { class: 'num', dataset: { col: c } }, formatShare(p.value[c]))),
        h('td', { class: 'num', dataset: { col: 'events' } }, formatShare(p.events.p50)),
      ),
    ),
  )
}

/** @param {CloseAdvice} advice */
function renderClose(advice) {
  const view = chosenView()
  const current = view.close ? `D+${view.close.afterDays} ${view.close.at}` : null
  const rec = advice.recommended
  const chosen = rec ? advice.candidates.find((c) => c.afterDays === rec.afterDays) : undefined
  $('close-summary').replaceChildren(
    rec
      ? h(
          'span',
          {},
          'Recommended close: ',
          h('b', {}, rec.at),
          `, the earliest that keeps at least ${formatShare(TARGET)} of the value (${formatShare(chosen?.valueKnown ?? null, 2)} over these periods).`,
        )
      : h('span', {}, `No close up to D+14 keeps ${formatShare(TARGET)} of the value over these periods.`),
    current ? ` This view closes at ${current}.` : '',
  )
  const table = $('close-candidates')
  const name = state.measure ?? undefined
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, 'Close at'),
      h('th', { scope: 'col', class: 'num', title: 'periods whose value at that close differs from the benchmark' }, 'Restated'),
      h('th', { scope: 'col', class: 'num' }, 'Share restated'),
      h('th', { scope: 'col', class: 'num' }, 'Mean restatement'),
      h('th', { scope: 'col', class: 'num' }, 'Largest'),
      h('th', { scope: 'col', class: 'num', title: '1 − Σ|benchmark − value at close| / Σ|benchmark|' }, 'Value known'),
    ),
  )
  table.tBodies[0].replaceChildren(
    ...advice.candidates.map((c) => {
      const recommended = rec?.afterDays === c.afterDays
      const isCurrent = current === c.at
      return h(
        'tr',
        { class: recommended ? 'recommended' : '', dataset: { afterDays: String(c.afterDays) }, 'aria-current': recommended ? 'true' : null },
        h(
          'th',
          { scope: 'row' },
          c.at,
          recommended ? h('span', { class: 'tag rec' }, 'recommended') : null,
          isCurrent ? h('span', { class: 'tag' }, 'current') : null,
          c.incomplete ? h('span', { class: 'tag muted', title: 'for some periods this close is still ahead: computed with what is known now' }, 'incomplete') : null,
        ),
        h('td', { class: 'num', dataset: { col: 'periodsRestated' } }, formatInt(c.periodsRestated)),
        h('td', { class: 'num', dataset: { col: 'shareRestated' } }, formatShare(c.shareRestated)),
        h('td', { class: 'num', dataset: { col: 'meanAbsRestatement' } }, num(c.meanAbsRestatement, name)),
        h('td', { class: 'num', dataset: { col: 'maxAbsRestatement' } }, num(c.maxAbsRestatement, name)),
        h('td', { class: 'num', dataset: { col: 'valueKnown' } }, formatShare(c.valueKnown, 2)),
      )
    }),
  )
}

/**
 * The lag the view allows a source now: its first matching `sla.bySource` glob, else `sla.maxDelay`.
 * @param {string} source
 */
function currentSla(source) {
  const sla = chosenView().sla
  for (const [glob, iso] of Object.entries(sla?.bySource ?? {})) {
    const re = new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    )
    if (re.test(source)) return iso
  }
  return sla?.maxDelay ?? null
}

/**
 * A lag as an ISO duration, readable, with the ISO text in the title.
 * @param {string | null} iso
 * @param {string} col
 */
function lagCell(iso, col) {
  const ms = durationMs(iso)
  return h('td', { class: 'num', title: iso, dataset: { col } }, ms === null ? (iso ? lagLabel(iso).replace(/^\+/, '') : '—') : formatLag(ms))
}

/**
 * @param {Completeness} completeness
 * @param {CloseAdvice} advice
 */
function renderSources(completeness, advice) {
  const suggested = new Map(advice.sla.map((s) => [s.source, s.suggested]))
  const sources = [...new Set([...completeness.sources.map((s) => s.source), ...suggested.keys()])].sort()
  const lags = new Map(completeness.sources.map((s) => [s.source, s]))
  const table = $('source-lags')
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      ['Source', 'Events', 'Median lag', '90th pct', '99th pct', 'Longest', 'Suggested SLA', 'Current SLA'].map((t, i) => h('th', { scope: 'col', class: i > 0 ? 'num' : '' }, t)),
    ),
  )
  table.tBodies[0].replaceChildren(
    ...sources.map((source) => {
      const s = lags.get(source)
      return h(
        'tr',
        { dataset: { source } },
        h('th', { scope: 'row' }, source),
        h('td', { class: 'num', dataset: { col: 'count' } }, formatInt(s?.count)),
        lagCell(s?.lagP50 ?? null, 'lagP50'),
        lagCell(s?.lagP90 ?? null, 'lagP90'),
        lagCell(s?.lagP99 ?? null, 'lagP99'),
        lagCell(s?.lagMax ?? null, 'lagMax'),
        lagCell(suggested.get(source) ?? null, 'suggested'),
        lagCell(currentSla(source), 'current'),
      )
    }),
  )
}
