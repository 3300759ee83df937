// The migration path's retry of "schema change in progress" refusals
// (src/migration/schema-change-retry.ts), with a fake clock and fake connections: no server.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CompiledQuery } from 'kysely'
import type { DatabaseConnection, QueryResult } from 'kysely'
import { isSchemaChangeInProgressError, isSchemaChangeStillRunningError } from '../../../src/index.js'
import { CockroachConnection } from '../../../src/dialect/cockroach-connection.js'
import {
  markMigrationConnection,
  retrySchemaChange,
  schemaChangeRetryDelay,
  unmarkMigrationConnection,
} from '../../../src/migration/schema-change-retry.js'
import type { RetryClock } from '../../../src/migration/schema-change-retry.js'

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' })
}

// The client texts of cockroach's tests (pkg/sql: "pq: unimplemented: table test is currently
// undergoing a schema change") and of scerrors.concurrentSchemaChangeError.
const LEGACY = () => pgError('0A000', 'unimplemented: table event is currently undergoing a schema change')
const DECLARATIVE = () => pgError('40001', 'descriptor 104 is undergoing another schema change')

function fakeClock(): RetryClock & { slept: number[] } {
  let now = 0
  const slept: number[] = []
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms)
      now += ms
    },
  }
}

const OPTIONS = Object.freeze({ initialDelayMs: 100, maxDelayMs: 400, timeoutMs: 2_000 })

describe('isSchemaChangeInProgressError', () => {
  it('matches the legacy and declarative schema changers, nothing else', () => {
    assert.equal(isSchemaChangeInProgressError(LEGACY()), true)
    assert.equal(isSchemaChangeInProgressError(DECLARATIVE()), true)
    assert.equal(isSchemaChangeInProgressError(pgError('0A000', 'unimplemented: multiple active portals not supported')), false)
    assert.equal(isSchemaChangeInProgressError(pgError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError')), false)
    assert.equal(isSchemaChangeInProgressError(pgError('XX000', 'table event is currently undergoing a schema change')), false)
    assert.equal(isSchemaChangeInProgressError(undefined), false)
  })
})

describe('retrySchemaChange', () => {
  it('sends again after each refusal with growing, capped delays, then returns the result', async () => {
    const clock = fakeClock()
    let calls = 0
    const result = await retrySchemaChange(
      async () => {
        calls++
        if (calls <= 4) throw calls % 2 === 0 ? DECLARATIVE() : LEGACY()
        return 'done'
      },
      OPTIONS,
      clock,
    )
    assert.equal(result, 'done')
    assert.equal(calls, 5)
    assert.equal(clock.slept.length, 4)
    clock.slept.forEach((ms, attempt) => {
      const ceiling = Math.min(400, 100 * 2 ** attempt)
      assert.ok(ms >= ceiling / 2 && ms <= ceiling, `attempt ${attempt}: ${ms} ms`)
    })
  })

  it('gives up after timeoutMs with the original error as cause', async () => {
    const clock = fakeClock()
    const original = LEGACY()
    await assert.rejects(
      retrySchemaChange(
        async () => {
          throw original
        },
        OPTIONS,
        clock,
      ),
      (error: unknown) => {
        assert.ok(isSchemaChangeStillRunningError(error))
        assert.equal((error as Error).cause, original)
        assert.match(
          (error as Error).message,
          /still undergoing a schema change after \d+ tries .* \(SHOW JOBS\) and run the migration again\.$/,
        )
        return true
      },
    )
    assert.ok(clock.now() >= OPTIONS.timeoutMs)
  })

  it('throws other errors at once', async () => {
    const clock = fakeClock()
    const other = pgError('42P01', 'relation "x" does not exist')
    await assert.rejects(
      retrySchemaChange(async () => Promise.reject(other), OPTIONS, clock),
      (e) => e === other,
    )
    assert.deepEqual(clock.slept, [])
  })

  it('delays: full jitter between half and all of the capped exponential', () => {
    assert.equal(
      schemaChangeRetryDelay(0, OPTIONS, () => 0),
      50,
    )
    assert.equal(
      schemaChangeRetryDelay(0, OPTIONS, () => 1),
      100,
    )
    assert.equal(
      schemaChangeRetryDelay(10, OPTIONS, () => 1),
      400,
    )
  })
})

describe('CockroachConnection on the migration connection', () => {
  function connectionFailing(times: number) {
    let calls = 0
    const inner: DatabaseConnection = {
      async executeQuery<R>(): Promise<QueryResult<R>> {
        calls++
        if (calls <= times) throw LEGACY()
        return { rows: [] }
      },
      streamQuery() {
        throw new Error('not used')
      },
    }
    const connection = new CockroachConnection(inner, { client: undefined, controlQuery: async () => {} })
    return { connection, calls: () => calls }
  }
  const query = CompiledQuery.raw('alter table event alter primary key using columns (id)')
  const fast = Object.freeze({ initialDelayMs: 1, maxDelayMs: 1, timeoutMs: 60_000 })

  it('retries while marked and outside a transaction', async () => {
    const { connection, calls } = connectionFailing(2)
    markMigrationConnection(connection, fast)
    try {
      await connection.executeQuery(query)
      assert.equal(calls(), 3)
    } finally {
      unmarkMigrationConnection(connection)
    }
  })

  it('does not retry inside a transaction, nor on an unmarked connection', async () => {
    const marked = connectionFailing(1)
    markMigrationConnection(marked.connection, fast)
    marked.connection.inTransaction = true
    await assert.rejects(marked.connection.executeQuery(query), /currently undergoing a schema change/)
    assert.equal(marked.calls(), 1)
    const plain = connectionFailing(1)
    await assert.rejects(plain.connection.executeQuery(query), /currently undergoing a schema change/)
    assert.equal(plain.calls(), 1)
  })
})
