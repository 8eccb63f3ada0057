/**
 * What the alert suites share: the shipped views, retail-chain events, a Lateview over a fresh
 * store of one engine on a manual clock, its HTTP app (driven with inject), and small readers.
 */
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import * as assert from 'uvu/assert'
import { buildApp, type AppDeps } from '../../src/api/app.js'
import { Metrics } from '../../src/api/metrics.js'
import { ManualClock } from '../../src/domain/clock.js'
import { parseInstant } from '../../src/domain/time.js'
import type { ViewDefinition } from '../../src/domain/view.js'
import { ERRORS, type ErrorCode } from '../../src/errors.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import type { Engine } from '../../src/store/engine.js'
import type { Schema } from '../../src/store/schema.js'
import type { EngineFactory } from './engines.js'

export const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url))

/** The view definitions shipped in views/ (daily_positive_tests, daily_revenue). */
export function shippedViews(): ViewDefinition[] {
  return loadViewFiles(VIEWS_DIR)
}

/** UTC epoch ms of an ISO instant; throws on a malformed one so a typo cannot pass silently. */
export function at(iso: string): number {
  const ms = parseInstant(iso)
  if (ms === null) throw new Error(`bad instant ${iso}`)
  return ms
}

export function iso(ms: number): string {
  return new Date(ms).toISOString()
}

export interface SaleEvent {
  id: string
  source: string
  type: string
  occurredAt: string
  data: { store: string; channel: string; amount: number }
  receivedAt?: string
  retracts?: string
}

/**
 * A sale of the retail chain (daily_revenue, Asia/Taipei). The store dimension follows the
 * source: `store-007` → `007`; any other source sells on the web channel of store `web`.
 */
export function sale(id: string, source: string, occurredAt: string, amount: number, receivedAt?: string): SaleEvent {
  const store = source.startsWith('store-') ? source.slice('store-'.length) : 'web'
  return {
    id,
    source,
    type: 'sale',
    occurredAt,
    data: { store, channel: store === 'web' ? 'web' : 'pos', amount },
    ...(receivedAt !== undefined ? { receivedAt } : {}),
  }
}

export interface Rig {
  engine: Engine
  lateview: Lateview
  clock: ManualClock
  app: FastifyInstance
  metrics: Metrics
  close(): Promise<void>
}

/** Opens an empty store on `factory` with the services on `views` (the shipped ones by default) and its app. */
export async function openRig(factory: EngineFactory, now: number, views: ViewDefinition[] = shippedViews(), deps: Omit<AppDeps, 'lateview' | 'metrics'> = {}): Promise<Rig> {
  const engine = await factory.open()
  const clock = new ManualClock(now)
  const metrics = new Metrics()
  let lateview: Lateview
  let app: FastifyInstance
  try {
    lateview = await Lateview.fromEngine(engine, views, clock)
    app = await buildApp({ tokens: null, logLevel: 'silent' }, { lateview, metrics, ...deps })
  } catch (error) {
    await engine.close()
    throw error
  }
  let closed = false
  return {
    engine,
    lateview,
    clock,
    app,
    metrics,
    async close() {
      if (closed) return
      closed = true
      try {
        await app.close()
      } finally {
        await engine.close()
      }
    },
  }
}

/** GETs a URL of the app and returns its 200 JSON body. */
export async function getJson<T = unknown>(app: FastifyInstance, url: string): Promise<T> {
  const res = await app.inject({ method: 'GET', url })
  assert.is(res.statusCode, 200, `GET ${url}: ${res.statusCode} ${res.body}`)
  return res.json() as T
}

/** Asserts a problem+json answer with this status and code and returns its body. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: ErrorCode): Record<string, unknown> {
  assert.is(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`)
  assert.is(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  const body = res.json() as Record<string, unknown>
  assert.is(body.code, code, res.body)
  assert.is(body.status, status)
  assert.is(body.title, ERRORS[code].title)
  return body
}

/** Rows in a table of the store. */
export async function rowCount(engine: Engine, table: keyof Schema): Promise<number> {
  const row = await engine.db.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** The lines of a Prometheus text exposition, without comments. */
export function samples(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0 && !line.startsWith('#'))
}
