import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { LateviewConfig, Scope } from '../config.js'
import { LateviewError } from '../errors.js'

/** The scope a route needs; `null` for operational routes open to everyone. */
export type RouteScope = Scope | null

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope
  }
  interface FastifyRequest {
    scopes: ReadonlySet<Scope> | null
  }
}

/**
 * Checks the bearer token against LATEVIEW_TOKENS. `admin` implies every other scope. With no
 * tokens configured (loopback only, see config.ts) every request is allowed.
 */
export function authenticate(config: Pick<LateviewConfig, 'tokens'>, request: FastifyRequest, needed: RouteScope): void {
  if (config.tokens === null || needed === null) return
  const header = request.headers.authorization
  if (!header) throw new LateviewError('LV_ERR_AUTH_REQUIRED', 'send Authorization: Bearer <token>')
  const match = /^Bearer\s+(\S+)$/i.exec(header)
  if (!match) throw new LateviewError('LV_ERR_AUTH_REQUIRED', 'the Authorization header must be "Bearer <token>"')
  const scopes = lookup(config.tokens, match[1] as string)
  if (!scopes) throw new LateviewError('LV_ERR_AUTH_INVALID')
  request.scopes = scopes
  requireScope(request, needed, config)
}

/** Throws unless the request's token holds `scope` (or admin). */
export function requireScope(request: FastifyRequest, scope: Scope, config: Pick<LateviewConfig, 'tokens'>): void {
  if (config.tokens === null) return
  const scopes = request.scopes
  if (!scopes || !(scopes.has(scope) || scopes.has('admin'))) {
    throw new LateviewError('LV_ERR_AUTH_FORBIDDEN', `this request needs the ${scope} scope`, { scope })
  }
}

function lookup(tokens: ReadonlyMap<string, ReadonlySet<Scope>>, token: string): ReadonlySet<Scope> | undefined {
  const given = Buffer.from(token)
  for (const [known, scopes] of tokens) {
    const candidate = Buffer.from(known)
    if (candidate.length === given.length && timingSafeEqual(candidate, given)) return scopes
  }
  return undefined
}
