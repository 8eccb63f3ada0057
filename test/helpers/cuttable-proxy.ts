import { connect, createServer, type Server, type Socket } from 'node:net'

/** A TCP proxy to PostgreSQL that the test can cut (every connection dropped, new ones refused) and restore. */
export class CuttableProxy {
  #server: Server | null = null
  readonly #sockets = new Set<Socket>()
  port = 0

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(5432, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('close', () => this.#sockets.delete(s))
        s.on('error', () => undefined)
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve))
    this.port = (server.address() as { port: number }).port
    this.#server = server
  }

  async cut(): Promise<void> {
    const server = this.#server
    this.#server = null
    for (const s of this.#sockets) s.destroy()
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
