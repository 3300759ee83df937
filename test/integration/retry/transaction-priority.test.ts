// The transaction priority helpers: validation, the exact statement, and (on CockroachDB) that the
// priority takes effect and cannot be changed once the transaction has done work.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely'
import { setTransactionPriority } from '../../../src/index.js'
import {
  TRANSACTION_PRIORITIES,
  assertTransactionPriority,
  isTransactionPriority,
  transactionPriorityQuery,
} from '../../../src/retry/transaction-priority.js'
import { cockroachSkip, cockroachTarget, createKysely, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  account: { id: number }
}

/** A Kysely that sends nothing anywhere and records the SQL of every query. */
function recordingKysely(sent: string[]): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => {
      sent.push(event.query.sql)
    },
  })
}

describe('transaction priority helpers', () => {
  it('accept exactly low, normal and high', () => {
    assert.deepEqual(TRANSACTION_PRIORITIES, ['low', 'normal', 'high'])
    assert.ok(Object.isFrozen(TRANSACTION_PRIORITIES))
    for (const p of ['low', 'normal', 'high']) assert.equal(isTransactionPriority(p), true)
    for (const p of ['LOW', 'urgent', '', ' high', 'high; drop table x', 1, null, undefined]) {
      assert.equal(isTransactionPriority(p), false, String(p))
      assert.throws(() => assertTransactionPriority(p), /transaction priority must be one of 'low', 'normal', 'high'/)
    }
    assert.throws(() => assertTransactionPriority('max', 'PRIORITY env', 'the value'), /^QueryRefusedError: PRIORITY env: the value must be one of .* got "max"/)
  })

  it('render the statement CockroachDB documents', () => {
    assert.equal(transactionPriorityQuery('low').sql, 'set transaction priority low')
    assert.equal(transactionPriorityQuery('normal').sql, 'set transaction priority normal')
    assert.equal(transactionPriorityQuery('high').sql, 'set transaction priority high')
    assert.deepEqual(transactionPriorityQuery('high').parameters, [])
    assert.throws(() => transactionPriorityQuery('high; select 1' as never), { name: 'QueryRefusedError', message: /^setTransactionPriority: / })
  })

  it('setTransactionPriority sends the statement inside the transaction', async () => {
    const sent: string[] = []
    const db = recordingKysely(sent)
    await db.transaction().execute(async (trx) => {
      await setTransactionPriority(trx, 'high')
      await trx.selectFrom('account').select('id').execute()
    })
    assert.deepEqual(sent, ['set transaction priority high', 'select "id" from "account"'])
  })

  it('setTransactionPriority refuses bad input before sending anything', async () => {
    const sent: string[] = []
    const db = recordingKysely(sent)
    await assert.rejects(setTransactionPriority(db, 'high'), /`trx` is not a transaction.*default_transaction_priority/s)
    await db.transaction().execute(async (trx) => {
      await assert.rejects(setTransactionPriority(trx, 'HIGH' as never), /must be one of 'low', 'normal', 'high'/)
    })
    await assert.rejects(setTransactionPriority(null as never, 'low'), /first argument must be the transaction/)
    assert.deepEqual(sent, [])
  })
})

describe('transaction priority on CockroachDB', { skip: cockroachSkip }, () => {
  let database: TestDatabase
  let db: Kysely<DB>

  before(async () => {
    database = await createTestDatabase(cockroachTarget!, 'txn_priority')
    db = createKysely<DB>(database)
    await db.schema.createTable('account').addColumn('id', 'int8', (c) => c.primaryKey()).execute()
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
