import { aggregate, applyContribution, cellId, emptyCell, splitCellId, type CellState, type ViewProgram } from '../domain/aggregate.js'
import type { Clock } from '../domain/clock.js'
import { dataJson, DEFAULT_EVENT_LIMITS, type EventLimits } from '../domain/content.js'
import { numeral } from '../domain/decimal.js'
import { acceptEvent, canonicalBody, EventKeyMap, inexactNumbers, MAX_CLOCK_SKEW_MS, parseEventFully, type NewEvent, type StoredEvent } from '../domain/event.js'
import { toIso } from '../domain/time.js'
import { LateviewError, type EventProblem } from '../errors.js'
import { dropEmptyCells, readCell, setCell } from '../store/cells.js'
import type { CellWrite, Engine, WriteTx } from '../store/engine.js'
import { periodEvents, retractedAmong } from '../store/events.js'
import { ALERT_ID_LIMIT, isoDuration, type NewAlert } from '../domain/alerts.js'
import { firingMissingData, raiseAlerts, resolveAlerts } from '../store/alerts.js'
import { markDirty } from '../store/revisions.js'
import { alertDocument, type AlertDocument } from './alert-documents.js'
import { addSourceLags } from './sources.js'
import type { AlertsTable } from '../store/schema.js'

export interface IngestOptions {
  /** Admin import: keep each event's `receivedAt` (non-decreasing, not before the store's newest). */
  imported?: boolean
  /** What an event may hold (default DEFAULT_EVENT_LIMITS). */
  limits?: EventLimits
  /**
   * The batch was parsed losslessly and held numbers no JS number represents exactly (Decimals):
   * the events holding them are refused, since a plain JSON parser would have changed them.
   */
  inexactNumbers?: boolean
  /** Runs first inside the write transaction: refuses the batch when this process's view definitions are outdated. */
  checkDefinitions?: (db: WriteTx['db']) => Promise<void>
}

/** What an ingest call reports back (the HTTP answer is this without `lags`). */
export interface IngestResult {
  accepted: number
  duplicates: number
  firstSeq: number | null
  lastSeq: number | null
  receivedAt: string
  alerts: AlertDocument[]
  /** Per accepted event: its source and lag, for metrics. */
  lags: Array<{ source: string; lagMs: number }>
}

export const MAX_BATCH = 100_000

/**
 * A valid item of the batch, with its index; once admitted (an accepted event), also its seq,
 * receivedAt and, for a retraction, the event it voids.
 */
interface Item {
  event: NewEvent
  index: number
  /** 0 until admitted. */
  seq: number
  receivedAt: number
  target: { seq: number; type: string; occurredAt: number; data: Record<string, unknown> } | null
}

/** An item admitted to the store. */
type Accepted = Item

/**
 * Appends a batch of events atomically: every item is validated first, then, in one write
 * transaction, duplicates are recognised, conflicts refused, seqs and receivedAt assigned and
 * the Realtime cells of every view updated. Any problem throws and writes nothing.
 */
export async function ingest(engine: Engine, programs: ViewProgram[], clock: Clock, items: unknown[], options: IngestOptions = {}): Promise<IngestResult> {
  if (items.length > MAX_BATCH) throw new LateviewError('LV_ERR_BODY_TOO_LARGE', `a batch holds at most ${MAX_BATCH} events; this one has ${items.length}`)
  const imported = options.imported === true
  const limits = options.limits ?? DEFAULT_EVENT_LIMITS
  const problems: EventProblem[] = []
  const now = clock.now()
  // Validation and the batch's own duplicates in one pass: the same (source, id) twice in one
  // batch is a retried item, or a conflict (reported only if every item is valid).
  const unique = new EventKeyMap<Item>()
  const inOrder: Item[] = []
  let duplicates = 0
  let conflicting: Item | null = null
  for (let index = 0; index < items.length; index++) {
    if (options.inexactNumbers) {
      const inexact = inexactNumbers(items[index])
      if (inexact.length > 0) {
        const raw = items[index] as { id?: unknown }
        for (const { field, text } of inexact) {
          problems.push({
            index,
            ...(typeof raw.id === 'string' ? { id: raw.id } : {}),
            code: 'LV_EVENT_FIELD_INVALID',
            field,
            message: `${text} has more significant digits than a JSON number holds exactly (a JSON parser reads it as ${numeral(Number(text))}): send at most 15 significant digits, or the value as a string`,
          })
        }
        continue
      }
    }
    let e = acceptEvent(items[index], imported)
    if (e === null) {
      const parsed = parseEventFully(items[index], index, imported)
      if (!parsed.ok) {
        problems.push(...parsed.problems)
        continue
      }
      e = parsed.event
    }
    const content = dataJson(e.data, limits)
    if ('code' in content) {
      problems.push({ index, id: e.id, ...content })
      continue
    }
    e.dataJson = content.json
    if (e.occurredAt > (e.receivedAt ?? now) + MAX_CLOCK_SKEW_MS) {
      problems.push({ index, id: e.id, code: 'LV_EVENT_IN_FUTURE', field: 'occurredAt', message: `occurredAt ${toIso(e.occurredAt)} is more than 5 minutes after receivedAt ${toIso(e.receivedAt ?? now)}` })
    }
    if (e.retracts === null) {
      for (const p of programs) {
        if (!p.selects(e.type)) continue
        const bad = p.problemWith(e.data)
        if (bad) {
          problems.push({ index, id: e.id, code: 'LV_EVENT_FIELD_INVALID', field: bad.field, message: bad.message })
          break
        }
      }
    }
    if (problems.length > 0) continue
    const item: Item = { event: e, index, seq: 0, receivedAt: 0, target: null }
    const first = unique.claim(e.source, e.id, item)
    if (first === undefined) inOrder.push(item)
    else if (canonicalBody(first.event) === canonicalBody(e)) duplicates++
    else conflicting ??= item
  }
  if (problems.length > 0) throw invalid(problems)
  if (conflicting) throw conflict(conflicting.event, conflicting.index)

  return engine.write(async (tx) => {
    if (options.checkDefinitions) await options.checkDefinitions(tx.db)
    const head = await tx.head()
    const lookups: Array<{ source: string; id: string }> = []
    for (const { event } of inOrder) {
      lookups.push(event)
      if (event.retracts !== null && !unique.has(event.source, event.retracts)) lookups.push({ source: event.source, id: event.retracts })
    }
    const stored = new EventKeyMap<StoredEvent>()
    for (const e of await tx.findEvents(lookups)) stored.set(e.source, e.id, e)

    const fresh: Item[] = []
    for (const item of inOrder) {
      const existing = stored.size === 0 ? undefined : stored.get(item.event.source, item.event.id)
      if (!existing) fresh.push(item)
      else if (canonicalBody(existing) === canonicalBody(item.event)) duplicates++
      else throw conflict(item.event, item.index)
    }

    const accepted = await admit(tx, fresh, unique, stored, head, imported ? null : Math.max(now, head.receivedAt))
    const alerts: AlertDocument[] = []
    if (accepted.length > 0) {
      await tx.insertEvents(accepted)
      // The lag sketch of /v1/sources, in this transaction so that it counts exactly what commits.
      await addSourceLags(tx.db, accepted)
      const { closed, periods } = await updateRealtime(tx, programs, accepted)
      alerts.push(...(await ingestAlerts(tx, programs, accepted, periods, closed)))
    }
    const last = accepted[accepted.length - 1]
    return {
      accepted: accepted.length,
      duplicates,
      firstSeq: accepted[0]?.seq ?? null,
      lastSeq: last?.seq ?? null,
      receivedAt: toIso(last?.receivedAt ?? Math.max(now, head.receivedAt)),
      alerts,
      // Made when read: only the HTTP layer's metrics look at them.
      get lags() {
        return accepted.map((a) => ({ source: a.event.source, lagMs: a.receivedAt - a.event.occurredAt }))
      },
    }
  })
}

/** Assigns seqs and receivedAt and resolves retraction targets; throws if any event cannot be admitted. */
async function admit(tx: WriteTx, fresh: Item[], batch: EventKeyMap<Item>, stored: EventKeyMap<StoredEvent>, head: { seq: number; receivedAt: number }, receivedAt: number | null): Promise<Accepted[]> {
  const problems: EventProblem[] = []
  const storedTargets: number[] = []
  for (const { event } of fresh) {
    const t = event.retracts === null ? undefined : stored.get(event.source, event.retracts)
    if (t) storedTargets.push(t.seq)
  }
  const alreadyVoided = storedTargets.length === 0 ? new Set<number>() : await retractedAmong(tx.db, storedTargets)
  const voided = new Set<number>()
  const accepted: Accepted[] = []
  let lastReceived = head.receivedAt
  for (const item of fresh) {
    const { event, index } = item
    const at = receivedAt ?? (event.receivedAt as number)
    if (at < lastReceived) {
      problems.push({ index, id: event.id, code: 'LV_EVENT_RECEIVED_AT_ORDER', field: 'receivedAt', message: `receivedAt ${toIso(at)} is earlier than ${toIso(lastReceived)}, already in the store or earlier in the batch` })
    }
    lastReceived = Math.max(lastReceived, at)
    item.seq = head.seq + accepted.length + 1
    item.receivedAt = at
    if (event.retracts !== null) {
      const problem = retractionProblem(event, item, batch, stored, alreadyVoided, voided)
      if (problem) problems.push({ index, id: event.id, field: 'retracts', ...problem })
      else voided.add((item.target as NonNullable<Item['target']>).seq)
    }
    accepted.push(item)
  }
  if (problems.length > 0) throw invalid(problems)
  return accepted
}

/** Resolves the target of retraction `a` into `a.target`, or says why it cannot retract it. */
function retractionProblem(
  event: NewEvent,
  a: Accepted,
  batch: EventKeyMap<Item>,
  stored: EventKeyMap<StoredEvent>,
  alreadyVoided: Set<number>,
  voided: Set<number>,
): { code: EventProblem['code']; message: string } | null {
  // An earlier event of the batch (a later one is not admitted yet: it does not precede this).
  const inBatch = batch.get(event.source, event.retracts as string)
  const old = stored.get(event.source, event.retracts as string)
  const t = inBatch && inBatch.seq > 0 ? { seq: inBatch.seq, ...inBatch.event } : (old ?? null)
  if (!t) return { code: 'LV_EVENT_RETRACTS_UNKNOWN', message: `no event ${JSON.stringify(event.retracts)} from source ${JSON.stringify(event.source)} precedes this retraction` }
  if (t.retracts !== null) return { code: 'LV_EVENT_RETRACTS_RETRACTION', message: `${JSON.stringify(event.retracts)} is itself a retraction` }
  if (alreadyVoided.has(t.seq) || voided.has(t.seq)) return { code: 'LV_EVENT_ALREADY_RETRACTED', message: `${JSON.stringify(event.retracts)} is already retracted` }
  a.target = { seq: t.seq, type: t.type, occurredAt: t.occurredAt, data: t.data }
  return null
}

/**
 * Adds the batch to every view's Realtime cells: contributions are summed per cell in memory
 * first, so a cell is written once per batch. A retraction subtracts its target's contribution.
 * A removed minimum or maximum cannot be undone by arithmetic: when a retracted value equals the
 * cell's extreme (stored, or from this batch), that one cell is recomputed from the store.
 * Returns, per view, the closed periods the batch touched and each accepted event's period
 * (undefined where the view does not select it), for the alerts.
 */
async function updateRealtime(
  tx: WriteTx,
  programs: ViewProgram[],
  accepted: Accepted[],
): Promise<{ closed: Map<string, Set<string>>; periods: Map<string, Array<string | undefined>> }> {
  const newHead = (accepted[accepted.length - 1] as Accepted).seq
  const closed = new Map<string, Set<string>>()
  const periods = new Map<string, Array<string | undefined>>()
  for (const program of programs) {
    // period → dims key → summed change: no joined key string per event.
    const changes = new Map<string, { firstSeq: number; cells: Map<string, CellState> }>()
    const retracted = new Map<string, Array<CellState['slots']>>()
    const emptied = new Set<string>()
    const periodOf: Array<string | undefined> = new Array(accepted.length)
    const slotCount = program.ops.length
    for (let i = 0; i < accepted.length; i++) {
      const a = accepted[i] as Accepted
      const facts = a.target ?? a.event
      if (!program.selects(facts.type)) continue
      const period = program.bucketer.keyOf(facts.occurredAt)
      periodOf[i] = period
      let inPeriod = changes.get(period)
      if (!inPeriod) changes.set(period, (inPeriod = { firstSeq: a.seq, cells: new Map() }))
      const dimsKey = program.dimsKey(facts.data)
      let state = inPeriod.cells.get(dimsKey)
      if (!state) inPeriod.cells.set(dimsKey, (state = emptyCell(slotCount)))
      if (a.target) {
        const c = program.contribution(facts)
        applyContribution(state, c, program.ops, -1)
        emptied.add(period)
        if (program.hasMinMax) {
          const id = cellId(period, dimsKey)
          retracted.set(id, [...(retracted.get(id) ?? []), c.slots])
        }
      } else program.addTo(state, facts.type, facts.data)
    }
    periods.set(program.name, periodOf)
    const repair = new Set<string>()
    for (const [id, removed] of retracted) {
      const { period, dimsKey } = splitCellId(id)
      const stored = await readCell(tx.db, program, period, dimsKey)
      const batch = changes.get(period)?.cells.get(dimsKey)
      const hitsExtreme = program.ops.some(
        (op, i) => op !== 'add' && removed.some((slots) => slots[i] != null && (slots[i] === stored?.slots[i] || slots[i] === batch?.slots[i])),
      )
      if (hitsExtreme) repair.add(id)
    }
    const writes: CellWrite[] = []
    const touched = new Map<string, number>()
    for (const [period, { firstSeq, cells }] of changes) {
      touched.set(period, firstSeq)
      for (const [dimsKey, state] of cells) if (repair.size === 0 || !repair.has(cellId(period, dimsKey))) writes.push({ period, dimsKey, state })
    }
    await tx.addToCells(program, writes)
    if (emptied.size > 0) await dropEmptyCells(tx, program, [...emptied])
    for (const id of repair) {
      const { period, dimsKey } = splitCellId(id)
      const range = program.bucketer.rangeOf(period)
      if (!range) continue
      const events = (await periodEvents(tx.db, program.view.eventTypes, range, newHead)).filter((e) => program.dimsKey(e.data) === dimsKey)
      const cell = aggregate(program, events).get(id) ?? null
      await setCell(tx, program, period, dimsKey, cell)
    }
    // A period that already has a revision is now dirty: the rebuilder will look at it.
    if (touched.size > 0) {
      const published = await markDirty(tx.db, program.name, touched)
      closed.set(program.name, new Set(published.filter((p) => p.status === 'final').map((p) => p.period)))
    }
  }
  return { closed, periods }
}

/**
 * The alerts a batch raises, written in its transaction: DelayedEvent per (view, source,
 * period) over the SLA, LateAfterClose per closed (view, period), and the resolution of
 * MissingData alerts whose source has now reported.
 */
async function ingestAlerts(
  tx: WriteTx,
  programs: ViewProgram[],
  accepted: Accepted[],
  periods: Map<string, Array<string | undefined>>,
  closed: Map<string, Set<string>>,
): Promise<AlertDocument[]> {
  const now = (accepted[accepted.length - 1] as Accepted).receivedAt
  const delayed = new Map<string, { view: string; source: string; period: string; sla: string; count: number; maxLagMs: number; ids: string[] }>()
  const late = new Map<string, { view: string; period: string; count: number; ids: string[] }>()
  for (const program of programs) {
    const closedPeriods = closed.get(program.name)
    const periodOf = periods.get(program.name) ?? []
    const sla = program.sla
    for (let i = 0; i < accepted.length; i++) {
      const period = periodOf[i]
      if (period === undefined) continue
      const a = accepted[i] as Accepted
      if (closedPeriods !== undefined && closedPeriods.has(period)) {
        const key = `${program.name}\u0000${period}`
        const g = late.get(key) ?? { view: program.name, period, count: 0, ids: [] }
        g.count++
        if (g.ids.length < ALERT_ID_LIMIT) g.ids.push(a.event.id)
        late.set(key, g)
      }
      if (a.target) continue
      const source = a.event.source
      const limit = sla.forSource(source)
      const lag = a.receivedAt - a.event.occurredAt
      if (!limit || lag <= limit.ms) continue
      const key = `${program.name}\u0000${source}\u0000${period}`
      const g = delayed.get(key) ?? { view: program.name, source, period, sla: limit.iso, count: 0, maxLagMs: 0, ids: [] }
      g.count++
      g.maxLagMs = Math.max(g.maxLagMs, lag)
      if (g.ids.length < ALERT_ID_LIMIT) g.ids.push(a.event.id)
      delayed.set(key, g)
    }
  }
  const raised: NewAlert[] = [
    ...[...delayed.values()].map((g) => ({
      kind: 'DelayedEvent' as const,
      view: g.view,
      period: g.period,
      source: g.source,
      data: { count: g.count, maxLagMs: g.maxLagMs, maxLag: isoDuration(g.maxLagMs), sla: g.sla, eventIds: g.ids },
    })),
    ...[...late.values()].map((g) => ({
      kind: 'LateAfterClose' as const,
      view: g.view,
      period: g.period,
      source: null,
      data: { count: g.count, eventIds: g.ids, policy: programs.find((p) => p.name === g.view)?.view.close.lateAfterClose ?? 'restate' },
    })),
  ]
  const rows = await raiseAlerts(tx.db, raised, now)
  const resolved = await resolveMissingData(tx, accepted, periods)
  return [...rows, ...resolved].map(alertDocument)
}

/**
 * Resolves the firing MissingData alerts whose (view, period, source) the batch reported, at the
 * receivedAt of the source's first such event (an import keeps each event's receivedAt).
 */
async function resolveMissingData(tx: WriteTx, accepted: Accepted[], periods: Map<string, Array<string | undefined>>): Promise<AlertsTable[]> {
  const firing = await firingMissingData(tx.db)
  if (firing.length === 0) return []
  const resolvedAt = new Map<number, number[]>()
  for (const alert of firing) {
    const periodOf = alert.view === null ? undefined : periods.get(alert.view)
    if (!periodOf) continue
    const i = accepted.findIndex((a, i) => a.target === null && periodOf[i] === alert.period && a.event.source === alert.source)
    if (i < 0) continue
    const at = (accepted[i] as Accepted).receivedAt
    resolvedAt.set(at, [...(resolvedAt.get(at) ?? []), alert.id])
  }
  const resolved: AlertsTable[] = []
  for (const [at, ids] of resolvedAt) resolved.push(...(await resolveAlerts(tx.db, ids, at)))
  return resolved
}

function invalid(problems: EventProblem[]): LateviewError {
  const n = new Set(problems.map((p) => p.index)).size
  return new LateviewError('LV_ERR_EVENTS_INVALID', `${n} event${n === 1 ? '' : 's'} of the batch ${n === 1 ? 'is' : 'are'} not valid; nothing was written`, {
    errors: problems.sort((a, b) => a.index - b.index),
  })
}

function conflict(event: NewEvent, index: number): LateviewError {
  return new LateviewError(
    'LV_ERR_EVENT_CONFLICT',
    `event ${JSON.stringify(event.id)} from source ${JSON.stringify(event.source)} already exists with a different body; nothing was written`,
    { source: event.source, id: event.id, index },
  )
}
