// Kysely 0.29's `inflightQueryAbortStrategy` on CockroachDialect, scripted: what goes over the wire,
// against a fake pool (test/harness/cancellable-pool.ts) and a loopback socket that stands in for the
// server's cancel listener. Why CockroachDialect sends a wire-protocol CancelRequest and CANCEL
// SESSION, and the same requests stopping real queries: test/integration/connection/query-cancel.test.ts.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect } from '../../../src/index.js'
import { CancellablePool, SESSION_INFO, SLEEP, secretKeyOf } from '../../harness/cancellable-pool.js'
import { waitFor } from '../../harness/wait-for.js'

// Kysely 0.29 added abort signals and inflightQueryAbortStrategy; the Node 20 run uses kysely 0.28.
const skip = process.env.KYSELY_CRDB_TEST_LABEL?.includes('0.28') ? 'abort strategies need kysely 0.29' : false
// The CancelRequest code, 1234 << 16 | 5678 (PostgreSQL docs, Message Formats: CancelRequest).
const CANCEL_REQUEST_CODE = 80877102

/** Options Kysely 0.29 takes as execute()'s second argument; typed loosely for the 0.28 type run. */
function abortable(signal: AbortSignal, strategy: 'cancel query' | 'kill session'): never {
  return { signal, inflightQueryAbortStrategy: strategy } as never
}

// Each test's own bound: a cancel that does nothing leaves the scripted sleep pending forever, so
// such a cancel fails the test here.
const BOUNDED = { timeout: 10_000 }

describe('query cancellation (scripted)', { skip }, () => {
  let server: Server
  let pool: CancellablePool
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
    await waitFor(() => pool.statements.includes(SLEEP))
    controller.abort()
    await assert.rejects(running, { name: 'AbortError' })
  }

  function open(sessionId: (id: number) => string | null): Kysely<unknown> {
    pool = new CancellablePool(() => (server.address() as AddressInfo).port, sessionId)
    return new Kysely<unknown>({ dialect: new CockroachDialect({ pool: pool.asPool() }) })
  }

  it("'cancel query' sends a wire-protocol CancelRequest with the session's key, and keeps the connection", BOUNDED, async () => {
    const db = open(crdbSession)
    await abortSleep(db, 'cancel query')
    await waitFor(() => pool.releases.length === 1)
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
    await waitFor(() => pool.releases.length === 2)
    assert.deepEqual(pool.statements, [SESSION_INFO, SLEEP, `cancel session if exists '${crdbSession(1)}'`])
    // The control statement ran on a connection of its own; the killed one is destroyed.
    assert.deepEqual([...pool.releases].sort(), [false, true])
    await db.destroy()
  })

  it("'kill session' on PostgreSQL keeps Kysely's pg_terminate_backend", BOUNDED, async () => {
    const db = open(() => null)
    await abortSleep(db, 'kill session')
    await waitFor(() => pool.statements.some((s) => /pg_terminate_backend/.test(s)))
    assert.ok(pool.statements.includes('select pg_terminate_backend(1)'), pool.statements.join('; '))
    await db.destroy().catch(() => undefined)
  })
})
