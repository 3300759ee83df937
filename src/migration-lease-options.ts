/**
 * Tuning of the lease that {@link CockroachAdapter} takes on Kysely's migration lock row.
 *
 * ```ts
 * new CockroachDialect({
 *   connectionString,
 *   migrationLock: { leaseDurationMs: 30_000, acquireTimeoutMs: 10 * 60_000 },
 * })
 * ```
 */
export interface MigrationLeaseOptions {
  /** How long a lease lasts without renewal. A crashed migrator blocks others at most this long. Default 30 s. */
  readonly leaseDurationMs?: number
  /** How long to wait for another migrator's lease before failing. Default 10 minutes. */
  readonly acquireTimeoutMs?: number
  /** How often the holder renews its lease. Default a third of `leaseDurationMs`. */
  readonly renewIntervalMs?: number
}
