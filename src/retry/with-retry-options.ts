import { TRANSACTION_ACCESS_MODES, TRANSACTION_ISOLATION_LEVELS } from 'kysely'
import type { AccessMode, IsolationLevel } from 'kysely'
import { assertTransactionPriority } from './transaction-priority.js'
import type { TransactionPriority } from './transaction-priority.js'
import { backoffDelay } from '../util/backoff-delay.js'
import { sleepUnlessAborted } from '../util/sleep-unless-aborted.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { assertKnownKeys } from '../util/known-keys.js'
import { describeValue } from '../util/describe-value.js'

/**
 * How {@link withRetry} runs the callback again after a retryable error:
 *
 * - `'restart'`: roll the transaction back, wait, and run the callback in a new transaction
 *   (the application-level loop of CockroachDB's docs, /docs/stable/transaction-retry-error-example).
 *   Works on CockroachDB and PostgreSQL.
 * - `'savepoint'`: CockroachDB's client-side retry protocol, `SAVEPOINT cockroach_restart` after
 *   `BEGIN`, `ROLLBACK TO SAVEPOINT cockroach_restart` on a retry error, `RELEASE SAVEPOINT
 *   cockroach_restart` as the commit (docs /docs/stable/advanced-client-side-transaction-retries).
 *   The transaction keeps its connection, its priority and its locks between attempts ("holds its
 *   place in line"). CockroachDB only in effect: PostgreSQL accepts the statements, but a rolled
 *   back savepoint keeps the transaction's snapshot, so a PostgreSQL serialization failure repeats.
 *
 * ```ts
 * import { withRetry } from 'kysely-cockroachdb'
 *
 * await withRetry(db, fn, { strategy: 'savepoint', priority: 'high' })
 * ```
 */
export type RetryStrategy = 'restart' | 'savepoint'

/**
 * Every {@link RetryStrategy}, `['restart', 'savepoint']`: what the `strategy` option is checked
 * against.
 *
 * @internal
 */
export const RETRY_STRATEGIES: readonly RetryStrategy[] = Object.freeze(['restart', 'savepoint'])

/**
 * What {@link WithRetryOptions.onRetry} is told before each wait.
 *
 * ```ts
 * import { SqlState, getSqlState, withRetry } from 'kysely-cockroachdb'
 *
 * await withRetry(db, fn, {
 *   onRetry: ({ attempt, error, delayMs }) => logger.warn({ attempt, delayMs, code: getSqlState(error) }, 'retrying transaction'),
 * })
 * ```
 */
export interface RetryEvent {
  /** The attempt that failed, from 1. The next one is `attempt + 1`. */
  readonly attempt: number
  /** The error that attempt failed with. */
  readonly error: unknown
  /** How long withRetry waits before the next attempt. */
  readonly delayMs: number
}

/**
 * An extra condition under which {@link withRetry} retries, see {@link WithRetryOptions.retryOn}.
 *
 * ```ts
 * import { SqlState, getSqlState, withRetry } from 'kysely-cockroachdb'
 * import type { RetryPredicate } from 'kysely-cockroachdb'
 *
 * const lockTimeout: RetryPredicate = (error) => getSqlState(error) === SqlState.LockNotAvailable
 * await withRetry(db, fn, { retryOn: [lockTimeout] })
 * ```
 */
export type RetryPredicate = (error: unknown) => boolean

/**
 * Options of {@link withRetry}. Every option has a default; see {@link DEFAULT_RETRY_OPTIONS}.
 *
 * ```ts
 * import { withRetry } from 'kysely-cockroachdb'
 *
 * await withRetry(db, transfer, {
 *   maxAttempts: 20,
 *   maxElapsedMs: 10_000,
 *   priority: 'high',
 *   signal: AbortSignal.timeout(15_000),
 *   onRetry: ({ attempt, error, delayMs }) => logger.info({ attempt, delayMs, error }, 'retrying transfer'),
 * })
 * ```
 */
export interface WithRetryOptions {
  /** Attempts in total, the first one included: a positive integer, or `Infinity` together with `maxElapsedMs` or `signal`. */
  readonly maxAttempts?: number
  /** Time budget in milliseconds: no retry starts when its wait would end later than this after the first attempt began. */
  readonly maxElapsedMs?: number
  /** Upper bound of the first wait; it doubles for each further retry (exponential backoff with full jitter). */
  readonly baseDelayMs?: number
  /** Upper bound of any wait. */
  readonly maxDelayMs?: number
  /** Source of randomness for the jitter, returning numbers in [0, 1). Defaults to `Math.random`. */
  readonly random?: () => number
  /** Waits `ms` milliseconds. Defaults to a timer that stops early when `signal` aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Clock for `maxElapsedMs`, in milliseconds. Defaults to `performance.now`. */
  readonly now?: () => number
  /** The transaction's isolation level (`start transaction isolation level ...`). */
  readonly isolationLevel?: IsolationLevel
  /** `'read only'` or `'read write'`. */
  readonly accessMode?: AccessMode
  /** `SET TRANSACTION PRIORITY` as the transaction's first statement (CockroachDB only). */
  readonly priority?: TransactionPriority
  /** See {@link RetryStrategy}. */
  readonly strategy?: RetryStrategy
  /** Aborting stops the waiting and the retrying; a transaction in progress is rolled back instead of committed. */
  readonly signal?: AbortSignal
  /** Called before each wait, for logging and metrics. An error it throws ends withRetry with that error. */
  readonly onRetry?: (event: RetryEvent) => void | Promise<void>
  /**
   * Extra errors to retry, besides 40001/CR000, 40P01 and connection failures before COMMIT. They
   * are consulted for errors raised before COMMIT, and for COMMIT errors that say the transaction
   * was rolled back; never for a commit whose outcome is unknown.
   */
  readonly retryOn?: RetryPredicate | readonly RetryPredicate[]
  /**
   * The callback's writes may be applied twice without harm (e.g. UPSERTs of fixed values), so a
   * commit whose outcome is unknown is retried instead of raising AmbiguousCommitError.
   */
  readonly idempotent?: boolean
  /**
   * Settle a commit whose outcome is unknown instead of raising AmbiguousCommitError at once: each
   * attempt writes a marker row with a fresh id as its last statement (into
   * `kysely_cockroachdb_commit_marker`, created on first use), and when COMMIT was in flight as the
   * connection failed, the same id is inserted again from a new connection. That insert waits for
   * the original transaction to end: a conflict means it committed (withRetry returns the callback's
   * result without running it again), success means it did not and now never can (withRetry
   * retries). Costs one extra write per transaction. See docs/clusters.md.
   */
  readonly resolveAmbiguousCommits?: boolean
  /**
   * How long settling may take before AmbiguousCommitError (resolution `'timed out'`). Default
   * 15_000, at least 1000: on CockroachDB a commit in flight on a node that died settles only once
   * its transaction record expires, about 5 s after the node's last heartbeat.
   */
  readonly resolveTimeoutMs?: number
}

/**
 * {@link WithRetryOptions} after validation and defaults, frozen.
 *
 * ```ts
 * import { resolveRetryOptions } from 'kysely-cockroachdb'
 *
 * const { maxAttempts, baseDelayMs } = resolveRetryOptions({ maxAttempts: 5 }) // 5, 100
 * ```
 */
export interface ResolvedRetryOptions {
  readonly maxAttempts: number
  readonly maxElapsedMs: number | undefined
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly random: () => number
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  readonly now: () => number
  readonly isolationLevel: IsolationLevel | undefined
  readonly accessMode: AccessMode | undefined
  readonly priority: TransactionPriority | undefined
  readonly strategy: RetryStrategy
  readonly signal: AbortSignal | undefined
  readonly onRetry: ((event: RetryEvent) => void | Promise<void>) | undefined
  readonly retryOn: readonly RetryPredicate[]
  readonly idempotent: boolean
  readonly resolveAmbiguousCommits: boolean
  readonly resolveTimeoutMs: number
}

/**
 * The defaults of {@link withRetry}, chosen from the `retry-contention` benchmark (hot-row
 * transfers at 4, 16 and 64 workers; figures in docs/retries.md).
 *
 * ```ts
 * import { DEFAULT_RETRY_OPTIONS, withRetry } from 'kysely-cockroachdb'
 *
 * await withRetry(db, fn, { maxAttempts: DEFAULT_RETRY_OPTIONS.maxAttempts * 2 })
 * ```
 */
export const DEFAULT_RETRY_OPTIONS = Object.freeze({
  maxAttempts: 20,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  strategy: 'restart' as RetryStrategy,
  resolveTimeoutMs: 15_000,
})

const KNOWN_OPTIONS: readonly (keyof WithRetryOptions)[] = [
  'maxAttempts',
  'maxElapsedMs',
  'baseDelayMs',
  'maxDelayMs',
  'random',
  'sleep',
  'now',
  'isolationLevel',
  'accessMode',
  'priority',
  'strategy',
  'signal',
  'onRetry',
  'retryOn',
  'idempotent',
  'resolveAmbiguousCommits',
  'resolveTimeoutMs',
]

/**
 * Validates `options`, fills in the defaults and freezes the result. Throws a
 * {@link QueryRefusedError} naming the option and what it accepts.
 *
 * ```ts
 * import { resolveRetryOptions } from 'kysely-cockroachdb'
 *
 * const options = resolveRetryOptions({ maxAttempts: 5 }) // validated once, reused for many calls
 * ```
 */
export function resolveRetryOptions(options: WithRetryOptions = {}): ResolvedRetryOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new QueryRefusedError(
      'withRetry',
      `options must be an object, got ${describeValue(options)}`,
      'give one such as { maxAttempts: 5 }',
    )
  }
  assertKnownKeys('withRetry', options, KNOWN_OPTIONS)
  const maxAttempts = options.maxAttempts ?? DEFAULT_RETRY_OPTIONS.maxAttempts
  if (!(maxAttempts === Infinity || (Number.isInteger(maxAttempts) && maxAttempts >= 1))) {
    throw new QueryRefusedError(
      'withRetry',
      `maxAttempts must be a positive integer (the first attempt counts), got ${describeValue(options.maxAttempts)}`,
      'give one such as 5, or Infinity with maxElapsedMs',
    )
  }
  const maxElapsedMs = options.maxElapsedMs
  if (maxElapsedMs !== undefined && !(typeof maxElapsedMs === 'number' && Number.isFinite(maxElapsedMs) && maxElapsedMs > 0)) {
    throw new QueryRefusedError(
      'withRetry',
      `maxElapsedMs must be a positive, finite number of milliseconds, got ${describeValue(maxElapsedMs)}`,
      'give one such as 10_000',
    )
  }
  if (maxAttempts === Infinity && maxElapsedMs === undefined && options.signal === undefined) {
    throw new QueryRefusedError(
      'withRetry',
      'maxAttempts: Infinity needs maxElapsedMs or signal, or the loop could retry forever under contention',
      'give one of them',
    )
  }
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_RETRY_OPTIONS.baseDelayMs
  checkDelay('baseDelayMs', baseDelayMs)
  const maxDelayMs = options.maxDelayMs ?? Math.max(DEFAULT_RETRY_OPTIONS.maxDelayMs, baseDelayMs)
  checkDelay('maxDelayMs', maxDelayMs)
  if (maxDelayMs < baseDelayMs) {
    throw new QueryRefusedError(
      'withRetry',
      `maxDelayMs (${maxDelayMs}) must not be smaller than baseDelayMs (${baseDelayMs})`,
      'raise maxDelayMs or lower baseDelayMs',
    )
  }
  const strategy = options.strategy ?? DEFAULT_RETRY_OPTIONS.strategy
  if (!RETRY_STRATEGIES.includes(strategy)) {
    throw new QueryRefusedError(
      'withRetry',
      `strategy must be 'restart' or 'savepoint', got ${describeValue(strategy)}`,
      "use one of them (default 'restart')",
    )
  }
  if (options.isolationLevel !== undefined && !TRANSACTION_ISOLATION_LEVELS.includes(options.isolationLevel)) {
    throw new QueryRefusedError(
      'withRetry',
      `isolationLevel must be one of ${TRANSACTION_ISOLATION_LEVELS.map((l) => `'${l}'`).join(', ')}, got ${describeValue(options.isolationLevel)}`,
      'use one of them, or leave it out for the session default',
    )
  }
  if (options.accessMode !== undefined && !TRANSACTION_ACCESS_MODES.includes(options.accessMode)) {
    throw new QueryRefusedError(
      'withRetry',
      `accessMode must be 'read only' or 'read write', got ${describeValue(options.accessMode)}`,
      'use one of them, or leave it out',
    )
  }
  if (options.priority !== undefined) {
    assertTransactionPriority(options.priority, 'withRetry', 'priority')
  }
  if (options.signal !== undefined && !isAbortSignal(options.signal)) {
    throw new QueryRefusedError('withRetry', 'signal must be an AbortSignal', 'give one such as AbortSignal.timeout(5000)')
  }
  if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean') {
    throw new QueryRefusedError(
      'withRetry',
      `idempotent must be true or false, got ${describeValue(options.idempotent)}`,
      'use idempotent: true only if running the callback twice is safe',
    )
  }
  const resolveAmbiguousCommits = options.resolveAmbiguousCommits ?? false
  if (typeof resolveAmbiguousCommits !== 'boolean') {
    throw new QueryRefusedError(
      'withRetry',
      `resolveAmbiguousCommits must be true or false, got ${String(resolveAmbiguousCommits)}`,
      'pass true or false',
    )
  }
  const resolveTimeoutMs = options.resolveTimeoutMs ?? DEFAULT_RETRY_OPTIONS.resolveTimeoutMs
  if (options.resolveTimeoutMs !== undefined) {
    if (!resolveAmbiguousCommits) {
      throw new QueryRefusedError(
        'withRetry',
        'resolveTimeoutMs only applies with resolveAmbiguousCommits: true',
        'add it or drop resolveTimeoutMs',
      )
    }
    if (!(Number.isInteger(resolveTimeoutMs) && resolveTimeoutMs >= 1000)) {
      throw new QueryRefusedError(
        'withRetry',
        `resolveTimeoutMs must be a whole number of milliseconds from 1000, got ${String(options.resolveTimeoutMs)}`,
        'raise it: CockroachDB needs about 5 s to settle a commit whose node died',
      )
    }
  }
  if (resolveAmbiguousCommits && options.accessMode === 'read only') {
    throw new QueryRefusedError(
      'withRetry',
      "resolveAmbiguousCommits needs a transaction that can write, but accessMode is 'read only'",
      'drop one of them (a read-only transaction has no commit to settle)',
    )
  }
  for (const name of ['random', 'sleep', 'now', 'onRetry'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new QueryRefusedError(
        'withRetry',
        `${name} must be a function, got ${describeValue(options[name])}`,
        `give ${name} a function or leave it out`,
      )
    }
  }
  const retryOn: readonly unknown[] | undefined =
    options.retryOn === undefined ? [] : typeof options.retryOn === 'function' ? [options.retryOn] : options.retryOn
  if (!Array.isArray(retryOn) || !retryOn.every((p) => typeof p === 'function')) {
    throw new QueryRefusedError('withRetry', 'retryOn must be a function (error) => boolean, or an array of them', 'give one of those')
  }
  return Object.freeze({
    maxAttempts,
    maxElapsedMs,
    baseDelayMs,
    maxDelayMs,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? ((ms: number, signal?: AbortSignal) => sleepUnlessAborted(ms, { signal })),
    now: options.now ?? (() => performance.now()),
    isolationLevel: options.isolationLevel,
    accessMode: options.accessMode,
    priority: options.priority,
    strategy,
    signal: options.signal,
    onRetry: options.onRetry,
    retryOn: Object.freeze([...(retryOn as readonly RetryPredicate[])]),
    idempotent: options.idempotent ?? false,
    resolveAmbiguousCommits,
    resolveTimeoutMs,
  })
}

/**
 * The wait before retry number `retry` (1 for the wait after the first failed attempt):
 * exponential backoff with full jitter, `random() * min(maxDelayMs, baseDelayMs * 2^(retry - 1))`,
 * rounded to whole milliseconds. Full jitter spreads the retries of transactions that failed
 * together, so they do not collide again.
 *
 * ```ts
 * import { retryDelay } from 'kysely-cockroachdb'
 *
 * retryDelay(3, { baseDelayMs: 10, maxDelayMs: 1000 }, () => 0.5) // 20: half of min(1000, 10 * 2^2)
 * ```
 */
export function retryDelay(
  retry: number,
  limits: { readonly baseDelayMs: number; readonly maxDelayMs: number },
  random: () => number = Math.random,
): number {
  return fullJitterDelay(retry, limits, random, 'retryDelay')
}

/**
 * {@link retryDelay}, with the API its messages name: `withRetry` when withRetry computes its waits.
 *
 * @internal
 */
export function fullJitterDelay(
  retry: number,
  limits: { readonly baseDelayMs: number; readonly maxDelayMs: number },
  random: () => number,
  api: 'retryDelay' | 'withRetry',
): number {
  if (!Number.isInteger(retry) || retry < 1) {
    throw new QueryRefusedError(
      api,
      `retry must be a positive integer, got ${describeValue(retry)}`,
      'pass 1 for the wait after the first failed attempt',
    )
  }
  const r = random()
  if (!(typeof r === 'number' && r >= 0 && r < 1)) {
    throw new QueryRefusedError(
      api,
      `random() must return a number in [0, 1), returned ${describeValue(r)}`,
      'give a function like Math.random',
    )
  }
  return backoffDelay(retry - 1, { baseDelayMs: limits.baseDelayMs, maxDelayMs: limits.maxDelayMs, jitter: 'full' }, r)
}

function checkDelay(name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
    throw new QueryRefusedError(
      'withRetry',
      `${name} must be a finite number of milliseconds >= 0, got ${describeValue(value)}`,
      'give one such as 100',
    )
  }
}

function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof AbortSignal !== 'undefined' && value instanceof AbortSignal) {
    return true
  }
  const candidate = value as Partial<AbortSignal> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function'
  )
}
