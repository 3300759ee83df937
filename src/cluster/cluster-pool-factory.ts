// Builds the ClusterPool for a dialect configuration: the nodes (parsed once, at construction),
// the client options every node shares, and the pool limits read from poolConfig as pg-pool reads
// them.
import type { ClientConfig, PoolConfig } from 'pg'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { parseClusterNodes } from './cluster-nodes.js'
import type { ClusterNodeAddress, ClusterNodeConfig } from './cluster-nodes.js'
import { POOL_ONLY_OPTIONS, resolveClusterOptions } from './cluster-options.js'
import type { ClusterOptions, ResolvedClusterOptions } from './cluster-options.js'
import { ClusterPool } from './cluster-pool.js'

/** What the dialect's config gives the cluster pool. @internal */
export interface ClusterPoolSettings {
  readonly connectionString?: string
  readonly nodes?: ReadonlyArray<ClusterNodeAddress>
  readonly cluster?: ClusterOptions
  readonly poolConfig?: Readonly<Omit<PoolConfig, 'connectionString' | 'types'>>
}

/** A validated plan for a cluster pool, or undefined when the dialect keeps its single-host pg.Pool. @internal */
export interface ClusterPoolPlan {
  readonly nodes: readonly ClusterNodeConfig[]
  readonly options: ResolvedClusterOptions
  /** Builds a pool; `applicationName` (the dialect's resolved one) goes to every connection as a startup parameter. */
  create(applicationName: string): ClusterPool
}

/**
 * The cluster pool is used when the connection string lists several hosts, `nodes` is given, or
 * `cluster` is given; one host without `cluster` keeps the pg.Pool the dialect always built.
 *
 * @internal
 */
export function planClusterPool(settings: ClusterPoolSettings): ClusterPoolPlan | undefined {
  if (settings.connectionString === undefined && settings.nodes === undefined) return undefined
  const nodes = parseClusterNodes(settings.connectionString, settings.nodes)
  if (nodes.length < 2 && settings.nodes === undefined && settings.cluster === undefined) return undefined
  const poolConfig = settings.poolConfig ?? {}
  for (const key of ['host', 'port'] as const) {
    if (poolConfig[key] !== undefined) {
      throw new QueryRefusedError(
        'CockroachDialect',
        `poolConfig.${key} cannot be used with a cluster: each node has its own`,
        'give the nodes in connectionString or nodes',
      )
    }
  }
  const options = resolveClusterOptions(settings.cluster, poolConfig)
  const clientConfig = Object.fromEntries(
    Object.entries(poolConfig).filter(
      ([key, value]) => value !== undefined && !POOL_ONLY_OPTIONS.includes(key) && key !== 'connectionTimeoutMillis',
    ),
  ) as ClientConfig
  return Object.freeze({
    nodes,
    options,
    create: (applicationName: string) =>
      new ClusterPool(
        nodes,
        {
          // TCP keepalive, so that idle connections to a host that vanished without a RST die
          // eventually (it does not bound a statement waiting on one: use query_timeout for that).
          keepAlive: true,
          keepAliveInitialDelayMillis: 10_000,
          ...clientConfig,
          application_name: applicationName,
        },
        options,
      ),
  })
}
