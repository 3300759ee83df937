import { describeError } from '../util/describe-value.js'
import { classBrand, KyselyCockroachError } from './kysely-cockroach-error.js'

const { brand, hasBrand } = classBrand<MigrationLeaseLostError>('MigrationLeaseLostError')

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
export class MigrationLeaseLostError extends KyselyCockroachError {
  override readonly name = 'MigrationLeaseLostError'
  /** The lock table, as written in SQL (schema-qualified). */
  readonly lockTable: string
  /** This migrator's lease owner id. */
  readonly owner: string
  /** Who holds the lock row now (`undefined` when nobody does). */
  readonly currentHolder: string | undefined
  /** How many renewals in a row had failed (0 when none did); `cause` is the last failure. */
  readonly failedRenewals: number
  /** `migrationLock.leaseDurationMs`. */
  readonly leaseDurationMs: number

  /**
   * @param details the lease (`lockTable`, `owner`, `leaseDurationMs`), who holds the row now, and
   *   the renewals that failed (`cause` is the last renewal error, if any)
   */
  constructor(details: {
    readonly lockTable: string
    readonly owner: string
    readonly leaseDurationMs: number
    readonly currentHolder?: string | undefined
    readonly failedRenewals?: number
    readonly cause?: unknown
  }) {
    const now = details.currentHolder === undefined ? 'nobody holds it now' : `it is now held by '${details.currentHolder}'`
    const failedRenewals = details.failedRenewals ?? 0
    const renewal = details.cause === undefined ? '' : ` The last ${failedRenewals} renewal(s) failed: ${describeError(details.cause)}.`
    super(
      `CockroachAdapter.releaseMigrationLock: the migration lock lease of '${details.owner}' on ${details.lockTable} was ` +
        `lost while migrations ran (${now}): it expired before it was renewed, or someone cleared the lock row. Another ` +
        'migrator may have run migrations concurrently with this one: check the migration table and the schema ' +
        `before running migrations again.${renewal} If renewals cannot get through within ` +
        `migrationLock.leaseDurationMs (${details.leaseDurationMs} ms), raise it.`,
      details.cause === undefined ? undefined : { cause: details.cause },
    )
    this.lockTable = details.lockTable
    this.owner = details.owner
    this.currentHolder = details.currentHolder
    this.failedRenewals = failedRenewals
    this.leaseDurationMs = details.leaseDurationMs
    brand(this)
  }
}

/**
 * Whether `error` is a {@link MigrationLeaseLostError}, also one from another copy of the package
 * (its CommonJS build next to the ESM one). A brand check.
 *
 * ```ts
 * import { isMigrationLeaseLostError } from 'kysely-cockroachdb'
 *
 * const { error } = await migrator.migrateToLatest()
 * if (isMigrationLeaseLostError(error)) alertOnCall('concurrent migration suspected')
 * ```
 */
export function isMigrationLeaseLostError(error: unknown): error is MigrationLeaseLostError {
  return hasBrand(error)
}
