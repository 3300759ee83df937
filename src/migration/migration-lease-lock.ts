import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { CompiledQuery } from 'kysely'
import type { Kysely, MigrationLockOptions, PostgresPool } from 'kysely'
import { isOwnConnectionError, ownSqlState } from '../errors/error-classifiers.js'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'
import { SqlState } from '../errors/sqlstate.js'
import { describeError } from '../util/describe-value.js'
import { MigrationLease } from './migration-lease.js'
import { MigrationLeaseLostError } from '../errors/migration-lease-lost-error.js'
import type { ResolvedMigrationLeaseOptions } from './migration-lease-options.js'
import { MigrationLeaseSession } from './migration-lease-session.js'
import { MigrationLockTable } from './migration-lock-table.js'
import type { LeaseHolder, LeaseSqlRunner } from './migration-lock-table.js'
import { classifyMigrationLockError, migrationLockRetryDelay } from './migration-lock-retry.js'
import type { MigrationLockStatement } from './migration-lock-retry.js'
import { MigrationLockTimeoutError } from '../errors/migration-lock-timeout-error.js'
import { sleepUnlessAborted } from '../util/sleep-unless-aborted.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'

// Kysely's DialectAdapter methods take Kysely<any>. CockroachAdapter writes it out in its public
// signatures (an alias would name a type index.ts does not export,
// test/integration/package/packed-types.test.ts); this internal class may use one.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKysely = Kysely<any>

/**
 * Where {@link CockroachAdapter} finds the connection settings for its lease renewal session: a
 * `pg.Pool`, or an async function returning one (what {@link CockroachDialect} passes: its pool
 * factory, called at most once, on the first migration).
 *
 * ```ts
 * import pg from 'pg'
 * import { CockroachAdapter } from 'kysely-cockroachdb'
 * import type { MigrationLeasePoolSource } from 'kysely-cockroachdb'
 *
 * const pool: MigrationLeasePoolSource = new pg.Pool({ connectionString })
 * const adapter = new CockroachAdapter({ leaseDurationMs: 15_000 }, pool)
 * ```
 */
export type MigrationLeasePoolSource = PostgresPool | (() => Promise<PostgresPool>)

/**
 * The migration lock of {@link CockroachAdapter}, a lease on Kysely's lock row: taking it
 * (`acquire`: lease columns, then a conditional `UPDATE` retried with the lock's backoff until
 * `acquireTimeoutMs`), renewing it on the renewal session while migrations run
 * ({@link MigrationLease}), and releasing it only if it is still ours (`release`). The adapter's
 * TSDoc describes the design; the statements are in {@link MigrationLockTable}, the races retried in
 * src/migration/migration-lock-retry.ts.
 *
 * @internal
 */
export class MigrationLeaseLock {
  readonly options: ResolvedMigrationLeaseOptions
  readonly #poolSource: MigrationLeasePoolSource | undefined
  readonly #leases = new WeakMap<AnyKysely, MigrationLease>()
  #renewalSession: Promise<MigrationLeaseSession | undefined> | undefined

  /**
   * @param options The validated lease options.
   * @param pool See {@link CockroachAdapter}'s constructor.
   */
  constructor(options: ResolvedMigrationLeaseOptions, pool: MigrationLeasePoolSource | undefined) {
    this.options = options
    this.#poolSource = pool
  }

  /** For {@link CockroachAdapter.acquireMigrationLock}. */
  async acquire(db: AnyKysely, options: MigrationLockOptions): Promise<void> {
    if (this.#leases.has(db)) {
      throw new QueryRefusedError(
        'CockroachAdapter.acquireMigrationLock',
        'this Kysely instance already holds the migration lock',
        'run one Migrator call at a time per instance, or wait for the running one to finish',
      )
    }
    const { acquireTimeoutMs, leaseDurationMs } = this.options
    const deadline = performance.now() + acquireTimeoutMs
    const connection = connectionRunner(db)
    const table = await MigrationLockTable.resolve(connection, options)
    await ensureLeaseColumns(table, connection, deadline)

    const owner = createOwnerId()
    let holder: LeaseHolder | undefined
    let lastRace: unknown
    for (let attempt = 0; ; attempt++) {
      const taken = await retryOnRace('lock-row', () => table.tryAcquire(connection, owner, leaseDurationMs))
      if (taken.ok && taken.value) {
        break
      }
      const seen = taken.ok ? await retryOnRace('lock-row', () => table.readHolder(connection)) : taken
      if (seen.ok) {
        if (seen.value === undefined) {
          throw new KyselyCockroachError(
            `CockroachAdapter.acquireMigrationLock: the migration lock row '${table.rowId}' is missing from ${table.sql}. ` +
              "Kysely's Migrator inserts it before taking the lock; was it deleted while the Migrator started? Run " +
              'the migration again.',
          )
        }
        holder = seen.value
      } else {
        lastRace = seen.error
      }
      const remaining = deadline - performance.now()
      if (remaining <= 0) {
        throw timeoutError(table, holder, lastRace, acquireTimeoutMs)
      }
      await sleepUnlessAborted(Math.min(migrationLockRetryDelay(attempt), remaining))
    }

    const renewer = (await this.#openRenewalSession()) ?? connection
    const lease = new MigrationLease(table, owner, renewer, this.options)
    this.#leases.set(db, lease)
    lease.start()
  }

  /** For {@link CockroachAdapter.releaseMigrationLock}. */
  async release(db: AnyKysely): Promise<void> {
    const lease = this.#leases.get(db)
    if (lease === undefined) {
      // Kysely calls release in a `finally` even when acquiring failed; throwing here would hide
      // the acquire error.
      return
    }
    this.#leases.delete(db)
    await lease.stop()

    const connection = connectionRunner(db)
    // Past the lease's own duration, giving up costs nothing: the lease has run out by then.
    const deadline = performance.now() + this.options.leaseDurationMs
    let released: Released
    try {
      released = await releaseLease(lease, connection, deadline)
    } catch (error) {
      if (lease.renewer === connection || !isOwnConnectionError(error)) {
        throw releaseFailedError(lease, error)
      }
      // The migration connection broke; the renewal session can still clear the lease.
      try {
        released = await releaseLease(lease, lease.renewer, deadline)
      } catch {
        throw releaseFailedError(lease, error)
      }
    }
    if (released === 'released' && !lease.lost) {
      return
    }
    const holder = await lease.table.readHolder(connection).catch(() => undefined)
    // After an ambiguous result the first release may have gone through: a free lock is then ours
    // to have cleared, unless a renewal had already found the lease taken over.
    if (released === 'not-found-after-ambiguous' && !lease.lost && holder !== undefined && holder.owner === undefined) {
      return
    }
    throw leaseLostError(lease, holder, this.options)
  }

  async #openRenewalSession(): Promise<MigrationLeaseSession | undefined> {
    const source = this.#poolSource
    if (source === undefined) {
      return undefined
    }
    this.#renewalSession ??= (async () => {
      const pool = typeof source === 'function' ? await source() : source
      return MigrationLeaseSession.fromPool(pool, this.options.renewIntervalMs)
    })()
    try {
      return await this.#renewalSession
    } catch (error) {
      this.#renewalSession = undefined
      throw error
    }
  }
}

/** Runs statements on the migration connection, without the user's plugins (CamelCasePlugin would rename result columns). */
function connectionRunner(db: AnyKysely): LeaseSqlRunner {
  const plain = db.withoutPlugins()
  return {
    async query(sql, parameters) {
      const result = await plain.executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql, [...parameters]))
      return result.rows
    },
  }
}

async function ensureLeaseColumns(table: MigrationLockTable, connection: LeaseSqlRunner, deadline: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (await table.hasLeaseColumns(connection)) {
      return
    }
    try {
      for (const statement of table.addLeaseColumnStatements()) {
        await connection.query(statement, [])
      }
      return
    } catch (error) {
      // Another migrator may have added them in between: look again before anything else.
      if (await table.hasLeaseColumns(connection)) {
        return
      }
      const remaining = deadline - performance.now()
      if (!classifyMigrationLockError(error, 'lease-columns').retry || remaining <= 0) {
        const statements = table.addLeaseColumnStatements().join('; ')
        throw new KyselyCockroachError(
          `CockroachAdapter.acquireMigrationLock: could not add the migration lease columns to ${table.sql}: ` +
            `${describeError(error)}. The migration lock needs them. If another migrator's schema change on that ` +
            'table is still running, raise migrationLock.acquireTimeoutMs; if the migrating role may not alter the ' +
            `table, have an administrator run: ${statements}`,
          { cause: error },
        )
      }
      await sleepUnlessAborted(Math.min(migrationLockRetryDelay(attempt), remaining))
    }
  }
}

type RaceOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown }

/** Runs one lock statement; a race the classification retries comes back as `ok: false`, anything else is thrown. */
async function retryOnRace<T>(statement: MigrationLockStatement, run: () => Promise<T>): Promise<RaceOutcome<T>> {
  try {
    return { ok: true, value: await run() }
  } catch (error) {
    if (!classifyMigrationLockError(error, statement).retry) {
      throw error
    }
    return { ok: false, error }
  }
}

type Released = 'released' | 'not-found' | 'not-found-after-ambiguous'

/** Clears the lease on `runner`, trying again after a race until `deadline`. */
async function releaseLease(lease: MigrationLease, runner: LeaseSqlRunner, deadline: number): Promise<Released> {
  let ambiguous = false
  for (let attempt = 0; ; attempt++) {
    const outcome = await retryOnRace('lock-row', () => lease.table.release(runner, lease.owner))
    if (outcome.ok) {
      return outcome.value ? 'released' : ambiguous ? 'not-found-after-ambiguous' : 'not-found'
    }
    // 40003: the UPDATE may have cleared the lease; the retry then finds no lease of ours.
    ambiguous ||= ownSqlState(outcome.error) === SqlState.StatementCompletionUnknown
    const remaining = deadline - performance.now()
    if (remaining <= 0) {
      throw outcome.error
    }
    await sleepUnlessAborted(Math.min(migrationLockRetryDelay(attempt), remaining))
  }
}

function createOwnerId(): string {
  // The host and pid tell an operator which process holds the lock; the random part keeps two
  // migrators in one process apart.
  return `${hostname().slice(0, 180)}/pid ${process.pid}/${randomBytes(6).toString('hex')}`
}

function timeoutError(
  table: MigrationLockTable,
  holder: LeaseHolder | undefined,
  lastRace: unknown,
  acquireTimeoutMs: number,
): MigrationLockTimeoutError {
  return new MigrationLockTimeoutError({
    lockTable: table.sql,
    acquireTimeoutMs,
    clearStatement: table.clearStatement(),
    seen: holder !== undefined,
    holder: holder?.owner,
    expiresAt: holder?.expiresAt,
    serverNow: holder?.serverNow,
    lastRace,
  })
}

function leaseLostError(
  lease: MigrationLease,
  holder: { owner: string | undefined } | undefined,
  options: ResolvedMigrationLeaseOptions,
): MigrationLeaseLostError {
  return new MigrationLeaseLostError({
    lockTable: lease.table.sql,
    owner: lease.owner,
    leaseDurationMs: options.leaseDurationMs,
    currentHolder: holder?.owner,
    failedRenewals: lease.failedRenewals,
    cause: lease.lastRenewalError,
  })
}

function releaseFailedError(lease: MigrationLease, error: unknown): KyselyCockroachError {
  return new KyselyCockroachError(
    `CockroachAdapter.releaseMigrationLock: could not release the migration lock lease of '${lease.owner}' on ` +
      `${lease.table.sql}: ${describeError(error)}. The lease runs out by itself within migrationLock.leaseDurationMs ` +
      `(the next migrator waits until then); to free it sooner, once you are sure no migrator is running, run: ` +
      lease.table.clearStatement(),
    { cause: error },
  )
}
