import { PostgresIntrospector } from 'kysely-codegen'
import type { TableMetadata } from 'kysely'

/**
 * kysely-codegen's Postgres introspector, minus its materialized-view query. Its tables come from
 * `db.introspection.getTables()` (kysely-codegen's `Introspector.getTables`, which also applies
 * `includePattern`/`excludePattern`), and the `db` the codegen command builds is on
 * `CockroachDialect`, whose `introspection` option carries `includeHiddenColumns`: so the tables are
 * {@link CockroachIntrospector}'s, which already include materialized views (without their hidden
 * `rowid`, and without a per-row `col_description`). kysely-codegen keeps its own catalog queries
 * for enums, domains and partitions. Internal: {@link CockroachCodegenDialect} creates it, and
 * kysely-codegen calls its `introspect({ db })`.
 *
 * @internal
 */
export class CockroachCodegenIntrospector extends PostgresIntrospector {
  override async introspectMaterializedViews(): Promise<TableMetadata[]> {
    return []
  }
}
