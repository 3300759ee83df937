import { PostgresIntrospector } from 'kysely'
import type { DatabaseIntrospector, DatabaseMetadataOptions, DialectAdapter, Kysely, SchemaMetadata } from 'kysely'
import { columnsQuery, SCHEMAS_QUERY, SERVER_VERSION_QUERY } from '../introspection/introspection-queries.js'
import { detectServer, mapIntrospectionRows, mapSchemaRows } from '../introspection/introspection-rows.js'
import type { CockroachTableMetadata, ServerInfo } from '../introspection/introspection-rows.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { withTableOptions } from '../introspection/table-options-query.js'

/**
 * Options of {@link CockroachIntrospector}.
 *
 * ```ts
 * import { CockroachIntrospector } from 'kysely-cockroachdb'
 *
 * const introspector = new CockroachIntrospector(db, { includeHiddenColumns: true })
 * ```
 */
export interface CockroachIntrospectorOptions {
  /**
   * Also return hidden columns (the implicit `rowid` of tables without a primary key, `NOT VISIBLE`
   * columns, hash-shard columns, a hidden `crdb_region`), flagged `isHidden: true`. Default false.
   */
  readonly includeHiddenColumns?: boolean
}

// One detection per Kysely instance: `db.introspection` builds a new introspector on every access,
// but all of them share the dialect adapter the Kysely instance was created with.
const serverByAdapter = new WeakMap<DialectAdapter, Promise<ServerInfo>>()

/**
 * Kysely's `DatabaseIntrospector` for CockroachDB (and PostgreSQL), used by `CockroachDialect`, so
 * `db.introspection`, Kysely's `Migrator` and kysely-codegen see the schema as CockroachDB defines it.
 *
 * Unlike Kysely's `PostgresIntrospector` it never calls `pg_get_serial_sequence` (which raises
 * `"<view>" is not a table` on CockroachDB as soon as a view exists, kysely#1458) or per-row
 * `col_description`; it leaves out hidden columns, reports `unique_rowid()`, SERIAL, `nextval()` and
 * identity columns as auto-incrementing and computed columns as having a default; and it returns
 * materialized views. It runs a constant number of set-based queries whatever the number of tables:
 * `select version()` once per Kysely instance, then one query per call.
 *
 * ```ts
 * const tables = await db.introspection.getTables()
 * for (const table of tables) {
 *   console.log(table.schema, table.name, table.columns.map((c) => c.name))
 * }
 * ```
 */
export class CockroachIntrospector extends PostgresIntrospector implements DatabaseIntrospector {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's introspectors take Kysely<any>
  readonly #db: Kysely<any>
  readonly #options: Readonly<CockroachIntrospectorOptions>

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's introspectors take Kysely<any>
  constructor(db: Kysely<any>, options: CockroachIntrospectorOptions = {}) {
    super(db)
    if (typeof options !== 'object' || options === null) {
      throw new QueryRefusedError('CockroachIntrospector', 'options must be an object', 'give one such as { includeHiddenColumns: true }')
    }
    if (options.includeHiddenColumns !== undefined && typeof options.includeHiddenColumns !== 'boolean') {
      throw new QueryRefusedError('CockroachIntrospector', 'includeHiddenColumns must be true or false', 'leave it out for false')
    }
    // Plugins such as CamelCasePlugin would rename the catalog columns the mapping reads.
    this.#db = db.withoutPlugins()
    this.#options = Object.freeze({ ...options })
  }

  /**
   * The server this introspector talks to, from `select version()` (run once per Kysely instance).
   *
   * ```ts
   * import { CockroachIntrospector } from 'kysely-cockroachdb'
   *
   * const { kind, version } = await new CockroachIntrospector(db).getServerInfo()
   * ```
   */
  async getServerInfo(): Promise<ServerInfo> {
    const adapter = this.#db.getExecutor().adapter
    let server = serverByAdapter.get(adapter)
    if (!server) {
      server = SERVER_VERSION_QUERY.execute(this.#db).then((result) => detectServer(String(result.rows[0]?.version)))
      serverByAdapter.set(adapter, server)
      // A failed detection (e.g. the server was down) must not stick.
      server.catch(() => serverByAdapter.delete(adapter))
    }
    return server
  }

  /** User schemas only: no `pg_catalog`, `information_schema`, `crdb_internal`, `pg_extension`, `pg_temp_*`, `pg_toast*`. */
  override async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await SCHEMAS_QUERY.execute(this.#db)
    return mapSchemaRows(rows)
  }

  /** Tables, views and materialized views of user schemas, with their columns. */
  override async getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<CockroachTableMetadata[]> {
    const server = await this.getServerInfo()
    const { rows } = await columnsQuery(server).execute(this.#db)
    const tables = mapIntrospectionRows(rows, {
      includeHiddenColumns: this.#options.includeHiddenColumns === true,
      withInternalKyselyTables: options.withInternalKyselyTables === true,
    })
    // CockroachDB: locality, row-level TTL, hash-sharded primary key (src/introspection/table-options.ts).
    return server.kind === 'cockroachdb' ? withTableOptions(this.#db, tables) : tables
  }
}
