// The public API. Listed name by name, so that helpers shared between modules stay internal.

// The dialect and its parts
export { CockroachDialect } from './dialect/cockroach-dialect.js'
export type { CockroachDialectConfig } from './dialect/cockroach-dialect-config.js'
export { CockroachDriver } from './dialect/cockroach-driver.js'
export type { CockroachDriverConfig } from './dialect/cockroach-driver.js'
export type { PgTypeOverrides } from './connection/int8-type-parsers.js'
export { CockroachQueryCompiler } from './dialect/cockroach-query-compiler.js'
export { CockroachAdapter } from './dialect/cockroach-adapter.js'
export type { MigrationLeasePoolSource } from './migration/migration-lease-lock.js'
export type { MigrationLeaseOptions, ResolvedMigrationLeaseOptions } from './migration/migration-lease-options.js'
export { MigrationLeaseLostError, isMigrationLeaseLostError } from './errors/migration-lease-lost-error.js'
export { MigrationLockTimeoutError, isMigrationLockTimeoutError } from './errors/migration-lock-timeout-error.js'
export { CockroachIntrospector } from './dialect/cockroach-introspector.js'
export type { CockroachIntrospectorOptions } from './dialect/cockroach-introspector.js'
export type {
  CockroachColumnMetadata,
  CockroachTableMetadata,
  GeneratedKind,
  IdentityKind,
  ServerInfo,
} from './introspection/introspection-rows.js'
export type { HiddenColumnKind, RowLevelTtlMetadata, TableLocality } from './introspection/table-options.js'

// Connecting
export { parseConnectionString, redactConnectionString } from './connection/parse-connection-string.js'
export type { ParsedConnectionString, SslMode } from './connection/parse-connection-string.js'
export type { Int8Mode } from './connection/int8-type-parsers.js'

// Clusters
export type { ClusterNodeAddress } from './cluster/cluster-nodes.js'
export type { ClusterEvent, ClusterOptions, NodeStatus } from './cluster/cluster-options.js'
export type { NodeState } from './cluster/node-health.js'

// Errors
export { KyselyCockroachError, isKyselyCockroachError } from './errors/kysely-cockroach-error.js'
export { QueryRefusedError, isQueryRefusedError } from './errors/query-refused-error.js'
export { SqlState } from './errors/sqlstate.js'
export type { KnownSqlState } from './errors/sqlstate.js'
export {
  getSqlState,
  isCommitOutcomeUnknown,
  isConnectionError,
  isDeadlockError,
  isMultipleActivePortalsError,
  isRetryableError,
  isSerializationFailure,
} from './errors/error-classifiers.js'

// Transactions that retry
export { withRetry } from './retry/with-retry.js'
export type { RetryAttempt, RetryCallback } from './retry/with-retry.js'
export { DEFAULT_RETRY_OPTIONS, resolveRetryOptions, retryDelay } from './retry/with-retry-options.js'
export type { ResolvedRetryOptions, RetryEvent, RetryPredicate, RetryStrategy, WithRetryOptions } from './retry/with-retry-options.js'
export { AmbiguousCommitError, isAmbiguousCommitError } from './errors/ambiguous-commit-error.js'
export type { CommitResolution, CommitStatement } from './errors/ambiguous-commit-error.js'
export { RetryExhaustedError, isRetryExhaustedError } from './errors/retry-exhausted-error.js'
export type { RetryLimit } from './errors/retry-exhausted-error.js'
export { setTransactionPriority } from './retry/transaction-priority.js'
export type { PrioritizableTransaction, TransactionPriority } from './retry/transaction-priority.js'

// CockroachDB SQL
export { upsertInto } from './sql/upsert-into.js'
export { asOfSystemTime } from './sql/as-of-system-time/as-of-system-time.js'
export type { AsOfSystemTimeValue, BoundedStaleness, IntervalParts, NegativeInterval } from './sql/as-of-system-time/as-of-system-time.js'
export { followerReadTimestamp, withMaxStaleness, withMinTimestamp } from './sql/as-of-system-time/as-of-system-time-values.js'
export type {
  BoundedStalenessOptions,
  FollowerReadTimestamp,
  MaxStaleness,
  MinTimestamp,
} from './sql/as-of-system-time/as-of-system-time-values.js'
export { readAt } from './sql/as-of-system-time/read-at.js'
export type { ReadAtValue } from './sql/as-of-system-time/read-at.js'
export { indexHint } from './sql/hints/index-hint.js'
export type { IndexHintOptions } from './sql/hints/index-hint.js'
export { joinHint } from './sql/hints/join-hint.js'
export type { JoinAlgorithm } from './sql/hints/join-hint.js'
export type { HintedTable } from './sql/hints/hinted-table.js'
export { explain } from './sql/explain.js'
export type { CockroachExplainOptions, ExplainableQuery, ExplainOption, ExplainRow } from './sql/explain.js'

// Bulk writes
export { insertMany, upsertMany } from './bulk-writes/insert-many.js'
export { copyInto } from './bulk-writes/copy-into.js'
export { deleteInBatches, updateInBatches } from './bulk-writes/delete-in-batches.js'
export type {
  BatchLoopOptions,
  BulkProgress,
  BulkResult,
  BulkWriteOptions,
  CopyFromFunction,
  CopyFromStream,
  CopyIntoOptions,
  UpsertManyOptions,
} from './bulk-writes/bulk-write-options.js'
export { BulkWriteError, isBulkWriteError } from './errors/bulk-write-error.js'
export type { BulkWriteApi } from './errors/bulk-write-error.js'

// Streaming
export { streamWithSqlCursor } from './streaming/sql-cursor.js'
export type { StreamWithSqlCursorOptions } from './streaming/sql-cursor.js'

// CockroachDB schema: indexes, primary keys, row-level TTL, multi-region (docs/schema.md)
export { hashSharded } from './schema/hash-sharded.js'
export type { HashShardedCall, HashShardedOptions } from './schema/hash-sharded.js'
export { storing } from './schema/storing.js'
export type { CreateIndexCall } from './schema/storing.js'
export { invertedIndex } from './schema/inverted-index.js'
export type { InvertedIndexOptions, InvertedOpclass } from './schema/inverted-index.js'
export { notVisible } from './schema/not-visible.js'
export type { NotVisibleOptions } from './schema/not-visible.js'
export { resetRowLevelTtl, rowLevelTtl } from './schema/row-level-ttl.js'
export type {
  AlterTableCall,
  RowLevelTtlExpiry,
  RowLevelTtlKey,
  RowLevelTtlOptions,
  TableOptionCall,
  TtlInterval,
} from './schema/row-level-ttl.js'
export { locality } from './schema/locality.js'
export type { LocalitySpec } from './schema/locality.js'
export { addRegion, setPrimaryRegion, surviveFailure } from './schema/database-region.js'
export type { AddRegionOptions, SurvivalGoal } from './schema/database-region.js'
export { alterPrimaryKey } from './schema/alter-primary-key.js'
export type { AlterPrimaryKeyOptions } from './schema/alter-primary-key.js'
export type { CockroachStatement } from './schema/cockroach-statement.js'
export { uniqueRowid } from './schema/unique-rowid.js'

// Checking migrations (docs/migrations.md#checking-migrations)
export { checkMigrations, isMigrationLoadError, MigrationLoadError } from './migration/check/check-migrations.js'
export type {
  CheckableMigration,
  CheckedStatement,
  CheckMigrationsOptions,
  MigrationCheckReport,
} from './migration/check/check-migrations.js'
export type { MigrationCheckAcknowledgement, MigrationCheckRule, MigrationFinding } from './migration/check/migration-check-rules.js'
export type { RecordedStatementKind } from './migration/check/recording-dialect.js'
export {
  isSchemaChangeInProgressError,
  isSchemaChangeStillRunningError,
  SchemaChangeStillRunningError,
} from './migration/schema-change-retry.js'
