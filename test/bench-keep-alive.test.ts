/**
 * The latency figure's HTTP client (bench/keep-alive.ts): responses framed by Content-Length or
 * by chunks, however the bytes are split, and a connection the server closes is refused instead
 * of being timed.
 */
import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { getRequest, KeepAliveConnection, parseResponse } from '../bench/keep-alive.js'

const keepAlive = suite('bench keep-alive client')

const CHUNKED = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nb\r\n, chunked!\n\r\n0\r\n\r\n'

keepAlive('parseResponse reads a body by its content-length and leaves what follows', () => {
  const data = Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnopeHTTP/1.1')
  const parsed = parseResponse(data)
  assert.ok(parsed)
  assert.is(parsed.status, 404)
  assert.is(parsed.body.toString(), 'nope')
  assert.is(parsed.close, false)
  assert.is(parsed.rest.toString(), 'HTTP/1.1')
})

keepAlive('parseResponse waits for a whole response, then joins its chunks', () => {
  const bytes = Buffer.from(CHUNKED)
  for (let cut = 0; cut < bytes.length; cut++) assert.is(parseResponse(bytes.subarray(0, cut)), null, `complete after ${cut} bytes`)
  const parsed = parseResponse(bytes)
  assert.ok(parsed)
  assert.is(parsed.status, 200)
  assert.is(parsed.body.toString(), 'hello, chunked!\n')
  assert.is(parsed.rest.length, 0)
})

keepAlive('parseResponse refuses a response it cannot frame', () => {
  assert.throws(() => parseResponse(Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody')), /neither content-length nor chunked/)
  assert.throws(() => parseResponse(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), /not an HTTP/)
})

/** A server that answers each request with `answers[n]`, written one byte at a time. */
async function byteServer(answers: string[]): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = []
  const server = createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('data', (d) => {
      requests.push(d.toString('latin1'))
      const answer = Buffer.from(answers[requests.length - 1] ?? '')
      for (let i = 0; i < answer.length; i++) socket.write(answer.subarray(i, i + 1))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, requests }
}

keepAlive('sequential requests share one connection, answers split into single bytes', async () => {
  const first = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'
  const { server, port, requests } = await byteServer([first, CHUNKED])
  let connections = 0
  server.on('connection', () => connections++)
  const connection = await KeepAliveConnection.open('127.0.0.1', port)
  try {
    const a = await connection.request(getRequest(`127.0.0.1:${port}`, '/a'))
    const b = await connection.request(getRequest(`127.0.0.1:${port}`, '/b'))
    assert.equal([a.status, a.body.toString(), b.status, b.body.toString()], [200, '{}', 200, 'hello, chunked!\n'])
    assert.ok(b.at > a.at)
    assert.equal(requests, [`GET /a HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: application/json\r\n\r\n`, `GET /b HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\naccept: application/json\r\n\r\n`])
    assert.is(connections, 1)
  } finally {
    connection.close()
    server.close()
  }
})

keepAlive('an answer with connection: close is returned, the next request is refused', async () => {
  const { server, port } = await byteServer(['HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok'])
  const connection = await KeepAliveConnection.open('127.0.0.1', port)
  try {
    const res = await connection.request(getRequest('x', '/'))
    assert.is(res.body.toString(), 'ok')
    await connection.request(getRequest('x', '/')).then(
      () => assert.unreachable('a closed connection answered'),
      (error: Error) => assert.match(error.message, /connection: close/),
    )
  } finally {
    connection.close()
    server.close()
  }
})

keepAlive.run()
