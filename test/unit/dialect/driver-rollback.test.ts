// What CockroachDriver does when the ROLLBACK that Kysely sends after a failure fails itself,
// statement by statement, against a scripted pg pool (the real CockroachDialect, CockroachDriver and
// Kysely transaction code on top of a fake client). Deterministic: no server.
//
// CockroachDB ends a transaction whose COMMIT failed, even with a retry error, and answers the
// ROLLBACK that follows outside a transaction with 25P01 "there is no transaction in progress"
// (pkg/sql/conn_executor_exec.go, execStmtInNoTxnState; PostgreSQL only warns).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import type { LogEvent, Transaction } from 'kysely'
import { CockroachDialect, getSqlState } from '../../../src/index.js'
import { rollbackFailure } from '../../../src/dialect/cockroach-driver.js'
import { ScriptedPool, pgError } from '../../harness/scripted-pool.js'

interface DB {
  account: { id: number }
}

function open(pool: ScriptedPool, log?: (event: LogEvent) => void): Kysely<DB> {
  return new Kysely<DB>({ dialect: new CockroachDialect({ pool: pool.asPool() }), log })
}

/** What `db.transaction().execute(fn)` rejects with; the test fails if it resolves. */
async function transactionFailure(db: Kysely<DB>, fn: (trx: Transaction<DB>) => Promise<unknown>): Promise<unknown> {
  return await db
    .transaction()
    .execute(fn)
    .then(
      () => assert.fail('the transaction should fail'),
      (e: unknown) => e,
    )
}

const retryError = () =>
  pgError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError: injected by inject_retry_errors_on_commit_enabled')

describe('a failed ROLLBACK after a failed COMMIT (scripted)', () => {
  it('db.transaction(): a 40001 at COMMIT surfaces as 40001, not the 25P01 of the ROLLBACK, and the connection is kept', async () => {
    const pool = new ScriptedPool((s) => (s === 'commit' ? retryError() : undefined))
    const logged: LogEvent[] = []
    const db = open(pool, (event) => void logged.push(event))
    const error = await transactionFailure(db, (trx) => trx.selectFrom('account').selectAll().execute())
    assert.equal(getSqlState(error), '40001', String(error))
    assert.deepEqual(pool.statements, ['begin', 'select * from "account"', 'commit', 'rollback'])
    assert.deepEqual(pool.releases, [false], 'the healthy connection goes back to the pool')
    // Both failures are logged, as Kysely logs every failed statement.
    assert.deepEqual(
      logged.filter((e) => e.level === 'error').map((e) => [e.query.sql, getSqlState(e.error)]),
      [
        ['commit', '40001'],
        ['rollback', '25P01'],
      ],
    )
    // The connection is usable: the next statement runs on it.
    await sql`select 1`.execute(db)
    assert.deepEqual(pool.releases, [false, false])
    await db.destroy()
  })

  it('startTransaction(): rollback() after a failed commit() resolves and keeps the connection', async () => {
    const pool = new ScriptedPool((s) => (s === 'commit' ? retryError() : undefined))
    const db = open(pool)
    const trx = await db.startTransaction().execute()
    await assert.rejects(trx.commit().execute(), (e: unknown) => getSqlState(e) === '40001')
    await trx.rollback().execute()
    assert.deepEqual(pool.releases, [false])
    await db.destroy()
  })

  it('any other ROLLBACK failure is thrown and the connection destroyed, as Kysely does', async () => {
    const pool = new ScriptedPool((s) =>
      s === 'select 1' ? pgError('23505', 'duplicate key') : s === 'rollback' ? pgError('XX000', 'internal error') : undefined,
    )
    const db = open(pool)
    const error = await transactionFailure(db, (trx) => sql`select 1`.execute(trx))
    // Kysely's TransactionBuilder throws the ROLLBACK error (kysely 0.28/0.29 transaction.execute).
    assert.equal(getSqlState(error), 'XX000')
    assert.deepEqual(pool.releases, [true], 'a connection whose ROLLBACK failed is destroyed')
    await db.destroy()
  })

  it('a ROLLBACK that fails because the connection is gone: the original error, and the connection destroyed', async () => {
    const pool = new ScriptedPool((s) =>
      s === 'select 1'
        ? pgError('40001', 'restart transaction')
        : s === 'rollback'
          ? new Error('Connection terminated unexpectedly')
          : undefined,
    )
    const db = open(pool)
    const error = await transactionFailure(db, (trx) => sql`select 1`.execute(trx))
    assert.equal(getSqlState(error), '40001')
    assert.deepEqual(pool.releases, [true])
    await db.destroy()
  })
})

describe('rollbackFailure', () => {
  it('keeps the connection only for 25P01, and rethrows only what is neither 25P01 nor a lost connection', () => {
    assert.deepEqual(rollbackFailure(pgError('25P01', 'there is no transaction in progress')), { keepConnection: true, rethrow: false })
    assert.deepEqual(rollbackFailure(new Error('Connection terminated unexpectedly')), { keepConnection: false, rethrow: false })
    assert.deepEqual(rollbackFailure(pgError('57P01', 'terminating connection due to administrator command')), {
      keepConnection: false,
      rethrow: false,
    })
    assert.deepEqual(rollbackFailure(pgError('XX000', 'internal error')), { keepConnection: false, rethrow: true })
    assert.deepEqual(rollbackFailure(new TypeError('x')), { keepConnection: false, rethrow: true })
  })
})
