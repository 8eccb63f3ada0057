import { CompiledQuery, type DatabaseConnection, type Driver, type QueryCompiler, type QueryResult, type TransactionSettings } from 'kysely'

/**
 * A driver for a transaction pooler (PgBouncer with `pool_mode = transaction`) in front of
 * PostgreSQL: a server connection belongs to this process for one transaction only, so nothing
 * may live in a session. The schema of `?schema=` is therefore set in every transaction, by the
 * statement that begins it (`set local search_path`, one round trip with the begin), and a
 * statement run outside a transaction is run in one of its own. Without a pooler the schema is a
 * startup option of the connection instead, and this driver is not used.
 */
export class SchemaPerTransactionDriver implements Driver {
  readonly #setSchema: string
  readonly #onBegin: string

  constructor(
    private readonly inner: Driver,
    schema: string,
    onBegin?: string,
  ) {
    // The schema name is checked (lower-case letters, digits, _) where the URL is read.
    this.#setSchema = `set local search_path to "${schema}"`
    this.#onBegin = onBegin === undefined ? '' : `; ${onBegin}`
  }

  init(): Promise<void> {
    return this.inner.init()
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new SchemaConnection(await this.inner.acquireConnection(), this.#setSchema)
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as SchemaConnection
    await beginWith(c.inner, `${beginStatement(settings)}; ${this.#setSchema}${this.#onBegin}`)
    c.inTransaction = true
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as SchemaConnection
    c.inTransaction = false
    await this.inner.commitTransaction(c.inner)
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as SchemaConnection
    c.inTransaction = false
    await this.inner.rollbackTransaction(c.inner)
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.savepoint?.((connection as SchemaConnection).inner, name, compile)
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.rollbackToSavepoint?.((connection as SchemaConnection).inner, name, compile)
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.releaseSavepoint?.((connection as SchemaConnection).inner, name, compile)
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection((connection as SchemaConnection).inner)
  }

  destroy(): Promise<void> {
    return this.inner.destroy()
  }
}

/**
 * Begins a transaction by a text of several statements, one round trip (the simple protocol:
 * no parameters). When a later statement of it fails (a lock wait ended by a deadlock), the
 * transaction it began is rolled back before the error goes on: the connection returns to the
 * pool idle, not in an aborted transaction.
 */
async function beginWith(connection: DatabaseConnection, text: string): Promise<void> {
  try {
    await connection.executeQuery(CompiledQuery.raw(text))
  } catch (error) {
    await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined)
    throw error
  }
}

/**
 * A driver whose transactions begin with one more statement sent in the same round trip as the
 * begin (the write transactions' advisory lock, see ./open.ts). Everything else is the inner driver's.
 */
export class BeginWithDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly onBegin: string,
  ) {}

  init(): Promise<void> {
    return this.inner.init()
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return this.inner.acquireConnection()
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return beginWith(connection, `${beginStatement(settings)}; ${this.onBegin}`)
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection)
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection)
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.savepoint?.(connection, name, compile)
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.rollbackToSavepoint?.(connection, name, compile)
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.inner.releaseSavepoint?.(connection, name, compile)
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection)
  }

  /** The pool is the reading instance's to end (./open.ts): this one shares it. */
  async destroy(): Promise<void> {}
}

function beginStatement(settings: TransactionSettings): string {
  let text = 'start transaction'
  if (settings.isolationLevel) text += ` isolation level ${settings.isolationLevel}`
  if (settings.accessMode) text += ` ${settings.accessMode}`
  return text
}

/** A pooled connection that runs a statement outside a transaction in one of its own, with the schema set. */
class SchemaConnection implements DatabaseConnection {
  inTransaction = false

  constructor(
    readonly inner: DatabaseConnection,
    private readonly setSchema: string,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.inTransaction) return this.inner.executeQuery<R>(query)
    await this.inner.executeQuery(CompiledQuery.raw(`begin; ${this.setSchema}`))
    try {
      const result = await this.inner.executeQuery<R>(query)
      await this.inner.executeQuery(CompiledQuery.raw('commit'))
      return result
    } catch (error) {
      await this.inner.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined)
      throw error
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    if (this.inTransaction) {
      yield* this.inner.streamQuery<R>(query, chunkSize)
      return
    }
    await this.inner.executeQuery(CompiledQuery.raw(`begin; ${this.setSchema}`))
    let done = false
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize)
      done = true
    } finally {
      await this.inner.executeQuery(CompiledQuery.raw(done ? 'commit' : 'rollback')).catch(() => undefined)
    }
  }
}
