/**
 * A real server, real sockets: shutdown ends within a couple of seconds of its in-flight requests
 * even with keep-alive clients, a request during shutdown gets a problem document, and an
 * unreadable HTTP request is answered with one too.
 */
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../src/config.js'
import { ManualClock } from '../../src/domain/clock.js'
import { startServer } from '../../src/server.js'
import { storeLocations } from '../helpers/store-locations.js'
import { NOW } from './harness.js'

const VIEWS_DIR = fileURLToPath(new URL('../../views', import.meta.url))

function send(agent: Agent, url: string, method: string, body?: string): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Writes raw bytes to the server and reads what comes back until it closes the connection. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    socket.on('data', (d: Buffer) => (text += d.toString()))
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
}

for (const location of await storeLocations()) {
  const test = suite(`api shutdown (${location.name})`)
  test.after(() => location.cleanup())

  const start = () => startServer(loadConfig({ LATEVIEW_DB: location.next(), LATEVIEW_VIEWS: VIEWS_DIR, PORT: '0', LATEVIEW_LOG_LEVEL: 'silent', LATEVIEW_SCHEDULER: 'off' }), new ManualClock(NOW))

  test('keep-alive clients do not hold shutdown: it ends long before the 72 s keep-alive timeout once the request in flight, answered with connection: close, is done', async () => {
    const server = await start()
    const port = Number(new URL(server.address).port)
    const agent = new Agent({ keepAlive: true, maxSockets: 4 })
    try {
      // Two idle keep-alive connections, and one whose batch is still being uploaded when shutdown begins.
      const idle = await Promise.all([send(agent, `${server.address}/healthz`, 'GET'), send(agent, `${server.address}/v1/views`, 'GET')])
      assert.equal(
        idle.map((a) => [a.status, a.connection]),
        [
          [200, 'keep-alive'],
          [200, 'keep-alive'],
        ],
      )
      const events = Array.from({ length: 5_000 }, (_, i) => ({
        id: `e${i}`,
        source: 'store-001',
        type: 'sale',
        occurredAt: '2026-11-26T10:00:00+08:00',
        data: { store: '001', channel: 'pos', amount: 1 },
      }))
      const body = JSON.stringify(events)
      const busy = connect(port, '127.0.0.1')
      let answer = ''
      busy.on('data', (d: Buffer) => (answer += d.toString()))
      const busyClosed = new Promise((resolve) => busy.on('close', resolve))
      await new Promise((resolve) => busy.on('connect', resolve))
      busy.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 1000)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
      const closed = server.close()
      await new Promise((resolve) => setTimeout(resolve, 100))
      const began = Date.now()
      busy.write(body.slice(1000))
      await busyClosed
      await closed
      const took = Date.now() - began
      assert.match(answer, /^HTTP\/1\.1 200 /, answer.slice(0, 300))
      assert.match(answer, /\r\nconnection: close\r\n/i)
      assert.match(answer, /"accepted":5000/)
      // The request still ingests 5,000 events after its body arrives (a second or two on a busy
      // machine); held connections would keep the server up for fastify's 72 s keep-alive timeout.
      assert.ok(took < 10_000, `shutdown took ${took} ms after the last request`)
    } finally {
      agent.destroy()
      await server.close()
    }
  })

  test('a request arriving while the server shuts down is 503 LV_ERR_SHUTTING_DOWN, a problem document', async () => {
    const server = await start()
    const port = Number(new URL(server.address).port)
    // A request in flight holds shutdown open: its body is still being uploaded.
    const body = JSON.stringify([{ id: 'held', source: 'store-001', type: 'sale', occurredAt: '2026-11-26T10:00:00+08:00', data: { store: '001', channel: 'pos', amount: 1 } }])
    const held = connect(port, '127.0.0.1')
    let heldAnswer = ''
    held.on('data', (d: Buffer) => (heldAnswer += d.toString()))
    const heldClosed = new Promise((resolve) => held.on('close', resolve))
    await new Promise((resolve) => held.on('connect', resolve))
    held.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const closing = server.close()
    while (server.app.server.listening) await new Promise((resolve) => setImmediate(resolve))
    // A request that reaches the application now (as one pipelined on a busy connection would) is refused.
    const side = createServer((req, res) => server.app.routing(req, res))
    await new Promise<void>((resolve) => side.listen(0, '127.0.0.1', resolve))
    try {
      const answer = await send(new Agent(), `http://127.0.0.1:${(side.address() as AddressInfo).port}/v1/views`, 'GET')
      assert.is(answer.status, 503)
      assert.is(answer.connection, 'close')
      const problem = JSON.parse(answer.body) as { code: string; status: number }
      assert.equal([problem.code, problem.status], ['LV_ERR_SHUTTING_DOWN', 503])
    } finally {
      side.close()
    }
    // The request in flight still completes, and shutdown then ends.
    held.write(body.slice(10))
    await heldClosed
    await closing
    assert.match(heldAnswer, /^HTTP\/1\.1 200 /)
    assert.match(heldAnswer, /\r\nconnection: close\r\n/i)
  })

  test('an HTTP request the server cannot read is answered with a problem document, then the connection closes', async () => {
    const server = await start()
    try {
      const port = Number(new URL(server.address).port)
      const answer = await raw(port, 'NOT AN HTTP REQUEST\r\n\r\n')
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/)
      assert.match(answer, /Content-Type: application\/problem\+json; charset=utf-8/)
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: string; status: number }
      assert.equal([body.code, body.status], ['LV_ERR_REQUEST_INVALID', 400])
      const huge = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
      assert.match(huge, /^HTTP\/1\.1 431 /)
      assert.is((JSON.parse(huge.slice(huge.indexOf('\r\n\r\n') + 4)) as { code: string }).code, 'LV_ERR_HEADERS_TOO_LARGE')
    } finally {
      await server.close()
    }
  })

  test.run()
}
