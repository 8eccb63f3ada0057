/**
 * A minimal keep-alive HTTP/1.1 client for the latency figure: one connection, one request at a
 * time, the request's bytes built by the caller once per path, the end of each response found by
 * its Content-Length or its last chunk and time-stamped when its last byte is parsed.
 */
import { connect, type Socket } from 'node:net'

/** A complete response: its status and body (a view of the received bytes, not a copy). */
export interface Response {
  status: number
  body: Buffer
  /** process.hrtime.bigint() when its last byte was parsed. */
  at: bigint
}

/** The bytes of a GET of `path` on `host` (host:port), asking for JSON. */
export function getRequest(host: string, path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\naccept: application/json\r\n\r\n`, 'latin1')
}

const CRLF = Buffer.from('\r\n')
const HEADERS_END = Buffer.from('\r\n\r\n')

/**
 * One keep-alive HTTP/1.1 connection for sequential requests: the caller passes the request's
 * bytes, built once per path, and gets the response once its Content-Length (or its last chunk)
 * has arrived. Answers that close the connection are refused rather than reconnected, so that a
 * connection's setup is never inside a timed request.
 */
export class KeepAliveConnection {
  readonly #socket: Socket
  #received: Buffer | null = null
  #waiting: { resolve: (r: Response) => void; reject: (e: Error) => void } | null = null
  #closed: Error | null = null

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('the server closed the connection')))
  }

  static open(host: string, port: number): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject)
        resolve(new KeepAliveConnection(socket))
      })
      socket.once('error', reject)
    })
  }

  request(bytes: Buffer): Promise<Response> {
    if (this.#closed) return Promise.reject(this.#closed)
    if (this.#waiting) return Promise.reject(new Error('one request at a time'))
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
      this.#socket.write(bytes)
    })
  }

  close(): void {
    this.#socket.destroy()
  }

  #fail(error: Error): void {
    this.#closed ??= error
    const waiting = this.#waiting
    this.#waiting = null
    waiting?.reject(error)
  }

  #onData(chunk: Buffer): void {
    const at = process.hrtime.bigint()
    this.#received = this.#received === null ? chunk : Buffer.concat([this.#received, chunk])
    let parsed: ReturnType<typeof parseResponse>
    try {
      parsed = parseResponse(this.#received)
    } catch (error) {
      this.#fail(error as Error)
      this.#socket.destroy()
      return
    }
    if (parsed === null) return
    this.#received = parsed.rest.length > 0 ? parsed.rest : null
    const waiting = this.#waiting
    this.#waiting = null
    if (!waiting) {
      this.#fail(new Error('a response came without a request'))
      return
    }
    if (parsed.close) {
      this.#fail(new Error('the server answered with connection: close'))
      this.#socket.destroy()
    }
    waiting.resolve({ status: parsed.status, body: parsed.body, at })
  }
}

/** Parses one response from the start of `data`; null while it is incomplete. */
export function parseResponse(data: Buffer): { status: number; body: Buffer; close: boolean; rest: Buffer } | null {
  const headersEnd = data.indexOf(HEADERS_END)
  if (headersEnd < 0) return null
  const head = data.toString('latin1', 0, headersEnd)
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)
  if (!status) throw new Error(`not an HTTP/1.x response: ${head.slice(0, 100)}`)
  const close = /\r\nconnection:[ \t]*close/i.test(head)
  const start = headersEnd + 4
  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
  if (length) {
    const end = start + Number(length[1])
    if (data.length < end) return null
    return { status: Number(status[1]), body: data.subarray(start, end), close, rest: data.subarray(end) }
  }
  if (!/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) throw new Error('a response with neither content-length nor chunked encoding')
  const chunks: Buffer[] = []
  let at = start
  for (;;) {
    const lineEnd = data.indexOf(CRLF, at)
    if (lineEnd < 0) return null
    const size = Number.parseInt(data.toString('latin1', at, lineEnd), 16)
    if (!Number.isFinite(size)) throw new Error('a malformed chunk size')
    const next = lineEnd + 2 + size + 2
    if (data.length < next) return null
    if (size === 0) return { status: Number(status[1]), body: Buffer.concat(chunks), close, rest: data.subarray(next) }
    chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = next
  }
}
