/**
 * What the API suites share: an app built with `buildApp` over a fresh store of one engine,
 * driven with `inject()` (nothing listens), on a manual clock so occurredAt checks and
 * receivedAt are deterministic.
 */
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import type { Scope } from '../../src/config.js'
import { ManualClock } from '../../src/domain/clock.js'
import { ERRORS, type ErrorCode } from '../../src/errors.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import type { Engine } from '../../src/store/engine.js'
import type { EngineFactory } from '../helpers/engines.js'

/** The server's clock in every API test: 2026-11-26 20:00 in Taipei, 13:00 in Berlin. */
export const NOW = Date.parse('2026-11-26T12:00:00Z')
export const NOW_ISO = '2026-11-26T12:00:00.000Z'

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url))

export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8'
export const JSON_TYPE = 'application/json; charset=utf-8'

export interface Api {
  app: FastifyInstance
  engine: Engine
  lateview: Lateview
  clock: ManualClock
  /** Closes the app and the engine; safe to call twice. */
  close(): Promise<void>
}

/** The uvu context of an API suite. */
export interface ApiContext {
  api: Api
}

export interface ApiOptions {
  /** token → scopes; null (the default) turns authentication off. */
  tokens?: ReadonlyMap<string, ReadonlySet<Scope>> | null
  /** Whether admins may pass `now` to jobs (LATEVIEW_SIMULATED_CLOCK). */
  simulatedClock?: boolean
}

/** Opens an empty store on `factory`, builds the services on the shipped views and the app. */
export async function openApi(factory: EngineFactory, options: ApiOptions = {}): Promise<Api> {
  const engine = await factory.open()
  const clock = new ManualClock(NOW)
  let lateview: Lateview
  let app: FastifyInstance
  try {
    lateview = await Lateview.fromEngine(engine, loadViewFiles(VIEWS_DIR), clock)
    app = await buildApp({ tokens: options.tokens ?? null, logLevel: 'silent', simulatedClock: options.simulatedClock === true }, { lateview })
  } catch (error) {
    await engine.close()
    throw error
  }
  let closed = false
  return {
    app,
    engine,
    lateview,
    clock,
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

/** Asserts a problem+json answer with this status and code and returns its body. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: ErrorCode): Record<string, unknown> {
  assert.is(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`)
  assert.is(res.headers['content-type'], PROBLEM_TYPE)
  const body = res.json() as Record<string, unknown>
  assert.is(body.code, code, res.body)
  assert.is(body.type, `urn:lateview:problem:${code}`)
  assert.is(body.title, ERRORS[code].title)
  assert.is(body.status, status)
  assert.is(ERRORS[code].status, status)
  assert.type(body.detail, 'string')
  return body
}

/** Asserts a 200 JSON answer and returns its body. */
export function expectOk(res: LightMyRequestResponse): unknown {
  assert.is(res.statusCode, 200, res.body)
  assert.is(res.headers['content-type'], JSON_TYPE)
  return res.json()
}

/** A sale of the retail chain, at a Taipei local time given with its +08:00 offset. */
export function sale(id: string, store: string, occurredAt: string, amount: number, channel = 'pos'): Record<string, unknown> {
  return { id, source: `store-${store}`, type: 'sale', occurredAt, data: { store, channel, amount } }
}

/** The answer of a POST /v1/events that accepted events at NOW. */
export function answer(accepted: number, duplicates: number, firstSeq: number | null, lastSeq: number | null, receivedAt = NOW_ISO) {
  return { accepted, duplicates, firstSeq, lastSeq, receivedAt, alerts: [] }
}

export function post(app: FastifyInstance, payload: unknown, options: { url?: string; contentType?: string; token?: string } = {}) {
  return app.inject({
    method: 'POST',
    url: options.url ?? '/v1/events',
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    headers: {
      'content-type': options.contentType ?? 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
  })
}

export function get(app: FastifyInstance, url: string, token?: string) {
  return app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} })
}
