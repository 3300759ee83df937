import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely'
import { isOwnConnectionError } from '../errors/error-classifiers.js'
import type { PgTypeOverrides } from '../connection/int8-type-parsers.js'
import { cancelTargetOf } from '../connection/pgwire-cancel.js'
import type { CancelTarget } from '../connection/pgwire-cancel.js'

interface EventSource {
  on(event: 'error', listener: (error: Error) => void): unknown
}

/** A one-off client for control statements, as Kysely 0.29's `PostgresConnection` builds one. */
interface ControlClient {
  connect(): Promise<unknown>
  query(sql: string, parameters: unknown[]): Promise<unknown>
  end(): Promise<unknown>
}

interface QueryConfigClient {
  query<R>(config: { text: string; values: ReadonlyArray<unknown>; types: PgTypeOverrides }): Promise<PostgresQueryResult<R>>
}

/**
 * Wraps the `pg.Pool` that Kysely's `PostgresDriver` takes connections from, so that every client
 * it hands out:
 *
 * - has an `error` listener while checked out (pg-pool removes its own on checkout, and an
 *   `error` event with no listener would crash the process when a connection drops between queries);
 * - is destroyed, not pooled again, once it has seen a connection-level error, and names that
 *   error as the `cause` of the bare "not queryable" error of a statement sent on it afterwards;
 * - parses INT8 with the dialect's per-query type overrides, leaving pg's global parsers alone.
 *
 * @internal
 */
export class CockroachPool implements PostgresPool {
  readonly #pool: PostgresPool
  readonly #types: PgTypeOverrides | undefined
  readonly #clients = new WeakMap<PostgresPoolClient, CockroachPoolClient>()

  constructor(pool: PostgresPool, types: PgTypeOverrides | undefined) {
    this.#pool = pool
    this.#types = types
  }

  // Kysely 0.29 builds its query-cancelling control client from these.
  get Client(): PostgresPool['Client'] {
    return this.#pool.Client
  }

  get options(): object {
    return this.#pool.options
  }

  async connect(): Promise<CockroachPoolClient> {
    const client = await this.#pool.connect()
    let wrapper = this.#clients.get(client)
    if (wrapper === undefined) {
      wrapper = new CockroachPoolClient(client, this.#types)
      this.#clients.set(client, wrapper)
    }
    return wrapper
  }

  async end(): Promise<void> {
    await this.#pool.end()
  }

  /**
   * Runs `sql` on a connection of its own, outside the pool, so that it never waits for a pooled
   * connection (the one it acts on may be the pool's last). Kysely 0.29's `PostgresConnection` does
   * the same for its control queries; a pool without a `Client` class lends a pooled connection.
   * `stillWanted` is asked once connected: by then the statement may be moot (the query it was to
   * stop has ended, and its session may run another).
   */
  async controlQuery(sql: string, stillWanted: () => boolean = () => true): Promise<void> {
    // Read loosely: kysely 0.28's PostgresPool type has neither `Client` nor `options`.
    const { Client, options } = this.#pool as { Client?: unknown; options?: Record<string, unknown> }
    if (typeof Client !== 'function') {
      const client = await this.#pool.connect()
      try {
        if (stillWanted()) await client.query(sql, [])
      } finally {
        client.release()
      }
      return
    }
    // `password` is not enumerable on pg-pool's options (Kysely 0.29 copies it the same way).
    const control = new (Client as unknown as new (config: object) => ControlClient)({
      ...options,
      password: options !== undefined && 'password' in options ? options.password : undefined,
    })
    try {
      await control.connect()
      if (stillWanted()) await control.query(sql, [])
    } finally {
      await control.end().catch(() => undefined)
    }
  }
}

/** @internal */
export class CockroachPoolClient implements PostgresPoolClient {
  readonly #client: PostgresPoolClient
  readonly #types: PgTypeOverrides | undefined
  #broken = false
  #discarded = false
  // pg clients are event emitters that emit `error` on every connection loss; other clients (a
  // custom PostgresPool) only show it in query rejections.
  readonly #emitsErrors: boolean
  // node-postgres reports an error that arrives between queries only as an event; the next query
  // then fails with a bare "not queryable". Kept to name the cause there.
  #connectionError: Error | undefined

  constructor(client: PostgresPoolClient, types: PgTypeOverrides | undefined) {
    this.#client = client
    this.#types = types
    const events = client as unknown as Partial<EventSource>
    this.#emitsErrors = typeof events.on === 'function'
    if (this.#emitsErrors) {
      events.on!('error', (error) => {
        this.#broken = true
        this.#connectionError ??= error
      })
    }
  }

  get processID(): number | undefined {
    return this.#client.processID
  }

  /** Where a wire-protocol cancel request for this session goes, if the client is node-postgres'. */
  get cancelTarget(): CancelTarget | undefined {
    return cancelTargetOf(this.#client)
  }

  /**
   * Destroys the client on its next release instead of pooling it again: its session is in an
   * unknown state (a failed ROLLBACK; Kysely's own driver discards such connections too).
   */
  discard(): void {
    this.#discarded = true
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>
  query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') {
      return this.#client.query(sqlOrCursor)
    }
    const values = parameters ?? []
    const pending =
      this.#types === undefined
        ? this.#client.query<R>(sqlOrCursor, values)
        : (this.#client as unknown as QueryConfigClient).query<R>({ text: sqlOrCursor, values, types: this.#types })
    // A healthy pg client reports connection loss through the listener above: no handler needed on
    // the hot path. A broken one gets the cause named; a non-emitting client is classified here.
    return this.#emitsErrors && !this.#broken ? pending : pending.catch((error: unknown) => this.#failed(error))
  }

  #failed(error: unknown): never {
    if (isOwnConnectionError(error)) {
      this.#broken = true
      if (error instanceof Error && error.cause === undefined && this.#connectionError !== error) {
        error.cause = this.#connectionError
      }
    }
    throw error
  }

  release(destroy?: boolean): void {
    const discard = destroy === true || this.#broken || this.#discarded
    this.#broken = false
    this.#discarded = false
    this.#client.release(discard)
  }
}
