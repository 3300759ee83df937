import type { CompiledQuery, Kysely } from 'kysely'

/**
 * A CockroachDB statement Kysely has no builder for ({@link alterPrimaryKey}, {@link addRegion},
 * {@link setPrimaryRegion}, {@link surviveFailure}). It is compiled with the Kysely instance it
 * runs on, so that instance's plugins apply (WithSchemaPlugin qualifies the table of
 * `alterPrimaryKey`, CamelCasePlugin renames its columns).
 *
 * ```ts
 * import { alterPrimaryKey } from 'kysely-cockroachdb'
 * import type { CockroachStatement } from 'kysely-cockroachdb'
 *
 * const statement: CockroachStatement = alterPrimaryKey('event', ['kind', 'id'])
 * console.log(statement.compile(db).sql)
 * await statement.execute(db)
 * ```
 */
export interface CockroachStatement {
  /** The SQL this statement sends on `db`. */
  compile<DB>(db: Kysely<DB>): CompiledQuery
  /** Runs the statement on `db` (a Kysely instance, a transaction or a migration's `db`). */
  execute<DB>(db: Kysely<DB>): Promise<void>
}
