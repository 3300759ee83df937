// Kysely 0.29's `inflightQueryAbortStrategy` on CockroachDialect. Kysely's own PostgresConnection
// cancels with `select pg_cancel_backend(pid)` and kills with `pg_terminate_backend(pid)`, which
// CockroachDB does not have (cockroach#35897, cockroach#95160: "unknown function:
// pg_terminate_backend()"). CockroachDialect sends a wire-protocol CancelRequest instead (PostgreSQL
// and CockroachDB >= v22.1: docs CANCEL QUERY, cockroach#41335, RFC 20220202_pgwire_compatible_cancel)
// and ends a CockroachDB session with `CANCEL SESSION` (pkg/sql/parser/sql.y, cancel_sessions_stmt).
//
// Scripted: what goes over the wire, against a fake pool and a loopback socket that stands in for
// the server's cancel listener. PostgreSQL: the same requests stop real queries.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import type { PostgresPool, PostgresPoolClient } from 'kysely'
import { CockroachDialect, withRetry } from '../../../src/index.js'
import { cancelTargetOf } from '../../../src/connection/pgwire-cancel.js'
import { adminQuery, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

// Kysely 0.29 added abort signals and inflightQueryAbortStrategy; the Node 20 run uses kysely 0.28.
const skip = process.env.KYSELY_CRDB_TEST_LABEL?.includes('0.28') ? 'abort strategies need kysely 0.29' : false
// The CancelRequest code, 1234 << 16 | 5678 (PostgreSQL docs, Message Formats: CancelRequest).
const CANCEL_REQUEST_CODE = 80877102
const SLEEP = 'select pg_sleep(30)'
const SESSION_INFO = "select current_setting('session_id', true) as session_id"

/** Options Kysely 0.29 takes as execute()'s second argument; typed loosely for the 0.28 type run. */
function abortable(signal: AbortSignal, strategy: 'cancel query' | 'kill session'): never {
  return { signal, inflightQueryAbortStrategy: strategy } as never
}

// Each test's own bound (brief: bound hangs with the test's timeout). A cancel that does nothing
// leaves the scripted sleep pending forever and the PostgreSQL pg_sleep(600) running far past it, so
// such a cancel fails the test here instead of passing once the sleep ends on its own.
const BOUNDED = { timeout: 10_000 }

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' })
}

/** Polls until `check` holds; a hang is bounded by the test's own timeout, not by a threshold here. */
async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * A pg.Pool stand-in: `select pg_sleep(30)` hangs until a CancelRequest with this client's key
 * reaches `cancelServer`, or until `cancel session '<its id>'` is sent, as the real servers do.
 */
class ScriptedPool {
  readonly statements: string[] = []
  readonly releases: boolean[] = []
  readonly options = {}
  readonly cancelRequests: Buffer[] = []
  #sleepers = new Map<number, (error: Error) => void>()
  #next = 0

  constructor(
    readonly port: () => number,
    readonly sessionId: (id: number) => string | null,
  ) {}

  /** Called by the cancel listener with the request's bytes. */
  cancelled(request: Buffer): void {
    this.cancelRequests.push(request)
    const pid = request.readInt32BE(8)
    const key = request.readInt32BE(12)
    if (key === secretKeyOf(pid)) {
      this.#sleepers.get(pid)?.(pgError('57014', 'canceling statement due to user request'))
    }
  }

  async connect(): Promise<PostgresPoolClient> {
    const id = ++this.#next
    return {
      processID: id,
      secretKey: secretKeyOf(id),
      host: '127.0.0.1',
      port: this.port(),
      query: (text: unknown) => {
        const statement = String(text)
        this.statements.push(statement)
        if (statement === SLEEP) {
          return new Promise((_, reject) => this.#sleepers.set(id, reject))
        }
        if (statement === SESSION_INFO) {
          return Promise.resolve({ command: 'SELECT', rowCount: 1, rows: [{ session_id: this.sessionId(id) }] })
        }
        const killed = /^cancel session if exists '([0-9a-f]+)'$/.exec(statement)
        if (killed !== null) {
          for (const [pid, reject] of this.#sleepers) {
            if (this.sessionId(pid) === killed[1]) reject(new Error('Connection terminated unexpectedly'))
          }
        }
        return Promise.resolve({ command: 'SELECT', rowCount: 0, rows: [] })
      },
      release: (destroy?: boolean) => void this.releases.push(destroy === true),
    } as unknown as PostgresPoolClient
  }

  async end(): Promise<void> {}
}

function secretKeyOf(pid: number): number {
  return 0x5eed0000 + pid
}

describe('cancelTargetOf', () => {
  it("prefers the socket's remote end to the configured host, and needs the key", () => {
    const key = { processID: 7, secretKey: -12 }
    assert.deepEqual(cancelTargetOf({ ...key, host: 'db.example', port: 26257 }), { host: 'db.example', port: 26257, ...key })
    assert.deepEqual(
      cancelTargetOf({ ...key, host: 'db.example', port: 26257, connection: { stream: { remoteAddress: '10.0.0.3', remotePort: 26257 } } }),
      { host: '10.0.0.3', port: 26257, ...key },
    )
    assert.deepEqual(cancelTargetOf({ ...key, host: '/var/run/postgresql', port: 5432, connection: { stream: {} } }), {
      host: '/var/run/postgresql',
      port: 5432,
      ...key,
    })
    assert.equal(cancelTargetOf({ processID: 7, secretKey: null, host: 'h', port: 1 }), undefined, 'no key yet')
    assert.equal(cancelTargetOf({ query() {} }), undefined, 'not a node-postgres client')
    assert.equal(cancelTargetOf(undefined), undefined)
  })
})

describe('query cancellation (scripted)', { skip }, () => {
  let server: Server
  let pool: ScriptedPool
  const crdbSession = (id: number) => `17b4a1c2d3e4f5a6000000000000000${id}`

  before(async () => {
    server = createServer((socket) => {
      const chunks: Buffer[] = []
      socket.on('data', (chunk) => {
        chunks.push(chunk)
        const request = Buffer.concat(chunks)
        if (request.length >= 16) {
          pool.cancelled(request)
          socket.end()
        }
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
  })

  after(() => {
    server?.close()
  })

  /** Runs the long query with `strategy`, aborts it once the pool has seen it, and awaits the AbortError. */
  async function abortSleep(db: Kysely<unknown>, strategy: 'cancel query' | 'kill session'): Promise<void> {
    const controller = new AbortController()
    const running = sql`select pg_sleep(30)`.execute(db, abortable(controller.signal, strategy))
    await eventually(() => pool.statements.includes(SLEEP))
    controller.abort()
    await assert.rejects(running, { name: 'AbortError' })
  }

  function open(sessionId: (id: number) => string | null): Kysely<unknown> {
    pool = new ScriptedPool(() => (server.address() as AddressInfo).port, sessionId)
    return new Kysely<unknown>({ dialect: new CockroachDialect({ pool: pool as unknown as PostgresPool }) })
  }

  it("'cancel query' sends a wire-protocol CancelRequest with the session's key, and keeps the connection", BOUNDED, async () => {
    const db = open(crdbSession)
    await abortSleep(db, 'cancel query')
    await eventually(() => pool.releases.length === 1)
    assert.equal(pool.cancelRequests.length, 1)
    const request = pool.cancelRequests[0]!
    assert.deepEqual(
      [request.length, request.readInt32BE(0), request.readInt32BE(4), request.readInt32BE(8), request.readInt32BE(12)],
      [16, 16, CANCEL_REQUEST_CODE, 1, secretKeyOf(1)],
    )
    assert.deepEqual(pool.releases, [false], 'a cancelled query leaves a healthy connection')
    assert.ok(!pool.statements.some((s) => /pg_cancel_backend|pg_terminate_backend/.test(s)), pool.statements.join('; '))
    await db.destroy()
  })

  it("'kill session' on CockroachDB sends CANCEL SESSION with the id from current_setting('session_id')", BOUNDED, async () => {
    const db = open(crdbSession)
    await abortSleep(db, 'kill session')
    await eventually(() => pool.releases.length === 2)
    assert.deepEqual(pool.statements, [SESSION_INFO, SLEEP, `cancel session if exists '${crdbSession(1)}'`])
    // The control statement ran on a connection of its own; the killed one is destroyed.
    assert.deepEqual([...pool.releases].sort(), [false, true])
    await db.destroy()
  })

  it("'kill session' on PostgreSQL keeps Kysely's pg_terminate_backend", BOUNDED, async () => {
    const db = open(() => null)
    await abortSleep(db, 'kill session')
    await eventually(() => pool.statements.some((s) => /pg_terminate_backend/.test(s)))
    assert.ok(pool.statements.includes('select pg_terminate_backend(1)'), pool.statements.join('; '))
    await db.destroy().catch(() => undefined)
  })
})

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
    await eventually(() => pool.totalCount === pool.idleCount && pool.waitingCount === 0)
  }

  for (const strategy of ['cancel query', 'kill session'] as const) {
    it(`'${strategy}' stops the query on the server and the pool recovers`, BOUNDED, async () => {
      await baseline()
      const controller = new AbortController()
      const running = sql`select pg_sleep(600)`.execute(db, abortable(controller.signal, strategy))
      await eventually(async () => (await sleeping()).length === 1)
      controller.abort()
      await assert.rejects(running, { name: 'AbortError' })
      await eventually(async () => (await sleeping()).length === 0)
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
    await eventually(async () => (await sleeping()).length === 1)
    controller.abort()
    await assert.rejects(running, { name: 'AbortError' })
    assert.deepEqual(attempts, [1])
    await eventually(async () => (await sleeping()).length === 0)
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
    const { rows } = await adminQuery(
      crdb.cockroachTarget!,
      'select session_id from [show cluster statements] where query ilike $1',
      ['%pg_sleep(600)%'],
    )
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
      await eventually(async () => (sessions = await sleepingSessions()).length === 1)
      controller.abort()
      await assert.rejects(running, { name: 'AbortError' })
      await eventually(async () => (await sleepingSessions()).length === 0)
      if (strategy === 'kill session') {
        // CANCEL SESSION ends the session itself.
        await eventually(async () => !(await sessionExists(sessions[0]!)))
      } else {
        assert.ok(await sessionExists(sessions[0]!), 'a cancelled query keeps its session')
      }
      const { rows } = await sql<{ one: string }>`select 1 as one`.execute(db)
      assert.equal(Number(rows[0]!.one), 1)
    })
  }
})
