import { ALERT_ID_LIMIT, isoDuration, type NewAlert } from './alerts.js'
import { cellId, foldEvent, type CellState, type ViewProgram } from './aggregate.js'
import { CloudEventItem } from './cloudevent.js'
import { dataJson, type EventLimits } from './content.js'
import { numeral } from './decimal.js'
import { acceptEvent, canonicalBody, EventKeyMap, inexactNumbers, MAX_CLOCK_SKEW_MS, parseEventFully, type NewEvent, type StoredEvent } from './event.js'
import { toIso } from './time.js'
import { LateviewError, type EventProblem } from '../errors.js'

/**
 * The decisions of ingest, apart from the store: what a batch holds, which of its events are
 * new, whether each retraction may void its target, what the batch adds to every view's cells
 * and which alerts it raises. Every function here answers from its arguments alone, so that the
 * rules can be read, and tested, without a transaction; services/ingest.ts reads what they need
 * and writes what they decide. It is one file past 400 lines because these steps are the stages
 * of one pipeline whose types flow from one to the next (item, admitted event, placement, delta).
 */

/** A valid item of a batch, with its position in the batch (which error documents name). */
export interface BatchItem {
  event: NewEvent
  index: number
}

/** The event a retraction voids, as far as counting it goes: it counts under the target's facts. */
export interface RetractionTarget {
  seq: number
  type: string
  occurredAt: number
  data: Record<string, unknown>
}

/** An item admitted to the store: its seq and receivedAt, and for a retraction, what it voids. */
export interface AdmittedEvent extends BatchItem {
  seq: number
  receivedAt: number
  target: RetractionTarget | null
}

/** How a batch is read. */
export interface BatchRules {
  /** Admin import: each event keeps its own `receivedAt`. */
  imported: boolean
  limits: EventLimits
  /** Refuse the events holding numbers no JS number represents exactly (see IngestOptions). */
  inexactNumbers: boolean
  /** The server's clock, for events without their own receivedAt. */
  now: number
}

/** A batch whose every item is valid, its repeats set apart. */
export interface CheckedBatch {
  /** The first item of each (source, id), in batch order. */
  items: BatchItem[]
  /** The same items by (source, id). */
  byKey: EventKeyMap<BatchItem>
  /** Items repeating an earlier one of the batch with the same body. */
  duplicates: number
}

/**
 * Validates every item of a batch and sets apart the batch's own repeats: the same (source, id)
 * twice in one batch is a retried item, or a conflict (reported only if every item is valid).
 * Throws LV_ERR_EVENTS_INVALID with every problem, or LV_ERR_EVENT_CONFLICT for the first
 * conflicting item. An accepted event's `dataJson` is set: the text the store keeps.
 */
export function checkBatch(programs: readonly ViewProgram[], items: readonly unknown[], rules: BatchRules): CheckedBatch {
  const problems: EventProblem[] = []
  const byKey = new EventKeyMap<BatchItem>()
  const unique: BatchItem[] = []
  let duplicates = 0
  let conflicting: BatchItem | null = null
  for (let index = 0; index < items.length; index++) {
    const event = checkItem(programs, items[index], index, rules, problems)
    // Once one item is invalid, the rest are only checked, to report every problem at once.
    if (event === null || problems.length > 0) continue
    const item: BatchItem = { event, index }
    const first = byKey.claim(event.source, event.id, item)
    if (first === undefined) unique.push(item)
    else if (canonicalBody(first.event) === canonicalBody(event)) duplicates++
    else conflicting ??= item
  }
  if (problems.length > 0) throw invalid(problems)
  if (conflicting) throw conflict(conflicting.event, conflicting.index)
  return { items: unique, byKey, duplicates }
}

/** One item as an event, or null after adding its problems (a valid event can still have some). */
function checkItem(programs: readonly ViewProgram[], raw: unknown, index: number, rules: BatchRules, problems: EventProblem[]): NewEvent | null {
  // A CloudEvent's data_base64 or binary body is read apart from the body holding it.
  if ((rules.inexactNumbers || (raw instanceof CloudEventItem && !raw.exact)) && inexactProblems(raw, index, problems)) return null
  let e = acceptEvent(raw, rules.imported)
  if (e === null) {
    const parsed = parseEventFully(raw, index, rules.imported)
    if (!parsed.ok) {
      problems.push(...parsed.problems)
      return null
    }
    e = parsed.event
  }
  const content = dataJson(e.data, rules.limits)
  if ('code' in content) {
    problems.push({ index, id: e.id, ...content })
    return null
  }
  e.dataJson = content.json
  const receivedAt = e.receivedAt ?? rules.now
  if (e.occurredAt > receivedAt + MAX_CLOCK_SKEW_MS) {
    problems.push({ index, id: e.id, code: 'LV_EVENT_IN_FUTURE', field: 'occurredAt', message: `occurredAt ${toIso(e.occurredAt)} is more than 5 minutes after receivedAt ${toIso(receivedAt)}` })
  }
  if (e.retracts === null) {
    const bad = viewProblem(programs, e)
    if (bad) problems.push({ index, id: e.id, code: 'LV_EVENT_FIELD_INVALID', field: bad.field, message: bad.message })
  }
  return e
}

/** Adds a problem per number of `raw` a JSON parser would have changed; true if there was one. */
function inexactProblems(raw: unknown, index: number, problems: EventProblem[]): boolean {
  const inexact = inexactNumbers(raw)
  if (inexact.length === 0) return false
  const id = (raw instanceof CloudEventItem ? raw.fields : (raw as { id?: unknown })).id
  for (const { field, text } of inexact) {
    problems.push({
      index,
      ...(typeof id === 'string' ? { id } : {}),
      code: 'LV_EVENT_FIELD_INVALID',
      field,
      message: `${text} has more significant digits than a JSON number holds exactly (a JSON parser reads it as ${numeral(Number(text))}): send at most 15 significant digits, or the value as a string`,
    })
  }
  return true
}

/** The first view's objection to an event's dimensions or measures (views in order), or null. */
function viewProblem(programs: readonly ViewProgram[], e: NewEvent): { field: string; message: string } | null {
  for (const p of programs) {
    if (!p.selects(e.type)) continue
    const bad = p.problemWith(e.data)
    if (bad) return bad
  }
  return null
}

/**
 * The (source, id) keys the store is asked about: every event of the batch, and the target of
 * each retraction that is not in the batch itself.
 */
export function storeLookups(batch: CheckedBatch): Array<{ source: string; id: string }> {
  const lookups: Array<{ source: string; id: string }> = []
  for (const { event } of batch.items) {
    lookups.push(event)
    if (event.retracts !== null && !batch.byKey.has(event.source, event.retracts)) lookups.push({ source: event.source, id: event.retracts })
  }
  return lookups
}

/** The batch's items the store does not hold yet, and how many it holds with the same body. */
export interface Fresh {
  items: BatchItem[]
  duplicates: number
}

/** Sets apart the items already stored; throws LV_ERR_EVENT_CONFLICT for one stored with a different body. */
export function freshItems(items: readonly BatchItem[], stored: EventKeyMap<StoredEvent>): Fresh {
  const fresh: BatchItem[] = []
  let duplicates = 0
  for (const item of items) {
    const existing = stored.size === 0 ? undefined : stored.get(item.event.source, item.event.id)
    if (!existing) fresh.push(item)
    else if (canonicalBody(existing) === canonicalBody(item.event)) duplicates++
    else throw conflict(item.event, item.index)
  }
  return { items: fresh, duplicates }
}

/** The seqs of the stored events the fresh retractions void: the store says which are voided already. */
export function storedTargetSeqs(fresh: readonly BatchItem[], stored: EventKeyMap<StoredEvent>): number[] {
  const seqs: number[] = []
  for (const { event } of fresh) {
    const t = event.retracts === null ? undefined : stored.get(event.source, event.retracts)
    if (t) seqs.push(t.seq)
  }
  return seqs
}

/** What admission knows of the store. */
export interface AdmissionContext {
  /** The batch's first items by key (to find a retraction's target admitted earlier in the batch). */
  batch: EventKeyMap<BatchItem>
  /** Stored events of the batch's keys and of its retractions' targets. */
  stored: EventKeyMap<StoredEvent>
  /** Seqs among the stored targets that a stored retraction voids already. */
  alreadyVoided: ReadonlySet<number>
  /** The store's newest event. */
  head: { seq: number; receivedAt: number }
  /** The receivedAt of every event, or null for an import (each keeps its own). */
  receivedAt: number | null
}

/**
 * Admits the fresh items in order: seqs follow the head, receivedAt is the server's (or, for an
 * import, the event's, which may not go back in time), and each retraction's target is resolved.
 * Throws LV_ERR_EVENTS_INVALID with every event that cannot be admitted.
 */
export function admit(fresh: readonly BatchItem[], context: AdmissionContext): AdmittedEvent[] {
  const problems: EventProblem[] = []
  const voided = new Set<number>()
  const admitted: AdmittedEvent[] = []
  let lastReceived = context.head.receivedAt
  for (const { event, index } of fresh) {
    const at = context.receivedAt ?? (event.receivedAt as number)
    if (at < lastReceived) {
      problems.push({
        index,
        id: event.id,
        code: 'LV_EVENT_RECEIVED_AT_ORDER',
        field: 'receivedAt',
        message: `receivedAt ${toIso(at)} is earlier than ${toIso(lastReceived)}, already in the store or earlier in the batch`,
      })
    }
    lastReceived = Math.max(lastReceived, at)
    let target: RetractionTarget | null = null
    if (event.retracts !== null) {
      const verdict = retractionVerdict(event, admittedTarget(admitted, context.batch, event), context, voided)
      if ('code' in verdict) problems.push({ index, id: event.id, field: 'retracts', ...verdict })
      else voided.add((target = verdict.target).seq)
    }
    admitted.push({ event, index, seq: context.head.seq + admitted.length + 1, receivedAt: at, target })
  }
  if (problems.length > 0) throw invalid(problems)
  return admitted
}

/**
 * The event of the batch a retraction names, if it was admitted before the retraction (a later
 * one does not precede it; a re-sent stored one is not admitted at all). Admitted events are in
 * batch order: found by bisection, only for retractions.
 */
function admittedTarget(admitted: readonly AdmittedEvent[], batch: EventKeyMap<BatchItem>, retraction: NewEvent): AdmittedEvent | undefined {
  const item = batch.get(retraction.source, retraction.retracts as string)
  if (item === undefined) return undefined
  let lo = 0
  let hi = admitted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const a = admitted[mid] as AdmittedEvent
    if (a.index === item.index) return a
    if (a.index < item.index) lo = mid + 1
    else hi = mid - 1
  }
  return undefined
}

/** Why a retraction cannot void its target, as its problem reads. */
export interface RetractionRefusal {
  code: EventProblem['code']
  message: string
}

/**
 * Whether a retraction may void the event it names: the target is the event admitted earlier in
 * the batch, else the stored one; it must exist, not be a retraction itself, and not be voided
 * already (by the store, or by an earlier retraction of the batch, in `voided`).
 */
export function retractionVerdict(
  retraction: NewEvent,
  inBatch: AdmittedEvent | undefined,
  context: Pick<AdmissionContext, 'stored' | 'alreadyVoided'>,
  voided: ReadonlySet<number>,
): { target: RetractionTarget } | RetractionRefusal {
  const named = JSON.stringify(retraction.retracts)
  const t = inBatch ? { seq: inBatch.seq, ...inBatch.event } : (context.stored.get(retraction.source, retraction.retracts as string) ?? null)
  if (!t) return { code: 'LV_EVENT_RETRACTS_UNKNOWN', message: `no event ${named} from source ${JSON.stringify(retraction.source)} precedes this retraction` }
  if (t.retracts !== null) return { code: 'LV_EVENT_RETRACTS_RETRACTION', message: `${named} is itself a retraction` }
  if (context.alreadyVoided.has(t.seq) || voided.has(t.seq)) return { code: 'LV_EVENT_ALREADY_RETRACTED', message: `${named} is already retracted` }
  return { target: { seq: t.seq, type: t.type, occurredAt: t.occurredAt, data: t.data } }
}

/** An admitted event a view counts, in the period it counts in (a retraction: its target's). */
export interface Placement {
  admitted: AdmittedEvent
  period: string
}

/** What a batch changes in one period of a view. */
export interface PeriodDelta {
  /** The seq of the batch's first event counting in the period. */
  firstSeq: number
  /** Per dims key, the summed change (a retraction subtracts its target's sums and count). */
  cells: Map<string, CellState>
}

/** What a batch changes in one view's Realtime cells. */
export interface ViewDelta {
  program: ViewProgram
  /** Per period, in the order the batch first touches them. */
  periods: Map<string, PeriodDelta>
  /**
   * Per `cellId` a retraction touched, the slots it removed: a removed minimum or maximum cannot
   * be undone by arithmetic (only kept for views with a min or max).
   */
  removed: Map<string, Array<CellState['slots']>>
  /** Periods where a retraction may have left a cell without events. */
  emptied: Set<string>
  /** The batch's events this view counts, in batch order. */
  placements: Placement[]
}

/**
 * A batch's change to a view's cells, summed per cell in memory so that a cell is written once
 * per batch: an event adds its contribution, a retraction subtracts its target's.
 */
export function viewDelta(program: ViewProgram, admitted: readonly AdmittedEvent[]): ViewDelta {
  // period → dims key → summed change: no joined key string per event.
  const periods = new Map<string, PeriodDelta>()
  const removed = new Map<string, Array<CellState['slots']>>()
  const emptied = new Set<string>()
  const placements: Placement[] = []
  const hasMinMax = program.hasMinMax
  for (const a of admitted) {
    const facts = a.target ?? a.event
    if (!program.selects(facts.type)) continue
    const period = program.bucketer.keyOf(facts.occurredAt)
    placements.push({ admitted: a, period })
    let inPeriod = periods.get(period)
    if (!inPeriod) periods.set(period, (inPeriod = { firstSeq: a.seq, cells: new Map() }))
    const dimsKey = program.dimsKey(facts.data)
    // An event adds its contribution; a retraction takes back its target's.
    foldEvent(program, inPeriod.cells, dimsKey, facts.type, facts.data, a.target === null ? 1 : -1)
    if (a.target === null) continue
    emptied.add(period)
    if (hasMinMax) {
      const id = cellId(period, dimsKey)
      const slots = program.contribution(facts).slots
      const known = removed.get(id)
      if (known) known.push(slots)
      else removed.set(id, [slots])
    }
  }
  return { program, periods, removed, emptied, placements }
}

/**
 * The cells a batch's retractions leave with an unknown minimum or maximum: a removed value
 * equal to the cell's extreme, stored (`storedCells`, by `cellId`) or from this batch. Those are
 * recomputed from the events instead of changed.
 */
export function cellsToRepair(delta: ViewDelta, storedCells: ReadonlyMap<string, CellState | null>): Set<string> {
  const repair = new Set<string>()
  const ops = delta.program.ops
  for (const [id, removed] of delta.removed) {
    const stored = storedCells.get(id) ?? null
    const batch = cellOf(delta, id)
    const hitsExtreme = ops.some((op, i) => op !== 'add' && removed.some((slots) => slots[i] != null && (slots[i] === stored?.slots[i] || slots[i] === batch?.slots[i])))
    if (hitsExtreme) repair.add(id)
  }
  return repair
}

/** The batch's change to one cell, by `cellId`. */
function cellOf(delta: ViewDelta, id: string): CellState | undefined {
  const at = id.indexOf('\u0000')
  return delta.periods.get(id.slice(0, at))?.cells.get(id.slice(at + 1))
}

/** The changes to add to the store's cells: every cell of the delta but those to be recomputed. */
export function cellChanges(delta: ViewDelta, repair: ReadonlySet<string>): Array<{ period: string; dimsKey: string; state: CellState }> {
  const changes: Array<{ period: string; dimsKey: string; state: CellState }> = []
  for (const [period, { cells }] of delta.periods) {
    for (const [dimsKey, state] of cells) if (repair.size === 0 || !repair.has(cellId(period, dimsKey))) changes.push({ period, dimsKey, state })
  }
  return changes
}

/** Per period the batch touched, the seq of its first event there: what marks a period dirty. */
export function firstSeqs(delta: ViewDelta): Map<string, number> {
  const touched = new Map<string, number>()
  for (const [period, { firstSeq }] of delta.periods) touched.set(period, firstSeq)
  return touched
}

/** A view's part in a batch's alerts: its delta, and its periods already closed (final). */
export interface ViewOutcome {
  delta: ViewDelta
  closed: ReadonlySet<string>
}

/**
 * The alerts a batch raises: DelayedEvent per (view, source, period) of events over the view's
 * SLA, then LateAfterClose per (view, period) closed before the batch reached it.
 */
export function batchAlerts(outcomes: readonly ViewOutcome[]): NewAlert[] {
  const delayed = new Map<string, { view: string; source: string; period: string; sla: string; count: number; maxLagMs: number; ids: string[] }>()
  const late = new Map<string, { view: string; period: string; policy: string; count: number; ids: string[] }>()
  for (const { delta, closed } of outcomes) {
    const program = delta.program
    const view = program.name
    for (const { admitted: a, period } of delta.placements) {
      if (closed.has(period)) {
        const key = `${view}\u0000${period}`
        const g = late.get(key) ?? { view, period, policy: program.view.close.lateAfterClose, count: 0, ids: [] }
        g.count++
        if (g.ids.length < ALERT_ID_LIMIT) g.ids.push(a.event.id)
        late.set(key, g)
      }
      if (a.target) continue
      const source = a.event.source
      const limit = program.sla.forSource(source)
      const lag = a.receivedAt - a.event.occurredAt
      if (!limit || lag <= limit.ms) continue
      const key = `${view}\u0000${source}\u0000${period}`
      const g = delayed.get(key) ?? { view, source, period, sla: limit.iso, count: 0, maxLagMs: 0, ids: [] }
      g.count++
      g.maxLagMs = Math.max(g.maxLagMs, lag)
      if (g.ids.length < ALERT_ID_LIMIT) g.ids.push(a.event.id)
      delayed.set(key, g)
    }
  }
  return [
    ...[...delayed.values()].map((g) => ({
      kind: 'DelayedEvent' as const,
      view: g.view,
      period: g.period,
      source: g.source,
      data: { count: g.count, maxLagMs: g.maxLagMs, maxLag: isoDuration(g.maxLagMs), sla: g.sla, eventIds: g.ids },
    })),
    ...[...late.values()].map((g) => ({ kind: 'LateAfterClose' as const, view: g.view, period: g.period, source: null, data: { count: g.count, eventIds: g.ids, policy: g.policy } })),
  ]
}

/** A firing MissingData alert, as far as resolving it goes. */
export interface MissingDataAlert {
  id: number
  view: string | null
  period: string | null
  source: string | null
}

/**
 * The MissingData alerts a batch resolves, grouped by when: an alert is resolved by the first
 * event (not a retraction) of its source counting in its (view, period), at that event's
 * receivedAt (an import keeps each event's). Groups in the order their first alert is given.
 */
export function missingDataResolutions(firing: readonly MissingDataAlert[], deltas: readonly ViewDelta[]): Array<{ at: number; ids: number[] }> {
  const byView = new Map(deltas.map((d) => [d.program.name, d.placements]))
  const resolvedAt = new Map<number, number[]>()
  for (const alert of firing) {
    const placements = alert.view === null ? undefined : byView.get(alert.view)
    if (!placements) continue
    const hit = placements.find((p) => p.admitted.target === null && p.period === alert.period && p.admitted.event.source === alert.source)
    if (!hit) continue
    const at = hit.admitted.receivedAt
    const ids = resolvedAt.get(at)
    if (ids) ids.push(alert.id)
    else resolvedAt.set(at, [alert.id])
  }
  return [...resolvedAt].map(([at, ids]) => ({ at, ids }))
}

/** LV_ERR_EVENTS_INVALID with the problems of a batch, in item order. */
export function invalid(problems: EventProblem[]): LateviewError {
  const n = new Set(problems.map((p) => p.index)).size
  return new LateviewError('LV_ERR_EVENTS_INVALID', `${n} event${n === 1 ? '' : 's'} of the batch ${n === 1 ? 'is' : 'are'} not valid; nothing was written`, {
    errors: problems.sort((a, b) => a.index - b.index),
  })
}

/** LV_ERR_EVENT_CONFLICT: an event whose id is taken by a different body. */
export function conflict(event: NewEvent, index: number): LateviewError {
  return new LateviewError('LV_ERR_EVENT_CONFLICT', `event ${JSON.stringify(event.id)} from source ${JSON.stringify(event.source)} already exists with a different body; nothing was written`, {
    source: event.source,
    id: event.id,
    index,
  })
}
