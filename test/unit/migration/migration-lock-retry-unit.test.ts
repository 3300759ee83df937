// The migration lock's classification of server errors (src/migration/migration-lock-retry.ts), tested
// directly on CockroachDB's errors as node-postgres builds them, and its backoff (real errors from
// the throwaway PostgreSQL: test/integration/migration/migration-lock-retry.test.ts).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type pg from 'pg'
import {
  MIGRATION_LOCK_RETRY_RULES,
  classifyMigrationLockError,
  migrationLockRetryDelay,
} from '../../../src/migration/migration-lock-retry.js'
import type { MigrationLockRetryRule, MigrationLockStatement } from '../../../src/migration/migration-lock-retry.js'
import { cockroachErrors, wireError } from '../../fixtures/migrations/cockroach-errors.js'

const crdb = (code: string, message: string) => wireError({ S: 'ERROR', V: 'ERROR', C: code, M: message, F: 'x.go', L: '1', R: 'f' })

// [label, error, statement, retried]; together these reach every row of the table.
const cases: ReadonlyArray<[string, unknown, MigrationLockStatement, boolean]> = [
  ['42701 column in the middle of being added', cockroachErrors.columnBeingAdded('lease_owner'), 'lease-columns', true],
  [
    '42701 plain duplicate column',
    crdb('42701', 'column "lease_owner" of relation "kysely_migration_lock" already exists'),
    'lease-columns',
    false,
  ],
  ['55000 column being dropped', cockroachErrors.columnBeingDropped('lease_expires_at'), 'lease-columns', true],
  ['55000 of another kind', crdb('55000', 'currval of sequence "s" is not yet defined in this session'), 'lease-columns', false],
  ['42P07 relation already exists', crdb('42P07', 'relation "kysely_migration_lock" already exists'), 'lease-columns', true],
  [
    '23505 on a catalog index',
    crdb('23505', 'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'),
    'lease-columns',
    true,
  ],
  ['XX000 tuple concurrently updated', crdb('XX000', 'tuple concurrently updated'), 'lease-columns', true],
  ['XX000 of another kind', crdb('XX000', 'internal error: unexpected'), 'lease-columns', false],
  ['40001 on the lock row', cockroachErrors.retryOnLockRow(), 'lock-row', true],
  [
    '40001 on a schema change',
    crdb('40001', 'restart transaction: descriptor 104 is undergoing another schema change'),
    'lease-columns',
    true,
  ],
  ['40003 ambiguous result on the lock row', crdb('40003', 'result is ambiguous: error=rpc error'), 'lock-row', true],
  ['40003 on a schema change', crdb('40003', 'result is ambiguous: error=rpc error'), 'lease-columns', false],
  ['40P01 deadlock', crdb('40P01', 'deadlock detected'), 'lock-row', true],
  ['40P01 deadlock on DDL', crdb('40P01', 'deadlock detected'), 'lease-columns', true],
  ['42701 on the lock row', cockroachErrors.columnBeingAdded('lease_owner'), 'lock-row', false],
  ['55000 on the lock row', cockroachErrors.columnBeingDropped('lease_owner'), 'lock-row', false],
  [
    '23505 on the lock row',
    crdb('23505', 'duplicate key value violates unique constraint "kysely_migration_lock_pkey"'),
    'lock-row',
    false,
  ],
  [
    '42501 insufficient privilege',
    crdb('42501', 'user migrator does not have CREATE privilege on relation kysely_migration_lock'),
    'lease-columns',
    false,
  ],
  ['42703 undefined column', cockroachErrors.undefinedColumn('lease_owner'), 'lock-row', false],
  ['a connection error', new Error('Connection terminated unexpectedly'), 'lock-row', false],
  ['a socket error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'lease-columns', false],
  ['not an error', undefined, 'lock-row', false],
]

describe('classifyMigrationLockError', () => {
  for (const [label, error, statement, retried] of cases) {
    it(`${retried ? 'retries' : 'does not retry'} ${label} (${statement})`, () => {
      const decision = classifyMigrationLockError(error, statement)
      assert.equal(decision.retry, retried)
      if (decision.rule !== undefined) {
        assert.equal(decision.rule.sqlState, (error as pg.DatabaseError).code)
        assert.ok(decision.rule.statements.includes(statement))
      }
    })
  }

  it('every row of the table is reached by a case above, and has a reason and a source', () => {
    const reached = new Set<MigrationLockRetryRule>()
    for (const [, error, statement] of cases) {
      const { rule } = classifyMigrationLockError(error, statement)
      if (rule) reached.add(rule)
    }
    for (const rule of MIGRATION_LOCK_RETRY_RULES) {
      assert.ok(reached.has(rule), `no case reaches the ${rule.sqlState} row (${rule.reason})`)
      assert.match(rule.sqlState, /^[0-9A-Z]{5}$/)
      assert.ok(rule.reason.length > 20 && rule.source.length > 10, `${rule.sqlState} has a reason and a source`)
      assert.ok(Object.isFrozen(rule))
    }
    assert.ok(Object.isFrozen(MIGRATION_LOCK_RETRY_RULES))
  })
})

describe('migrationLockRetryDelay', () => {
  it('is exponential with equal jitter: between half the ceiling and the ceiling, which doubles from 50 ms to 1 s', () => {
    const ceilings = [50, 100, 200, 400, 800, 1000, 1000]
    ceilings.forEach((ceiling, attempt) => {
      assert.equal(
        migrationLockRetryDelay(attempt, () => 0),
        ceiling / 2,
        `attempt ${attempt}, lowest`,
      )
      assert.equal(
        migrationLockRetryDelay(attempt, () => 0.999_999),
        ceiling,
        `attempt ${attempt}, highest`,
      )
    })
    assert.equal(
      migrationLockRetryDelay(10_000, () => 0.5),
      750,
      'a large attempt stays capped',
    )
  })
})
