// Parity with Kysely's own PostgresDialect: one scripted workload runs through PostgresDialect and
// through CockroachDialect on the same throwaway PostgreSQL (a database each), and the `log` events
// Kysely emits (level, SQL, parameters, stream flag, error code and message) must be identical,
// transaction statements and their errors included. Anything users hang on `log` (query logging,
// metrics, tracing) then sees on CockroachDialect what it sees on PostgresDialect.
//
// Deliberate differences, each with its reason, are listed above `recorder()`.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { CamelCasePlugin, CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely'
import type { DatabaseConnection, Generated, LogEvent } from 'kysely'
import { CockroachDialect, withRetry } from '../../../src/index.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import { queryOnce } from '../../harness/query-once.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  account: { id: number; account_name: string; balance: Generated<number> }
  parent: { id: number }
  child: { id: number; parent_id: number }
  duty: { doctor: string; on_call: boolean }
}

/** What the test compares of one `log` event. */
interface Logged {
  readonly level: LogEvent['level']
  readonly sql: string
  readonly parameters: readonly unknown[]
  readonly isStream?: boolean
  readonly error?: { readonly code: unknown; readonly message: string }
}

/*
 * Deliberate differences between the two dialects, each with its reason. None of them changes what
 * this workload logs, so the comparison below is exact:
 *
 * - `stream()` inside a transaction: CockroachDialect reads a SQL cursor there (DECLARE/FETCH/CLOSE,
 *   because CockroachDB refuses other statements while a wire-protocol portal is open in a
 *   transaction, cockroach#40195). Kysely still logs one stream event with the user's SQL, so the
 *   log is the same; only the server sees different statements. Listed because the server-side
 *   statements differ, not the log.
 * - A ROLLBACK answered with 25P01 "there is no transaction in progress" (CockroachDB after a failed
 *   COMMIT, pkg/sql/conn_executor_exec.go execStmtInNoTxnState) is logged as the error it is, but
 *   CockroachDialect does not throw it in place of the COMMIT error. PostgreSQL only warns, so this
 *   workload cannot show it; test/unit/dialect/driver-rollback.test.ts covers it.
 * - A ROLLBACK that fails because the connection is gone (the server ended the session mid-
 *   transaction, or the network cut it) is logged as the error it is, but CockroachDialect throws the
 *   error that made Kysely roll back, where Kysely's `db.transaction()` throws the ROLLBACK's failure
 *   (kysely 0.29 `TransactionBuilder.execute` awaits `driver.rollbackTransaction` in its `catch`,
 *   and PostgresDriver rethrows). The server discards an uncommitted transaction with its session,
 *   so the original error is the one that explains (src/dialect/cockroach-driver.ts, `rollbackFailure`). No
 *   connection is lost in this workload; test/unit/dialect/driver-rollback.test.ts and
 *   test/integration/connection/connection-loss.test.ts cover it.
 * - kysely 0.29, a query with a `signal` and an `inflightQueryAbortStrategy`: before it, Kysely calls
 *   the connection's `collectSessionInfo`, and CockroachDialect sends
 *   `select current_setting('session_id', true) as session_id` (the id `CANCEL SESSION` takes;
 *   PostgresDialect reads the backend pid from the client and sends nothing). It goes through the
 *   inner connection, below Kysely's log instrumentation, so it is not logged, as PostgresDialect's
 *   own `select pg_backend_pid()` fallback is not. The workload runs such a query; the first test
 *   checks that the statement reached the server on 0.29 and is absent from the log.
 * - `stream()` outside a transaction when node-postgres' `query_timeout` passes mid-stream: the
 *   stream fails on CockroachDialect (logged as an error), where on PostgresDialect pg-cursor reports
 *   no more rows and the stream ends early as a success (src/streaming/cockroach-cursor.ts). The workload sets
 *   no query_timeout; test/integration/streaming/streaming.test.ts covers it.
 * - withRetry's own statements (`savepoint cockroach_restart`, its BEGIN+ROLLBACK after a failed
 *   COMMIT) exist only on this package; they are checked to be logged, below, not compared.
 */
function recorder(): { readonly events: Logged[]; readonly log: (event: LogEvent) => void } {
  const events: Logged[] = []
  return {
    events,
    log: (event) => {
      const base = {
        level: event.level,
        sql: event.query.sql,
        parameters: [...event.query.parameters],
      }
      if (event.level === 'query') {
        events.push({ ...base, isStream: event.isStream === true })
      } else {
        const error = event.error as { code?: unknown; message?: unknown }
        events.push({ ...base, error: { code: error?.code, message: String(error?.message) } })
      }
    },
  }
}

/** What a step returned or threw, for comparing outcomes as well as logs. */
async function outcome(step: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await step() }
  } catch (error) {
    const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown }
    return { code, message, name }
  }
}

async function createSchema(url: string): Promise<void> {
  await queryOnce(
    url,
    `
      create table account (id int primary key, account_name text not null, balance int not null default 0);
      create table parent (id int primary key);
      create table child (id int primary key, parent_id int not null references parent (id) deferrable initially deferred);
      create table duty (doctor text primary key, on_call boolean not null);
      insert into duty values ('alice', true), ('bob', true);
    `,
  )
}

/** Kysely 0.29's execute() options: a signal and an abort strategy; typed loosely for the 0.28 type run. */
const withSignal = { signal: new AbortController().signal, inflightQueryAbortStrategy: 'kill session' } as never
// Kysely 0.29 added abort signals and inflightQueryAbortStrategy; the Node 20 run uses kysely 0.28.
const supportsAbort = !process.env.KYSELY_CRDB_TEST_LABEL?.includes('0.28')
const SESSION_ID_QUERY = `select current_setting('session_id', true) as session_id`

/** The SQL text of every statement node-postgres clients send while `run` runs. */
async function sentStatements<T>(run: () => Promise<T>): Promise<{ readonly result: T; readonly sent: string[] }> {
  const sent: string[] = []
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
  const original = prototype.query
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as { text?: unknown } | string | undefined
    sent.push(typeof first === 'string' ? first : String(first?.text))
    return original.apply(this, args)
  }
  try {
    return { result: await run(), sent }
  } finally {
    prototype.query = original
  }
}

/** The workload: every way a statement reaches the driver, one step at a time. */
async function workload(db: Kysely<DB>): Promise<unknown[]> {
  const results: unknown[] = []
  const step = async (run: () => Promise<unknown>) => void results.push(await outcome(run))

  // Plain queries, with parameters.
  await step(() => db.insertInto('account').values({ id: 1, account_name: 'a', balance: 10 }).returning('id').execute())
  await step(() => db.selectFrom('account').selectAll().where('id', '=', 1).execute())
  await step(() => db.connection().execute((conn) => conn.selectFrom('account').select('balance').execute()))

  // db.transaction(): plain, with isolation levels and access modes.
  await step(() =>
    db.transaction().execute(async (trx) => {
      await trx.updateTable('account').set({ balance: 20 }).where('id', '=', 1).execute()
      return await trx.selectFrom('account').select('balance').execute()
    }),
  )
  await step(() =>
    db
      .transaction()
      .setIsolationLevel('serializable')
      .setAccessMode('read only')
      .execute((trx) => trx.selectFrom('account').select('id').execute()),
  )
  await step(() =>
    db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute((trx) => trx.insertInto('account').values({ id: 2, account_name: 'b' }).execute()),
  )
  await step(() =>
    db
      .transaction()
      .setAccessMode('read write')
      .execute((trx) => trx.selectFrom('account').select('id').where('id', '=', 2).execute()),
  )

  // startTransaction() with savepoints.
  await step(async () => {
    const trx = await db.startTransaction().setIsolationLevel('read committed').execute()
    await trx.insertInto('account').values({ id: 3, account_name: 'c' }).execute()
    const a = await trx.savepoint('a').execute()
    await a.insertInto('account').values({ id: 4, account_name: 'd' }).execute()
    const back = await a.rollbackToSavepoint('a').execute()
    const b = await back.savepoint('b').execute()
    await b.insertInto('account').values({ id: 5, account_name: 'e' }).execute()
    const released = await b.releaseSavepoint('b').execute()
    await released.commit().execute()
  })
  await step(async () => {
    const trx = await db.startTransaction().execute()
    await trx.deleteFrom('account').execute()
    await trx.rollback().execute()
  })

  // Failing statements: outside a transaction, inside one (Kysely rolls back), inside a savepoint.
  await step(() => db.insertInto('account').values({ id: 1, account_name: 'dup' }).execute())
  await step(() =>
    db.transaction().execute(async (trx) => {
      await trx.insertInto('account').values({ id: 6, account_name: 'f' }).execute()
      await trx.insertInto('account').values({ id: 1, account_name: 'dup' }).execute()
    }),
  )
  await step(async () => {
    const trx = await db.startTransaction().execute()
    const s = await trx.savepoint('s').execute()
    await s
      .insertInto('account')
      .values({ id: 1, account_name: 'dup' })
      .execute()
      .catch(() => undefined)
    await s.rollbackToSavepoint('s').execute()
    await trx.commit().execute()
  })

  // A failing COMMIT: a deferred foreign key is checked at COMMIT (23503), then Kysely rolls back.
  await step(() => db.transaction().execute((trx) => trx.insertInto('child').values({ id: 1, parent_id: 42 }).execute()))
  await step(async () => {
    const trx = await db.startTransaction().execute()
    await trx.insertInto('child').values({ id: 2, parent_id: 43 }).execute()
    await trx
      .commit()
      .execute()
      .finally(() => trx.rollback().execute())
  })

  // A SERIALIZABLE COMMIT that fails with 40001 (write skew: each doctor goes off call having seen
  // the other on call; PostgreSQL's SSI cancels the second committer, "Canceled on identification
  // as a pivot, during commit attempt").
  await step(async () => {
    const first = await db.startTransaction().setIsolationLevel('serializable').execute()
    try {
      await first.selectFrom('duty').select('doctor').where('on_call', '=', true).execute()
      await db
        .transaction()
        .setIsolationLevel('serializable')
        .execute(async (second) => {
          await second.selectFrom('duty').select('doctor').where('on_call', '=', true).execute()
          await second.updateTable('duty').set({ on_call: false }).where('doctor', '=', 'bob').execute()
          await first.updateTable('duty').set({ on_call: false }).where('doctor', '=', 'alice').execute()
          await first.commit().execute()
        })
    } finally {
      if (!first.isCommitted) await first.rollback().execute()
    }
  })

  // Streaming outside a transaction and inside one, and a plugin that rewrites the query and the result.
  await step(async () => {
    const rows: unknown[] = []
    for await (const row of db.selectFrom('account').select(['id', 'account_name']).orderBy('id').stream(2)) {
      rows.push(row)
    }
    return rows
  })
  await step(() =>
    db.transaction().execute(async (trx) => {
      const rows: unknown[] = []
      for await (const row of trx.selectFrom('account').select('id').where('id', '>', 1).orderBy('id').stream(1)) {
        rows.push(row)
      }
      return rows
    }),
  )
  await step(() =>
    db
      .withPlugin(new CamelCasePlugin())
      .selectFrom('account' as never)
      .select(['accountName' as never])
      .where('id' as never, '=', 3 as never)
      .execute(),
  )
  await step(() => sql`select ${'raw'}::text as value, ${7}::int as n`.execute(db))

  // A query with a signal and an abort strategy, not aborted (kysely 0.29; 0.28 takes no options and
  // ignores the argument): CockroachDialect collects the session id first, unlogged (see above).
  await step(() => sql`select ${'signal'}::text as value`.execute(db, withSignal))
  return results
}

// Kysely 0.29 added abort signals; the Node 20 run uses kysely 0.28.
const abortSkip = process.env.KYSELY_CRDB_TEST_LABEL?.includes('0.28') ? 'abort signals need kysely 0.29' : false

describe('log parity with PostgresDialect (PostgreSQL)', () => {
  let kyselys: TestDatabase
  let ours: TestDatabase
  const opened: Kysely<DB>[] = []

  before(async () => {
    kyselys = await createTestDatabase(postgresTarget, 'parity_pg')
    ours = await createTestDatabase(postgresTarget, 'parity_crdb')
    await Promise.all([createSchema(kyselys.url), createSchema(ours.url)])
  })

  after(async () => {
    await Promise.all(opened.map((db) => db.destroy()))
    await kyselys?.drop()
    await ours?.drop()
  })

  type Hook = (connection: DatabaseConnection, options?: { readonly signal?: AbortSignal }) => Promise<void>

  function open(
    dialect: 'postgres' | 'cockroach',
    log: (event: LogEvent) => void,
    hooks: { onCreateConnection?: Hook; onReserveConnection?: Hook } = {},
  ): Kysely<DB> {
    let db: Kysely<DB>
    if (dialect === 'postgres') {
      const pool = new pg.Pool({ connectionString: kyselys.url, max: 3 })
      // drop database ... with (force) in `after` may terminate backends that pool.end() has told
      // to close but that have not exited yet; their clients then emit 'error' on the pool (the
      // pools CockroachDialect builds listen themselves).
      pool.on('error', () => undefined)
      db = new Kysely<DB>({ dialect: new PostgresDialect({ pool, cursor: Cursor, ...hooks }), log })
    } else {
      db = new Kysely<DB>({
        dialect: new CockroachDialect({ connectionString: ours.url, poolConfig: { max: 3 }, cursor: Cursor, ...hooks }),
        log,
      })
    }
    opened.push(db)
    return db
  }

  it('logs the same events, transaction statements and their errors included', async () => {
    const expected = recorder()
    const expectedResults = await workload(open('postgres', expected.log))
    const actual = recorder()
    const { result: actualResults, sent } = await sentStatements(() => workload(open('cockroach', actual.log)))

    // The workload does what it says on Kysely's own dialect: transaction statements are logged,
    // and both failing COMMITs are among the errors.
    const sqls = expected.events.map((e) => e.sql)
    for (const statement of ['begin', 'commit', 'rollback', 'start transaction isolation level serializable read only']) {
      assert.ok(sqls.includes(statement), `PostgresDialect logs ${statement}`)
    }
    assert.ok(sqls.some((s) => /^savepoint/.test(s)) && sqls.some((s) => /^release/.test(s)))
    const commitErrors = expected.events.filter((e) => e.level === 'error' && e.sql === 'commit').map((e) => e.error?.code)
    assert.deepEqual(commitErrors.sort(), ['23503', '23503', '40001'])

    // The session-id query is a listed difference: sent on kysely 0.29 (a query had a signal and an
    // abort strategy), never logged.
    assert.equal(sent.includes(SESSION_ID_QUERY), supportsAbort, `CockroachDialect sent ${SESSION_ID_QUERY}`)
    assert.ok(!actual.events.some((e) => e.sql === SESSION_ID_QUERY))

    assert.deepEqual(actual.events, expected.events)
    assert.deepEqual(actualResults, expectedResults)
  })

  it('logs what onCreateConnection and onReserveConnection run as PostgresDialect does', async () => {
    const hooks = {
      onCreateConnection: async (connection: DatabaseConnection) => {
        await connection.executeQuery(CompiledQuery.raw(`select 'created' as hook`))
      },
      onReserveConnection: async (connection: DatabaseConnection) => {
        await connection.executeQuery(CompiledQuery.raw(`select 'reserved' as hook`))
      },
    }
    const run = async (db: Kysely<DB>) => {
      for (let i = 0; i < 3; i++) await db.selectFrom('account').select('id').execute()
      await db.transaction().execute((trx) => trx.selectFrom('account').select('id').execute())
    }
    const expected = recorder()
    await run(open('postgres', expected.log, hooks))
    const actual = recorder()
    await run(open('cockroach', actual.log, hooks))
    // Kysely instruments a connection once acquireConnection has returned it: the hooks of its first
    // acquisition are not logged, those of the next ones are.
    assert.ok(expected.events.some((e) => e.sql === `select 'reserved' as hook`))
    assert.deepEqual(actual.events, expected.events)
  })

  // kysely 0.29 PostgresDriver.acquireConnection passes its abort options on to both hooks
  // (dialect/postgres/postgres-driver.js: `onCreateConnection(connection, options)`); 0.28 has none.
  it(
    'passes the abort signal of the query to onCreateConnection and onReserveConnection as PostgresDialect does',
    { skip: abortSkip },
    async () => {
      const seen = (into: string[]) => {
        const controller = new AbortController()
        const record = (hook: string) => async (_connection: DatabaseConnection, options?: { readonly signal?: AbortSignal }) => {
          into.push(`${hook}: ${options?.signal === controller.signal ? 'the signal' : String(options?.signal)}`)
        }
        return { controller, hooks: { onCreateConnection: record('create'), onReserveConnection: record('reserve') } }
      }
      const run = async (dialect: 'postgres' | 'cockroach') => {
        const calls: string[] = []
        const { controller, hooks } = seen(calls)
        const db = open(dialect, () => undefined, hooks)
        await sql`select 1`.execute(db, { signal: controller.signal } as never)
        await sql`select 1`.execute(db, { signal: controller.signal } as never)
        return calls
      }
      const expected = await run('postgres')
      assert.deepEqual(expected, ['create: the signal', 'reserve: the signal', 'reserve: the signal'])
      assert.deepEqual(await run('cockroach'), expected)
    },
  )

  it("logs withRetry's statements, its failed COMMIT and the BEGIN + ROLLBACK after it", async () => {
    const { events, log } = recorder()
    const db = open('cockroach', log)
    const select = 'select "id" from "account"'
    const statements = () => events.map((e) => (e.level === 'error' ? `${e.sql} -> ${String(e.error?.code)}` : e.sql))

    await withRetry(db, (trx) => trx.selectFrom('account').select('id').execute())
    assert.deepEqual(statements(), ['begin', select, 'commit'])

    events.length = 0
    await withRetry(db, (trx) => trx.selectFrom('account').select('id').execute(), { strategy: 'savepoint' })
    assert.deepEqual(statements(), ['begin', 'savepoint cockroach_restart', select, 'release savepoint cockroach_restart', 'commit'])

    // A deferred foreign key fails the COMMIT (23503, not retryable); withRetry then sends BEGIN and
    // ROLLBACK, which end cleanly whatever state the session is in (docs/retries.md).
    events.length = 0
    await assert.rejects(
      withRetry(db, (trx) => trx.insertInto('child').values({ id: 9, parent_id: 99 }).execute()),
      (error: unknown) => (error as { code?: unknown }).code === '23503',
    )
    assert.deepEqual(statements(), [
      'begin',
      'insert into "child" ("id", "parent_id") values ($1, $2)',
      'commit -> 23503',
      'begin',
      'rollback',
    ])
  })
})
