import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { DEFAULT_EVENT_LIMITS, type EventLimits } from './domain/content.js'
import { parseDurationMs } from './domain/time.js'
import { LateviewError } from './errors.js'

export type Scope = 'ingest' | 'read' | 'admin'
export const SCOPES: readonly Scope[] = ['ingest', 'read', 'admin']

/** Everything lateview reads from the environment, validated once and frozen. */
export interface LateviewConfig {
  /** SQLite file path or `postgres://` URL. */
  db: string
  /**
   * A streaming replica of the PostgreSQL store (`LATEVIEW_DB_READ`) that serves reports,
   * Realtime, as-of, diffs and analysis; its `?schema=` is the primary's. Null: the primary serves all.
   */
  readDb: string | null
  /** How long a read that needs a newer seq than the replica has waits for it, in ms, before going to the primary. */
  readWaitMs: number
  viewsDir: string
  host: string
  port: number
  /** token → scopes; null means no authentication (loopback only unless `insecure`). */
  tokens: ReadonlyMap<string, ReadonlySet<Scope>> | null
  tokensFile: string | null
  insecure: boolean
  scheduler: boolean
  simulatedClock: boolean
  /** Delays between webhook attempts in ms; the last entry is the last attempt. */
  webhookBackoff: readonly number[]
  /** How long one delivery attempt may take, in ms. */
  webhookTimeoutMs: number
  logLevel: string
  /** What an event may hold (LATEVIEW_EVENT_MAX_BYTES, LATEVIEW_EVENT_MAX_STRING_BYTES; depth is fixed). */
  eventLimits: Readonly<EventLimits>
  /** Broker ingestion from NATS JetStream (`LATEVIEW_NATS_*`); null when `LATEVIEW_NATS_URL` is unset. */
  nats: Readonly<NatsConfig> | null
}

/** Where and how events are consumed from NATS JetStream. */
export interface NatsConfig {
  /** `nats://host:port`; several servers separated by commas. */
  url: string
  stream: string
  subjects: readonly string[]
  /** The durable pull consumer every lateview process shares. */
  durable: string
  /** Where refused messages go, with their problem document. */
  deadLetter: string
  /** Most messages per ingest batch. */
  batch: number
  /** Whether the stream, the dead-letter stream and the consumer are created when missing. */
  create: boolean
  /** How long a delivered message may stay unacknowledged before JetStream delivers it again, in ms. */
  ackWaitMs: number
}

export const NATS_DEFAULTS = Object.freeze({ stream: 'LATEVIEW_EVENTS', subjects: 'lateview.events.>', durable: 'lateview', deadLetter: 'lateview.dead', batch: 1000, ackWait: '30s' })

export const DEFAULT_WEBHOOK_BACKOFF = '0,5s,5m,30m,2h,5h,10h,14h,20h,24h'

/** Reads and validates the configuration; a bad value throws naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<LateviewConfig> {
  const bad = (variable: string, problem: string): never => {
    throw new LateviewError('LV_ERR_CONFIG_INVALID', `${variable}: ${problem}`, { variable })
  }
  const db = env.LATEVIEW_DB?.trim() || './data/lateview.db'
  if (/^postgres(ql)?:/.test(db)) {
    try {
      new URL(db)
    } catch {
      bad('LATEVIEW_DB', 'is not a valid postgres:// URL')
    }
  }
  const readDb = readLocation(db, env.LATEVIEW_DB_READ?.trim() || null, bad)
  const waitText = env.LATEVIEW_DB_READ_WAIT?.trim() || '2s'
  const readWaitMs = parseDelay(waitText) ?? bad('LATEVIEW_DB_READ_WAIT', `${JSON.stringify(waitText)} is not a delay such as 0, 500ms or 2s`)
  if (readWaitMs > 60_000) bad('LATEVIEW_DB_READ_WAIT', 'must be at most 60s: a read waits that long at most before the primary answers it')

  const host = env.HOST?.trim() || '127.0.0.1'
  const portText = env.PORT?.trim() || '3000'
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) bad('PORT', `${JSON.stringify(portText)} is not a port number (0-65535)`)

  const flag = (variable: string, fallback: boolean, on: string[], off: string[]): boolean => {
    const v = env[variable]?.trim().toLowerCase()
    if (v === undefined || v === '') return fallback
    if (on.includes(v)) return true
    if (off.includes(v)) return false
    return bad(variable, `must be one of ${[...on, ...off].join(', ')}`)
  }
  const scheduler = flag('LATEVIEW_SCHEDULER', true, ['on', '1', 'true'], ['off', '0', 'false'])
  const simulatedClock = flag('LATEVIEW_SIMULATED_CLOCK', false, ['1', 'on', 'true'], ['0', 'off', 'false'])
  const insecure = flag('LATEVIEW_INSECURE', false, ['1', 'on', 'true'], ['0', 'off', 'false'])

  const tokensFile = env.LATEVIEW_TOKENS?.trim() || null
  const tokens = tokensFile === null ? null : readTokens(tokensFile, bad)
  if (tokens === null && !isLoopback(host) && !insecure) {
    bad('HOST', `${host} is not a loopback address and LATEVIEW_TOKENS is unset: set LATEVIEW_TOKENS, or LATEVIEW_INSECURE=1 to serve without authentication`)
  }

  const backoffText = env.LATEVIEW_WEBHOOK_BACKOFF?.trim() || DEFAULT_WEBHOOK_BACKOFF
  const webhookBackoff = backoffText.split(',').map((part) => {
    const ms = parseDelay(part.trim())
    return ms ?? bad('LATEVIEW_WEBHOOK_BACKOFF', `${JSON.stringify(part.trim())} is not a delay such as 0, 5s, 5m, 2h or PT30M`)
  })

  const timeoutText = env.LATEVIEW_WEBHOOK_TIMEOUT?.trim() || '15s'
  const webhookTimeoutMs = parseDelay(timeoutText) ?? bad('LATEVIEW_WEBHOOK_TIMEOUT', `${JSON.stringify(timeoutText)} is not a delay such as 15s`)
  if (webhookTimeoutMs <= 0) bad('LATEVIEW_WEBHOOK_TIMEOUT', 'must be more than 0')

  const size = (variable: string, fallback: number): number => {
    const text = env[variable]?.trim()
    if (!text) return fallback
    const bytes = parseSize(text)
    return bytes !== null && bytes >= 1024 ? bytes : bad(variable, `${JSON.stringify(text)} is not a size of at least 1KiB such as 262144, 256KiB or 1MiB`)
  }
  const maxDataBytes = size('LATEVIEW_EVENT_MAX_BYTES', DEFAULT_EVENT_LIMITS.maxDataBytes)
  const maxStringBytes = size('LATEVIEW_EVENT_MAX_STRING_BYTES', Math.min(DEFAULT_EVENT_LIMITS.maxStringBytes, maxDataBytes))
  if (maxStringBytes > maxDataBytes) bad('LATEVIEW_EVENT_MAX_STRING_BYTES', 'must not be more than LATEVIEW_EVENT_MAX_BYTES')
  if (maxDataBytes > 16 * 1024 * 1024) bad('LATEVIEW_EVENT_MAX_BYTES', 'must be at most 16MiB')

  const logLevel = env.LATEVIEW_LOG_LEVEL?.trim() || 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) bad('LATEVIEW_LOG_LEVEL', 'must be fatal, error, warn, info, debug, trace or silent')

  const nats = natsConfig(env, flag, bad)

  return Object.freeze({
    db,
    readDb,
    readWaitMs,
    viewsDir: env.LATEVIEW_VIEWS?.trim() || './views',
    host,
    port,
    tokens,
    tokensFile,
    insecure,
    scheduler,
    simulatedClock,
    webhookBackoff: Object.freeze(webhookBackoff),
    webhookTimeoutMs,
    logLevel,
    eventLimits: Object.freeze({ maxDataBytes, maxStringBytes, maxDepth: DEFAULT_EVENT_LIMITS.maxDepth }),
    nats,
  })
}

/** A subject token: printable ASCII without space, dot or wildcard. */
const SUBJECT_TOKEN = /^[!-~]+$/

/** Whether `subject` is a NATS subject (`a.b.c`), wildcards (`*`, a last `>`) allowed or not. */
export function isSubject(subject: string, wildcards: boolean): boolean {
  const tokens = subject.split('.')
  return tokens.every((t, i) => {
    if (t === '*' || t === '>') return wildcards && (t === '*' || i === tokens.length - 1)
    return SUBJECT_TOKEN.test(t) && !t.includes('*') && !t.includes('>')
  })
}

/** The `LATEVIEW_NATS_*` variables, or null when LATEVIEW_NATS_URL is unset. */
function natsConfig(
  env: NodeJS.ProcessEnv,
  flag: (variable: string, fallback: boolean, on: string[], off: string[]) => boolean,
  bad: (variable: string, problem: string) => never,
): Readonly<NatsConfig> | null {
  const url = env.LATEVIEW_NATS_URL?.trim() || null
  if (url === null) return null
  for (const server of url.split(',')) {
    if (!/^(nats|tls|wss?):\/\/[^\s/]+\/?$/.test(server.trim()) && !/^[^\s/:]+:\d+$/.test(server.trim()))
      bad('LATEVIEW_NATS_URL', `${JSON.stringify(server.trim())} is not a NATS server URL such as nats://127.0.0.1:4222`)
  }
  const stream = env.LATEVIEW_NATS_STREAM?.trim() || NATS_DEFAULTS.stream
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(stream)) bad('LATEVIEW_NATS_STREAM', 'must be a stream name of letters, digits, _ and -')
  const subjects = (env.LATEVIEW_NATS_SUBJECTS?.trim() || NATS_DEFAULTS.subjects).split(',').map((s) => s.trim())
  for (const s of subjects) if (!isSubject(s, true)) bad('LATEVIEW_NATS_SUBJECTS', `${JSON.stringify(s)} is not a NATS subject such as lateview.events.>`)
  const durable = env.LATEVIEW_NATS_DURABLE?.trim() || NATS_DEFAULTS.durable
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(durable)) bad('LATEVIEW_NATS_DURABLE', 'must be a consumer name of letters, digits, _ and -')
  const deadLetter = env.LATEVIEW_NATS_DEAD_LETTER?.trim() || NATS_DEFAULTS.deadLetter
  if (!isSubject(deadLetter, false)) bad('LATEVIEW_NATS_DEAD_LETTER', `${JSON.stringify(deadLetter)} is not a NATS subject without wildcards`)
  const batchText = env.LATEVIEW_NATS_BATCH?.trim() || String(NATS_DEFAULTS.batch)
  const batch = Number(batchText)
  if (!/^\d+$/.test(batchText) || batch < 1 || batch > 100_000) bad('LATEVIEW_NATS_BATCH', 'must be a whole number from 1 to 100000')
  const ackWaitText = env.LATEVIEW_NATS_ACK_WAIT?.trim() || NATS_DEFAULTS.ackWait
  const ackWaitMs = parseDelay(ackWaitText) ?? bad('LATEVIEW_NATS_ACK_WAIT', `${JSON.stringify(ackWaitText)} is not a delay such as 30s`)
  if (ackWaitMs < 1000) bad('LATEVIEW_NATS_ACK_WAIT', 'must be at least 1s')
  const create = flag('LATEVIEW_NATS_CREATE', true, ['on', '1', 'true'], ['off', '0', 'false'])
  return Object.freeze({ url, stream, subjects: Object.freeze(subjects), durable, deadLetter, batch, create, ackWaitMs })
}

/**
 * The replica's URL with the primary's schema: a streaming replica is a copy of the whole
 * cluster, so it holds the store under the same schema (a different one would be another store).
 */
function readLocation(db: string, read: string | null, bad: (variable: string, problem: string) => never): string | null {
  if (read === null) return null
  const postgres = /^postgres(ql)?:\/\//
  if (!postgres.test(read)) return bad('LATEVIEW_DB_READ', 'must be a postgres:// URL of a streaming replica')
  if (!postgres.test(db)) return bad('LATEVIEW_DB_READ', 'needs LATEVIEW_DB to be a postgres:// URL: a read replica serves a PostgreSQL store only')
  let url: URL
  try {
    url = new URL(read)
  } catch {
    return bad('LATEVIEW_DB_READ', 'is not a valid postgres:// URL')
  }
  const schema = new URL(db).searchParams.get('schema')
  const own = url.searchParams.get('schema')
  if (own !== null && own !== schema) {
    bad('LATEVIEW_DB_READ', `schema ${JSON.stringify(own)} is not LATEVIEW_DB's (${schema === null ? 'none' : JSON.stringify(schema)}): a replica holds the primary's schema; leave ?schema= out`)
  }
  if (schema !== null) url.searchParams.set('schema', schema)
  return url.toString()
}

/** `262144`, `256KiB`, `1MiB` (or KB, MB, powers of 1000): a size in bytes. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)\s*(B|KiB|MiB|KB|MB)?$/i.exec(text)
  if (!m) return null
  const unit = (m[2] ?? 'B').toLowerCase()
  const factor = { b: 1, kib: 1024, mib: 1024 * 1024, kb: 1000, mb: 1_000_000 }[unit as 'b']
  return Number(m[1]) * factor
}

function readTokens(file: string, bad: (variable: string, problem: string) => never): Map<string, Set<Scope>> {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    return bad('LATEVIEW_TOKENS', `cannot read ${file} as JSON: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad('LATEVIEW_TOKENS', `${file} must hold an object { "<token>": ["ingest", "read", "admin"] }`)
  const tokens = new Map<string, Set<Scope>>()
  for (const [token, scopes] of Object.entries(parsed)) {
    if (token.length < 16) bad('LATEVIEW_TOKENS', `a token in ${file} is shorter than 16 characters`)
    if (!Array.isArray(scopes) || scopes.length === 0 || scopes.some((s) => !SCOPES.includes(s as Scope))) {
      bad('LATEVIEW_TOKENS', `scopes of a token in ${file} must be a non-empty list of ${SCOPES.join(', ')}`)
    }
    tokens.set(token, new Set(scopes as Scope[]))
  }
  return tokens
}

/** `0`, `500ms`, `5s`, `5m`, `2h`, `1d` or an ISO 8601 duration. */
export function parseDelay(text: string): number | null {
  if (text === '0') return 0
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text)
  if (m) return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']
  return parseDurationMs(text)
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1' || host === '[::1]'
}
