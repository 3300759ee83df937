// asOfSystemTime() on a query that runs inside a transaction is refused before anything reaches a
// real PostgreSQL, on each way to be in a transaction (without a server, and the pure decision:
// test/unit/sql/as-of-system-time-in-transaction-unit.test.ts).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Kysely } from 'kysely'
import pg from 'pg'
import { asOfSystemTime, CockroachDialect, withRetry } from '../../../src/index.js'
import { recordStatements } from '../../harness/concurrency.js'
import type { SentStatement } from '../../harness/concurrency.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  account: { id: number; balance: string }
  accountNote: { accountId: number }
}

const REFUSED = { message: /^asOfSystemTime\(\): .*inside a transaction.*readAt\(/s }

describe('asOfSystemTime() in a transaction, on PostgreSQL', () => {
  let database: TestDatabase
  let pool: pg.Pool
  let db: Kysely<DB>
  let sent: SentStatement[]
  const historical = (q: Kysely<DB>) => q.selectFrom('account').select('balance').where('id', '=', 1).$call(asOfSystemTime('-10s'))
  const reachedServer = () => sent.filter((s) => /as of system time/i.test(s.sql))

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'aost_in_trx')
    pool = new pg.Pool({ connectionString: database.url, max: 2 })
    pool.on('error', () => {})
    sent = recordStatements(pool)
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool }) })
    await db.schema
      .createTable('account')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('balance', 'text')
      .execute()
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  it('db.transaction(): refused before it is sent; the transaction rolls back', async () => {
    sent.length = 0
    await assert.rejects(
      db.transaction().execute((trx) => historical(trx).execute()),
      REFUSED,
    )
    assert.deepEqual(reachedServer(), [])
    assert.deepEqual(
      sent.map((s) => s.sql.toLowerCase()),
      ['begin', 'rollback'],
    )
  })

  it('startTransaction() and a savepoint: refused, and the transaction stays usable', async () => {
    sent.length = 0
    const trx = await db.startTransaction().execute()
    try {
      await assert.rejects(historical(trx).execute(), REFUSED)
      const sp = await trx.savepoint('sp').execute()
      await assert.rejects(historical(sp).execute(), REFUSED)
      // Nothing failed on the server, so the transaction is not aborted.
      assert.deepEqual(await sp.selectFrom('account').select('id').execute(), [])
      await sp.releaseSavepoint('sp').execute()
    } finally {
      await trx.rollback().execute()
    }
    assert.deepEqual(reachedServer(), [])
  })

  it('stream() inside a transaction: refused before the cursor is declared', async () => {
    sent.length = 0
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        for await (const row of historical(trx).stream()) void row
      }),
      REFUSED,
    )
    assert.deepEqual(reachedServer(), [])
  })

  it('withRetry(): refused on the first attempt, not retried', async () => {
    sent.length = 0
    let attempts = 0
    await assert.rejects(
      withRetry(db, async (trx) => {
        attempts++
        return historical(trx).execute()
      }),
      REFUSED,
    )
    assert.equal(attempts, 1)
    assert.deepEqual(reachedServer(), [])
  })

  it('outside a transaction the query is sent (and PostgreSQL, which lacks the clause, refuses it)', async () => {
    sent.length = 0
    await assert.rejects(historical(db).execute(), /syntax error/)
    assert.equal(reachedServer().length, 1)
  })
})
