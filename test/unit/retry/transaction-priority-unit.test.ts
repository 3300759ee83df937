// The transaction priority helpers without a server: validation, the exact statement, and what
// setTransactionPriority sends (test/integration/retry/transaction-priority.test.ts runs them on CockroachDB).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTransactionPriority } from '../../../src/index.js'
import {
  TRANSACTION_PRIORITIES,
  assertTransactionPriority,
  isTransactionPriority,
  transactionPriorityQuery,
} from '../../../src/retry/transaction-priority.js'
import { recordingKysely } from '../../harness/recording-kysely.js'

interface DB {
  account: { id: number }
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
    assert.throws(
      () => assertTransactionPriority('max', 'PRIORITY env', 'the value'),
      /^QueryRefusedError: PRIORITY env: the value must be one of .* got "max"/,
    )
  })

  it('render the statement CockroachDB documents', () => {
    assert.equal(transactionPriorityQuery('low').sql, 'set transaction priority low')
    assert.equal(transactionPriorityQuery('normal').sql, 'set transaction priority normal')
    assert.equal(transactionPriorityQuery('high').sql, 'set transaction priority high')
    assert.deepEqual(transactionPriorityQuery('high').parameters, [])
    assert.throws(() => transactionPriorityQuery('high; select 1' as never), {
      name: 'QueryRefusedError',
      message: /^setTransactionPriority: /,
    })
  })

  it('setTransactionPriority sends the statement inside the transaction', async () => {
    const sent: string[] = []
    const db = recordingKysely<DB>(sent)
    await db.transaction().execute(async (trx) => {
      await setTransactionPriority(trx, 'high')
      await trx.selectFrom('account').select('id').execute()
    })
    assert.deepEqual(sent, ['begin', 'set transaction priority high', 'select "id" from "account"', 'commit'])
  })

  it('setTransactionPriority refuses bad input before sending anything', async () => {
    const sent: string[] = []
    const db = recordingKysely<DB>(sent)
    await assert.rejects(setTransactionPriority(db, 'high'), /`trx` is not a transaction.*default_transaction_priority/s)
    await db.transaction().execute(async (trx) => {
      await assert.rejects(setTransactionPriority(trx, 'HIGH' as never), /must be one of 'low', 'normal', 'high'/)
    })
    await assert.rejects(setTransactionPriority(null as never, 'low'), /first argument must be the transaction/)
    assert.deepEqual(sent, ['begin', 'commit'], 'nothing but the transaction itself')
  })
})
