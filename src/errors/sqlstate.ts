// Every SQLSTATE the package reads, in one table: code files compare against these names, never
// against string literals. Codes from PostgreSQL's errcodes.txt (src/backend/utils/errcodes.txt)
// and CockroachDB's pkg/sql/pgwire/pgcode/codes.go, which adds the CR/XX classes noted below.

/**
 * The SQLSTATEs the package acts on, by the name PostgreSQL's errcodes.txt (or CockroachDB's
 * pgcode/codes.go, for `CR000`) gives them.
 *
 * ```ts
 * import { SqlState, getSqlState } from 'kysely-cockroachdb'
 *
 * try {
 *   await db.insertInto('account').values(row).execute()
 * } catch (error) {
 *   if (getSqlState(error) === SqlState.UniqueViolation) {
 *     // the account exists already
 *   }
 * }
 * ```
 */
export const SqlState = Object.freeze({
  /** 08P01 protocol_violation (e.g. a Bind message with more than 65,535 parameters, whose count wraps). */
  ProtocolViolation: '08P01',
  /** 0A000 feature_not_supported (CockroachDB: multiple active portals, among others). */
  FeatureNotSupported: '0A000',
  /** 23505 unique_violation. */
  UniqueViolation: '23505',
  /** 25P01 no_active_sql_transaction (ROLLBACK outside a transaction: kept as a warning). */
  NoActiveSqlTransaction: '25P01',
  /** 40001 serialization_failure: the transaction must be retried. */
  SerializationFailure: '40001',
  /** 40003 statement_completion_unknown: CockroachDB's "result is ambiguous". */
  StatementCompletionUnknown: '40003',
  /** 40P01 deadlock_detected. */
  DeadlockDetected: '40P01',
  /** 42701 duplicate_column. */
  DuplicateColumn: '42701',
  /** 42703 undefined_column. */
  UndefinedColumn: '42703',
  /** 42710 duplicate_object. */
  DuplicateObject: '42710',
  /** 42P01 undefined_table (also an unknown name cast to regclass). */
  UndefinedTable: '42P01',
  /** 42P07 duplicate_table. */
  DuplicateTable: '42P07',
  /** 53400 configuration_limit_exceeded (CockroachDB: a transaction over its lock-tracking budget). */
  ConfigurationLimitExceeded: '53400',
  /** 54000 program_limit_exceeded (CockroachDB: the transaction_rows_written_err / _read_err guardrails). */
  ProgramLimitExceeded: '54000',
  /** 55000 object_not_in_prerequisite_state. */
  ObjectNotInPrerequisiteState: '55000',
  /** 55P03 lock_not_available (lock_timeout). */
  LockNotAvailable: '55P03',
  /** 57014 query_canceled (statement_timeout, a cancel request). */
  QueryCanceled: '57014',
  /** 57P01 admin_shutdown (a draining CockroachDB node, a terminated backend). */
  AdminShutdown: '57P01',
  /** 57P02 crash_shutdown. */
  CrashShutdown: '57P02',
  /** 57P03 cannot_connect_now. */
  CannotConnectNow: '57P03',
  /** CR000: CockroachDB's legacy "restart transaction" code, still retried by cockroach-go (crdb/tx.go, `errIsRetryable`). */
  CockroachRestartTransaction: 'CR000',
  /** XX000 internal_error. */
  InternalError: 'XX000',
} as const)

/**
 * One of the SQLSTATEs in {@link SqlState}.
 *
 * ```ts
 * import { SqlState } from 'kysely-cockroachdb'
 * import type { KnownSqlState } from 'kysely-cockroachdb'
 *
 * const retryable: readonly KnownSqlState[] = [SqlState.SerializationFailure, SqlState.DeadlockDetected]
 * ```
 */
export type KnownSqlState = (typeof SqlState)[keyof typeof SqlState]

/**
 * SQLSTATE classes (the first two characters) the package acts on.
 *
 * @internal
 */
export const SqlStateClass = Object.freeze({
  /** 08 connection_exception: the connection is gone. */
  ConnectionException: '08',
  /** 23 integrity_constraint_violation (at COMMIT: a deferred constraint; the transaction rolled back). */
  IntegrityConstraintViolation: '23',
  /** 25 invalid_transaction_state. */
  InvalidTransactionState: '25',
  /** 40 transaction_rollback. */
  TransactionRollback: '40',
} as const)
