import { cronIsValid as isRunnableCron } from './cron.js'
import type { MinChange } from './min-change.js'
import { GRANULARITIES, isValidTimeZone, parseDurationMs, type Granularity } from './time.js'

export type MeasureKind = 'sum' | 'count' | 'min' | 'max' | 'avg'
export const MEASURE_KINDS: readonly MeasureKind[] = ['sum', 'count', 'min', 'max', 'avg']

export interface MeasureDefinition {
  name: string
  kind: MeasureKind
  /** The key of `event.data` read by sum, min, max and avg; null for count. */
  field: string | null
  /** Values are kept as integers scaled by 10^decimals, so sums stay exact under retraction. */
  decimals: number
}

export interface ScheduleAt {
  at: string
  afterDays: number
}

export interface ViewDefinition {
  name: string
  version: number
  description: string
  eventTypes: string[]
  timezone: string
  granularity: Granularity
  dimensions: string[]
  measures: MeasureDefinition[]
  sign: Record<string, number>
  flash: ScheduleAt
  consolidate: ScheduleAt
  /** `minChange` only when the file gives one: a definition without it keeps its canonical JSON and hash. */
  rebuild: { every: string; windowDays: number; minChange?: MinChange }
  close: ScheduleAt & { lateAfterClose: 'restate' | 'hold' }
  sla: { maxDelay: string | null; bySource: Record<string, string> }
  expectedSources: { sources: string[]; by: string } | null
}

/** One validation failure of a view file, naming the field and the problem. */
export interface ViewProblem {
  field: string
  problem: string
}

export class ViewDefinitionError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ViewProblem[],
  ) {
    super(`${file}: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`)
    this.name = 'ViewDefinitionError'
  }
}

/** How many integer slots a cell row offers for measure state. */
export const MAX_SLOTS = 16
const DEFAULT_DECIMALS = 6
const TOP_FIELDS = ['name', 'version', 'description', 'eventTypes', 'timezone', 'granularity', 'dimensions', 'measures', 'sign', 'flash', 'consolidate', 'rebuild', 'close', 'sla', 'expectedSources']
const NAME = /^[a-z][a-z0-9_]{0,62}$/
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/

/**
 * Validates a parsed view file. `cronIsValid` checks the rebuild schedule: by default the one
 * reading of cron that the scheduler and replays share (cron.ts).
 */
export function parseViewDefinition(input: unknown, file: string, cronIsValid: (expression: string) => boolean = isRunnableCron): ViewDefinition {
  const problems: ViewProblem[] = []
  const fail = (field: string, problem: string): void => {
    problems.push({ field, problem })
  }
  if (!isObject(input)) throw new ViewDefinitionError(file, [{ field: '(root)', problem: 'must be a JSON object' }])
  unknownFields(input, TOP_FIELDS, '', fail)

  const name = input.name
  if (typeof name !== 'string' || !NAME.test(name)) fail('name', 'must be lower-case letters, digits and _ , starting with a letter')
  const version = input.version ?? 1
  if (!Number.isInteger(version) || (version as number) < 1) fail('version', 'must be a positive integer')
  const description = input.description ?? ''
  if (typeof description !== 'string') fail('description', 'must be a string')

  const eventTypes = stringList(input.eventTypes, 'eventTypes', fail, true)
  const timezone = input.timezone
  if (typeof timezone !== 'string' || !isValidTimeZone(timezone)) fail('timezone', `unknown time zone ${JSON.stringify(timezone)}`)
  const granularity = input.granularity
  if (!GRANULARITIES.includes(granularity as Granularity)) fail('granularity', `must be one of ${GRANULARITIES.join(', ')}`)
  if (input.dimensions === undefined) fail('dimensions', 'is missing (use [] for a single total row)')
  const dimensions = input.dimensions === undefined ? [] : stringList(input.dimensions, 'dimensions', fail, false)
  if (new Set(dimensions).size !== dimensions.length) fail('dimensions', 'has duplicates')

  const measures = parseMeasures(input.measures, fail)
  const sign: Record<string, number> = {}
  if (input.sign !== undefined) {
    if (!isObject(input.sign)) fail('sign', 'must be an object of event type to multiplier')
    else {
      for (const [type, value] of Object.entries(input.sign)) {
        if (typeof value !== 'number' || !Number.isInteger(value) || value === 0) fail(`sign.${type}`, 'must be a non-zero integer')
        else sign[type] = value
        if (!eventTypes.includes(type)) fail(`sign.${type}`, 'names an event type the view does not select')
      }
    }
  }

  const flash = scheduleAt(input.flash, 'flash', { at: '22:00', afterDays: 0 }, [], fail)
  const consolidate = scheduleAt(input.consolidate, 'consolidate', { at: '03:00', afterDays: 1 }, [], fail)
  const closeInput = input.close
  const closeBase = scheduleAt(closeInput, 'close', { at: '03:30', afterDays: 3 }, ['lateAfterClose'], fail)
  let lateAfterClose: 'restate' | 'hold' = 'restate'
  if (isObject(closeInput) && closeInput.lateAfterClose !== undefined) {
    if (closeInput.lateAfterClose !== 'restate' && closeInput.lateAfterClose !== 'hold') fail('close.lateAfterClose', 'must be "restate" or "hold"')
    else lateAfterClose = closeInput.lateAfterClose
  }

  const rebuild: ViewDefinition['rebuild'] = { every: '*/15 * * * *', windowDays: 7 }
  if (input.rebuild !== undefined) {
    if (!isObject(input.rebuild)) fail('rebuild', 'must be an object')
    else {
      unknownFields(input.rebuild, ['every', 'windowDays', 'minChange'], 'rebuild.', fail)
      if (input.rebuild.every !== undefined) {
        if (typeof input.rebuild.every !== 'string' || !cronIsValid(input.rebuild.every)) fail('rebuild.every', 'must be a cron expression')
        else rebuild.every = input.rebuild.every
      }
      if (input.rebuild.windowDays !== undefined) {
        if (!Number.isInteger(input.rebuild.windowDays) || (input.rebuild.windowDays as number) < 1) fail('rebuild.windowDays', 'must be a positive integer')
        else rebuild.windowDays = input.rebuild.windowDays as number
      }
      const minChange = parseMinChange(input.rebuild.minChange, fail)
      if (minChange) rebuild.minChange = minChange
    }
  }

  const sla: ViewDefinition['sla'] = { maxDelay: null, bySource: {} }
  if (input.sla !== undefined) {
    if (!isObject(input.sla)) fail('sla', 'must be an object')
    else {
      unknownFields(input.sla, ['maxDelay', 'bySource'], 'sla.', fail)
      if (input.sla.maxDelay !== undefined) {
        if (typeof input.sla.maxDelay !== 'string' || parseDurationMs(input.sla.maxDelay) === null) fail('sla.maxDelay', 'must be a positive ISO 8601 duration such as PT6H')
        else sla.maxDelay = input.sla.maxDelay
      }
      if (input.sla.bySource !== undefined) {
        if (!isObject(input.sla.bySource)) fail('sla.bySource', 'must be an object of source glob to ISO duration')
        else {
          for (const [glob, duration] of Object.entries(input.sla.bySource)) {
            if (typeof duration !== 'string' || parseDurationMs(duration) === null) fail(`sla.bySource.${glob}`, 'must be a positive ISO 8601 duration such as PT5M')
            else sla.bySource[glob] = duration
          }
        }
      }
    }
  }

  let expectedSources: ViewDefinition['expectedSources'] = null
  if (input.expectedSources !== undefined) {
    const e = input.expectedSources
    if (!isObject(e)) fail('expectedSources', 'must be an object')
    else {
      unknownFields(e, ['sources', 'by'], 'expectedSources.', fail)
      const sources = stringList(e.sources, 'expectedSources.sources', fail, true)
      if (typeof e.by !== 'string' || parseDurationMs(e.by) === null) fail('expectedSources.by', 'must be a positive ISO 8601 duration such as PT26H')
      else expectedSources = { sources, by: e.by }
    }
  }

  if (problems.length > 0) throw new ViewDefinitionError(file, problems)
  return {
    name: name as string,
    version: version as number,
    description: description as string,
    eventTypes,
    timezone: timezone as string,
    granularity: granularity as Granularity,
    dimensions,
    measures,
    sign,
    flash,
    consolidate,
    rebuild,
    close: { ...closeBase, lateAfterClose },
    sla,
    expectedSources,
  }
}

function parseMeasures(input: unknown, fail: (field: string, problem: string) => void): MeasureDefinition[] {
  if (!isObject(input) || Object.keys(input).length === 0) {
    fail('measures', 'must be an object with at least one measure')
    return []
  }
  const measures: MeasureDefinition[] = []
  for (const [name, spec] of Object.entries(input)) {
    const field = `measures.${name}`
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) fail(field, 'measure names are letters, digits and _')
    if (!isObject(spec)) {
      fail(field, 'must be an object such as { "sum": "amount" }')
      continue
    }
    const kinds = Object.keys(spec).filter((k) => k !== 'decimals')
    const unknown = kinds.filter((k) => !MEASURE_KINDS.includes(k as MeasureKind))
    if (unknown.length > 0) {
      fail(field, `unknown measure kind ${unknown.map((k) => JSON.stringify(k)).join(', ')} (use ${MEASURE_KINDS.join(', ')})`)
      continue
    }
    if (kinds.length !== 1) {
      fail(field, 'must name exactly one measure kind')
      continue
    }
    const kind = kinds[0] as MeasureKind
    const arg = spec[kind]
    let source: string | null = null
    if (kind === 'count') {
      if (arg !== true) fail(`${field}.count`, 'must be true')
    } else if (typeof arg !== 'string' || arg.length === 0) fail(`${field}.${kind}`, 'must name a key of event.data')
    else source = arg
    const decimals = spec.decimals ?? (kind === 'count' ? 0 : DEFAULT_DECIMALS)
    if (!Number.isInteger(decimals) || (decimals as number) < 0 || (decimals as number) > 9) fail(`${field}.decimals`, 'must be an integer from 0 to 9')
    measures.push({ name, kind, field: source, decimals: decimals as number })
  }
  const slots = measures.reduce((n, m) => n + (m.kind === 'avg' ? 2 : 1), 0)
  if (slots > MAX_SLOTS) fail('measures', `too many measures (avg counts twice; at most ${MAX_SLOTS})`)
  return measures
}

/** `rebuild.minChange`: `{ relative?, absolute? }`, each a number >= 0, at least one given; undefined when absent or invalid. */
function parseMinChange(input: unknown, fail: (field: string, problem: string) => void): MinChange | undefined {
  if (input === undefined) return undefined
  if (!isObject(input)) {
    fail('rebuild.minChange', 'must be an object such as { "relative": 0.001 } or { "absolute": 100 }')
    return undefined
  }
  unknownFields(input, ['relative', 'absolute'], 'rebuild.minChange.', fail)
  if (input.relative === undefined && input.absolute === undefined) {
    fail('rebuild.minChange', 'must give relative, absolute or both')
    return undefined
  }
  const minChange: MinChange = {}
  let valid = true
  for (const key of ['relative', 'absolute'] as const) {
    const value = input[key]
    if (value === undefined) continue
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      fail(`rebuild.minChange.${key}`, key === 'relative' ? 'must be a number >= 0 (a share of the total: 0.001 is 0.1 %)' : "must be a number >= 0 (in the measure's units)")
      valid = false
    } else minChange[key] = value
  }
  return valid ? minChange : undefined
}

function scheduleAt(input: unknown, field: string, defaults: ScheduleAt, extra: string[], fail: (field: string, problem: string) => void): ScheduleAt {
  const result = { ...defaults }
  if (input === undefined) return result
  if (!isObject(input)) {
    fail(field, 'must be an object such as { "at": "03:00", "afterDays": 1 }')
    return result
  }
  unknownFields(input, ['at', 'afterDays', ...extra], `${field}.`, fail)
  if (input.at !== undefined) {
    if (typeof input.at !== 'string' || !CLOCK.test(input.at)) fail(`${field}.at`, 'must be a local time HH:MM')
    else result.at = input.at
  }
  if (input.afterDays !== undefined) {
    if (!Number.isInteger(input.afterDays) || (input.afterDays as number) < 0) fail(`${field}.afterDays`, 'must be a non-negative integer')
    else result.afterDays = input.afterDays as number
  }
  return result
}

function stringList(value: unknown, field: string, fail: (field: string, problem: string) => void, nonEmpty: boolean): string[] {
  if (value === undefined) {
    fail(field, 'is missing')
    return []
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    fail(field, 'must be a list of non-empty strings')
    return []
  }
  if (nonEmpty && value.length === 0) fail(field, 'must not be empty')
  return value as string[]
}

function unknownFields(input: Record<string, unknown>, allowed: string[], prefix: string, fail: (field: string, problem: string) => void): void {
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) fail(`${prefix}${key}`, 'unknown field')
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A definition as the store keeps it (the canonical JSON of a parsed definition) back as a
 * definition. Fields a later lateview adds get their defaults here, so that a stored version
 * still compares equal to the same file read by the newer parser.
 */
export function storedDefinition(text: string): ViewDefinition {
  return JSON.parse(text) as ViewDefinition
}

/** A definition in the shape of its view file (measures back to `{ "sum": "amount" }`). */
export function toViewFile(view: ViewDefinition): Record<string, unknown> {
  const measures: Record<string, Record<string, unknown>> = {}
  for (const m of view.measures) {
    measures[m.name] = { [m.kind]: m.kind === 'count' ? true : m.field, ...(m.kind === 'count' ? {} : { decimals: m.decimals }) }
  }
  return { ...view, measures }
}
