import { CompiledQuery, type Kysely } from 'kysely'
import type { Schema } from '../schema.js'

/** Bytes of COPY rows decoded and handed on at a time (a few thousand events). */
const BATCH_BYTES = 1 << 20

/** What pg's connection offers a statement it runs (the part used here). */
interface Connection {
  query(text: string): void
}

/**
 * `COPY (…) TO STDOUT` run on the connection of `db` (the pool, a write transaction or a
 * snapshot: the statement sees what that transaction sees). pg has no COPY TO of its own; this is
 * a statement object pg runs in place of a query (its `submit` sends the text, and pg hands it
 * the server's messages), handed to pg through Kysely, whose driver gives the statement to the
 * client unchanged, and awaited as a promise. The server sends one CopyData message per row; the
 * rows' bytes are gathered and handed to `onText` a batch at a time, decoded, each row ending in
 * a newline and still escaped as COPY's text format does it (see `unescapeCopyText`). `onText`
 * runs while pg reads the socket, so the server waits (TCP's window fills) while the caller
 * works: no more than a batch and the socket's buffers are held. Resolves to the number of rows.
 * A failure of `onText` is thrown once the server has finished the statement, the rest unread.
 */
export async function copyOut(db: Kysely<Schema>, text: string, onText: (text: string) => void): Promise<number> {
  const statement = new CopyOut(`copy (${text}) to stdout`, onText)
  // The driver passes the statement to pg's client.query untouched, as it does a query's text.
  await db.executeQuery(CompiledQuery.raw(statement as unknown as string))
  return statement.rows
}

class CopyOut implements PromiseLike<{ rows: never[]; command: string; rowCount: number }> {
  rows = 0
  #buffer = Buffer.allocUnsafe(BATCH_BYTES)
  #used = 0
  #failure: unknown = null
  readonly #done: Promise<{ rows: never[]; command: string; rowCount: number }>
  #resolve!: (value: { rows: never[]; command: string; rowCount: number }) => void
  #reject!: (error: unknown) => void

  constructor(
    readonly text: string,
    private readonly onText: (text: string) => void,
  ) {
    this.#done = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  // biome-ignore lint/suspicious/noThenProperty: Kysely's driver awaits what pg's client.query returns, this object.
  then<A = { rows: never[]; command: string; rowCount: number }, B = never>(
    onFulfilled?: ((value: { rows: never[]; command: string; rowCount: number }) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.#done.then(onFulfilled, onRejected)
  }

  submit(connection: Connection): void {
    connection.query(this.text)
  }

  handleCopyData(message: { chunk: Buffer }): void {
    this.rows++
    if (this.#failure !== null) return
    const chunk = message.chunk
    // The chunk is a view of pg's read buffer, reused for the next messages: copied now.
    if (this.#used + chunk.length > this.#buffer.length) {
      this.#flush()
      if (chunk.length > this.#buffer.length) this.#buffer = Buffer.allocUnsafe(chunk.length * 2)
    }
    chunk.copy(this.#buffer, this.#used)
    this.#used += chunk.length
    if (this.#used >= BATCH_BYTES - 4096) this.#flush()
  }

  handleCommandComplete(): void {
    this.#flush()
  }

  handleReadyForQuery(): void {
    if (this.#failure !== null) this.#reject(this.#failure)
    else this.#resolve({ rows: [], command: 'COPY', rowCount: this.rows })
  }

  /** The server's error (pg runs no more of this statement's handlers), or the socket's. */
  handleError(error: unknown): void {
    this.#reject(error)
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}

  #flush(): void {
    if (this.#used === 0 || this.#failure !== null) return
    const text = this.#buffer.toString('utf8', 0, this.#used)
    this.#used = 0
    try {
      this.onText(text)
    } catch (error) {
      this.#failure = error
    }
  }
}

/**
 * COPY's text format undone: a backslash, newline, carriage return or tab in a value is written
 * `\\`, `\n`, `\r`, `\t` (and the other control characters \b, \f, \v); a NULL is `\N`, which the
 * scans never write (their one column is never null). Text without a backslash comes back as is.
 */
export function unescapeCopyText(text: string): string {
  if (!text.includes('\\')) return text
  return text.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c)
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' }

/** A string as a literal of a COPY's statement (which takes no parameters); standard_conforming_strings holds. */
export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('a text literal cannot hold NUL')
  return `'${value.replace(/'/g, "''")}'`
}
