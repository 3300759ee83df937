/**
 * Thrown by the Migrator (in `MigrationResultSet.error`) when the migration lock lease of
 * {@link CockroachAdapter} was lost while migrations ran: it expired without being renewed and
 * another migrator took it, or someone cleared the lock row. Another migrator may have run
 * migrations at the same time, so check the schema and the migration table before retrying.
 *
 * ```ts
 * import { MigrationLeaseLostError } from 'kysely-cockroachdb'
 *
 * const { error } = await migrator.migrateToLatest()
 * if (error instanceof MigrationLeaseLostError) {
 *   alertOnCall(`concurrent migration suspected: ${error.message}`)
 * }
 * ```
 */
export class MigrationLeaseLostError extends Error {
  /** The lock table, as written in SQL (schema-qualified). */
  readonly lockTable: string
  /** This migrator's lease owner id. */
  readonly owner: string
  /** Who holds the lock row now (`undefined` when nobody does). */
  readonly currentHolder: string | undefined

  constructor(message: string, details: { lockTable: string; owner: string; currentHolder?: string; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'MigrationLeaseLostError'
    this.lockTable = details.lockTable
    this.owner = details.owner
    this.currentHolder = details.currentHolder
  }
}
