/**
 * Command-line options and the data sizes of a benchmark run.
 *
 *   npm run bench                       full run, SQLite and PostgreSQL
 *   npm run bench -- --quick            quick run (about a minute)
 *   --engine sqlite|postgres|both       default both
 *   --out <file>                        default bench/results/latest.json
 *   --scale <x>                         multiplies events per day, ingest sizes and request counts
 *   --budget <s>                        caps each ingest comparison at s seconds of lateview time
 *   --only ingest,http,memory,latest,asof,rebuild,consolidate,analysis,processes (PostgreSQL only),consume
 *   --nats <url>                        default nats://127.0.0.1:4222 (the consume section)
 *   --pg <url>                          default postgres://postgres@127.0.0.1:5432/test
 *   --keep                              keep the temporary databases (prints where)
 */
import { join } from 'node:path'

export type EngineName = 'sqlite' | 'postgres'
export const PHASES = ['ingest', 'http', 'memory', 'latest', 'asof', 'rebuild', 'consolidate', 'analysis', 'processes', 'consume'] as const
export type Phase = (typeof PHASES)[number]

export interface Sizes {
  /** Base events per local day of the retail fixture (duplicates and corrections come on top). */
  perDay: number
  /** Events fed to library ingest and to raw inserts (figure 1), per id variant. */
  ingestEvents: number
  /** Events sent over HTTP (figure 2). */
  httpEvents: number
  /** Days of the small and the large store the reads are measured on (figures 3 to 6). */
  smallDays: number
  largeDays: number
  /** Sequential GET requests per store (figure 3), after `warmup` untimed ones. */
  requests: number
  warmup: number
  /** Distinct days consolidated (figure 6). */
  consolidateDays: number
  /** Timed repetitions of the as-of report and of the naive query (figure 4). */
  asOfRepeats: number
  /** Events published to NATS JetStream and consumed (figure 11). */
  consumeEvents: number
}

export interface BenchOptions {
  quick: boolean
  engines: EngineName[]
  out: string
  scale: number
  /** Seconds of lateview time after which an ingest comparison stops (both sides on the same prefix). */
  budgetSeconds: number
  only: ReadonlySet<Phase>
  pgUrl: string
  natsUrl: string
  keep: boolean
  sizes: Record<EngineName, Sizes>
}

export const ROOT = join(import.meta.dirname, '..')
export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test'

const FULL: Sizes = {
  perDay: 10_000,
  ingestEvents: 1_000_000,
  httpEvents: 1_000_000,
  smallDays: 10,
  largeDays: 500,
  requests: 10_000,
  warmup: 200,
  consolidateDays: 10,
  asOfRepeats: 15,
  consumeEvents: 1_000_000,
}
const QUICK: Sizes = { perDay: 10_000, ingestEvents: 100_000, httpEvents: 100_000, smallDays: 2, largeDays: 20, requests: 600, warmup: 60, consolidateDays: 5, asOfRepeats: 7, consumeEvents: 50_000 }
/**
 * PostgreSQL is reported for comparison only: a full run on it ingests 200k events and reads the
 * same 5M-event large store as SQLite (loaded with COPY); a quick run stays well within a minute.
 */
const FULL_PG: Sizes = { ...FULL, ingestEvents: 200_000, httpEvents: 200_000, consumeEvents: 200_000 }
const QUICK_PG: Sizes = { ...QUICK, ingestEvents: 50_000, httpEvents: 50_000, largeDays: 5, requests: 300, warmup: 30, consolidateDays: 2, asOfRepeats: 5, consumeEvents: 20_000 }

function scaled(sizes: Sizes, scale: number): Sizes {
  const round = (n: number, min: number) => Math.max(min, Math.round(n * scale))
  return {
    ...sizes,
    perDay: round(sizes.perDay, 100),
    ingestEvents: round(sizes.ingestEvents, 1000),
    httpEvents: round(sizes.httpEvents, 1000),
    requests: round(sizes.requests, 100),
    warmup: round(sizes.warmup, 20),
    consumeEvents: round(sizes.consumeEvents, 1000),
  }
}

export function parseOptions(argv: string[]): BenchOptions {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag)
    if (at < 0) return undefined
    const v = argv[at + 1]
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`)
    return v
  }
  const known = new Set(['--quick', '--keep', '--engine', '--out', '--scale', '--budget', '--only', '--pg', '--nats'])
  argv.forEach((a, i) => {
    const prev = argv[i - 1]
    if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`)
    if (!a.startsWith('--') && !(prev !== undefined && ['--engine', '--out', '--scale', '--budget', '--only', '--pg', '--nats'].includes(prev))) throw new Error(`unexpected argument ${a}`)
  })
  const quick = argv.includes('--quick')
  const engine = value('--engine') ?? 'both'
  if (!['sqlite', 'postgres', 'both'].includes(engine)) throw new Error('--engine must be sqlite, postgres or both')
  const scale = Number(value('--scale') ?? '1')
  if (!(scale > 0 && scale <= 10)) throw new Error('--scale must be a number in (0, 10]')
  const budget = value('--budget')
  const budgetSeconds = budget === undefined ? (quick ? 2 : Number.POSITIVE_INFINITY) : Number(budget)
  if (!(budgetSeconds > 0)) throw new Error('--budget must be a positive number of seconds')
  const onlyText = value('--only')
  const only = new Set<Phase>(onlyText === undefined ? PHASES : (onlyText.split(',') as Phase[]))
  for (const p of only) if (!PHASES.includes(p)) throw new Error(`--only: unknown phase ${p} (${PHASES.join(', ')})`)
  return {
    quick,
    engines: engine === 'both' ? ['sqlite', 'postgres'] : [engine as EngineName],
    out: value('--out') ?? join(ROOT, 'bench/results/latest.json'),
    scale,
    budgetSeconds,
    only,
    pgUrl: value('--pg') ?? DEFAULT_PG_URL,
    natsUrl: value('--nats') ?? 'nats://127.0.0.1:4222',
    keep: argv.includes('--keep'),
    sizes: {
      sqlite: scaled(quick ? QUICK : FULL, scale),
      postgres: scaled(quick ? QUICK_PG : FULL_PG, scale),
    },
  }
}
