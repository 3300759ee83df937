// Which schemas and relations introspection leaves out, each as one list, rendered both as the
// WHERE conditions of the catalog query (introspection-queries.ts) and as the predicates the row
// mapping applies (introspection-rows.ts), so the two cannot drift apart.
import { sql } from 'kysely'
import type { RawBuilder } from 'kysely'

/**
 * Schemas that hold the server's own objects rather than the user's: `pg_catalog`,
 * `information_schema`, and CockroachDB's `crdb_internal` and `pg_extension` (cockroach
 * pkg/sql/logictest/testdata/logic_test/information_schema, `information_schema.schemata`).
 */
export const SYSTEM_SCHEMAS: readonly string[] = Object.freeze(['pg_catalog', 'information_schema', 'crdb_internal', 'pg_extension'])

/** Prefixes of PostgreSQL's system schemas: per-session `pg_temp_*`, and `pg_toast*` (with `pg_toast_temp_*`). */
export const SYSTEM_SCHEMA_PREFIXES: readonly string[] = Object.freeze(['pg_temp_', 'pg_toast'])

/**
 * The `pg_class.relkind`s introspection returns: `r` table, `v` view, `m` materialized view,
 * `p` partitioned table, `f` foreign table.
 */
export const RELATION_KINDS: readonly string[] = Object.freeze(['r', 'v', 'm', 'p', 'f'])

const SYSTEM_SCHEMA_SET: ReadonlySet<string> = new Set(SYSTEM_SCHEMAS)
const RELATION_KIND_SET: ReadonlySet<string> = new Set(RELATION_KINDS)

/** True for a schema in {@link SYSTEM_SCHEMAS} or starting with one of {@link SYSTEM_SCHEMA_PREFIXES}. */
export function isSystemSchema(name: string): boolean {
  return SYSTEM_SCHEMA_SET.has(name) || SYSTEM_SCHEMA_PREFIXES.some((prefix) => name.startsWith(prefix))
}

/** True for a relkind in {@link RELATION_KINDS}. */
export function isIntrospectedRelationKind(relkind: string): boolean {
  return RELATION_KIND_SET.has(relkind)
}

/**
 * `<column> not in (...) and <column> not like '<prefix>%' ...`: {@link isSystemSchema} negated, as
 * SQL, for a schema name column such as sql`ns.nspname`.
 */
export function userSchemaCondition(column: RawBuilder<unknown>): RawBuilder<unknown> {
  const prefixes = SYSTEM_SCHEMA_PREFIXES.map((prefix) => sql`${column} not like ${sql.lit(likePrefix(prefix))}`)
  return sql.join([sql`${column} not in (${sql.join(SYSTEM_SCHEMAS.map((name) => sql.lit(name)))})`, ...prefixes], sql`\n    and `)
}

/** `<column> in (...)`: {@link isIntrospectedRelationKind} as SQL, for a relkind column such as sql`c.relkind`. */
export function relationKindCondition(column: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`${column} in (${sql.join(RELATION_KINDS.map((kind) => sql.lit(kind)))})`
}

// A LIKE pattern for "starts with": the pattern characters (and the escape, backslash) escaped.
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, '\\$&')}%`
}
