import { DialectAdapterBase } from 'kysely'
import type { Kysely, MigrationLockOptions } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { describeValue } from '../util/describe-value.js'
import { MigrationLeaseLock } from '../migration/migration-lease-lock.js'
import type { MigrationLeasePoolSource } from '../migration/migration-lease-lock.js'
import { resolveMigrationLeaseOptions } from '../migration/migration-lease-options.js'
import type { MigrationLeaseOptions, ResolvedMigrationLeaseOptions } from '../migration/migration-lease-options.js'
import { markMigrationConnection, unmarkMigrationConnection } from '../migration/schema-change-retry.js'

/**
 * Kysely's dialect adapter for CockroachDB, with a migration lock that works there.
 *
 * - `supportsTransactionalDdl` is `false`: CockroachDB runs schema changes as asynchronous jobs
 *   and supports DDL fully only outside explicit transactions; from v25.1 it even commits the open
 *   transaction before a schema change by default (`autocommit_before_ddl`, added by cockroach
 *   PR #118440, on by default since #139871; off by default on v24.3). So Kysely's `Migrator` runs
 *   each migration without a transaction.
 * - `supportsReturning` and `supportsCreateIfNotExists` are `true`.
 * - It extends `DialectAdapterBase`, not `PostgresAdapter`, whose migration lock is a PostgreSQL
 *   advisory lock: CockroachDB has no `pg_advisory_lock` (kysely#325, cockroach#13546), and its
 *   `pg_try_advisory_lock` and `pg_advisory_unlock` are stubs that always return true (cockroach
 *   pkg/sql/sem/builtins/pg_builtins.go), so a lock built on them would let every migrator in.
 *
 * The migration lock is a lease on Kysely's lock row (`kysely_migration_lock`, or the configured
 * table and schema). A migrator takes it with one conditional `UPDATE` that writes a random owner
 * id and an expiry of `now() + leaseDurationMs` by the server's clock, and succeeds only if the
 * lease is free or expired; others retry with exponential backoff and jitter until
 * `acquireTimeoutMs`. The holder renews the lease every `renewIntervalMs` on a separate, short-lived
 * connection (see below), and releases it only if it still owns it. A crashed migrator's lease
 * runs out by itself and the next one proceeds. A row lock (`SELECT ... FOR UPDATE`) cannot do
 * this job: Kysely >= 0.29.3 takes the lock outside any transaction (kysely PR #1919). The steps
 * are in src/migration/migration-lease-lock.ts.
 *
 * The lease needs two columns Kysely's lock table does not have, `lease_owner` and
 * `lease_expires_at`; the first migration run adds them (`ALTER TABLE ... ADD COLUMN IF NOT
 * EXISTS`). Several migrators starting at once race on those schema changes and on the lock row;
 * the errors such races raise (CockroachDB's 42701 "in the middle of being added" and 55000
 * "being dropped, try again later", 40001, PostgreSQL's 23505 on a catalog index, ...) are
 * retried with the same backoff until `acquireTimeoutMs`; the table of them, with the source of
 * each, is in src/migration/migration-lock-retry.ts.
 *
 * Renewal session: Kysely runs the migrations on the connection that took the lock, and a
 * renewal queued behind a long statement there would arrive too late. Given the dialect's pool
 * (second constructor argument), renewals open their own short-lived connection from the pool's
 * `Client` class and options. Without one, they run on the migration connection between
 * statements, and then the lease must outlast the longest single migration statement.
 *
 * ```ts kysely@0.29
 * import { Kysely } from 'kysely'
 * import { Migrator } from 'kysely/migration' // kysely 0.28: from 'kysely'
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * // CockroachDialect creates the adapter; `migrationLock` tunes the lease.
 * const db = new Kysely<any>({
 *   dialect: new CockroachDialect({
 *     connectionString: process.env.DATABASE_URL,
 *     migrationLock: { leaseDurationMs: 30_000, acquireTimeoutMs: 10 * 60_000 },
 *   }),
 * })
 * const { error } = await new Migrator({ db, provider }).migrateToLatest()
 * ```
 */
export class CockroachAdapter extends DialectAdapterBase {
  /** The validated lease options, defaults filled in. */
  readonly options: ResolvedMigrationLeaseOptions
  readonly #lock: MigrationLeaseLock

  /**
   * @param options The dialect's `migrationLock` options; validated here, so a bad value fails
   *   when the Kysely instance is created.
   * @param pool The pool (or the dialect's pool factory) whose `Client` class and connection
   *   options the lease renewal session is built from. Its connections are never used, and it is
   *   never ended; a factory is called at most once, on the first migration.
   */
  constructor(options?: MigrationLeaseOptions, pool?: MigrationLeasePoolSource) {
    super()
    this.options = resolveMigrationLeaseOptions(options)
    if (pool !== undefined && typeof pool !== 'function' && (typeof pool !== 'object' || pool === null)) {
      throw new QueryRefusedError(
        'CockroachAdapter',
        `\`pool\` must be a pg.Pool or an async function returning one, got ${describeValue(pool)}`,
        'pass the pool the application built',
      )
    }
    this.#lock = new MigrationLeaseLock(this.options, pool)
  }

  override get supportsTransactionalDdl(): boolean {
    return false
  }

  override get supportsReturning(): boolean {
    return true
  }

  override get supportsCreateIfNotExists(): boolean {
    return true
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override async acquireMigrationLock(db: Kysely<any>, options: MigrationLockOptions): Promise<void> {
    await this.#lock.acquire(db, options)
    // Migration statements on this connection retry "schema change in progress" refusals
    // (src/migration/schema-change-retry.ts).
    await db.getExecutor().provideConnection(async (connection) => markMigrationConnection(connection))
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override async releaseMigrationLock(db: Kysely<any>, _options: MigrationLockOptions): Promise<void> {
    await db.getExecutor().provideConnection(async (connection) => unmarkMigrationConnection(connection))
    await this.#lock.release(db)
  }
}
