// The Migrator's retry of "schema change in progress" errors. While a schema change job runs on a
// table (an index backfill, ALTER PRIMARY KEY, a column type change), CockroachDB refuses some
// further schema changes on it until the job is done:
//
// - legacy schema changer: `unimplemented.NewWithIssuef(45510, "table %s is currently undergoing a
//   schema change", ...)` in pkg/sql/alter_primary_key.go and `NewWithIssuef(47137, ...)` in
//   pkg/sql/alter_column_type.go; the client sees `unimplemented: table t is currently undergoing a
//   schema change` (cockroach's tests: "pq: unimplemented: table test is currently undergoing a
//   schema change") with SQLSTATE 0A000, unimplemented errors being feature_not_supported;
// - declarative schema changer: `concurrentSchemaChangeError` ("descriptor %d is undergoing another
//   schema change", pkg/sql/schemachanger/scerrors/errors.go), a ClientVisibleRetryError that pgwire
//   sends as 40001. The server waits and retries it itself for an implicit transaction, so a client
//   sees it only when that is impossible.
//
// Kysely's Migrator runs each migration statement by statement on the connection that holds the
// migration lock (CockroachAdapter.supportsTransactionalDdl is false), so a statement that fails
// this way outside a transaction is safe to send again once the job is done: it was refused, not
// applied. The adapter marks that connection while it holds the lock; CockroachConnection asks
// here before each statement. Inside an explicit transaction nothing is retried (the transaction is
// aborted; 40001 is withRetry's).
import { getSqlState } from '../errors/error-classifiers.js'
import { classBrand, KyselyCockroachError } from '../errors/kysely-cockroach-error.js'
import { SqlState } from '../errors/sqlstate.js'
import { backoffDelay } from '../util/backoff-delay.js'
import { describeError } from '../util/describe-value.js'

/**
 * Whether `error` is CockroachDB refusing a schema change because another one is running on the
 * same table: `0A000` "table ... is currently undergoing a schema change" (legacy schema changer,
 * cockroach#45510, #47137) or `40001` "descriptor ... is undergoing another schema change"
 * (declarative schema changer). CockroachDialect's migration path retries these with backoff.
 *
 * ```ts
 * import { isSchemaChangeInProgressError } from 'kysely-cockroachdb'
 *
 * if (isSchemaChangeInProgressError(error)) {
 *   // wait for the running job (SHOW JOBS), then run the statement again
 * }
 * ```
 */
export function isSchemaChangeInProgressError(error: unknown): boolean {
  const code = getSqlState(error)
  const message = error instanceof Error ? error.message : String((error as { message?: unknown } | null)?.message ?? '')
  return (
    (code === SqlState.FeatureNotSupported && /is currently undergoing a schema change/.test(message)) ||
    (code === SqlState.SerializationFailure && /is undergoing another schema change/.test(message))
  )
}

/** How the migration path retries. @internal */
export interface SchemaChangeRetryOptions {
  readonly initialDelayMs: number
  readonly maxDelayMs: number
  readonly timeoutMs: number
}

/** 250 ms doubling to 8 s, for at most 2 minutes. @internal */
export const DEFAULT_SCHEMA_CHANGE_RETRY: SchemaChangeRetryOptions = Object.freeze({
  initialDelayMs: 250,
  maxDelayMs: 8_000,
  timeoutMs: 120_000,
})

/**
 * The delay before retry `attempt` (0-based): the package's backoff with equal jitter (the upper
 * half of the doubling ceiling, as the migration lock waits). @internal
 */
export function schemaChangeRetryDelay(attempt: number, options: SchemaChangeRetryOptions, random: () => number = Math.random): number {
  return backoffDelay(attempt, { baseDelayMs: options.initialDelayMs, maxDelayMs: options.maxDelayMs, jitter: 'equal' }, random())
}

const { brand, hasBrand } = classBrand<SchemaChangeStillRunningError>('SchemaChangeStillRunningError')

/**
 * Thrown when a migration statement still met a running schema change after the retries.
 *
 * ```ts
 * import { isSchemaChangeStillRunningError } from 'kysely-cockroachdb'
 *
 * const waitForJobs = (error: unknown) => isSchemaChangeStillRunningError(error)
 * ```
 */
export class SchemaChangeStillRunningError extends KyselyCockroachError {
  override readonly name = 'SchemaChangeStillRunningError'
  /** How many times the statement was sent. */
  readonly attempts: number

  constructor(attempts: number, elapsedMs: number, cause: unknown) {
    const message = describeError(cause)
    super(
      `CockroachDialect migration: the table is still undergoing a schema change after ${attempts} tries over ` +
        `${Math.round(elapsedMs / 1000)} s (${message}). Wait for the running job to finish (SHOW JOBS) and run the migration again.`,
      { cause },
    )
    this.attempts = attempts
    brand(this)
  }
}

/**
 * Whether `error` is a {@link SchemaChangeStillRunningError} (also from the other build of the package).
 *
 * ```ts
 * import { isSchemaChangeStillRunningError } from 'kysely-cockroachdb'
 *
 * const gaveUp = (error: unknown) => isSchemaChangeStillRunningError(error)
 * ```
 */
export function isSchemaChangeStillRunningError(error: unknown): error is SchemaChangeStillRunningError {
  return hasBrand(error)
}

/** Clock and timer, replaceable in tests. @internal */
export interface RetryClock {
  now(): number
  sleep(ms: number): Promise<void>
}

const REAL_CLOCK: RetryClock = Object.freeze({
  now: () => performance.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
})

/** Runs `send`, again after a schema-change-in-progress error, until `timeoutMs`. @internal */
export async function retrySchemaChange<T>(
  send: () => Promise<T>,
  options: SchemaChangeRetryOptions = DEFAULT_SCHEMA_CHANGE_RETRY,
  clock: RetryClock = REAL_CLOCK,
): Promise<T> {
  const start = clock.now()
  for (let attempt = 0; ; attempt++) {
    try {
      return await send()
    } catch (error) {
      if (!isSchemaChangeInProgressError(error)) {
        throw error
      }
      const elapsed = clock.now() - start
      const remaining = options.timeoutMs - elapsed
      if (remaining <= 0) {
        throw new SchemaChangeStillRunningError(attempt + 1, elapsed, error)
      }
      await clock.sleep(Math.min(schemaChangeRetryDelay(attempt, options), remaining))
    }
  }
}

// The connections the adapter has marked as the migration connection, with their options.
const migrationConnections = new WeakMap<object, SchemaChangeRetryOptions>()

/** Marks `connection` as running migrations (the adapter, while it holds the lock). @internal */
export function markMigrationConnection(connection: object, options: SchemaChangeRetryOptions = DEFAULT_SCHEMA_CHANGE_RETRY): void {
  migrationConnections.set(connection, options)
}

/** Ends the marking (the adapter, when it releases the lock). @internal */
export function unmarkMigrationConnection(connection: object): void {
  migrationConnections.delete(connection)
}

/** The retry options of a marked migration connection, else undefined. @internal */
export function migrationRetryOf(connection: object): SchemaChangeRetryOptions | undefined {
  return migrationConnections.get(connection)
}
