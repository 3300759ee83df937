// The pure half of CockroachIntrospector: turning catalog rows into Kysely's metadata. The SQL
// that produces these rows lives in introspection-queries.ts; keeping the mapping free of I/O lets
// the unit tests feed it the rows each CockroachDB version really returns.
import type { ColumnMetadata, SchemaMetadata, TableMetadata } from 'kysely'
import { isIntrospectedRelationKind, isSystemSchema } from './introspection-filters.js'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'

// Kysely's default migration table names. Spelled out because kysely 0.29 moved the constants to
// 'kysely/migration', which kysely 0.28 does not have.
const KYSELY_MIGRATION_TABLES: ReadonlySet<string> = new Set(['kysely_migration', 'kysely_migration_lock'])

/**
 * Which server a connection talks to, from `select version()`.
 *
 * ```ts
 * import { CockroachIntrospector } from 'kysely-cockroachdb'
 * import type { ServerInfo } from 'kysely-cockroachdb'
 *
 * const server: ServerInfo = await new CockroachIntrospector(db).getServerInfo()
 * if (server.kind === 'cockroachdb' && server.version[0] >= 24) {
 *   // ...
 * }
 * ```
 */
export interface ServerInfo {
  readonly kind: 'cockroachdb' | 'postgres'
  /** `[major, minor, patch]`, e.g. `[24, 2, 3]` for CockroachDB v24.2.3 or `[15, 4, 0]` for PostgreSQL 15.4. */
  readonly version: readonly [number, number, number]
  /** The `version()` string as the server returned it. */
  readonly versionString: string
}

/**
 * Reads the server kind and version from the text of `select version()`: for
 * `'CockroachDB CCL v24.2.3 (x86_64-pc-linux-gnu, built 2024/09/23 22:30:53, go1.22.5 X:nocoverageredesign)'`,
 * `{ kind: 'cockroachdb', version: [24, 2, 3], ... }`.
 *
 * @internal
 */
export function detectServer(versionString: string): ServerInfo {
  // CockroachDB: "CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built ...)" — the form
  // sqlalchemy-cockroachdb parses (sqlalchemy_cockroachdb/base.py, initialize()).
  const crdb = /^CockroachDB\b.*?\bv(\d+)\.(\d+)(?:\.(\d+))?/.exec(versionString)
  if (crdb) {
    return Object.freeze({ kind: 'cockroachdb', version: triple(crdb), versionString })
  }
  const pg = /^PostgreSQL (\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(versionString)
  if (pg) {
    return Object.freeze({ kind: 'postgres', version: triple(pg), versionString })
  }
  throw new KyselyCockroachError(
    `CockroachIntrospector: cannot tell the server from version() = ${JSON.stringify(versionString)}. ` +
      'It supports CockroachDB and PostgreSQL: connect to one of them.',
  )
}

function triple(match: RegExpExecArray): readonly [number, number, number] {
  return Object.freeze([Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)] as const)
}

/** True when `server` is at least `major.minor`. */
export function isAtLeast(server: ServerInfo, major: number, minor: number): boolean {
  const [ma, mi] = server.version
  return ma > major || (ma === major && mi >= minor)
}

/**
 * The user schemas among `pg_namespace` rows (SCHEMAS_QUERY), in row order: what
 * {@link CockroachIntrospector}'s `getSchemas()` returns.
 *
 * @internal
 */
export function mapSchemaRows(rows: readonly { readonly nspname: string }[]): SchemaMetadata[] {
  return rows.filter((row) => !isSystemSchema(row.nspname)).map((row) => Object.freeze({ name: row.nspname }))
}

/**
 * One row per column of a table, view or materialized view, as the introspection queries return it.
 * Values are what node-postgres gives for the catalog columns: booleans for `attnotnull`/`atthasdef`,
 * strings for `"char"` columns.
 */
export interface IntrospectionColumnRow {
  /** `pg_namespace.nspname` of the relation. */
  readonly schema: string
  /** `pg_class.relname`. */
  readonly table: string
  /** `pg_class.relkind`: `r` table, `v` view, `m` materialized view, `p` partitioned, `f` foreign. */
  readonly relkind: string
  /** `pg_attribute.attname`. */
  readonly column: string
  /** `pg_type.typname`: the pg type name, arrays `_`-prefixed (`_int8`). */
  readonly type: string
  /** `pg_namespace.nspname` of the type (`pg_catalog` for built-ins, the user schema for enums). */
  readonly type_schema: string
  /** `pg_attribute.attnotnull`. */
  readonly not_null: boolean
  /** `pg_attribute.atthasdef`. False for computed columns before CockroachDB v23.2 (cockroach#108964). */
  readonly has_default: boolean
  /** The default (or, for computed columns from v23.2 and on PostgreSQL, the generation) expression as text. */
  readonly default_expr: string | null
  /** `pg_attribute.attidentity`: `a` always, `d` by default (`b` on CockroachDB before v23.1), `''` none. */
  readonly identity: string | null
  /** `pg_attribute.attgenerated`: `s` stored, `v` virtual (CockroachDB only), `''` none. */
  readonly generated: string | null
  /** CockroachDB's `information_schema.columns.is_hidden` (`'YES'`/`'NO'`); null on PostgreSQL. */
  readonly is_hidden: string | boolean | null
  /** CockroachDB's `pg_attribute.attishidden` (from v24.2, cockroach#126397); null where unavailable. */
  readonly att_is_hidden: boolean | null
  /** The column comment (`COMMENT ON COLUMN`). */
  readonly comment: string | null
}

/**
 * How a computed (generated) column is stored: {@link CockroachColumnMetadata}'s `generated`.
 *
 * ```ts
 * import type { CockroachColumnMetadata, GeneratedKind } from 'kysely-cockroachdb'
 *
 * const kind: GeneratedKind | undefined = (column as CockroachColumnMetadata).generated // 'stored' for STORED
 * ```
 */
export type GeneratedKind = 'stored' | 'virtual'

/**
 * Whether an identity column accepts explicit values (`by-default`) or not (`always`):
 * {@link CockroachColumnMetadata}'s `identity`.
 *
 * ```ts
 * import type { CockroachColumnMetadata, IdentityKind } from 'kysely-cockroachdb'
 *
 * const identity: IdentityKind | undefined = (column as CockroachColumnMetadata).identity
 * if (identity === 'always') {
 *   // GENERATED ALWAYS AS IDENTITY: leave the column out of inserts
 * }
 * ```
 */
export type IdentityKind = 'always' | 'by-default'

/**
 * Kysely's column metadata plus what CockroachDB adds. Everything Kysely's `ColumnMetadata` has keeps
 * its meaning, so Kysely's Migrator and kysely-codegen read it unchanged.
 *
 * ```ts
 * import type { CockroachColumnMetadata } from 'kysely-cockroachdb'
 *
 * const tables = await db.introspection.getTables()
 * const id = tables[0].columns[0] as CockroachColumnMetadata
 * id.isAutoIncrementing // true for unique_rowid(), SERIAL, nextval() and identity columns
 * ```
 */
export interface CockroachColumnMetadata extends ColumnMetadata {
  /** `NOT VISIBLE` columns, the implicit `rowid`, hash-shard columns, hidden `crdb_region`. */
  readonly isHidden: boolean
  /** False for computed columns and `GENERATED ALWAYS AS IDENTITY`: the server rejects explicit values. */
  readonly isInsertable: boolean
  /** Set for computed (generated) columns. */
  readonly generated?: GeneratedKind
  /** Set for identity columns. */
  readonly identity?: IdentityKind
  /** The default expression as the server prints it, e.g. `unique_rowid()`; not set for computed and identity columns. */
  readonly defaultExpression?: string
}

/**
 * Kysely's table metadata (including `isForeign`, which kysely 0.29 has) with
 * {@link CockroachColumnMetadata} columns. `isView` is true for views and materialized views.
 *
 * ```ts
 * const views = (await db.introspection.getTables()).filter((t) => t.isView)
 * ```
 */
export interface CockroachTableMetadata extends TableMetadata {
  readonly isForeign: boolean
  readonly isMaterializedView: boolean
  readonly schema: string
  readonly columns: CockroachColumnMetadata[]
}

/** Options of {@link mapIntrospectionRows}. */
export interface MapIntrospectionOptions {
  /** Keep hidden columns (flagged with `isHidden: true`). Default false. */
  readonly includeHiddenColumns?: boolean
  /** Keep Kysely's migration tables, as Kysely's `getTables({ withInternalKyselyTables })`. Default false. */
  readonly withInternalKyselyTables?: boolean
}

// `unique_rowid()` is what CockroachDB's default SERIAL mode (serial_normalization = rowid) and
// implicit rowid columns use; `unordered_unique_rowid()` is the `unordered_rowid` mode
// (cockroach pkg/sql/sessiondatapb: SerialUsesUnorderedRowID; docs /docs/stable/serial).
// Older versions print type annotations, so only the call itself is matched.
const ROWID_DEFAULT = /^\s*\(?\s*(?:unordered_)?unique_rowid\s*\(\s*\)/i
// `nextval('public.t_n_seq'::REGCLASS)` (sql_sequence SERIAL modes, explicit sequences) and
// PostgreSQL's `nextval('t_id_seq'::regclass)`.
const NEXTVAL_DEFAULT = /^\s*\(?\s*nextval\s*\(/i

/**
 * Maps the introspection query's rows to table metadata. Pure: no I/O, same output for the same rows.
 * Rows must come grouped by relation (the queries order by schema, table, attnum); tables keep
 * that order, columns keep row order: `mapIntrospectionRows(rows, { includeHiddenColumns: false })`
 * is what {@link CockroachIntrospector}'s `getTables()` returns for those rows.
 *
 * @internal
 */
export function mapIntrospectionRows(
  rows: readonly IntrospectionColumnRow[],
  options: MapIntrospectionOptions = {},
): CockroachTableMetadata[] {
  const includeHidden = options.includeHiddenColumns === true
  const withInternal = options.withInternalKyselyTables === true
  const tables: { table: CockroachTableMetadata; columns: CockroachColumnMetadata[] }[] = []
  const byKey = new Map<string, CockroachColumnMetadata[]>()

  for (const row of rows) {
    if (!isIntrospectedRelationKind(row.relkind) || isSystemSchema(row.schema)) {
      continue
    }
    if (!withInternal && KYSELY_MIGRATION_TABLES.has(row.table)) {
      continue
    }
    // JSON.stringify keeps schema/table pairs apart even when names contain dots.
    const key = JSON.stringify([row.schema, row.table])
    let columns = byKey.get(key)
    if (!columns) {
      columns = []
      byKey.set(key, columns)
      // A table whose columns are all hidden still exists, so the entry is made before filtering.
      tables.push({
        columns,
        table: {
          name: row.table,
          schema: row.schema,
          isView: row.relkind === 'v' || row.relkind === 'm',
          isMaterializedView: row.relkind === 'm',
          isForeign: row.relkind === 'f',
          columns,
        },
      })
    }
    const column = mapColumn(row)
    if (column.isHidden && !includeHidden) {
      continue
    }
    columns.push(column)
  }
  return tables.map(({ table, columns }) => Object.freeze({ ...table, columns: Object.freeze(columns) as CockroachColumnMetadata[] }))
}

function mapColumn(row: IntrospectionColumnRow): CockroachColumnMetadata {
  const generated = generatedKind(row.generated)
  const identity = identityKind(row.identity)
  const defaultExpression = nonEmpty(row.default_expr)
  // For computed columns the expression in pg_attrdef is the computation, not a default.
  const autoDefault =
    generated === undefined &&
    defaultExpression !== undefined &&
    (ROWID_DEFAULT.test(defaultExpression) || NEXTVAL_DEFAULT.test(defaultExpression))
  const isHidden = isYes(row.is_hidden) || row.att_is_hidden === true

  return Object.freeze({
    name: row.column,
    dataType: row.type,
    dataTypeSchema: row.type_schema,
    isNullable: !row.not_null,
    // Identity columns: after cockroach#168771 (master; milestone v26.3.0) they report no default at all.
    isAutoIncrementing: identity !== undefined || autoDefault,
    // Computed columns: atthasdef is false for them before CockroachDB v23.2 (cockroach#108964).
    hasDefaultValue: row.has_default || defaultExpression !== undefined || identity !== undefined || generated !== undefined,
    comment: nonEmpty(row.comment),
    isHidden,
    isInsertable: generated === undefined && identity !== 'always',
    ...(generated === undefined ? {} : { generated }),
    ...(identity === undefined ? {} : { identity }),
    ...(defaultExpression === undefined || generated !== undefined || identity !== undefined ? {} : { defaultExpression }),
  })
}

// attgenerated: 's' stored; 'v' virtual (CockroachDB, and PostgreSQL 18) — cockroach pkg/sql/pg_catalog.go,
// pgCatalogAttributeTable ("attgenerated column to 's' if ... stored, 'v' if virtual").
function generatedKind(value: string | null): GeneratedKind | undefined {
  if (value === 's') return 'stored'
  if (value === 'v') return 'virtual'
  return undefined
}

// attidentity: 'a' always, 'd' by default; CockroachDB before v23.1 wrote 'b' for BY DEFAULT
// (cockroach#95321, fixed by #92545).
function identityKind(value: string | null): IdentityKind | undefined {
  if (value === 'a') return 'always'
  if (value === 'd' || value === 'b') return 'by-default'
  return undefined
}

function isYes(value: string | boolean | null): boolean {
  return value === true || (typeof value === 'string' && value.toUpperCase() === 'YES')
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value
}
