// The driver against a real CockroachDB (GitHub Actions; skipped without COCKROACH_URL): a plain
// db.transaction() whose COMMIT fails with a retry error surfaces that 40001 and keeps its session.
//
// inject_retry_errors_on_commit_enabled is a CockroachDB session variable (pkg/sql/vars.go, "Allows
// for testing of transaction retry logic") that makes COMMIT fail with a 40001
// (pkg/sql/conn_executor_test.go, TestInjectRetryOnCommitErrors). CockroachDB ends a transaction
// whose COMMIT failed, and answers the ROLLBACK Kysely sends next outside a transaction with 25P01
// "there is no transaction in progress" (pkg/sql/conn_executor_exec.go, execStmtInNoTxnState),
// which Kysely would throw in place of the 40001, destroying the connection.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import type { LogEvent } from 'kysely'
import { CockroachDialect, getSqlState } from '../../../src/index.js'
import { cockroachSkip, cockroachTarget, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

describe('db.transaction() with a COMMIT that fails with 40001 (CockroachDB)', { skip: cockroachSkip }, () => {
  let database: TestDatabase
  // One connection, so the session variable applies to the transaction and "kept" is observable.
  let pool: pg.Pool
  let db: Kysely<unknown>
  const logged: LogEvent[] = []

  before(async () => {
    database = await createTestDatabase(cockroachTarget!, 'commit_retry')
    pool = new pg.Pool({ connectionString: database.url, max: 1 })
    db = new Kysely<unknown>({ dialect: new CockroachDialect({ pool }), log: (event) => void logged.push(event) })
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  async function sessionId(): Promise<string> {
    const { rows } = await sql<{ session_id: string }>`show session_id`.execute(db)
    return rows[0]!.session_id
  }

  it('throws the 40001, logs COMMIT and ROLLBACK, and keeps the connection', async () => {
    const before = await sessionId()
    await sql`set inject_retry_errors_on_commit_enabled = true`.execute(db)
    try {
      logged.length = 0
      const error = await db
        .transaction()
        .execute((trx) => sql`select 1`.execute(trx))
        .then(
          () => assert.fail('COMMIT should fail with the injected retry error'),
          (e: unknown) => e,
        )
      assert.equal(getSqlState(error), '40001', String(error))
      assert.match(String(error), /inject_retry_errors_on_commit_enabled/)
      const errors = logged.filter((e) => e.level === 'error').map((e) => [e.query.sql, getSqlState(e.error)])
      assert.deepEqual(errors[0], ['commit', '40001'])
      // Servers that accept that ROLLBACK log nothing more; the others log its 25P01.
      assert.ok(errors.length === 1 || (errors.length === 2 && errors[1]![1] === '25P01'), JSON.stringify(errors))
      assert.deepEqual(
        logged.map((e) => e.query.sql),
        ['begin', 'select 1', 'commit', 'rollback'],
      )
    } finally {
      await sql`reset inject_retry_errors_on_commit_enabled`.execute(db)
    }
    assert.equal(await sessionId(), before, 'the same session, not a new connection')
    assert.equal(pool.totalCount, 1)
  })
})
