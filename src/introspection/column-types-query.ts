import { sql } from 'kysely'
import type { Kysely, RawBuilder } from 'kysely'

/** One row of {@link columnTypesQuery}. @internal */
export interface ColumnTypeRow {
  readonly column: string
  readonly type: string
  readonly type_schema: string
  readonly category: string
  readonly element: string | null
  readonly element_schema: string | null
  /** 1-based position in the primary key, or null. */
  readonly pk_position: number | string | null
}

/**
 * The columns of one table with their types and primary-key positions, for the bulk helpers: one
 * set-based query on pg_catalog (cheap on CockroachDB's virtual catalogs too), with `$1` the
 * quoted table name cast to regclass. The primary key comes from information_schema
 * (key_column_usage.ordinal_position gives the key order) rather than from pg_index.indkey, whose
 * int2vector `= any()` has not been checked on CockroachDB (design-14 §2.5, not confirmed).
 *
 * @internal
 */
export function columnTypesQuery(qualifiedName: string): RawBuilder<ColumnTypeRow> {
  return sql<ColumnTypeRow>`
    select a.attname as "column", t.typname as "type", tn.nspname as "type_schema", t.typcategory as "category",
           et.typname as "element", etn.nspname as "element_schema",
           (select k.ordinal_position
              from information_schema.table_constraints c
              join information_schema.key_column_usage k
                on k.constraint_schema = c.constraint_schema and k.constraint_name = c.constraint_name
               and k.table_schema = c.table_schema and k.table_name = c.table_name
             where c.constraint_type = 'PRIMARY KEY' and c.table_schema = n.nspname and c.table_name = cl.relname
               and k.column_name = a.attname) as "pk_position"
      from pg_catalog.pg_attribute a
      join pg_catalog.pg_class cl on cl.oid = a.attrelid
      join pg_catalog.pg_namespace n on n.oid = cl.relnamespace
      join pg_catalog.pg_type t on t.oid = a.atttypid
      join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace
      left join pg_catalog.pg_type et on et.oid = t.typelem and t.typcategory = 'A'
      left join pg_catalog.pg_namespace etn on etn.oid = et.typnamespace
     where a.attrelid = ${qualifiedName}::regclass and a.attnum > 0 and not a.attisdropped
     order by a.attnum`
}

/** Runs {@link columnTypesQuery} without the instance's plugins (their result transforms would rename the fields). @internal */
export async function readColumnTypes(db: Kysely<unknown>, qualifiedName: string): Promise<readonly ColumnTypeRow[]> {
  const { rows } = await columnTypesQuery(qualifiedName).execute(db.withoutPlugins())
  return rows
}
