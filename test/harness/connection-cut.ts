// Two ways to lose a connection in the middle of a statement, for fault-injection tests that run
// their connections through a TcpProxy:
//
// - 'proxy': the network drops it. Both sockets are destroyed; the client sees the connection end
//   with no reply (pg: "Connection terminated unexpectedly").
// - 'terminate': the server ends it. Another session runs pg_terminate_backend on the backend
//   behind the proxied connection (found by its client_port in pg_stat_activity); the backend
//   sends FATAL 57P01 and closes, as in a rolling restart or an operator's kill.
//
// And a check that a pg.Pool settled after such a cut: nothing checked out or waiting, the cut
// client destroyed, no broken client pooled again.
import assert from 'node:assert/strict'
import type pg from 'pg'
import { adminQuery } from './targets.js'
import type { Target } from './targets.js'
import type { ProxiedSession, TcpProxy } from './tcp-proxy.js'
import { waitFor } from './wait-for.js'

export const CUT_METHODS = ['proxy', 'terminate'] as const
export type CutMethod = (typeof CUT_METHODS)[number]

/** The backend pid behind a proxied session. */
export async function backendPid(target: Target, session: ProxiedSession): Promise<number> {
  const { rows } = await adminQuery(target, 'select pid from pg_stat_activity where client_port = $1', [session.serverSidePort])
  assert.equal(rows.length, 1, `no backend (or several) with client_port ${session.serverSidePort}`)
  return rows[0].pid as number
}

/**
 * Cuts `session` by `method` and resolves once its connection is closed; returns the pid of the
 * backend it had, so the caller can tell which pooled client was hit (pg's `processID`).
 */
export async function cutSession(target: Target, session: ProxiedSession, method: CutMethod): Promise<number> {
  const pid = await backendPid(target, session)
  if (method === 'proxy') {
    session.cut()
  } else {
    const { rows } = await adminQuery(target, 'select pg_terminate_backend($1) as done', [pid])
    assert.equal(rows[0].done, true, `pg_terminate_backend(${pid}) did not signal the backend`)
  }
  await session.closed
  return pid
}

export interface PoolCounts {
  readonly total: number
  readonly idle: number
  readonly waiting: number
}

/** Records which pooled clients (by backend pid) the pool destroyed, for {@link assertPoolSettled}. */
export class PoolWatch {
  readonly #pool: pg.Pool
  readonly #removed = new Set<number>()
  readonly #waiters = new Map<number, () => void>()

  constructor(pool: pg.Pool) {
    this.#pool = pool
    pool.on('remove', (client) => {
      const pid = (client as unknown as { processID?: number }).processID
      if (pid !== undefined) {
        this.#removed.add(pid)
        this.#waiters.get(pid)?.()
      }
    })
  }

  get pool(): pg.Pool {
    return this.#pool
  }

  counts(): PoolCounts {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  /**
   * Resolves once the pool has destroyed its client of backend `pid` (pg-pool emits `remove` after
   * the client's end). A client that went back to the pool never resolves this: the test's timeout
   * reports it.
   */
  removed(pid: number): Promise<void> {
    if (this.#removed.has(pid)) {
      return Promise.resolve()
    }
    return new Promise((resolve) => this.#waiters.set(pid, resolve))
  }
}

/**
 * The pool settled after a cut: nothing is checked out or waiting; after `probe` (a query through
 * the pool) the counts are back to `baseline`, and every client the pool holds has a live
 * connection through the proxy (a broken client pooled again would have none). Other sessions
 * through the proxy (a migration lease renewal, codegen's own pool) close shortly after their
 * work: this waits for them, bounded by the test's timeout. `otherConnections`: proxied connections
 * that are not this pool's and were open before the cut (other tests').
 */
export async function assertPoolSettled(
  watch: PoolWatch,
  proxy: TcpProxy,
  baseline: PoolCounts,
  probe: () => Promise<void>,
  otherConnections = 0,
): Promise<void> {
  assert.equal(watch.pool.idleCount, watch.pool.totalCount, 'a client is still checked out')
  assert.equal(watch.pool.waitingCount, 0, 'a caller still waits for a client')
  await probe()
  assert.deepEqual(watch.counts(), baseline, 'the pool is back to its counts from before the cut')
  await waitFor(() => proxy.openConnections === watch.pool.totalCount + otherConnections, {
    what: "the proxy's connections to match the pool's",
  })
}
