import { PostgresIntrospector, sql } from 'kysely'
import type { DatabaseIntrospector, DatabaseMetadataOptions, DialectAdapter, Kysely, SchemaMetadata } from 'kysely'
import { detectServer, isAtLeast, isSystemSchema, mapIntrospectionRows } from '../introspection/introspection-rows.js'
import type { CockroachTableMetadata, IntrospectionColumnRow, ServerInfo } from '../introspection/introspection-rows.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'

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
      server = sql<{ version: string }>`select version() as version`
        .execute(this.#db)
        .then((result) => detectServer(String(result.rows[0]?.version)))
      serverByAdapter.set(adapter, server)
      // A failed detection (e.g. the server was down) must not stick.
      server.catch(() => serverByAdapter.delete(adapter))
    }
    return server
  }

  /** User schemas only: no `pg_catalog`, `information_schema`, `crdb_internal`, `pg_extension`, `pg_temp_*`, `pg_toast*`. */
  override async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ nspname: string }>`
      select nspname from pg_catalog.pg_namespace order by nspname
    `.execute(this.#db)
    return rows.filter((row) => !isSystemSchema(row.nspname)).map((row) => Object.freeze({ name: row.nspname }))
  }

  /** Tables, views and materialized views of user schemas, with their columns. */
  override async getTables(
    options: DatabaseMetadataOptions = { withInternalKyselyTables: false },
  ): Promise<CockroachTableMetadata[]> {
    const server = await this.getServerInfo()
    const { rows } = await columnsQuery(server).execute(this.#db)
    return mapIntrospectionRows(rows, {
      includeHiddenColumns: this.#options.includeHiddenColumns === true,
      withInternalKyselyTables: options.withInternalKyselyTables === true,
    })
  }
}

// Columns of relations with their relation, schema, type and default: the part both servers share.
const COLUMN_CATALOGS = sql`
  from pg_catalog.pg_attribute a
  join pg_catalog.pg_class c on c.oid = a.attrelid
  join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
  join pg_catalog.pg_type typ on typ.oid = a.atttypid
  join pg_catalog.pg_namespace tns on tns.oid = typ.typnamespace
  left join pg_catalog.pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
`

const RELATION_FILTER = sql`
  where c.relkind in ('r', 'v', 'm', 'p', 'f')
    and a.attnum > 0
    and not a.attisdropped
    and ns.nspname not in ('pg_catalog', 'information_schema', 'crdb_internal', 'pg_extension')
    and ns.nspname not like 'pg\\_temp\\_%'
    and ns.nspname not like 'pg\\_toast%'
  order by ns.nspname, c.relname, a.attnum
`

/**
 * The one query behind `getTables()`: a set-based join over the catalogs, no per-row function calls
 * on CockroachDB, whose catalog tables are virtual and regenerated per query (cockroach#108781).
 */
function columnsQuery(server: ServerInfo) {
  if (server.kind === 'cockroachdb') {
    // - is_hidden and column_comment are CockroachDB columns of information_schema.columns
    //   (cockroach pkg/sql/vtable/information_schema.go, InformationSchemaColumns; is_hidden since
    //   cockroach#28750). Joining it by name is what sqlalchemy-cockroachdb does
    //   (sqlalchemy_cockroachdb/base.py, get_multi_columns); reading column_comment instead of
    //   col_description() is what activerecord-cockroachdb-adapter does.
    // - pg_attribute.attishidden exists from v24.2 (cockroach#126397); it backs is_hidden up there.
    // - pg_attrdef.adbin is already the printed expression on CockroachDB (cockroach pkg/sql/pg_catalog.go,
    //   pgCatalogAttrDefTable), so no pg_get_expr per row.
    const attIsHidden = isAtLeast(server, 24, 2) ? sql`a.attishidden` : sql`null::bool`
    return sql<IntrospectionColumnRow>`
      select
        ns.nspname as "schema",
        c.relname as "table",
        c.relkind as "relkind",
        a.attname as "column",
        typ.typname as "type",
        tns.nspname as "type_schema",
        a.attnotnull as "not_null",
        a.atthasdef as "has_default",
        ad.adbin as "default_expr",
        a.attidentity as "identity",
        a.attgenerated as "generated",
        isc.is_hidden as "is_hidden",
        ${attIsHidden} as "att_is_hidden",
        isc.column_comment as "comment"
      ${COLUMN_CATALOGS}
      left join information_schema.columns isc
        on isc.table_catalog = current_database()
        and isc.table_schema = ns.nspname
        and isc.table_name = c.relname
        and isc.column_name = a.attname
      ${RELATION_FILTER}
    `
  }
  // PostgreSQL: attidentity exists from 10, attgenerated from 12. Comments come from a join on
  // pg_description rather than col_description() per row.
  const identity = server.version[0] >= 10 ? sql`a.attidentity::text` : sql`''::text`
  const generated = server.version[0] >= 12 ? sql`a.attgenerated::text` : sql`''::text`
  return sql<IntrospectionColumnRow>`
    select
      ns.nspname as "schema",
      c.relname as "table",
      c.relkind::text as "relkind",
      a.attname as "column",
      typ.typname as "type",
      tns.nspname as "type_schema",
      a.attnotnull as "not_null",
      a.atthasdef as "has_default",
      pg_get_expr(ad.adbin, ad.adrelid) as "default_expr",
      ${identity} as "identity",
      ${generated} as "generated",
      null::text as "is_hidden",
      null::bool as "att_is_hidden",
      d.description as "comment"
    ${COLUMN_CATALOGS}
    left join pg_catalog.pg_description d
      on d.objoid = a.attrelid
      and d.objsubid = a.attnum
      and d.classoid = 'pg_catalog.pg_class'::regclass
    ${RELATION_FILTER}
  `
}
