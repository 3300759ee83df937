import type { LeaseSqlRunner } from './migration-lock-table.js'

interface ControlClient {
  connect(): Promise<unknown>
  query(sql: string, parameters: unknown[]): Promise<{ rows?: Array<Record<string, unknown>> }>
  end(): Promise<void> | void
  on?(event: 'error', listener: (error: Error) => void): unknown
}

type ControlClientConstructor = new (config: Record<string, unknown>) => ControlClient

/** The parts of a `pg.Pool` the renewal session is built from. @internal */
export interface ControlClientSource {
  readonly Client?: unknown
  readonly options?: unknown
}

/**
 * Runs each lease renewal on a short-lived connection of its own, opened with the pool's `Client`
 * class and connection options (as Kysely 0.29's `PostgresConnection` does for its query-cancelling
 * control client), and closed right after.
 *
 * Kysely >= 0.29.3 runs the migrations on the same pinned connection it took the lock on
 * (kysely PR #1919), and a connection runs one statement at a time: a renewal sent there would
 * wait behind a long `CREATE INDEX` or backfill and the lease would run out mid-migration. A
 * connection checked out from the pool instead could wait for a free slot behind that very
 * migration (a pool of one, or a busy one). A separate, short-lived client has neither problem,
 * holds no idle socket between renewals, and costs one connection every `renewIntervalMs`.
 *
 * @internal
 */
export class MigrationLeaseSession implements LeaseSqlRunner {
  readonly #Client: ControlClientConstructor
  readonly #config: Readonly<Record<string, unknown>>

  private constructor(Client: ControlClientConstructor, config: Readonly<Record<string, unknown>>) {
    this.#Client = Client
    this.#config = config
  }

  /**
   * A session built from `pool`, or `undefined` when the pool does not expose node-postgres'
   * `Client` class and options (a custom `PostgresPool`).
   */
  static fromPool(pool: ControlClientSource, timeoutMs: number): MigrationLeaseSession | undefined {
    const { Client, options } = pool
    if (typeof Client !== 'function' || typeof options !== 'object' || options === null) {
      return undefined
    }
    const poolOptions = options as Record<string, unknown>
    const config = Object.freeze({
      ...poolOptions,
      // pg-pool keeps `password` non-enumerable, so the spread above misses it.
      password: poolOptions.password,
      // A renewal stuck on a dead network must give up before the next one is due.
      connectionTimeoutMillis: poolOptions.connectionTimeoutMillis ?? timeoutMs,
      query_timeout: timeoutMs,
    })
    return new MigrationLeaseSession(Client as ControlClientConstructor, config)
  }

  async query(sql: string, parameters: readonly unknown[]): Promise<ReadonlyArray<Readonly<Record<string, unknown>>>> {
    const client = new this.#Client({ ...this.#config })
    // A socket error on an idle pg client is emitted as an event; unhandled, it would crash the process.
    client.on?.('error', () => {})
    try {
      await client.connect()
      const result = await client.query(sql, [...parameters])
      return result.rows ?? []
    } finally {
      try {
        await client.end()
      } catch {
        // Closing a connection that failed to open can fail too; the query's outcome is what matters.
      }
    }
  }
}
