/**
 * Thrown by the Migrator (in `MigrationResultSet.error`) when {@link CockroachAdapter} could not
 * take the migration lock within `migrationLock.acquireTimeoutMs` because another migrator holds
 * its lease.
 *
 * ```ts
 * import { MigrationLockTimeoutError } from 'kysely-cockroachdb'
 *
 * const { error } = await migrator.migrateToLatest()
 * if (error instanceof MigrationLockTimeoutError) {
 *   console.error(`migrations are locked by ${error.holder} until ${error.expiresAt?.toISOString()}`)
 * }
 * ```
 */
export class MigrationLockTimeoutError extends Error {
  /** The lock table, as written in SQL (schema-qualified). */
  readonly lockTable: string
  /** The lease owner id of the migrator holding the lock, if one was seen. */
  readonly holder: string | undefined
  /** When the holder's lease runs out unless it renews it (by the database server's clock). */
  readonly expiresAt: Date | undefined

  constructor(message: string, details: { lockTable: string; holder?: string; expiresAt?: Date }) {
    super(message)
    this.name = 'MigrationLockTimeoutError'
    this.lockTable = details.lockTable
    this.holder = details.holder
    this.expiresAt = details.expiresAt
  }
}
