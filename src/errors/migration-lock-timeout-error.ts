import { describeError } from '../util/describe-value.js'
import { classBrand, KyselyCockroachError } from './kysely-cockroach-error.js'

const { brand, hasBrand } = classBrand<MigrationLockTimeoutError>('MigrationLockTimeoutError')

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
export class MigrationLockTimeoutError extends KyselyCockroachError {
  override readonly name = 'MigrationLockTimeoutError'
  /** The lock table, as written in SQL (schema-qualified). */
  readonly lockTable: string
  /** The lease owner id of the migrator holding the lock, if one was seen. */
  readonly holder: string | undefined
  /** When the holder's lease runs out unless it renews it (by the database server's clock). */
  readonly expiresAt: Date | undefined
  /** How long the lock was waited for, `migrationLock.acquireTimeoutMs`. */
  readonly acquireTimeoutMs: number
  /** The statement that clears the lock row, for an operator who is sure no migrator runs. */
  readonly clearStatement: string

  /**
   * @param details what the last look at the lock row saw: `seen` false when it could not be read
   *   (`lastRace` is why), else its holder (undefined when free) with `expiresAt` and the server's
   *   clock `serverNow` at that look
   */
  constructor(details: {
    readonly lockTable: string
    readonly acquireTimeoutMs: number
    readonly clearStatement: string
    readonly seen: boolean
    readonly holder?: string | undefined
    readonly expiresAt?: Date | undefined
    readonly serverNow?: Date | undefined
    readonly lastRace?: unknown
  }) {
    const held = !details.seen
      ? `the lock row could not be read for the races of competing migrators (last: ${describeError(details.lastRace)})`
      : details.holder === undefined
        ? 'it was free at the last look, but other migrators kept taking it first'
        : `it is held by '${details.holder}' until ${details.expiresAt?.toISOString() ?? 'an unknown time'} by the ` +
          `database clock (${formatRemaining(details.expiresAt, details.serverNow)})`
    super(
      `CockroachAdapter.acquireMigrationLock: timed out after ${details.acquireTimeoutMs} ms waiting for the migration ` +
        `lock on ${details.lockTable}: ${held}. If that migrator is still running, wait for it or raise ` +
        'migrationLock.acquireTimeoutMs. If it crashed, its lease runs out by itself at that time; to clear it now ' +
        `(only if you are sure no migrator is running), run: ${details.clearStatement}`,
    )
    this.lockTable = details.lockTable
    this.holder = details.holder
    this.expiresAt = details.expiresAt
    this.acquireTimeoutMs = details.acquireTimeoutMs
    this.clearStatement = details.clearStatement
    brand(this)
  }
}

function formatRemaining(expiresAt: Date | undefined, serverNow: Date | undefined): string {
  if (expiresAt === undefined || serverNow === undefined) {
    return 'no expiry recorded'
  }
  const ms = expiresAt.getTime() - serverNow.getTime()
  return ms > 0 ? `${Math.ceil(ms / 1000)} s from now` : 'already expired'
}

/**
 * Whether `error` is a {@link MigrationLockTimeoutError}, also one from another copy of the package
 * (its CommonJS build next to the ESM one). A brand check.
 *
 * ```ts
 * import { isMigrationLockTimeoutError } from 'kysely-cockroachdb'
 *
 * const { error } = await migrator.migrateToLatest()
 * if (isMigrationLockTimeoutError(error)) process.exitCode = 75 // EX_TEMPFAIL: try again later
 * ```
 */
export function isMigrationLockTimeoutError(error: unknown): error is MigrationLockTimeoutError {
  return hasBrand(error)
}
