import type { DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, PostgresPool, QueryCompiler } from 'kysely'
import { CockroachAdapter } from './cockroach-adapter.js'
import type { CockroachDialectConfig } from './cockroach-dialect-config.js'
import { CockroachDriver } from './cockroach-driver.js'
import { CockroachIntrospector } from './cockroach-introspector.js'
import { CockroachQueryCompiler } from './cockroach-query-compiler.js'
import { createInt8TypeOverrides } from '../connection/int8-type-parsers.js'
import type { PgTypeOverrides } from '../connection/int8-type-parsers.js'
import { createConnectionHook, poolFactory, validatePoolConfig } from '../connection/pool-factory.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'

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

  constructor(config: CockroachDialectConfig) {
    if (typeof config !== 'object' || config === null) {
      throw new QueryRefusedError('CockroachDialect', 'expected a config object', 'give one such as { connectionString, cursor }')
    }
    this.#config = Object.freeze({ ...config })
    validatePoolConfig(this.#config)
    this.#createPool = poolFactory(this.#config)
    this.#types = this.#config.int8 === undefined ? undefined : createInt8TypeOverrides(this.#config.int8)
  }

  createDriver(): Driver {
    const { cursor, onReserveConnection } = this.#config
    return (this.#lastDriver = new CockroachDriver({
      createPool: this.#createPool,
      cursor,
      types: this.#types,
      onCreateConnection: createConnectionHook(this.#config),
      onReserveConnection,
    }))
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
