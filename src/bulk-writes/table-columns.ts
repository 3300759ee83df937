// The types and primary key of the table a bulk helper writes, from the `types` option and one
// catalog query per call (no cache: no staleness after ALTER TABLE; a load pays one query).
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { readColumnTypes } from '../introspection/column-types-query.js'
import { columnTypeFromCatalog, columnTypeFromName } from './column-encoding.js'
import type { ColumnType } from './column-encoding.js'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'
import { getSqlState } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'

export interface TableColumns {
  /** Types by the caller's column names (as in the rows: CamelCasePlugin names stay camelCase). */
  readonly types: ReadonlyMap<string, ColumnType>
  /** The primary key in key order, by the caller's names; empty when unknown. */
  readonly primaryKey: readonly string[]
  /** The table as SQL text (`"schema"."table"`), with the instance's plugins applied. */
  readonly qualifiedName: string
}

const SELECT_ALL_FROM = 'select * from '

/**
 * The table name as SQL text (`"schema"."table"`), compiled with the instance's plugins. Through a
 * query builder, not `sql.table()`: WithSchemaPlugin adds its schema to the tables of builders but
 * not to `sql.table()` in raw SQL (kysely's WithSchemaTransformer visits TableNodes of queries;
 * design-14 §2.4), and the catalog query and COPY must name the table insertInto writes.
 */
export function compileTableName(db: Kysely<unknown>, table: string): string {
  const text = (db as unknown as Kysely<Record<string, Record<string, unknown>>>).selectFrom(table).selectAll().compile().sql
  if (!text.startsWith(SELECT_ALL_FROM))
    throw new KyselyCockroachError(
      `insertMany/copyInto: could not compile the table name ${JSON.stringify(table)}. This is a bug: please report it.`,
    )
  return text.slice(SELECT_ALL_FROM.length)
}

/** A column name as the server knows it: the caller's name through the instance's plugins, unquoted. */
export function serverColumnName(db: Kysely<unknown>, column: string): string {
  const text = sql`${sql.id(column)}`.compile(db).sql
  return text.slice(1, -1).replace(/""/g, '"')
}

/**
 * Types of `columns` (caller's names): the `types` option first, then the catalog for the rest
 * (unless `introspect` is false). `needPrimaryKey` runs the catalog query even when `types`
 * covers every column.
 */
export async function loadTableColumns(
  api: string,
  db: Kysely<unknown>,
  table: string,
  columns: readonly string[],
  options: { readonly types?: Readonly<Record<string, string | undefined>>; readonly introspect?: boolean },
  needPrimaryKey: boolean,
): Promise<TableColumns> {
  const types = new Map<string, ColumnType>()
  for (const [column, name] of Object.entries(options.types ?? {})) {
    if (name === undefined) continue
    const type = columnTypeFromName(name)
    if (type === undefined) {
      throw new QueryRefusedError(
        api,
        `the type ${JSON.stringify(name)} given for "${column}" is not a type name it can use`,
        "Write a name such as 'int8', 'text[]', 'numeric(10,2)' or 'public.mood' (no spaces: 'float8', not 'double precision')",
      )
    }
    types.set(column, type)
  }
  const qualifiedName = compileTableName(db, table)
  const primaryKey: string[] = []
  const missing = columns.some((column) => !types.has(column))
  if ((missing && options.introspect !== false) || needPrimaryKey) {
    let rows: Awaited<ReturnType<typeof readColumnTypes>>
    try {
      rows = await readColumnTypes(db, qualifiedName)
    } catch (error) {
      // `$1::regclass` of an unknown table: 42P01 on PostgreSQL 15 (tested); CockroachDB's
      // regclass cast is expected to answer the same code (not confirmed here: another code
      // passes through unwrapped, as before).
      if (getSqlState(error) === SqlState.UndefinedTable) {
        throw new QueryRefusedError(
          api,
          `the table ${JSON.stringify(table)} does not exist (looked up as ${qualifiedName})`,
          'Create it first, or check the name and its schema (WithSchemaPlugin, search_path)',
          { cause: error },
        )
      }
      throw error
    }
    const byServerName = new Map(rows.map((row) => [row.column, row]))
    // The catalog rows are known: a column the rows name that the table lacks would fail only
    // after BEGIN (42703), so it is refused here, before anything is written.
    for (const column of columns) {
      if (!byServerName.has(serverColumnName(db, column))) {
        throw new QueryRefusedError(
          api,
          `"${column}" is not a column of ${JSON.stringify(table)} (its columns: ${rows.map((row) => row.column).join(', ')})`,
          'Remove the key from the rows, or add the column to the table',
        )
      }
    }
    for (const column of new Set([...columns, ...rows.map((row) => row.column)])) {
      const row = byServerName.get(serverColumnName(db, column))
      if (row !== undefined && !types.has(column) && options.introspect !== false) {
        types.set(
          column,
          columnTypeFromCatalog({
            type: row.type,
            typeSchema: row.type_schema,
            category: row.category,
            element: row.element,
            elementSchema: row.element_schema,
          }),
        )
      }
    }
    const keyed = rows.filter((row) => row.pk_position !== null).sort((a, b) => Number(a.pk_position) - Number(b.pk_position))
    // The caller's name of each key column: a row key whose server name matches, else the server name.
    for (const row of keyed) primaryKey.push(columns.find((column) => serverColumnName(db, column) === row.column) ?? row.column)
  }
  return Object.freeze({ types, primaryKey, qualifiedName })
}
