import { parseDurationMs } from './time.js'
import type { ViewDefinition } from './view.js'

export type AlertKind = 'DelayedEvent' | 'MissingData' | 'LateAfterClose' | 'ReportRevised' | 'JobFailed'
export const ALERT_KINDS: readonly AlertKind[] = ['DelayedEvent', 'MissingData', 'LateAfterClose', 'ReportRevised', 'JobFailed']

/** An alert about to be raised; `onceKey` makes it fire at most once per subject. */
export interface NewAlert {
  kind: AlertKind
  view: string | null
  period: string | null
  source: string | null
  data: Record<string, unknown>
  onceKey?: string
}

/** How many event ids a grouped alert lists. */
export const ALERT_ID_LIMIT = 100

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${escaped}$`)
}

/**
 * The lag allowed for a source by a view, in ms: the first `sla.bySource` glob that matches
 * (in file order), else `sla.maxDelay`; null when the view sets no SLA for it.
 */
export class SlaPolicy {
  readonly #rules: Array<{ glob: string; re: RegExp; ms: number; iso: string }>
  readonly #default: { ms: number; iso: string } | null
  readonly #cache = new Map<string, { ms: number; iso: string } | null>()

  constructor(view: ViewDefinition) {
    this.#rules = Object.entries(view.sla.bySource).map(([glob, iso]) => ({ glob, re: globToRegExp(glob), ms: parseDurationMs(iso) as number, iso }))
    this.#default = view.sla.maxDelay ? { ms: parseDurationMs(view.sla.maxDelay) as number, iso: view.sla.maxDelay } : null
  }

  forSource(source: string): { ms: number; iso: string } | null {
    let hit = this.#cache.get(source)
    if (hit === undefined) {
      const rule = this.#rules.find((r) => r.re.test(source))
      hit = rule ? { ms: rule.ms, iso: rule.iso } : this.#default
      this.#cache.set(source, hit)
    }
    return hit
  }
}

/** ISO 8601 text of a lag in ms (`PT26H3M4.5S`), for alert bodies. */
export function isoDuration(ms: number): string {
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(ms)
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const m = Math.floor(rest / 60_000)
  rest -= m * 60_000
  const s = rest / 1000
  return `${sign}PT${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s || (!h && !m) ? `${s}S` : ''}`
}
