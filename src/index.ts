// The public API. Listed name by name, so that helpers shared between modules stay internal.

// The dialect and its parts
export { CockroachDialect } from './cockroach-dialect.js'
export type { CockroachDialectConfig } from './cockroach-dialect-config.js'
export { CockroachDriver } from './cockroach-driver.js'
export type { CockroachDriverConfig } from './cockroach-driver.js'
export type { PgTypeOverrides } from './int8-type-parsers.js'
export { CockroachQueryCompiler } from './cockroach-query-compiler.js'
export { CockroachAdapter } from './cockroach-adapter.js'
export type { MigrationLeasePoolSource } from './cockroach-adapter.js'
export type { MigrationLeaseOptions, ResolvedMigrationLeaseOptions } from './migration-lease-options.js'
export { MigrationLeaseLostError } from './migration-lease-lost-error.js'
export { MigrationLockTimeoutError } from './migration-lock-timeout-error.js'
export { CockroachIntrospector } from './cockroach-introspector.js'
export type { CockroachIntrospectorOptions } from './cockroach-introspector.js'
export type { CockroachColumnMetadata, CockroachTableMetadata, GeneratedKind, IdentityKind, ServerInfo } from './introspection-rows.js'

// Connecting
export { parseConnectionString, redactConnectionString } from './parse-connection-string.js'
export type { ParsedConnectionString, SslMode } from './parse-connection-string.js'
export type { Int8Mode } from './int8-type-parsers.js'

// Errors
export { getSqlState, isConnectionError, isMultipleActivePortalsError } from './error-classifiers.js'

// Transactions that retry
export { withRetry } from './with-retry.js'
export type { RetryAttempt, RetryCallback } from './with-retry.js'
export { DEFAULT_RETRY_OPTIONS, resolveRetryOptions, retryDelay } from './with-retry-options.js'
export type { ResolvedRetryOptions, RetryEvent, RetryPredicate, RetryStrategy, WithRetryOptions } from './with-retry-options.js'
export { AmbiguousCommitError } from './ambiguous-commit-error.js'
export type { CommitStatement } from './ambiguous-commit-error.js'
export { RetryExhaustedError, isRetryExhaustedError } from './retry-exhausted-error.js'
export type { RetryLimit } from './retry-exhausted-error.js'
export {
  findSqlState,
  isAmbiguousCommitError,
  isCommitOutcomeUnknown,
  isConnectionFailure,
  isDeadlockError,
  isRetryableError,
  isSerializationFailure,
} from './retry-classifiers.js'
export { setTransactionPriority } from './transaction-priority.js'
export type { PrioritizableTransaction, TransactionPriority } from './transaction-priority.js'

// CockroachDB SQL
export { upsertInto } from './upsert-into.js'
export { asOfSystemTime } from './as-of-system-time.js'
export type { AsOfSystemTimeValue, BoundedStaleness, IntervalParts, NegativeInterval } from './as-of-system-time.js'
export { followerReadTimestamp } from './follower-read-timestamp.js'
export type { FollowerReadTimestamp } from './follower-read-timestamp.js'
export { withMaxStaleness } from './with-max-staleness.js'
export type { BoundedStalenessOptions, MaxStaleness } from './with-max-staleness.js'
export { withMinTimestamp } from './with-min-timestamp.js'
export type { MinTimestamp } from './with-min-timestamp.js'
export { readAt } from './read-at.js'
export type { ReadAtValue } from './read-at.js'
export { indexHint } from './index-hint.js'
export type { IndexHintOptions } from './index-hint.js'
export { joinHint } from './join-hint.js'
export type { JoinAlgorithm } from './join-hint.js'
export type { HintedTable } from './hinted-table.js'
export { explain } from './explain.js'
export type { CockroachExplainOptions, ExplainableQuery, ExplainOption, ExplainRow } from './explain.js'

// Streaming
export { streamWithSqlCursor } from './sql-cursor.js'
export type { StreamWithSqlCursorOptions } from './sql-cursor.js'
