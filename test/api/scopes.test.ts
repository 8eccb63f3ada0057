/**
 * The README's table of scopes and the server's routes, derived from each other: every route of
 * the OpenAPI document is in the table, every row of the table is a route, and the scope a row
 * names is the one the server enforces, found by calling the route with a token of each scope.
 */
import { readFileSync } from 'node:fs'
import type { FastifyInstance, HTTPMethods } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Scope } from '../../src/config.js'
import { engines } from '../helpers/engines.js'
import { type ApiContext, openApi } from './harness.js'

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const TOKENS: ReadonlyMap<string, ReadonlySet<Scope>> = new Map([
  ['ingest-token-00000001', new Set<Scope>(['ingest'])],
  ['read-token-000000001', new Set<Scope>(['read'])],
  ['admin-token-00000001', new Set<Scope>(['admin'])],
])
/** A value for each path parameter: the route is reached, whatever it then answers. */
const PARAMS: Record<string, string> = { view: 'daily_revenue', period: '2026-11-26', source: 'store-001', id: 'x', deliveryId: 'x', job: 'consolidate', file: 'app.js' }

/** `METHOD /path` → scope, from the README's table under "Authentication". */
function readmeTable(): Map<string, string> {
  const section = README.slice(README.indexOf('### Authentication'), README.indexOf('\n## View definitions\n'))
  const rows = new Map<string, string>()
  for (const match of section.matchAll(/^\| `([A-Z]+ [^`]+)` \| (\w+) \|$/gm)) {
    assert.not.ok(rows.has(match[1] as string), `${match[1]} twice in the table`)
    rows.set(match[1] as string, match[2] as string)
  }
  return rows
}

/** The scope the server asks of `METHOD /path`: none, or the one non-admin scope allowed, or admin. */
async function enforced(app: FastifyInstance, route: string): Promise<string> {
  const [method, path] = route.split(' ') as [HTTPMethods, string]
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => PARAMS[name] ?? 'x')
  const call = (token?: string) => app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(method === 'POST' ? { payload: {} } : {}) })
  if ((await call()).statusCode !== 401) return 'none'
  const allowed: string[] = []
  for (const [token, scopes] of TOKENS) {
    const status = (await call(token)).statusCode
    if (status !== 401 && status !== 403) allowed.push(...scopes)
  }
  assert.ok(allowed.includes('admin'), `${route}: admin may do everything`)
  const others = allowed.filter((s) => s !== 'admin')
  assert.ok(others.length <= 1, `${route}: allowed to ${allowed.join(', ')}`)
  return others[0] ?? 'admin'
}

const [factory] = await engines()
if (!factory) throw new Error('no engine to test on')
const test = suite<ApiContext>('api scopes: the README table', {} as ApiContext)
test.before(async (ctx) => {
  ctx.api = await openApi(factory, { tokens: TOKENS })
  await ctx.api.app.ready()
})
test.after(async (ctx) => {
  await ctx.api.close()
  await factory.cleanup()
})

test('every route of the OpenAPI document has a row, and every row is a route the server has', ({ api }) => {
  const table = readmeTable()
  const spec = api.app.swagger() as { paths: Record<string, Record<string, unknown>> }
  const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  assert.ok(documented.length >= 20, `${documented.length} routes`)
  assert.equal(
    documented.filter((r) => !table.has(r)),
    [],
    'routes missing from the README table',
  )
  for (const row of table.keys()) {
    const [method, path] = row.split(' ') as [HTTPMethods, string]
    const url = path.split('?')[0]?.replace(/\{(\w+)\}/g, ':$1') as string
    assert.ok(api.app.hasRoute({ method, url }), `${row} is in the README but is no route`)
  }
})

test('each row names the scope the server enforces', async ({ api }) => {
  const table = readmeTable()
  const actual: Record<string, string> = {}
  for (const route of table.keys()) actual[route] = await enforced(api.app, route)
  assert.equal(actual, Object.fromEntries(table))
})

test.run()
