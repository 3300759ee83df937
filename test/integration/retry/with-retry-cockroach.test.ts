// withRetry against a real CockroachDB (GitHub Actions; skipped without COCKROACH_URL): retry
// errors injected by the server's testing session variables, contention between sessions that
// produces real 40001s, the savepoint protocol end to end, and transaction priority.
//
// inject_retry_errors_enabled makes every statement of an explicit transaction except SET fail
// with a 40001 until the transaction has been restarted 3 times through the cockroach_restart
// savepoint; a transaction restarted from scratch starts counting again, so with the restart
// strategy the callback has to switch the injection off itself (cockroachdb/cockroach
// pkg/sql/conn_executor_exec.go, numTxnRetryErrors = 3, and pkg/sql/conn_executor_test.go
// TestInjectRetryErrors; docs /docs/stable/transaction-retry-error-example).
// inject_retry_errors_on_commit_enabled does the same to COMMIT (conn_executor_test.go
// TestInjectRetryOnCommitErrors).
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, getSqlState, withRetry } from '../../../src/index.js'
import type { RetryEvent } from '../../../src/index.js'
import { cockroachSkip, cockroachTarget, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { barrier, recordStatements } from '../../harness/concurrency.js'
import type { SentStatement } from '../../harness/concurrency.js'

interface DB {
  account: { id: number; balance: string }
}

describe('withRetry on CockroachDB', { skip: cockroachSkip }, () => {
  let database: TestDatabase
  // One connection, so session variables set on it apply to the transactions withRetry runs.
  let singlePool: pg.Pool
  let single: Kysely<DB>
  let sent: SentStatement[]
  let pool: pg.Pool
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(cockroachTarget!, 'with_retry')
    singlePool = new pg.Pool({ connectionString: database.url, max: 1 })
    sent = recordStatements(singlePool)
    single = new Kysely<DB>({ dialect: new CockroachDialect({ pool: singlePool }) })
    pool = new pg.Pool({ connectionString: database.url, max: 10 })
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool }) })
    await db.schema
      .createTable('account')
      .addColumn('id', 'int8', (c) => c.primaryKey())
      .addColumn('balance', 'int8', (c) => c.notNull())
      .execute()
  })

  afterEach(async () => {
    await sql`reset inject_retry_errors_enabled`.execute(single)
    sent.length = 0
    for (const p of [singlePool, pool]) {
      assert.equal(p.totalCount, p.idleCount, 'a connection was not released')
    }
  })

  after(async () => {
    await single?.destroy()
    await db?.destroy()
    await database?.drop()
  })

  it('savepoint strategy: survives inject_retry_errors_enabled inside one transaction', async () => {
    await sql`set inject_retry_errors_enabled = true`.execute(single)
    const retries: RetryEvent[] = []
    const result = await withRetry(
      single,
      async (trx, { attempt }) => {
        const { rows } = await sql<{ n: string }>`select ${attempt}::int8 as n`.execute(trx)
        return Number(rows[0]!.n)
      },
      { strategy: 'savepoint', baseDelayMs: 1, onRetry: (e) => void retries.push(e) },
    )
    assert.equal(result, 4)
    assert.equal(retries.length, 3)
    for (const { error } of retries) {
      assert.equal(getSqlState(error), '40001')
      assert.match((error as Error).message, /restart transaction.*inject_retry_errors_enabled/)
    }
    const control = sent.map((s) => s.sql).filter((s) => /^(begin|commit|rollback|savepoint|release)/.test(s))
    assert.deepEqual(control, [
      'begin',
      'savepoint cockroach_restart',
      'rollback to savepoint cockroach_restart',
      'rollback to savepoint cockroach_restart',
      'rollback to savepoint cockroach_restart',
      'release savepoint cockroach_restart',
      'commit',
    ])
  })

  it('restart strategy: retries injected errors in new transactions until the callback turns them off', async () => {
    await sql`set inject_retry_errors_enabled = true`.execute(single)
    const retries: RetryEvent[] = []
    const result = await withRetry(
      single,
      async (trx, { attempt }) => {
        if (attempt === 3) {
          // SET is exempt from the injection.
          await sql`set local inject_retry_errors_enabled = false`.execute(trx)
        }
        const { rows } = await sql<{ n: string }>`select ${attempt}::int8 as n`.execute(trx)
        return Number(rows[0]!.n)
      },
      { baseDelayMs: 1, onRetry: (e) => void retries.push(e) },
    )
    assert.equal(result, 3)
    assert.equal(retries.length, 2)
    assert.equal(sent.filter((s) => s.sql === 'begin').length, 3)
  })

  it('restart strategy: retries 40001 raised by COMMIT (inject_retry_errors_on_commit_enabled)', async (t) => {
    try {
      await sql`set inject_retry_errors_on_commit_enabled = true`.execute(single)
    } catch (error) {
      if (getSqlState(error) === '42704') {
        t.skip('this CockroachDB version has no inject_retry_errors_on_commit_enabled')
        return
      }
      throw error
    }
    try {
      const retries: RetryEvent[] = []
      const result = await withRetry(
        single,
        async (trx, { attempt }) => {
          if (attempt === 3) {
            await sql`set inject_retry_errors_on_commit_enabled = false`.execute(trx)
          }
          return attempt
        },
        { baseDelayMs: 1, onRetry: (e) => void retries.push(e) },
      )
      // 3, not 2: every attempt ran on the same session, where the injection was switched on. A
      // ROLLBACK sent after the failed COMMIT would have failed ("there is no transaction in
      // progress") and cost the connection; withRetry sends BEGIN first.
      assert.equal(result, 3)
      assert.equal(retries.length, 2)
      assert.deepEqual(
        sent.filter((s) => s.error !== undefined).map((s) => [s.sql, getSqlState(s.error)]),
        [
          ['commit', '40001'],
          ['commit', '40001'],
        ],
      )
      assert.equal(singlePool.totalCount, 1)
    } finally {
      await sql`reset inject_retry_errors_on_commit_enabled`.execute(single)
    }
  })

  for (const strategy of ['restart', 'savepoint'] as const) {
    it(`${strategy} strategy: two sessions racing on one row both commit, one after a real 40001`, async () => {
      await db.deleteFrom('account').execute()
      await db.insertInto('account').values({ id: 1, balance: '100' }).execute()
      const retries: RetryEvent[] = []
      const bothRead = barrier(2)
      await Promise.all(
        [10, 20].map((amount) =>
          withRetry(
            db,
            async (trx, { attempt }) => {
              const { balance } = await trx.selectFrom('account').select('balance').where('id', '=', 1).executeTakeFirstOrThrow()
              // Both sessions read before either writes: one of them must be ordered after the
              // other and cannot keep its read, so CockroachDB makes it retry.
              if (attempt === 1) await bothRead()
              await trx
                .updateTable('account')
                .set({ balance: String(Number(balance) + amount) })
                .where('id', '=', 1)
                .execute()
            },
            { strategy, baseDelayMs: 1, maxAttempts: 50, onRetry: (e) => void retries.push(e) },
          ),
        ),
      )
      const { balance } = await db.selectFrom('account').select('balance').where('id', '=', 1).executeTakeFirstOrThrow()
      assert.equal(balance, '130')
      assert.ok(retries.length >= 1)
      for (const { error } of retries) assert.equal(getSqlState(error), '40001')
    })

    it(`${strategy} strategy: 8 workers transferring between 3 hot rows keep the total`, async (t) => {
      await db.deleteFrom('account').execute()
      await db
        .insertInto('account')
        .values([0, 1, 2].map((id) => ({ id, balance: '1000' })))
        .execute()
      let retries = 0
      await Promise.all(
        Array.from({ length: 8 }, async (_, worker) => {
          for (let i = 0; i < 10; i++) {
            const from = (worker + i) % 3
            const to = (from + 1) % 3
            await withRetry(
              db,
              async (trx) => {
                const rows = await trx.selectFrom('account').select(['id', 'balance']).where('id', 'in', [from, to]).execute()
                const balance = new Map(rows.map((r) => [Number(r.id), Number(r.balance)]))
                await trx
                  .updateTable('account')
                  .set({ balance: String(balance.get(from)! - 7) })
                  .where('id', '=', from)
                  .execute()
                await trx
                  .updateTable('account')
                  .set({ balance: String(balance.get(to)! + 7) })
                  .where('id', '=', to)
                  .execute()
              },
              { strategy, maxAttempts: 100, onRetry: () => void retries++ },
            )
          }
        }),
      )
      const rows = await db.selectFrom('account').select('balance').execute()
      assert.equal(
        rows.reduce((sum, r) => sum + Number(r.balance), 0),
        3000,
      )
      t.diagnostic(`${strategy}: ${retries} retries for 80 transfers`)
    })
  }

  it('sets the priority as the first statement of each attempt', async () => {
    const seen: string[] = []
    await withRetry(
      db,
      async (trx) => {
        const { rows } = await sql<{ transaction_priority: string }>`show transaction_priority`.execute(trx)
        seen.push(rows[0]!.transaction_priority.toLowerCase())
      },
      { priority: 'high' },
    )
    await withRetry(
      db,
      async (trx) => {
        const { rows } = await sql<{ transaction_priority: string }>`show transaction_priority`.execute(trx)
        seen.push(rows[0]!.transaction_priority.toLowerCase())
      },
      { priority: 'low', strategy: 'savepoint' },
    )
    assert.deepEqual(seen, ['high', 'low'])
  })
})
