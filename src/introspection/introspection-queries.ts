// The catalog SQL behind CockroachIntrospector (src/dialect/cockroach-introspector.ts): the server
// detection, the schemas and the one set-based columns query per server kind. The rows they return
// are mapped by introspection-rows.ts; what they leave out is introspection-filters.ts.
import { sql } from 'kysely'
import { isAtLeast } from './introspection-rows.js'
import type { IntrospectionColumnRow, ServerInfo } from './introspection-rows.js'
import { relationKindCondition, userSchemaCondition } from './introspection-filters.js'

/** `select version()`, read by detectServer. */
export const SERVER_VERSION_QUERY = sql<{ version: string }>`select version() as version`

/** Every schema; the mapping (mapSchemaRows) leaves out the system ones. */
export const SCHEMAS_QUERY = sql<{ nspname: string }>`
      select nspname from pg_catalog.pg_namespace order by nspname
    `

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
  where ${relationKindCondition(sql`c.relkind`)}
    and a.attnum > 0
    and not a.attisdropped
    and ${userSchemaCondition(sql`ns.nspname`)}
  order by ns.nspname, c.relname, a.attnum
`

/**
 * The one query behind `getTables()`: a set-based join over the catalogs, no per-row function calls
 * on CockroachDB, whose catalog tables are virtual and regenerated per query (cockroach#108781).
 */
export function columnsQuery(server: ServerInfo) {
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
