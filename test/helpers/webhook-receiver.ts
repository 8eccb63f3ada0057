/**
 * A webhook receiver for tests: a real node:http server on 127.0.0.1 (port 0 unless told), which
 * records every request with its raw body and answers as the test scripts it. It can be taken
 * down and brought back on the same port to play a receiver that is away for a while.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  /** Date.now() when the body had arrived. */
  at: number
  method: string
  path: string
  headers: IncomingHttpHeaders
  /** The body exactly as sent (signatures are over these bytes). */
  body: string
}

/** How the receiver answers one request: a status (with headers), or never (`hang`). */
export type ReceiverAnswer = { status: number; headers?: Record<string, string> } | 'hang'

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = []
  #server: Server | null = null
  #port = 0
  readonly #hanging = new Set<ServerResponse>()

  /** `answer` is asked for each request, with its 1-based number among all received. */
  private constructor(public answer: (request: ReceivedRequest, n: number) => ReceiverAnswer) {}

  /** Starts a receiver on 127.0.0.1, on a free port unless `port` is given. */
  static async start(answer: (request: ReceivedRequest, n: number) => ReceiverAnswer = () => ({ status: 204 }), port = 0): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(answer)
    receiver.#port = port
    await receiver.up()
    return receiver
  }

  /** A receiver that answers the scripted statuses in turn, then 204 for ever. */
  static scripted(answers: ReceiverAnswer[]): Promise<WebhookReceiver> {
    return WebhookReceiver.start((_request, n) => answers[n - 1] ?? { status: 204 })
  }

  get port(): number {
    return this.#port
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.#port}${path}`
  }

  /** Requests received on one path. */
  on(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path)
  }

  /** Listens (again) on its port. */
  async up(): Promise<void> {
    if (this.#server) return
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const request: ReceivedRequest = { at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
        this.requests.push(request)
        const answer = this.answer(request, this.requests.length)
        if (answer === 'hang') {
          this.#hanging.add(res)
          res.on('close', () => this.#hanging.delete(res))
          return
        }
        res.writeHead(answer.status, answer.headers ?? {})
        res.end()
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: '127.0.0.1', port: this.#port }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.#port = (server.address() as AddressInfo).port
    this.#server = server
  }

  /** Stops listening and drops every connection: the port refuses connections until `up()`. */
  async down(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = null
    for (const res of this.#hanging) res.destroy()
    this.#hanging.clear()
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }

  close(): Promise<void> {
    return this.down()
  }
}

/**
 * Verifies a Standard Webhooks signature, written from the specification independently of
 * lateview's code: the signed content is `${webhook-id}.${webhook-timestamp}.${body}`, the key is
 * the base64-decoded secret after `whsec_`, the signature base64 HMAC-SHA256; the header holds
 * space-separated `v1,<signature>` entries, any of which may match. The timestamp must lie within
 * `toleranceS` seconds of `nowMs`.
 */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string, nowMs = Date.now(), toleranceS = 5): boolean {
  const id = headers['webhook-id']
  const timestamp = headers['webhook-timestamp']
  const signatures = headers['webhook-signature']
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false
  if (!/^\d+$/.test(timestamp) || Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) return false
  if (!secret.startsWith('whsec_')) return false
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest()
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',')
    if (version !== 'v1' || value === undefined) return false
    const given = Buffer.from(value, 'base64')
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

/** Polls `check` every 20 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
