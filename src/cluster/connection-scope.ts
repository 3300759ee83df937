// What a caller tells the cluster pool about the connections taken in its async context, without a
// parameter: the connection is acquired deep inside Kysely (db.connection(), startTransaction()
// -> CockroachDriver.acquireConnection -> pool.connect()), whose API has no room for one.
// withRetry uses it with resolveAmbiguousCommits: to learn the node of the transaction's
// connection, and to ask for the fence's connection on another node (issue 12: "settle it from a
// new connection, on another node if there is one"). Pools other than the cluster pool ignore it.
import { AsyncLocalStorage } from 'node:async_hooks'

/** @internal */
export interface ConnectionScope {
  /** Prefer connections to nodes other than this one (a node key, as nodeStatus() names it). */
  readonly avoidNode?: string | undefined
  /** Told the node of every client the cluster pool hands out in this scope. */
  readonly onAcquire?: ((node: string) => void) | undefined
}

const storage = new AsyncLocalStorage<ConnectionScope>()

/** Runs `fn` with `scope` for the connections it acquires. @internal */
export function inConnectionScope<T>(scope: ConnectionScope, fn: () => Promise<T>): Promise<T> {
  return storage.run(scope, fn)
}

/** The scope of the caller of pool.connect(), if any. @internal */
export function currentConnectionScope(): ConnectionScope | undefined {
  return storage.getStore()
}
