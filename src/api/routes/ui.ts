import { readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { LateviewError } from '../../errors.js'

/** The analyst page: plain files, no build step. */
const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url))

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

// The page only talks to this origin; nothing inline, so a stray injected string cannot run.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

/**
 * Serves the analyst page at `/` and its assets at `/ui/<file>`. The page and its assets need no
 * token (`scope: null`): they hold no data; the page's API calls carry the token.
 */
export function uiRoutes(app: FastifyInstance): void {
  // Only files present at start-up are served, so no request path ever reaches the file system.
  const files = new Set(readdirSync(UI_DIR).filter((name) => TYPES[extname(name)] !== undefined))

  const send = async (reply: FastifyReply, name: string) => {
    const body = await readFile(join(UI_DIR, name))
    return reply
      .type(TYPES[extname(name)] as string)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', CSP)
      .header('referrer-policy', 'no-referrer')
      .send(body)
  }

  const hidden = { hide: true }
  app.get(
    '/',
    {
      config: { scope: null },
      schema: {
        summary: 'The analyst page (its API calls carry the token)',
        operationId: 'getAnalystPage',
        tags: ['ui'],
        response: { 200: { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
    async (_request, reply) => send(reply, 'index.html'),
  )
  app.get('/ui', { config: { scope: null }, schema: hidden }, async (_request, reply) => reply.redirect('/'))
  app.get<{ Params: { file: string } }>('/ui/:file', { config: { scope: null }, schema: hidden }, async (request, reply) => {
    const { file } = request.params
    if (!files.has(file)) throw new LateviewError('LV_ERR_ROUTE_NOT_FOUND', `no file /ui/${file}`)
    return send(reply, file)
  })
}
