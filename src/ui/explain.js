// @ts-check
// Why a row changed: the events that arrived between the two compared sides, with what each added.

import { $, h, tfoot, thead } from './dom.js'
import { figures } from './figures.js'
import { formatLag, formatTime, isAdditive, measureKind, roundAs } from './format.js'
import { chosenMeasure, delta, measureDef, num, rowName, sideLabel, state, tz } from './state.js'

export function renderExplain() {
  const table = $('events')
  const row = state.comparison?.rows.find((r) => r.key === state.row && r.change)
  if (!state.comparison || !row?.change) {
    $('explain-title').textContent = 'Why did a row change?'
    $('explain-summary').textContent =
      state.comparison && state.comparison.diff.changes.length > 0
        ? 'Select a highlighted row above to list the events that explain its change.'
        : 'No row changed between the two versions, so there is nothing to explain.'
    table.hidden = true
    return
  }
  const name = chosenMeasure()
  const f = figures(row)
  const { diff } = state.comparison
  const events = row.change.events
  $('explain-title').textContent = `Why did ${rowName(row.dims)} change?`
  const forward = diff.to.cutoffSeq >= diff.from.cutoffSeq
  const window = forward
    ? `arrived after ${sideLabel(state.from)} (which knew events up to #${diff.from.cutoffSeq}) and are included in ${sideLabel(state.to)} (up to #${diff.to.cutoffSeq})`
    : `arrived after ${sideLabel(state.to)} (events up to #${diff.to.cutoffSeq}) and are included in ${sideLabel(state.from)} (up to #${diff.from.cutoffSeq}); the comparison runs backwards, so they count negative`
  const contributed = events.reduce((a, e) => a + (e.contribution[name] ?? 0), 0)
  const sum = roundAs(contributed, measureDef())
  const adds = isAdditive(measureDef())
    ? ` Together they add ${delta(sum)} to ${name}${sum === roundAs(f.delta ?? NaN, measureDef()) ? ', exactly the change shown' : ''}: ${num(f.before)} → ${num(f.after)}.`
    : ` ${name} is a ${measureKind(measureDef())}, so contributions do not add up; it went ${num(f.before)} → ${num(f.after)}.`
  // Across two versions of the view's definition, part of a change comes from the rules, not from events.
  const effect = diff.definition ? row.change.definitionEffect?.[name] : undefined
  const rules = diff.definition
    ? ` The view's definition changed between the two sides (version ${diff.definition.from} → ${diff.definition.to})${effect === undefined || effect === null ? '' : `: ${delta(effect)} of the change comes from the new rules, not from events`}.`
    : ''
  $('explain-summary').textContent = `${events.length} event${events.length === 1 ? '' : 's'} for this row ${window}.${adds}${rules} Lag is how long after it happened an event reached lateview.`
  thead(table).replaceChildren(
    h(
      'tr',
      {},
      ['Event id', 'Source', `Occurred (${tz()})`, `Received (${tz()})`, 'Lag', `Contribution to ${name}`, 'Note'].map((t, i) => h('th', { scope: 'col', class: i === 4 || i === 5 ? 'num' : '' }, t)),
    ),
  )
  table.tBodies[0].replaceChildren(
    ...events.map((e) =>
      h(
        'tr',
        { dataset: { eventId: e.id }, class: e.retracts ? 'retraction' : '' },
        h('td', { class: 'mono' }, e.id),
        h('td', {}, e.source),
        h('td', {}, formatTime(e.occurredAt, tz(), { seconds: true })),
        h('td', {}, formatTime(e.receivedAt, tz(), { seconds: true })),
        h('td', { class: 'num' }, formatLag(Date.parse(e.receivedAt) - Date.parse(e.occurredAt))),
        h('td', { class: 'num' }, isAdditive(measureDef()) ? delta(e.contribution[name]) : num(e.contribution[name])),
        h('td', {}, e.retracts ? `retracts ${e.retracts}` : ''),
      ),
    ),
  )
  tfoot(table).replaceChildren(
    isAdditive(measureDef())
      ? h(
          'tr',
          { class: 'total' },
          h('th', { scope: 'row', colspan: 5 }, `Sum of ${events.length} contribution${events.length === 1 ? '' : 's'}`),
          h('td', { class: 'num' }, delta(sum)),
          h('td', {}, ''),
        )
      : h('tr', {}),
  )
  table.hidden = false
}
