// Kysely 0.29's `inflightQueryAbortStrategy` on CockroachDialect. Kysely's own PostgresConnection
// cancels with `select pg_cancel_backend(pid)` and kills with `pg_terminate_backend(pid)`, which
// CockroachDB does not have (cockroach#35897, cockroach#95160: "unknown function:
// pg_terminate_backend()"). CockroachDialect sends a wire-protocol CancelRequest instead (PostgreSQL
// and CockroachDB >= v22.1: docs CANCEL QUERY, cockroach#41335, RFC 20220202_pgwire_compatible_cancel)
// and ends a CockroachDB session with `CANCEL SESSION` (pkg/sql/parser/sql.y, cancel_sessions_stmt).
//
// Here: the same requests stop real queries on PostgreSQL (and CockroachDB). What goes over the
// wire, scripted: test/unit/connection/query-cancel-scripted.test.ts.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, withRetry } from '../../../src/index.js'
import { adminQuery, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { waitFor } from '../../harness/wait-for.js'

// Kysely 0.29 added abort signals and inflightQueryAbortStrategy; the Node 20 run uses kysely 0.28.
const skip = process.env.KYSELY_CRDB_TEST_LABEL?.includes('0.28') ? 'abort strategies need kysely 0.29' : false

/** Options Kysely 0.29 takes as execute()'s second argument; typed loosely for the 0.28 type run. */
function abortable(signal: AbortSignal, strategy: 'cancel query' | 'kill session'): never {
  return { signal, inflightQueryAbortStrategy: strategy } as never
}

// Each test's own bound (brief: bound hangs with the test's timeout). A cancel that does nothing
// leaves pg_sleep(600) running far past it, so such a cancel fails the test here instead of passing
// once the sleep ends on its own.
const BOUNDED = { timeout: 10_000 }

describe('query cancellation (PostgreSQL)', { skip }, () => {
  let database: TestDatabase
  let pool: pg.Pool
  let db: Kysely<unknown>

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'cancel')
    pool = new pg.Pool({ connectionString: database.url, max: 2 })
    // A session ended by pg_terminate_backend may report the closed socket after its client went
    // back to the pool; pg-pool then emits `error` on the pool, which its owner must listen for
    // (node-postgres docs, Pool: events). The pools CockroachDialect builds listen themselves.
    pool.on('error', () => undefined)
    db = new Kysely<unknown>({ dialect: new CockroachDialect({ pool }) })
    await sql`select 1`.execute(db)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  /** Sessions of this test's database running pg_sleep, from the server's own view. */
  async function sleeping(): Promise<number[]> {
    const { rows } = await adminQuery(
      postgresTarget,
      "select pid from pg_stat_activity where datname = $1 and state = 'active' and query like 'select pg_sleep%'",
      [database.name],
    )
    return rows.map((r: { pid: number }) => r.pid)
  }

  async function baseline(): Promise<void> {
    await waitFor(() => pool.totalCount === pool.idleCount && pool.waitingCount === 0)
  }

  for (const strategy of ['cancel query', 'kill session'] as const) {
    it(`'${strategy}' stops the query on the server and the pool recovers`, BOUNDED, async () => {
      await baseline()
      const controller = new AbortController()
      const running = sql`select pg_sleep(600)`.execute(db, abortable(controller.signal, strategy))
      await waitFor(async () => (await sleeping()).length === 1)
      controller.abort()
      await assert.rejects(running, { name: 'AbortError' })
      await waitFor(async () => (await sleeping()).length === 0)
      await baseline()
      if (strategy === 'cancel query') {
        assert.equal(pool.totalCount, 1, 'a cancelled query keeps its connection')
      }
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db)
      assert.equal(rows[0]!.one, 1)
      await baseline()
    })
  }

  it("withRetry's signal stops a running statement passed 'cancel query', and the transaction is rolled back", BOUNDED, async () => {
    await baseline()
    const controller = new AbortController()
    const attempts: number[] = []
    const running = withRetry(
      db,
      async (trx, { attempt, signal }) => {
        attempts.push(attempt)
        await sql`select pg_sleep(600)`.execute(trx, abortable(signal!, 'cancel query'))
      },
      { signal: controller.signal },
    )
    await waitFor(async () => (await sleeping()).length === 1)
    controller.abort()
    await assert.rejects(running, { name: 'AbortError' })
    assert.deepEqual(attempts, [1])
    await waitFor(async () => (await sleeping()).length === 0)
    await baseline()
    const { rows } = await adminQuery(
      postgresTarget,
      "select count(*)::int as n from pg_stat_activity where datname = $1 and state like 'idle in transaction%'",
      [database.name],
    )
    assert.equal(rows[0].n, 0, 'no transaction left open')
  })
})

// The same strategies against a real CockroachDB (CI's cockroachdb job; skipped with the reason
// printed otherwise). `pg_sleep(seconds)` is a CockroachDB builtin (pkg/sql/sem/builtins/
// pg_builtins.go). The server's view comes from `SHOW CLUSTER STATEMENTS` (alias SHOW CLUSTER
// QUERIES; columns query_id, node_id, session_id, user_name, start, query, ...) and `SHOW CLUSTER
// SESSIONS` (node_id, session_id, user_name, ...), docs /docs/stable/show-statements and
// /docs/stable/show-sessions, read as data sources with `[SHOW ...]`.
const crdb = await import('../../harness/targets.js')

describe('query cancellation (CockroachDB)', { skip: skip || crdb.cockroachSkip }, () => {
  let database: TestDatabase
  let db: Kysely<unknown>
  const LONG_SLEEP = 'select pg_sleep(600)'

  before(async () => {
    database = await crdb.createTestDatabase(crdb.cockroachTarget!, 'cancel_crdb')
    db = crdb.createKysely<unknown>(database, { poolConfig: { max: 2 } })
    await sql`select 1`.execute(db)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  /** Session ids running the long sleep. The pattern is a parameter, so this query never matches itself. */
  async function sleepingSessions(): Promise<string[]> {
    const { rows } = await adminQuery(crdb.cockroachTarget!, 'select session_id from [show cluster statements] where query ilike $1', [
      '%pg_sleep(600)%',
    ])
    return rows.map((r: { session_id: string }) => r.session_id)
  }

  async function sessionExists(sessionId: string): Promise<boolean> {
    const { rows } = await adminQuery(
      crdb.cockroachTarget!,
      'select count(*)::int8 as n from [show cluster sessions] where session_id = $1',
      [sessionId],
    )
    return Number(rows[0].n) === 1
  }

  for (const strategy of ['cancel query', 'kill session'] as const) {
    it(`'${strategy}' stops pg_sleep on the server`, { timeout: 30_000 }, async () => {
      const controller = new AbortController()
      const running = sql.raw(LONG_SLEEP).execute(db, abortable(controller.signal, strategy))
      let sessions: string[] = []
      await waitFor(async () => (sessions = await sleepingSessions()).length === 1)
      controller.abort()
      await assert.rejects(running, { name: 'AbortError' })
      await waitFor(async () => (await sleepingSessions()).length === 0)
      if (strategy === 'kill session') {
        // CANCEL SESSION ends the session itself.
        await waitFor(async () => !(await sessionExists(sessions[0]!)))
      } else {
        assert.ok(await sessionExists(sessions[0]!), 'a cancelled query keeps its session')
      }
      const { rows } = await sql<{ one: string }>`select 1 as one`.execute(db)
      assert.equal(Number(rows[0]!.one), 1)
    })
  }
})
