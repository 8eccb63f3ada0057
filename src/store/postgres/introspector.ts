import {
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  PostgresDialect,
  sql,
  type Driver,
  type PostgresDialectConfig,
  type DatabaseIntrospector,
  type DatabaseMetadataOptions,
  type Kysely,
  type SchemaMetadata,
  type TableMetadata,
} from 'kysely'
import { BeginWithDriver, SchemaPerTransactionDriver } from './pooled.js'

/**
 * Kysely's migrator asks whether its bookkeeping tables exist by introspecting every schema of
 * the database, with `has_schema_privilege(<name>)` per schema: start-up then slows down with
 * every other schema in the database, and fails with "schema … does not exist" when another
 * schema is dropped meanwhile. lateview looks only at its own schema.
 */
export class CurrentSchemaPostgresDialect extends PostgresDialect {
  /**
   * `schemaPerTransaction`: behind a transaction pooler, the schema each transaction sets (see
   * ./pooled.ts). `onBegin`: a statement (no parameters) sent with every transaction's begin, in
   * the same round trip.
   */
  constructor(
    config: PostgresDialectConfig,
    private readonly options: { schemaPerTransaction?: string; onBegin?: string } = {},
  ) {
    super(config)
  }

  override createDriver(): Driver {
    const driver = super.createDriver()
    const { schemaPerTransaction, onBegin } = this.options
    if (schemaPerTransaction) return new SchemaPerTransactionDriver(driver, schemaPerTransaction, onBegin)
    return onBegin ? new BeginWithDriver(driver, onBegin) : driver
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db)
  }
}

/** Names of the schema and tables in `current_schema()`: all the migrator needs (no columns). */
class CurrentSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select current_schema() as name`.execute(this.db)
    return rows
  }

  async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; kind: string }>`
      select c.relname as name, n.nspname as schema, c.relkind as kind
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'v', 'p')
      order by c.relname`.execute(this.db)
    const internal = [DEFAULT_MIGRATION_TABLE, DEFAULT_MIGRATION_LOCK_TABLE]
    return rows.filter((r) => options.withInternalKyselyTables || !internal.includes(r.name)).map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v', columns: [] }))
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables(options) }
  }
}
