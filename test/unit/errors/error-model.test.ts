// The error model of issue 11: one base class with brands, QueryRefusedError for refusals before
// sending, is<ClassName> as brand checks only, public classifiers that follow `cause`, and the
// internal own* helpers that do not.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  AmbiguousCommitError,
  KyselyCockroachError,
  MigrationLeaseLostError,
  MigrationLockTimeoutError,
  QueryRefusedError,
  RetryExhaustedError,
  SqlState,
  asOfSystemTime,
  getSqlState,
  isAmbiguousCommitError,
  isCommitOutcomeUnknown,
  isConnectionError,
  isKyselyCockroachError,
  isMigrationLeaseLostError,
  isMigrationLockTimeoutError,
  isMultipleActivePortalsError,
  isQueryRefusedError,
  isRetryExhaustedError,
  resolveRetryOptions,
} from '../../../src/index.js'
import { isOwnConnectionError, ownSqlState } from '../../../src/errors/error-classifiers.js'
import { describeError, describeValue } from '../../../src/util/describe-value.js'
import { assertKnownKeys } from '../../../src/util/known-keys.js'

const pgError = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code })
const wrapped = (cause: unknown): Error => new Error('the application wrapped it', { cause })

function examples(): Record<string, KyselyCockroachError> {
  const cause = pgError(SqlState.SerializationFailure, 'restart transaction')
  return {
    QueryRefusedError: new QueryRefusedError('explain()', 'analyze must be a boolean', 'use analyze: true'),
    AmbiguousCommitError: new AmbiguousCommitError(cause, { attempt: 2, statement: 'commit' }),
    RetryExhaustedError: new RetryExhaustedError(cause, { attempts: 3, elapsedMs: 12, limit: 'maxAttempts', limitValue: 3 }),
    MigrationLockTimeoutError: new MigrationLockTimeoutError({
      lockTable: '"public"."kysely_migration_lock"',
      acquireTimeoutMs: 500,
      clearStatement: 'update ...',
      seen: true,
      holder: 'host/pid 1/abc',
      expiresAt: new Date('2026-01-01T00:00:10Z'),
      serverNow: new Date('2026-01-01T00:00:00Z'),
    }),
    MigrationLeaseLostError: new MigrationLeaseLostError({
      lockTable: '"public"."kysely_migration_lock"',
      owner: 'host/pid 1/abc',
      leaseDurationMs: 30_000,
      failedRenewals: 2,
      cause: new Error('Connection terminated'),
    }),
  }
}

const checks: Record<string, (error: unknown) => boolean> = {
  QueryRefusedError: isQueryRefusedError,
  AmbiguousCommitError: isAmbiguousCommitError,
  RetryExhaustedError: isRetryExhaustedError,
  MigrationLockTimeoutError: isMigrationLockTimeoutError,
  MigrationLeaseLostError: isMigrationLeaseLostError,
}

describe('the error model', () => {
  it('one base class: every class is a KyselyCockroachError with its own name, recognised by its brand check alone', () => {
    for (const [name, error] of Object.entries(examples())) {
      assert.ok(error instanceof KyselyCockroachError, name)
      assert.equal(error.name, name)
      assert.equal(isKyselyCockroachError(error), true, name)
      for (const [other, check] of Object.entries(checks)) {
        assert.equal(check(error), other === name, `${other} check on ${name}`)
      }
    }
    for (const check of [...Object.values(checks), isKyselyCockroachError]) {
      assert.equal(check(new Error('x')), false)
      assert.equal(check(pgError(SqlState.StatementCompletionUnknown)), false)
      assert.equal(check(null), false)
    }
  })

  it('recognises an error of another copy of the package by its registered brand, not by instanceof', () => {
    // What the other build's class puts on its instances: the same Symbol.for keys.
    const foreign = Object.assign(new Error('withRetry: ...'), {
      [Symbol.for('kysely-cockroachdb.KyselyCockroachError')]: true,
      [Symbol.for('kysely-cockroachdb.AmbiguousCommitError')]: true,
    })
    assert.equal(foreign instanceof AmbiguousCommitError, false)
    assert.equal(isAmbiguousCommitError(foreign), true)
    assert.equal(isKyselyCockroachError(foreign), true)
    assert.equal(isRetryExhaustedError(foreign), false)
  })

  it('builds the messages from the fields: the API first, the fix last', () => {
    const {
      QueryRefusedError: refused,
      AmbiguousCommitError: ambiguous,
      RetryExhaustedError: exhausted,
      MigrationLockTimeoutError: timeout,
      MigrationLeaseLostError: lost,
    } = examples()
    assert.equal(refused.message, 'explain(): analyze must be a boolean. Use analyze: true.')
    assert.equal((refused as QueryRefusedError).api, 'explain()')
    assert.match(
      ambiguous.message,
      /^withRetry: the transaction may or may not have committed: "commit" failed while in flight \(attempt 2\): restart transaction\. .*`idempotent: true` if running the callback again is safe\.$/,
    )
    assert.match(
      exhausted.message,
      /^withRetry: gave up after 3 attempts \(maxAttempts is 3\); nothing was committed\. Last error: restart transaction\. .*raise maxAttempts\.$/,
    )
    assert.equal((exhausted as RetryExhaustedError).limitValue, 3)
    assert.match(
      timeout.message,
      /^CockroachAdapter\.acquireMigrationLock: timed out after 500 ms .*held by 'host\/pid 1\/abc' until 2026-01-01T00:00:10\.000Z .*\(10 s from now\).*run: update \.\.\.$/,
    )
    assert.match(
      lost.message,
      /^CockroachAdapter\.releaseMigrationLock: .*The last 2 renewal\(s\) failed: Connection terminated\. .*raise it\.$/,
    )
    assert.equal((lost as MigrationLeaseLostError).failedRenewals, 2)
  })

  it('refusals before sending are QueryRefusedErrors naming the API that refused', () => {
    assert.throws(
      () => asOfSystemTime('10s' as never),
      (e: unknown) => isQueryRefusedError(e) && e.api === 'asOfSystemTime()',
    )
    assert.throws(
      () => resolveRetryOptions({ maxAttempt: 3 } as never),
      (e: unknown) => isQueryRefusedError(e) && e.api === 'withRetry',
    )
  })
})

describe('classifiers', () => {
  it('every public one follows cause chains', () => {
    assert.equal(getSqlState(wrapped(wrapped(pgError(SqlState.UniqueViolation)))), SqlState.UniqueViolation)
    assert.equal(isConnectionError(wrapped(pgError('ECONNRESET', 'read ECONNRESET'))), true)
    assert.equal(
      isMultipleActivePortalsError(wrapped(pgError(SqlState.FeatureNotSupported, 'multiple active portals not supported'))),
      true,
    )
    assert.equal(isCommitOutcomeUnknown(wrapped(pgError(SqlState.SerializationFailure))), false)
    assert.equal(isCommitOutcomeUnknown(wrapped(pgError(SqlState.StatementCompletionUnknown))), true)
    assert.equal(isCommitOutcomeUnknown(wrapped(new Error('no SQLSTATE anywhere'))), true)
  })

  it("does not follow cause into the package's final errors, whose cause was judged already", () => {
    const ambiguous = new AmbiguousCommitError(pgError(SqlState.SerializationFailure), { attempt: 1, statement: 'commit' })
    assert.equal(getSqlState(ambiguous), undefined)
    assert.equal(isCommitOutcomeUnknown(ambiguous), true)
    assert.equal(
      isConnectionError(new AmbiguousCommitError(new Error('Connection terminated'), { attempt: 1, statement: 'commit' })),
      false,
    )
  })

  it('isAmbiguousCommitError is a brand check: a raw 40003 is for isCommitOutcomeUnknown', () => {
    assert.equal(isAmbiguousCommitError(pgError(SqlState.StatementCompletionUnknown, 'result is ambiguous')), false)
    assert.equal(isCommitOutcomeUnknown(pgError(SqlState.StatementCompletionUnknown, 'result is ambiguous')), true)
  })

  it('the internal own* helpers look at one error only', () => {
    assert.equal(ownSqlState(wrapped(pgError(SqlState.SerializationFailure))), undefined)
    assert.equal(ownSqlState(pgError(SqlState.SerializationFailure)), SqlState.SerializationFailure)
    assert.equal(isOwnConnectionError(wrapped(pgError('ECONNRESET'))), false)
    assert.equal(isOwnConnectionError(pgError(SqlState.AdminShutdown)), true)
  })
})

describe('util: the option check and the value formatter', () => {
  it('refuses the first unknown key with one wording', () => {
    assert.doesNotThrow(() => assertKnownKeys('f()', { a: 1 }, ['a', 'b']))
    assert.throws(() => assertKnownKeys('f()', { a: 1, c: 2 }, ['a', 'b']), {
      name: 'QueryRefusedError',
      message: 'f(): unknown option "c". Use only a, b.',
    })
    assert.throws(() => assertKnownKeys('f()', { weeks: 1 }, ['days'], 'property'), {
      message: 'f(): unknown property "weeks". Use only days.',
    })
  })

  it('shows values without their contents', () => {
    assert.equal(describeValue('10s'), '"10s"')
    assert.equal(describeValue(0), 'number 0')
    assert.equal(describeValue(5n), '5n')
    assert.equal(describeValue(null), 'null')
    assert.equal(describeValue({ password: 'secret' }), '[object Object]')
    assert.equal(describeError(new Error('boom')), 'boom')
    assert.equal(describeError('plain'), 'plain')
  })
})
