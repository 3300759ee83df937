import { PostgresIntrospector, TableMatcher } from 'kysely-codegen'
import type { IntrospectOptions, PostgresDB, PostgresIntrospectorOptions } from 'kysely-codegen'
import type { TableMetadata } from 'kysely'
import { CockroachIntrospector } from '../dialect/cockroach-introspector.js'

/**
 * Options of {@link CockroachCodegenIntrospector}: kysely-codegen's Postgres introspector options
 * plus {@link CockroachIntrospector}'s, e.g. `{ defaultSchemas: ['public'], includeHiddenColumns: false }`.
 *
 * @internal
 */
export interface CockroachCodegenIntrospectorOptions extends PostgresIntrospectorOptions {
  readonly includeHiddenColumns?: boolean
}

/**
 * kysely-codegen's Postgres introspector with the tables read by {@link CockroachIntrospector}.
 * kysely-codegen keeps its own catalog queries for enums, domains and partitions; its separate
 * materialized-view query is replaced, because CockroachIntrospector already returns materialized
 * views (without their hidden `rowid`, and without a per-row `col_description`). Internal:
 * {@link CockroachCodegenDialect} creates it, and kysely-codegen calls its `introspect({ db })`.
 *
 * @internal
 */
export class CockroachCodegenIntrospector extends PostgresIntrospector {
  readonly #includeHiddenColumns: boolean

  constructor(options: CockroachCodegenIntrospectorOptions = {}) {
    const { includeHiddenColumns, ...postgresOptions } = options
    super(postgresOptions)
    this.#includeHiddenColumns = includeHiddenColumns === true
  }

  protected override async getTables(options: IntrospectOptions<PostgresDB>): Promise<TableMetadata[]> {
    const introspector = new CockroachIntrospector(options.db, { includeHiddenColumns: this.#includeHiddenColumns })
    return filterTables(await introspector.getTables(), options)
  }

  override async introspectMaterializedViews(): Promise<TableMetadata[]> {
    return []
  }
}

function filterTables<T extends { readonly name: string; readonly schema?: string }>(
  tables: readonly T[],
  options: IntrospectOptions<PostgresDB>,
): T[] {
  let result = [...tables]
  if (options.includePattern) {
    const matcher = new TableMatcher(options.includePattern)
    result = result.filter((table) => matcher.match(table.schema, table.name))
  }
  if (options.excludePattern) {
    const matcher = new TableMatcher(options.excludePattern)
    result = result.filter((table) => !matcher.match(table.schema, table.name))
  }
  return result
}
