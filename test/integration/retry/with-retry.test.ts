// withRetry against the real PostgreSQL server: contention that produces real serialization
// failures (at statements and at COMMIT) and deadlocks, the savepoint protocol, errors that must
// pass through, exhaustion and abort. The pool is built here so that leaks show in its counters.
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, RetryExhaustedError, getSqlState, withRetry } from '../../../src/index.js'
import type { RetryEvent, WithRetryOptions } from '../../../src/index.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { barrier, recordStatements, seeded } from '../../harness/concurrency.js'
import type { SentStatement } from '../../harness/concurrency.js'

interface DB {
  account: { id: number; balance: string }
  transfer: { id: string; from_id: number; to_id: number; amount: number }
  oncall: { doctor: string; on_call: boolean }
  note: { id: number; body: string }
}

const HOT_ROWS = 4

/** Fails the statement with SQLSTATE 40001 and `message`, as a real serialization conflict would. */
async function raiseSerializationFailure(trx: Kysely<DB>, message: string): Promise<void> {
  await sql`do $$ begin raise exception '${sql.raw(message)}' using errcode = '40001'; end $$`.execute(trx)
}
const INITIAL_BALANCE = 1000

describe('withRetry on PostgreSQL', () => {
  let database: TestDatabase
  let pool: pg.Pool
  let db: Kysely<DB>
  let statements: SentStatement[]

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'with_retry')
    // deadlock_timeout is how long PostgreSQL waits before looking for a lock cycle (1 s by default).
    pool = new pg.Pool({ connectionString: database.url, max: 24, options: '-c deadlock_timeout=50ms' })
    // drop database ... with (force) in `after` may terminate backends that pool.end() has told
    // to close but that have not exited yet; their idle clients then emit 'error' on the pool.
    pool.on('error', () => {})
    statements = recordStatements(pool)
    db = new Kysely<DB>({ dialect: new CockroachDialect({ pool }) })
    await db.schema
      .createTable('account')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('balance', 'int8', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('transfer')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('from_id', 'integer', (c) => c.notNull())
      .addColumn('to_id', 'integer', (c) => c.notNull())
      .addColumn('amount', 'integer', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('oncall')
      .addColumn('doctor', 'text', (c) => c.primaryKey())
      .addColumn('on_call', 'boolean', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('note')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('body', 'text', (c) => c.notNull())
      .execute()
  })

  afterEach(() => {
    // Every connection is back in the pool (or destroyed): none checked out, none waited for.
    assert.equal(pool.totalCount, pool.idleCount, 'a connection was not released')
    assert.equal(pool.waitingCount, 0)
    statements.length = 0
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  async function resetAccounts(): Promise<void> {
    await db.deleteFrom('transfer').execute()
    await db.deleteFrom('account').execute()
    await db
      .insertInto('account')
      .values(Array.from({ length: HOT_ROWS }, (_, id) => ({ id, balance: String(INITIAL_BALANCE) })))
      .execute()
  }

  /** Balances must equal the initial ones plus exactly one application of every recorded transfer. */
  async function assertLedgerConsistent(expectedTransfers: readonly string[]): Promise<void> {
    const transfers = await db.selectFrom('transfer').selectAll().execute()
    assert.deepEqual(transfers.map((t) => t.id).sort(), [...expectedTransfers].sort(), 'every transfer committed exactly once')
    const expected = new Map<number, number>(Array.from({ length: HOT_ROWS }, (_, id) => [id, INITIAL_BALANCE]))
    for (const t of transfers) {
      expected.set(t.from_id, expected.get(t.from_id)! - t.amount)
      expected.set(t.to_id, expected.get(t.to_id)! + t.amount)
    }
    const accounts = await db.selectFrom('account').selectAll().orderBy('id').execute()
    assert.deepEqual(
      accounts.map((a) => [a.id, Number(a.balance)]),
      [...expected.entries()].sort((x, y) => x[0] - y[0]),
    )
    const total = accounts.reduce((sum, a) => sum + Number(a.balance), 0)
    assert.equal(total, HOT_ROWS * INITIAL_BALANCE)
  }

  it('commits every transfer exactly once when 16 workers fight over 4 hot rows under SERIALIZABLE', async () => {
    await resetAccounts()
    const WORKERS = 16
    const PER_WORKER = 12
    const retries: RetryEvent[] = []
    const calls = new Map<string, number>()
    // On the first attempt of each worker's first transfer, every worker reads before anyone
    // writes: with 16 transactions on 4 rows, conflicts are certain, not just likely.
    const allHaveRead = barrier(WORKERS)
    const options: WithRetryOptions = {
      isolationLevel: 'serializable',
      maxAttempts: 200,
      onRetry: (event) => {
        retries.push(event)
      },
    }
    const ids: string[] = []
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        const random = seeded(worker + 1)
        for (let i = 0; i < PER_WORKER; i++) {
          const id = `${worker}-${i}`
          ids.push(id)
          const from = Math.floor(random() * HOT_ROWS)
          const to = (from + 1 + Math.floor(random() * (HOT_ROWS - 1))) % HOT_ROWS
          const amount = 1 + Math.floor(random() * 50)
          await withRetry(
            db,
            async (trx, { attempt }) => {
              calls.set(id, (calls.get(id) ?? 0) + 1)
              // Read, compute in the application, write back: a lost update would break the ledger.
              const rows = await trx.selectFrom('account').select(['id', 'balance']).where('id', 'in', [from, to]).execute()
              const balance = new Map(rows.map((r) => [r.id, Number(r.balance)]))
              if (i === 0 && attempt === 1) {
                await allHaveRead()
              }
              await trx
                .updateTable('account')
                .set({ balance: String(balance.get(from)! - amount) })
                .where('id', '=', from)
                .execute()
              await trx
                .updateTable('account')
                .set({ balance: String(balance.get(to)! + amount) })
                .where('id', '=', to)
                .execute()
              await trx.insertInto('transfer').values({ id, from_id: from, to_id: to, amount }).execute()
            },
            options,
          )
        }
      }),
    )
    await assertLedgerConsistent(ids)
    assert.ok(retries.length > 0, 'expected real serialization failures')
    const states = new Set(retries.map((r) => getSqlState(r.error)))
    assert.ok(states.has('40001'), `retried SQLSTATEs: ${[...states].join(', ')}`)
    for (const state of states) assert.ok(state === '40001' || state === '40P01', `unexpected retry of ${state}`)
    const runs = [...calls.values()].reduce((a, b) => a + b, 0)
    assert.equal(runs, ids.length + retries.length, 'each retry ran the callback once more')
  })

  it('retries a serialization failure raised by COMMIT (write skew), with both strategies', async () => {
    for (const strategy of ['restart', 'savepoint'] as const) {
      await db.deleteFrom('oncall').execute()
      await db
        .insertInto('oncall')
        .values([
          { doctor: 'alice', on_call: true },
          { doctor: 'bob', on_call: true },
        ])
        .execute()
      statements.length = 0
      const other = new pg.Client({ connectionString: database.url })
      await other.connect()
      const retries: RetryEvent[] = []
      try {
        // Alice may go off call if someone else stays on. Bob's concurrent transaction does the
        // same and commits first: together they would leave nobody on call, so PostgreSQL's SSI
        // cancels Alice's transaction when it commits.
        const outcome = await withRetry(
          db,
          async (trx, { attempt }) => {
            const { count } = await trx
              .selectFrom('oncall')
              .select((eb) => eb.fn.countAll<string>().as('count'))
              .where('on_call', '=', true)
              .executeTakeFirstOrThrow()
            if (attempt === 1) {
              await other.query('begin isolation level serializable')
              await other.query('select count(*) from oncall where on_call')
            }
            if (Number(count) < 2) {
              return 'alice stays on call'
            }
            await trx.updateTable('oncall').set({ on_call: false }).where('doctor', '=', 'alice').execute()
            if (attempt === 1) {
              await other.query(`update oncall set on_call = false where doctor = 'bob'`)
              await other.query('commit')
            }
            return 'alice went off call'
          },
          { isolationLevel: 'serializable', strategy, onRetry: (e) => void retries.push(e) },
        )
        assert.equal(outcome, 'alice stays on call', strategy)
      } finally {
        await other.end()
      }
      assert.equal(retries.length, 1, strategy)
      assert.equal(getSqlState(retries[0]!.error), '40001')
      const failed = statements.filter((e) => e.error !== undefined).map((e) => e.sql)
      assert.deepEqual(failed, ['commit'], `${strategy}: the 40001 came from COMMIT`)
      const rows = await db.selectFrom('oncall').selectAll().orderBy('doctor').execute()
      assert.deepEqual(rows, [
        { doctor: 'alice', on_call: true },
        { doctor: 'bob', on_call: false },
      ])
    }
  })

  it('savepoint strategy: 16 workers, deadlocks resolved by ROLLBACK TO SAVEPOINT inside the same transactions', async () => {
    await resetAccounts()
    const WORKERS = 16
    const PER_WORKER = 8
    const retries: RetryEvent[] = []
    // First round: workers 0-3 lock 0->1, 1->0, 2->3, 3->2 crosswise, a certain deadlock in each
    // pair. The others start once that round has its locks.
    const crossLocked = barrier(4)
    let firstRoundLocked!: () => void
    const firstRound = new Promise<void>((resolve) => (firstRoundLocked = resolve))
    const ids: string[] = []
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        const random = seeded(100 + worker)
        if (worker >= 4) await firstRound
        for (let i = 0; i < PER_WORKER; i++) {
          const id = `${worker}-${i}`
          ids.push(id)
          const crosswise = worker < 4 && i === 0
          const from = crosswise ? worker : Math.floor(random() * HOT_ROWS)
          const to = crosswise ? worker ^ 1 : (from + 1 + Math.floor(random() * (HOT_ROWS - 1))) % HOT_ROWS
          const amount = 1 + Math.floor(random() * 50)
          await withRetry(
            db,
            async (trx, { attempt }) => {
              const lock = (account: number) =>
                trx.selectFrom('account').select('balance').where('id', '=', account).forUpdate().executeTakeFirstOrThrow()
              const fromBalance = Number((await lock(from)).balance)
              if (crosswise && attempt === 1) {
                const all = crossLocked()
                void all.then(firstRoundLocked)
                await all
              }
              const toBalance = Number((await lock(to)).balance)
              await trx
                .updateTable('account')
                .set({ balance: String(fromBalance - amount) })
                .where('id', '=', from)
                .execute()
              await trx
                .updateTable('account')
                .set({ balance: String(toBalance + amount) })
                .where('id', '=', to)
                .execute()
              await trx.insertInto('transfer').values({ id, from_id: from, to_id: to, amount }).execute()
            },
            // READ COMMITTED: each statement sees the latest committed rows, so a retry inside the
            // same transaction can succeed on PostgreSQL too.
            { strategy: 'savepoint', isolationLevel: 'read committed', maxAttempts: 200, onRetry: (e) => void retries.push(e) },
          )
        }
      }),
    )
    await assertLedgerConsistent(ids)
    assert.ok(
      retries.some((r) => getSqlState(r.error) === '40P01'),
      'expected deadlocks',
    )
    const sent = statements.map((e) => e.sql)
    const begins = sent.filter((s) => s.startsWith('start transaction')).length
    const inPlace = sent.filter((s) => s === 'rollback to savepoint cockroach_restart').length
    // Every retry happened inside its transaction: one BEGIN per transfer.
    assert.equal(begins, ids.length)
    assert.equal(inPlace, retries.length)
  })

  it('savepoint strategy: a server-raised 40001 is undone to the savepoint and retried on the same connection', async () => {
    await db.deleteFrom('note').execute()
    const pids: number[] = []
    const result = await withRetry(
      db,
      async (trx, { attempt }) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
        pids.push(rows[0]!.pid)
        await trx
          .insertInto('note')
          .values({ id: attempt, body: `attempt ${attempt}` })
          .execute()
        if (attempt < 3) {
          await raiseSerializationFailure(trx, 'restart transaction: injected')
        }
        return attempt
      },
      { strategy: 'savepoint', baseDelayMs: 0 },
    )
    assert.equal(result, 3)
    assert.equal(new Set(pids).size, 1, 'one connection, one transaction')
    // The writes of the undone attempts are gone; the last attempt's committed.
    assert.deepEqual(await db.selectFrom('note').selectAll().execute(), [{ id: 3, body: 'attempt 3' }])
    assert.deepEqual(
      statements.map((e) => e.sql).filter((s) => /savepoint|^begin|^commit/.test(s)),
      [
        'begin',
        'savepoint cockroach_restart',
        'rollback to savepoint cockroach_restart',
        'rollback to savepoint cockroach_restart',
        'release savepoint cockroach_restart',
        'commit',
      ],
    )
  })

  it('passes a non-retryable error through untouched, and rolls the transaction back', async () => {
    await db.deleteFrom('note').execute()
    await db.insertInto('note').values({ id: 1, body: 'existing' }).execute()
    let captured: unknown
    let stack: string | undefined
    let calls = 0
    await assert.rejects(
      withRetry(db, async (trx) => {
        calls++
        await trx.insertInto('note').values({ id: 2, body: 'new' }).execute()
        try {
          await trx.insertInto('note').values({ id: 1, body: 'duplicate' }).execute()
        } catch (error) {
          captured = error
          stack = (error as Error).stack
          throw error
        }
      }),
      (error: unknown) => {
        assert.equal(error, captured)
        assert.ok(error instanceof pg.DatabaseError)
        assert.equal(error.code, '23505')
        assert.equal(error.stack, stack)
        return true
      },
    )
    assert.equal(calls, 1)
    assert.deepEqual(await db.selectFrom('note').select('id').execute(), [{ id: 1 }])
  })

  it('gives up after maxAttempts with the last serialization failure as cause, committing nothing', async () => {
    await db.deleteFrom('note').execute()
    let calls = 0
    await assert.rejects(
      withRetry(
        db,
        async (trx) => {
          calls++
          await trx.insertInto('note').values({ id: calls, body: 'never' }).execute()
          await raiseSerializationFailure(trx, 'could not serialize')
        },
        { maxAttempts: 3, baseDelayMs: 1 },
      ),
      (error: unknown) => {
        assert.ok(error instanceof RetryExhaustedError)
        assert.equal(error.attempts, 3)
        assert.ok(error.cause instanceof pg.DatabaseError)
        assert.equal(error.cause.code, '40001')
        return true
      },
    )
    assert.equal(calls, 3)
    assert.deepEqual(await db.selectFrom('note').selectAll().execute(), [])
  })

  it('stops waiting when the signal aborts in the middle of a backoff', async () => {
    const controller = new AbortController()
    let calls = 0
    await assert.rejects(
      withRetry(
        db,
        async (trx) => {
          calls++
          await raiseSerializationFailure(trx, 'could not serialize')
        },
        {
          signal: controller.signal,
          baseDelayMs: 3_600_000,
          random: () => 0.5,
          onRetry: () => void setImmediate(() => controller.abort(new Error('client went away'))),
        },
      ),
      /client went away/,
    )
    assert.equal(calls, 1)
  })
})
