import { ownSqlState } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'
import { backoffDelay } from '../util/backoff-delay.js'
import type { Backoff } from '../util/backoff-delay.js'

/**
 * Which of the migration lock's statements failed:
 *
 * - `'lease-columns'`: `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` of a lease column on Kysely's
 *   lock table, which several migrators starting at once all run.
 * - `'lock-row'`: a single-row `UPDATE` or `SELECT` of the lock row (take, read, release), each
 *   its own implicit transaction.
 *
 * @internal
 */
export type MigrationLockStatement = 'lease-columns' | 'lock-row'

/** One row of {@link MIGRATION_LOCK_RETRY_RULES}. @internal */
export interface MigrationLockRetryRule {
  readonly sqlState: string
  readonly statements: readonly MigrationLockStatement[]
  /** The row applies only when the server's message matches; without it, to any message. */
  readonly message?: RegExp
  /** Whether the statement is tried again (after the lock's backoff, until its deadline). */
  readonly retry: boolean
  /** Why, in words an operator can check against the server. */
  readonly reason: string
  /** Where the server raises it. */
  readonly source: string
}

const BOTH: readonly MigrationLockStatement[] = Object.freeze(['lease-columns', 'lock-row'])
const LEASE_COLUMNS: readonly MigrationLockStatement[] = Object.freeze(['lease-columns'])
const LOCK_ROW: readonly MigrationLockStatement[] = Object.freeze(['lock-row'])

/**
 * How the migration lock treats each server error, first matching row wins; an error no row
 * matches is not retried. After a failed `'lease-columns'` statement the lock first looks whether
 * the columns are there now (another migrator's change finished) and only then consults this.
 *
 * SQLSTATE names are CockroachDB's (cockroachdb/cockroach pkg/sql/pgwire/pgcode/codes.go), which
 * copies PostgreSQL's errcodes.txt.
 *
 * @internal
 */
export const MIGRATION_LOCK_RETRY_RULES: readonly MigrationLockRetryRule[] = Object.freeze(
  [
    {
      sqlState: SqlState.DuplicateColumn,
      statements: LEASE_COLUMNS,
      message: /in the middle of being added/,
      retry: true,
      reason:
        "another migrator's ADD COLUMN of the same column is still running as a schema change job; " +
        'CockroachDB checks pending mutations before IF NOT EXISTS, so ours fails until that job makes it public',
      source:
        'cockroachdb/cockroach pkg/sql/add_column.go, addColumnImpl (legacy schema changer): DuplicateColumn, ' +
        '"duplicate: column %q in the middle of being added, not yet public"',
    },
    {
      sqlState: SqlState.DuplicateColumn,
      statements: LEASE_COLUMNS,
      retry: false,
      reason: 'the column already exists although IF NOT EXISTS was given: not a race, and trying again cannot help',
      source: 'pkg/sql/sqlerrors/errors.go, NewColumnAlreadyExistsError (DuplicateColumn)',
    },
    {
      sqlState: SqlState.ObjectNotInPrerequisiteState,
      statements: LEASE_COLUMNS,
      message: /being dropped, try again later/,
      retry: true,
      reason: 'a schema change job is dropping the column; once it is done, ADD COLUMN IF NOT EXISTS adds it again',
      source:
        'cockroachdb/cockroach pkg/sql/add_column.go, addColumnImpl: ObjectNotInPrerequisiteState, ' +
        '"column %q being dropped, try again later"',
    },
    {
      sqlState: SqlState.DuplicateTable,
      statements: LEASE_COLUMNS,
      retry: true,
      reason:
        'two CREATE ... IF NOT EXISTS of one name raced: IF NOT EXISTS sees only committed catalog entries, ' +
        'and the loser fails when the winner commits; the statement changed nothing',
      source:
        'cockroachdb/cockroach pkg/sql/sqlerrors/errors.go, NewRelationAlreadyExistsError (DuplicateRelation, ' +
        '"relation %q already exists"); PostgreSQL raises it too',
    },
    {
      sqlState: SqlState.UniqueViolation,
      statements: LEASE_COLUMNS,
      retry: true,
      reason:
        'racing IF NOT EXISTS DDL collided on a catalog unique index (PostgreSQL: pg_type_typname_nsp_index for ' +
        'CREATE TABLE, see test/integration/migration/migration-lock.test.ts); the schema change writes no user rows, so a 23505 from ' +
        'it is that race, and the statement changed nothing',
      source: 'PostgreSQL src/backend/catalog/heap.c (heap_create_with_catalog) and its catalog unique indexes',
    },
    {
      sqlState: SqlState.InternalError,
      statements: LEASE_COLUMNS,
      message: /tuple concurrently updated/,
      retry: true,
      reason: 'PostgreSQL: two sessions updated the same catalog row at once; the loser changed nothing',
      source: 'PostgreSQL src/backend/access/heap/heapam.c, simple_heap_update',
    },
    {
      sqlState: SqlState.SerializationFailure,
      statements: BOTH,
      retry: true,
      reason:
        'serialization failure: a competing migrator touched the lock row or the table at the same time ' +
        "(CockroachDB's declarative schema changer also reports a concurrent schema change on the table this " +
        'way); every statement of the lock is its own implicit transaction, so it changed nothing',
      source:
        'pkg/sql/pgwire/pgcode/codes.go SerializationFailure, which pkg/sql/pgwire/pgerror ComputeDefaultCode ' +
        'gives every ClientVisibleRetryError, including pkg/sql/schemachanger/scerrors/errors.go ' +
        'concurrentSchemaChangeError; docs: transaction-retry-error-reference',
    },
    {
      sqlState: SqlState.StatementCompletionUnknown,
      statements: LOCK_ROW,
      retry: true,
      reason:
        'ambiguous result: the statement may have been applied; taking the lease again under the same owner id ' +
        'succeeds, and a release that finds the lease already cleared counts as released',
      source:
        'pkg/sql/pgwire/pgcode/codes.go StatementCompletionUnknown, which pkg/sql/pgwire/pgerror ComputeDefaultCode ' +
        'gives every ClientVisibleAmbiguousError ("result is ambiguous")',
    },
    {
      sqlState: SqlState.DeadlockDetected,
      statements: BOTH,
      retry: true,
      reason: "PostgreSQL's deadlock detector cancelled this statement; it changed nothing",
      source: 'PostgreSQL src/backend/storage/lmgr/deadlock.c (DeadLockReport)',
    },
  ].map((rule) => Object.freeze(rule)),
)

/** What {@link classifyMigrationLockError} decided, and the rule that decided it. @internal */
export interface MigrationLockRetryDecision {
  readonly retry: boolean
  /** The matching row, or `undefined` when none matched (then `retry` is false). */
  readonly rule: MigrationLockRetryRule | undefined
}

const NO_RULE: MigrationLockRetryDecision = Object.freeze({ retry: false, rule: undefined })

/**
 * Whether the migration lock tries `statement` again after `error`: the first row of
 * {@link MIGRATION_LOCK_RETRY_RULES} for the error's SQLSTATE (node-postgres' `code`) whose
 * message predicate matches the error's `message`. Pure: it reads the error and nothing else.
 *
 * @internal
 */
export function classifyMigrationLockError(error: unknown, statement: MigrationLockStatement): MigrationLockRetryDecision {
  const state = ownSqlState(error)
  if (state === undefined) {
    return NO_RULE
  }
  const message = error instanceof Error ? error.message : ''
  const rule = MIGRATION_LOCK_RETRY_RULES.find(
    (r) => r.sqlState === state && r.statements.includes(statement) && (r.message === undefined || r.message.test(message)),
  )
  return rule === undefined ? NO_RULE : Object.freeze({ retry: rule.retry, rule })
}

/** First and largest ceiling of {@link migrationLockRetryDelay}, in milliseconds. @internal */
export const FIRST_RETRY_DELAY_MS = 50
/** @internal */
export const MAX_RETRY_DELAY_MS = 1_000

const MIGRATION_LOCK_BACKOFF: Backoff = Object.freeze({
  baseDelayMs: FIRST_RETRY_DELAY_MS,
  maxDelayMs: MAX_RETRY_DELAY_MS,
  jitter: 'equal',
})

/**
 * The lock's one backoff, for every retry it makes (taking the lease, the lease columns, release):
 * exponential with equal jitter, `ceiling / 2 + random() * ceiling / 2` rounded up, where the
 * ceiling doubles from 50 ms per attempt up to 1 s. The fixed half keeps a waiting migrator from
 * polling the lock row in a tight loop; the random half spreads competing migrators apart.
 *
 * @param attempt 0 for the first retry.
 * @internal
 */
export function migrationLockRetryDelay(attempt: number, random: () => number = Math.random): number {
  return backoffDelay(attempt, MIGRATION_LOCK_BACKOFF, random())
}
