// The transaction priority on CockroachDB: it takes effect and cannot be changed once the
// transaction has done work (the helpers without a server: test/unit/retry/transaction-priority-unit.test.ts).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import { setTransactionPriority } from '../../../src/index.js'
import { TRANSACTION_PRIORITIES } from '../../../src/retry/transaction-priority.js'
import { cockroachSkip, cockroachTarget, createKysely, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  account: { id: number }
}

describe('transaction priority on CockroachDB', { skip: cockroachSkip }, () => {
  let database: TestDatabase
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(cockroachTarget!, 'txn_priority')
    db = createKysely<DB>(database)
    await db.schema
      .createTable('account')
      .addColumn('id', 'int8', (c) => c.primaryKey())
      .execute()
    await db.insertInto('account').values({ id: 1 }).execute()
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  it('takes effect for the transaction (SHOW transaction_priority)', async () => {
    for (const priority of TRANSACTION_PRIORITIES) {
      const shown = await db.transaction().execute(async (trx) => {
        await setTransactionPriority(trx, priority)
        const { rows } = await sql<{ transaction_priority: string }>`show transaction_priority`.execute(trx)
        return rows[0]!.transaction_priority.toLowerCase()
      })
      assert.equal(shown, priority)
    }
  })

  it('cannot be changed once the transaction has read data', async () => {
    // cockroachdb/cockroach pkg/kv/kvclient/kvcoord/txn_coord_sender.go, SetUserPriority.
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.selectFrom('account').select('id').execute()
        await setTransactionPriority(trx, 'high')
      }),
      /cannot change the user priority of a running transaction/,
    )
  })
})
