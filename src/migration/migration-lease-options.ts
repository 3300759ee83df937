import { QueryRefusedError } from '../errors/query-refused-error.js'
import { describeValue } from '../util/describe-value.js'
import { assertKnownKeys } from '../util/known-keys.js'
/**
 * Tuning of the lease that {@link CockroachAdapter} takes on Kysely's migration lock row, given
 * as the `migrationLock` option of {@link CockroachDialect}. All values are whole milliseconds.
 *
 * A migrator holds the lock for `leaseDurationMs` at a time and renews it every
 * `renewIntervalMs` while its migrations run. If it crashes, the lease simply runs out and the
 * next migrator proceeds, at most `leaseDurationMs` later. Another migrator waits up to
 * `acquireTimeoutMs` for the lock before giving up with {@link MigrationLockTimeoutError}.
 *
 * ```ts
 * import { Kysely } from 'kysely'
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * const db = new Kysely<DB>({
 *   dialect: new CockroachDialect({
 *     connectionString: process.env.DATABASE_URL,
 *     // A crashed deploy blocks the next one for at most 15 s; wait up to 20 minutes for a
 *     // long-running migration of another deploy.
 *     migrationLock: { leaseDurationMs: 15_000, acquireTimeoutMs: 20 * 60_000 },
 *   }),
 * })
 * ```
 */
export interface MigrationLeaseOptions {
  /**
   * How long a lease lasts unless renewed. Bounds how long a crashed migrator blocks the next
   * one. Default 30 000 (30 s).
   */
  readonly leaseDurationMs?: number
  /**
   * How long to wait for another migrator's lease before failing with
   * {@link MigrationLockTimeoutError}. Default 600 000 (10 minutes).
   */
  readonly acquireTimeoutMs?: number
  /**
   * How often the holder renews its lease; must be shorter than `leaseDurationMs`. Default a
   * third of `leaseDurationMs`, so two renewals in a row can fail before the lease is at risk.
   */
  readonly renewIntervalMs?: number
}

/**
 * {@link MigrationLeaseOptions} with every default filled in: what {@link CockroachAdapter}'s
 * `options` holds.
 *
 * ```ts
 * import { CockroachAdapter } from 'kysely-cockroachdb'
 * import type { ResolvedMigrationLeaseOptions } from 'kysely-cockroachdb'
 *
 * const lease: ResolvedMigrationLeaseOptions = new CockroachAdapter({ leaseDurationMs: 15_000 }).options
 * lease.renewIntervalMs // 5000: a third of leaseDurationMs
 * ```
 */
export interface ResolvedMigrationLeaseOptions {
  readonly leaseDurationMs: number
  readonly acquireTimeoutMs: number
  readonly renewIntervalMs: number
}

/** @internal */
export const DEFAULT_LEASE_DURATION_MS = 30_000
/** @internal */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 10 * 60_000

// setTimeout fires at once for delays above 2^31 - 1 ms, which would turn renewal into a busy loop.
const MAX_TIMER_MS = 2 ** 31 - 1
const KNOWN_OPTIONS = ['leaseDurationMs', 'acquireTimeoutMs', 'renewIntervalMs'] as const

/**
 * Validates `migrationLock` options and fills in the defaults. Throws a QueryRefusedError naming the
 * bad option and what would be accepted.
 *
 * @internal
 */
export function resolveMigrationLeaseOptions(options: unknown): ResolvedMigrationLeaseOptions {
  if (options === undefined || options === null) {
    options = {}
  }
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new QueryRefusedError(
      'CockroachDialect',
      `\`migrationLock\` must be an object, not ${describeValue(options)}`,
      'give one such as { leaseDurationMs: 30000 }',
    )
  }
  const given = options as Record<string, unknown>
  assertKnownKeys('CockroachDialect', given, KNOWN_OPTIONS, '`migrationLock` option')
  const leaseDurationMs = readMs(given, 'leaseDurationMs', DEFAULT_LEASE_DURATION_MS, MAX_TIMER_MS)
  const acquireTimeoutMs = readMs(given, 'acquireTimeoutMs', DEFAULT_ACQUIRE_TIMEOUT_MS, Number.MAX_SAFE_INTEGER)
  const renewIntervalMs = readMs(given, 'renewIntervalMs', Math.max(1, Math.floor(leaseDurationMs / 3)), MAX_TIMER_MS)
  if (renewIntervalMs >= leaseDurationMs) {
    throw new QueryRefusedError(
      'CockroachDialect',
      `\`migrationLock.renewIntervalMs\` (${renewIntervalMs}) must be shorter than \`leaseDurationMs\` ` +
        `(${leaseDurationMs}), or the lease expires before it is renewed`,
      'a third of the lease duration is a good value (the default: leave renewIntervalMs out)',
    )
  }
  return Object.freeze({ leaseDurationMs, acquireTimeoutMs, renewIntervalMs })
}

function readMs(options: Record<string, unknown>, name: string, fallback: number, max: number): number {
  const value = options[name]
  if (value === undefined) {
    return fallback
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw new QueryRefusedError(
      'CockroachDialect',
      `\`migrationLock.${name}\` must be a positive whole number of milliseconds (at most ${max}), not ${describeValue(value)}`,
      'give one such as 30000',
    )
  }
  return value
}
