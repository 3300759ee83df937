import type { DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, PostgresPool, QueryCompiler } from 'kysely'
import { CockroachAdapter } from './cockroach-adapter.js'
import type { CockroachDialectConfig } from './cockroach-dialect-config.js'
import { CockroachDriver } from './cockroach-driver.js'
import { CockroachIntrospector } from './cockroach-introspector.js'
import { CockroachQueryCompiler } from './cockroach-query-compiler.js'
import { createInt8TypeOverrides } from '../connection/int8-type-parsers.js'
import type { PgTypeOverrides } from '../connection/int8-type-parsers.js'
import { createConnectionHook, DEFAULT_APPLICATION_NAME, poolFactory, validatePoolConfig } from '../connection/pool-factory.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { planClusterPool } from '../cluster/cluster-pool-factory.js'
import type { ClusterPoolPlan } from '../cluster/cluster-pool-factory.js'
import type { ClusterPool } from '../cluster/cluster-pool.js'
import type { NodeStatus } from '../cluster/cluster-options.js'

/**
 * Kysely dialect for CockroachDB, on node-postgres.
 *
 * ```ts
 * import Cursor from 'pg-cursor'
 * import { Kysely } from 'kysely'
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * const db = new Kysely<DB>({
 *   dialect: new CockroachDialect({
 *     connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable',
 *     cursor: Cursor,
 *   }),
 * })
 * ```
 */
export class CockroachDialect implements Dialect {
  readonly #config: CockroachDialectConfig
  readonly #createPool: () => Promise<PostgresPool>
  readonly #types: PgTypeOverrides | undefined
  // Kysely creates a driver and then the adapter for each instance; the adapter renews migration
  // leases with connections configured like that driver's pool.
  #lastDriver: CockroachDriver | undefined
  // The newest cluster pool this dialect built, for nodeStatus().
  #lastClusterPool: ClusterPool | undefined

  constructor(config: CockroachDialectConfig) {
    if (typeof config !== 'object' || config === null) {
      throw new QueryRefusedError('CockroachDialect', 'expected a config object', 'give one such as { connectionString, cursor }')
    }
    this.#config = Object.freeze({ ...config })
    if (this.#config.pool !== undefined && (this.#config.nodes !== undefined || this.#config.cluster !== undefined)) {
      throw new QueryRefusedError(
        'CockroachDialect',
        '`nodes` and `cluster` configure the pool the dialect builds; they do not apply with `pool`',
        'drop them, or give connectionString instead of pool',
      )
    }
    // Several hosts, `nodes` or `cluster`: the cluster pool (src/cluster/), whose parser reads the
    // host list (and refuses a bad one here, at construction).
    const plan = this.#config.pool === undefined ? planClusterPool(this.#config) : undefined
    validatePoolConfig(this.#config, { connectionStringParsed: plan !== undefined })
    this.#createPool =
      plan === undefined
        ? poolFactory(this.#config)
        : async () => (this.#lastClusterPool = plan.create(clusterApplicationName(this.#config, plan))) as unknown as PostgresPool
    this.#types = this.#config.int8 === undefined ? undefined : createInt8TypeOverrides(this.#config.int8)
  }

  createDriver(): Driver {
    const { cursor, copyFrom, onReserveConnection } = this.#config
    return (this.#lastDriver = new CockroachDriver({
      createPool: this.#createPool,
      cursor,
      copyFrom,
      types: this.#types,
      onCreateConnection: createConnectionHook(this.#config),
      onReserveConnection,
    }))
  }

  /**
   * The nodes of the newest pool this dialect built for a cluster (several hosts in the
   * connection string, `nodes`, or `cluster`), with their state and connection counts; empty
   * before the first query, and for a single-host or user-built pool.
   *
   * ```ts
   * import { CockroachDialect } from 'kysely-cockroachdb'
   *
   * const dialect = new CockroachDialect({ connectionString: 'postgresql://root@n1:26257,n2:26257/defaultdb?sslmode=disable' })
   * // later, for a dashboard:
   * for (const { node, state, total, inUse } of dialect.nodeStatus()) console.log(node, state, inUse, total)
   * ```
   */
  nodeStatus(): readonly NodeStatus[] {
    return this.#lastClusterPool?.nodeStatus() ?? Object.freeze([])
  }

  createQueryCompiler(): QueryCompiler {
    return new CockroachQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    const driver = this.#lastDriver
    return new CockroachAdapter(this.#config.migrationLock, driver === undefined ? this.#createPool : () => driver.pool())
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface takes Kysely<any>
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new CockroachIntrospector(db, this.#config.introspection)
  }
}

/** The application_name of a cluster pool's connections, with the precedence of the single-host pool. */
function clusterApplicationName(config: CockroachDialectConfig, plan: ClusterPoolPlan): string {
  return (
    config.applicationName ??
    (config.poolConfig as { application_name?: string } | undefined)?.application_name ??
    plan.nodes[0]?.options.application_name ??
    DEFAULT_APPLICATION_NAME
  )
}
