// The `cluster` option of CockroachDialect, its events and the per-node status, and their
// validation (pure).
import type { ParsedConnectionString } from '../connection/parse-connection-string.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import type { NodeState } from './node-health.js'

/**
 * How the dialect's pool spreads and recycles connections over the nodes of a cluster (used when
 * the connection string lists several hosts, `nodes` is given, or `cluster` is given). Ignored
 * with `pool`.
 *
 * ```ts
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * const dialect = new CockroachDialect({
 *   connectionString: 'postgresql://app@n1:26257,n2:26257,n3:26257/bank?sslmode=verify-full',
 *   cluster: { maxLifetimeMs: 15 * 60_000, onEvent: (event) => console.log(event.type, event.node) },
 * })
 * ```
 */
export interface ClusterOptions {
  /**
   * Upper bound of a connection's life, so that a restarted node gets its share back. Default
   * 600_000 (10 minutes, inside the 5-30 minutes CockroachDB's connection pooling docs advise).
   * 0 turns it off.
   */
  readonly maxLifetimeMs?: number
  /**
   * Each connection lives a uniform random time in [maxLifetimeMs - lifetimeJitterMs, maxLifetimeMs],
   * so connections opened together do not all close together. Default 10% of maxLifetimeMs, at
   * most half of it.
   */
  readonly lifetimeJitterMs?: number
  /**
   * Timeout of one connection attempt when the URL has no `connect_timeout` and `poolConfig` no
   * `connectionTimeoutMillis`. Default 5000. Never unlimited: a node that accepts TCP and never
   * answers would otherwise never be marked down.
   */
  readonly connectTimeoutMs?: number
  /** Backoff of the probes of a node that is down or draining: first delay and cap. Defaults 250 and 10_000. */
  readonly probeBackoffMs?: { readonly initial?: number; readonly max?: number }
  /** Close surplus idle connections of the fullest node when a node comes back. Default true. */
  readonly rebalance?: boolean
  /** Called on node and connection events; never awaited, and a throw only becomes a process warning. */
  readonly onEvent?: (event: ClusterEvent) => void
}

/**
 * An event of the cluster pool, see {@link ClusterOptions.onEvent}.
 *
 * ```ts
 * import type { ClusterEvent } from 'kysely-cockroachdb'
 *
 * const log = (event: ClusterEvent) => {
 *   if (event.type === 'nodeDown') console.warn(`node ${event.node} is down`)
 * }
 * ```
 */
export type ClusterEvent =
  | { readonly type: 'nodeDown'; readonly node: string; readonly error: unknown }
  | { readonly type: 'nodeDraining'; readonly node: string; readonly error: unknown }
  | { readonly type: 'nodeUp'; readonly node: string }
  | { readonly type: 'connectionOpened'; readonly node: string }
  | {
      readonly type: 'connectionRecycled'
      readonly node: string
      readonly reason: 'maxLifetime' | 'idleTimeout' | 'draining' | 'rebalance' | 'broken'
    }

/**
 * One node as {@link CockroachDialect.nodeStatus} reports it.
 *
 * ```ts
 * import type { NodeStatus } from 'kysely-cockroachdb'
 *
 * const summary = (nodes: readonly NodeStatus[]) => nodes.map((n) => `${n.node} ${n.state} ${n.inUse}/${n.total}`).join(', ')
 * ```
 */
export interface NodeStatus {
  /** `host:port` as configured (with `#2`, ... when the same address is listed again). */
  readonly node: string
  readonly state: NodeState
  /** Open connections to the node. */
  readonly total: number
  readonly idle: number
  readonly inUse: number
  /** What marked the node down or draining, else undefined. */
  readonly lastError: unknown
  /** When the node is probed next (epoch milliseconds), while down or draining. */
  readonly nextProbeAt: number | undefined
}

/** @internal */
export interface ResolvedClusterOptions {
  readonly max: number
  readonly idleTimeoutMs: number
  readonly acquireTimeoutMs: number
  readonly allowExitOnIdle: boolean
  readonly maxUses: number
  readonly maxLifetimeMs: number
  readonly lifetimeJitterMs: number
  readonly connectTimeoutFor: (node: ParsedConnectionString) => number
  readonly probeBackoffMs: { readonly initial: number; readonly max: number }
  readonly rebalance: boolean
  readonly onEvent: ((event: ClusterEvent) => void) | undefined
  readonly random: () => number
}

/** The pool options ClusterPool reads itself from `poolConfig` (pg-pool's names and defaults). */
interface PoolLimits {
  readonly max?: number
  readonly idleTimeoutMillis?: number | null
  readonly connectionTimeoutMillis?: number
  readonly allowExitOnIdle?: boolean
  readonly maxUses?: number
  readonly maxLifetimeSeconds?: number
}

/** pg-pool options that are the pool's, not the client's: not passed to pg.Client. @internal */
export const POOL_ONLY_OPTIONS: readonly string[] = Object.freeze([
  'max',
  'min',
  'idleTimeoutMillis',
  'allowExitOnIdle',
  'maxUses',
  'maxLifetimeSeconds',
  'log',
  'Promise',
  'Client',
])

const API = 'CockroachDialect'

/**
 * The default connection lifetime of the pools the dialect builds: 10 minutes, inside the 5-30
 * minutes of CockroachDB's connection pooling docs (/docs/stable/connection-pooling, "Set the
 * maximum lifetime of connections"). @internal
 */
export const DEFAULT_MAX_LIFETIME_MS = 600_000

/** @internal */
export function resolveClusterOptions(cluster: ClusterOptions | undefined, poolConfig: PoolLimits | undefined): ResolvedClusterOptions {
  const options = cluster ?? {}
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(API, 'cluster must be an object', 'give e.g. { maxLifetimeMs: 600_000 }')
  }
  const known = ['maxLifetimeMs', 'lifetimeJitterMs', 'connectTimeoutMs', 'probeBackoffMs', 'rebalance', 'onEvent']
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new QueryRefusedError(API, `unknown cluster option '${key}'`, `use only ${known.join(', ')}`)
  }
  if (poolConfig?.maxLifetimeSeconds !== undefined) {
    throw new QueryRefusedError(
      API,
      'poolConfig.maxLifetimeSeconds is replaced by cluster.maxLifetimeMs (with jitter) for a cluster',
      'move it there',
    )
  }
  const maxLifetimeMs = milliseconds('cluster.maxLifetimeMs', options.maxLifetimeMs, DEFAULT_MAX_LIFETIME_MS)
  const lifetimeJitterMs = milliseconds('cluster.lifetimeJitterMs', options.lifetimeJitterMs, Math.round(maxLifetimeMs / 10))
  // At most half: each connection then lives at least half of maxLifetimeMs. A jitter equal to the
  // lifetime would let a connection be closed next to at once after it opened.
  if (lifetimeJitterMs > maxLifetimeMs / 2) {
    throw new QueryRefusedError(
      API,
      `cluster.lifetimeJitterMs (${lifetimeJitterMs}) exceeds half of cluster.maxLifetimeMs (${maxLifetimeMs})`,
      'make the jitter at most half the lifetime (the default is a tenth)',
    )
  }
  const connectTimeoutMs = milliseconds('cluster.connectTimeoutMs', options.connectTimeoutMs, 5000)
  if (connectTimeoutMs === 0) {
    throw new QueryRefusedError(
      API,
      'cluster.connectTimeoutMs must be above 0',
      'give a bound such as 5000: a node that never answers must time out to be marked down',
    )
  }
  const initial = milliseconds('cluster.probeBackoffMs.initial', options.probeBackoffMs?.initial, 250)
  const max = milliseconds('cluster.probeBackoffMs.max', options.probeBackoffMs?.max, Math.max(10_000, initial))
  if (options.rebalance !== undefined && typeof options.rebalance !== 'boolean') {
    throw new QueryRefusedError(API, `cluster.rebalance must be true or false, got ${String(options.rebalance)}`, 'fix the value')
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new QueryRefusedError(API, 'cluster.onEvent must be a function', 'give (event) => { ... }')
  }
  const poolWait = poolConfig?.connectionTimeoutMillis ?? 0
  return Object.freeze({
    max: poolConfig?.max ?? 10,
    // pg-pool: null or 0 turns the idle timeout off.
    idleTimeoutMs: poolConfig?.idleTimeoutMillis === null ? 0 : (poolConfig?.idleTimeoutMillis ?? 10_000),
    acquireTimeoutMs: poolWait,
    allowExitOnIdle: poolConfig?.allowExitOnIdle ?? false,
    maxUses: poolConfig?.maxUses ?? 0,
    maxLifetimeMs,
    lifetimeJitterMs,
    // Per attempt, in order: the URL's connect_timeout, poolConfig.connectionTimeoutMillis, then
    // cluster.connectTimeoutMs; 0 ("wait forever" in libpq and pg) falls through to the next.
    connectTimeoutFor: (node: ParsedConnectionString) =>
      (node.connectionTimeoutMillis ?? 0) > 0 ? (node.connectionTimeoutMillis as number) : poolWait > 0 ? poolWait : connectTimeoutMs,
    probeBackoffMs: Object.freeze({ initial, max }),
    rebalance: options.rebalance ?? true,
    onEvent: options.onEvent,
    random: Math.random,
  })
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) {
    throw new QueryRefusedError(API, `${name} must be a whole number of milliseconds >= 0, got ${String(value)}`, 'fix the value')
  }
  return value
}
