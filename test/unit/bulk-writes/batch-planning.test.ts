import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_PARAMETERS, halves, pipelineBatches, planBatches, valuesChunkRows } from '../../../src/bulk-writes/batch-planning.js'
import { isBatchTooLarge } from '../../../src/bulk-writes/split-decision.js'
import { checkCopyRows, checkSameKeys, groupByKeySet } from '../../../src/bulk-writes/key-sets.js'
import { sql } from 'kysely'
import { isQueryRefusedError } from '../../../src/index.js'

async function collect<R extends Record<string, unknown>>(rows: Iterable<R> | AsyncIterable<R>, limits: { rows: number; bytes: number }) {
  const out: { rows: R[]; first: number }[] = []
  for await (const batch of planBatches(rows, limits)) out.push(batch)
  return out
}

describe('batch planning', () => {
  it('caps multi-row VALUES at 65,535 parameters: 70 columns give 936 rows per statement', () => {
    assert.equal(MAX_PARAMETERS, 65_535)
    assert.equal(valuesChunkRows(70), 936)
    assert.ok(valuesChunkRows(70) * 70 <= MAX_PARAMETERS && (valuesChunkRows(70) + 1) * 70 > MAX_PARAMETERS)
    assert.equal(valuesChunkRows(6, 1000), 1000)
    assert.equal(valuesChunkRows(70_000), 1)
  })

  it('cuts rows by count, and by estimated bytes, a single large row on its own', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ id: i }))
    const byRows = await collect(rows, { rows: 10, bytes: Number.POSITIVE_INFINITY })
    assert.deepEqual(
      byRows.map((b) => [b.first, b.rows.length]),
      [
        [0, 10],
        [10, 10],
        [20, 5],
      ],
    )
    const wide = [{ s: 'x'.repeat(100) }, { s: 'y'.repeat(100) }, { s: 'z'.repeat(500) }, { s: 'w' }]
    const byBytes = await collect(wide, { rows: 1000, bytes: 250 })
    assert.deepEqual(
      byBytes.map((b) => [b.first, b.rows.length]),
      [
        [0, 2],
        [2, 1],
        [3, 1],
      ],
    )
  })

  it('reads async iterables lazily, once', async () => {
    let pulled = 0
    async function* source() {
      for (let i = 0; i < 5; i++) {
        pulled++
        yield { id: i }
      }
    }
    const iterator = planBatches(source(), { rows: 2, bytes: Number.POSITIVE_INFINITY })
    const first = await iterator.next()
    assert.deepEqual(first.value?.rows, [{ id: 0 }, { id: 1 }])
    assert.equal(pulled, 3, 'one row beyond the batch, to know the batch is full')
    await iterator.return(undefined)
  })

  it('halves with the odd row in the first half', () => {
    assert.deepEqual(halves([1, 2, 3]), [[1, 2], [3]])
    assert.deepEqual(halves([1, 2]), [[1], [2]])
  })
})

const pgError = (code: string | undefined, message: string) => Object.assign(new Error(message), code === undefined ? {} : { code })

describe('the split-in-half decision', () => {
  it('splits what CockroachDB reports as too large, and splits commit-deadline 40001s at once', () => {
    assert.equal(
      isBatchTooLarge(
        pgError(
          '53400',
          'the transaction is locking too many rows and exceeded its lock-tracking memory budget; lock spans: 5 bytes > budget: 4 bytes',
        ),
      ),
      'split',
    )
    assert.equal(isBatchTooLarge(pgError('54000', 'txn has written 101 rows, which is above the limit: TxnID 1 SessionID 2')), 'split')
    assert.equal(isBatchTooLarge(pgError('54000', 'txn has read 101 rows, which is above the limit')), 'split')
    assert.equal(isBatchTooLarge(pgError('XXUUU', 'command is too large: 70000000 bytes (max: 67108864)')), 'split')
    assert.equal(isBatchTooLarge(pgError('08P01', 'message size 64 KiB bigger than maximum allowed message size 60 KiB')), 'split')
    assert.equal(isBatchTooLarge(pgError(undefined, 'transaction is too large to complete; try splitting into pieces')), 'split')
    assert.equal(
      isBatchTooLarge(
        pgError(
          '40001',
          'restart transaction: TransactionRetryWithProtoRefreshError: TransactionRetryError: retry txn (RETRY_COMMIT_DEADLINE_EXCEEDED - txn timestamp pushed too much)',
        ),
      ),
      'split-now',
    )
    assert.equal(isBatchTooLarge(pgError('40001', 'restart transaction: TransactionPushError: transaction deadline exceeded')), 'split-now')
    assert.equal(isBatchTooLarge(new Error('wrapped', { cause: pgError('53400', 'budget') })), 'split')
  })

  it('does not split ordinary errors, retry errors, or a row that is too large on its own', () => {
    assert.equal(isBatchTooLarge(pgError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError: RETRY_SERIALIZABLE')), false)
    assert.equal(
      isBatchTooLarge(pgError('54000', 'row larger than max row size: table 104 family 0 primary key /Table/104/1/1/0 size 70000')),
      false,
    )
    assert.equal(isBatchTooLarge(pgError('23505', 'duplicate key value violates unique constraint')), false)
    assert.equal(isBatchTooLarge(new Error('Connection terminated unexpectedly')), false)
  })
})

describe('key sets', () => {
  it('groups rows by their defined keys, order-insensitive, and marks expression cells', () => {
    const groups = groupByKeySet([
      { a: 1, b: 2 },
      { b: 3, a: 4 },
      { a: 5, b: undefined },
      { a: 6, c: sql`now()` },
    ])
    assert.deepEqual(
      groups.map((g) => [g.columns, g.rows.length, g.hasExpression]),
      [
        [['a', 'b'], 2, false],
        [['a'], 1, false],
        [['a', 'c'], 1, true],
      ],
    )
  })

  it('refuses upsert rows with different keys, naming both rows', () => {
    assert.throws(
      () => checkSameKeys('upsertMany', [{ id: 1, name: 'a' }], 17, ['id', 'name', 'price']),
      (error: unknown) =>
        isQueryRefusedError(error) &&
        error.message ===
          'upsertMany: row 17 has the keys (id, name) but row 0 has (id, name, price). UPSERT overwrites the columns it lists and keeps the ' +
            'others, so rows with different keys are ambiguous. Give every row the same keys (null clears a value), or call upsertMany once per key set.',
    )
  })

  it('refuses COPY rows without a value for a column, or with an extra key', () => {
    assert.throws(
      () => checkCopyRows('copyInto', [{ id: 1, price: 2 }, { id: 2 }], 4, ['id', 'price']),
      /^QueryRefusedError: copyInto: row 5 has no value for "price". COPY cannot apply a column default to single rows. Give every row every column/,
    )
    assert.throws(() => checkCopyRows('copyInto', [{ id: 1, extra: 2 }], 0, ['id']), /row 0 has the key "extra"/)
  })
})

describe('pipelineBatches', () => {
  it('prepares batch k+1 once batch k is sent, and starts k+1 only after k settled', async () => {
    for (const callsSent of [true, false]) {
      const events: string[] = []
      let prepared = 0
      await pipelineBatches(
        async () => {
          if (prepared === 3) return undefined
          events.push(`prepare ${++prepared}`)
          return prepared
        },
        (batch, sent) => {
          events.push(`start ${batch}`)
          if (callsSent) sent()
          // Settles two turns of the event loop later: the server's answer.
          return new Promise<void>((resolve) => setImmediate(() => setImmediate(() => (events.push(`end ${batch}`), resolve()))))
        },
      )
      assert.deepEqual(
        events,
        callsSent
          ? ['prepare 1', 'start 1', 'prepare 2', 'end 1', 'start 2', 'prepare 3', 'end 2', 'start 3', 'end 3']
          : ['prepare 1', 'start 1', 'end 1', 'prepare 2', 'start 2', 'end 2', 'prepare 3', 'start 3', 'end 3'],
      )
    }
  })

  it('throws a refusal of batch k+1 only after batch k has settled, and does not start it', async () => {
    const events: string[] = []
    let calls = 0
    await assert.rejects(
      pipelineBatches(
        async () => {
          calls++
          if (calls === 2) throw new Error('refused')
          return calls === 1 ? 1 : undefined
        },
        async (batch) => {
          await new Promise((resolve) => setTimeout(resolve, 5))
          events.push(`end ${batch}`)
        },
      ),
      /refused/,
    )
    assert.deepEqual(events, ['end 1'])
  })
})
