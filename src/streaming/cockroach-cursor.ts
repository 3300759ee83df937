import type { PostgresCursor, PostgresCursorConstructor } from 'kysely'
import type { PgTypeOverrides } from '../connection/int8-type-parsers.js'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'

/**
 * What node-postgres hands a submittable query (`submit(connection)`): its `Connection`, an event
 * emitter that emits `end` once the socket has closed (pg/lib/connection.js, the stream's `close`).
 */
interface SubmittedConnection {
  once(event: 'end', listener: () => void): unknown
  removeListener(event: 'end', listener: () => void): unknown
}

interface SubmittableCursor extends PostgresCursor<unknown> {
  submit?(connection: unknown): void
  /** node-postgres calls it with every error meant for the query (pg lib/client.js). */
  handleError?(error: unknown, connection?: unknown): void
  /** pg-cursor's state: `'done'` once it has read its ReadyForQuery. */
  readonly state?: string
}

type CursorClass = new (sql: string, parameters: unknown[], config?: object) => SubmittableCursor

/**
 * The cursor class {@link CockroachDriver} gives Kysely's `PostgresDriver` for `stream()` outside
 * transactions: the configured one (pg-cursor), with the dialect's INT8 parsers as its per-cursor
 * type parsers (pg-cursor's third constructor argument), and which ends instead of hanging when the
 * connection dies.
 *
 * The hang: Kysely's `PostgresConnection.streamQuery` awaits `cursor.close()` in a `finally`
 * (kysely 0.28 and 0.29, dialect/postgres/postgres-driver.js), and pg-cursor's `close()` sends
 * Close and resolves on the next ReadyForQuery (pg-cursor index.js, `close`), which a dead connection
 * never sends, so `for await` never ends. Likewise a `read()` pending when the connection dies
 * right after CommandComplete is never answered (pg-cursor ignores errors once it is `done`). Here
 * both also settle when the connection emits `end`: `close()` resolves (the portal died with the
 * session), and `read()` rejects with a connection error unless the cursor settled it first with
 * its own (pg errors every active query on `end`, in a `nextTick`; this waits a `setImmediate`).
 * The stream then ends with the error, and Kysely releases the client, which the pool destroys.
 *
 * It also never lets a stream end early without an error. node-postgres arms `query_timeout` once,
 * when `client.query()` takes the cursor, and pg-cursor never calls the query callback that clears it
 * (pg lib/client.js, `query`; pg-cursor has no `callback`): outside a transaction the timeout is one
 * deadline for the whole stream. When it passes between two reads, pg-cursor's `handleError` sends
 * Sync, the server's ReadyForQuery marks the cursor done, and the next `read()` resolves with no rows
 * (pg-cursor index.js, `handleError`, `handleReadyForQuery`, `read`), which Kysely takes for the end
 * of the result. Here a read after an error the cursor handled rejects with that error.
 *
 * @internal
 */
export function cursorClass(
  cursor: PostgresCursorConstructor | undefined,
  types: PgTypeOverrides | undefined,
): PostgresCursorConstructor | undefined {
  if (cursor === undefined) {
    return undefined
  }
  const Base = cursor as unknown as CursorClass
  const config = types === undefined ? undefined : Object.freeze({ types })

  class CockroachCursor extends Base {
    #connection: SubmittedConnection | undefined
    #connectionEnded = false
    // What settles the reads and the close in flight when the connection ends. Kept per call, not
    // chained on one promise, so a long stream does not pile up a reaction per chunk.
    readonly #onConnectionEnd = new Set<() => void>()
    // The first error pg-cursor acted on (it ignores those that come once it is done).
    #failure: { readonly error: unknown } | undefined
    readonly #onEnd = () => {
      this.#connectionEnded = true
      for (const settle of [...this.#onConnectionEnd]) settle()
    }

    constructor(sql: string, parameters: unknown[]) {
      super(sql, parameters, config)
    }

    override submit(connection: unknown): void {
      super.submit!(connection)
      if (isSubmittedConnection(connection)) {
        this.#connection = connection
        connection.once('end', this.#onEnd)
      }
    }

    override handleError(error: unknown, connection?: unknown): void {
      if (this.#failure === undefined && this.state !== 'done') {
        this.#failure = { error }
      }
      super.handleError?.(error, connection)
    }

    override read(rowCount: number): Promise<unknown[]> {
      const rows = super.read(rowCount).then(
        (read) => {
          if (this.#failure !== undefined) {
            throw streamError(this.#failure.error)
          }
          return read
        },
        (error: unknown) => {
          throw streamError(error)
        },
      )
      return this.#settleOnEnd(rows, (_resolve, reject) =>
        // pg errors the active query on `end` in a nextTick: its error, if it comes, wins.
        setImmediate(() => reject(connectionEndedError())),
      )
    }

    override close(): Promise<void> {
      if (this.#connectionEnded) {
        this.#detach()
        return Promise.resolve()
      }
      return this.#settleOnEnd(super.close(), (resolve) => resolve()).finally(() => this.#detach())
    }

    /** `pending`, or what `onEnd` makes of it should the connection end first. */
    #settleOnEnd<T>(
      pending: Promise<T>,
      onEnd: (resolve: (value: T | PromiseLike<T>) => void, reject: (error: Error) => void) => void,
    ): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const settle = () => onEnd(resolve, reject)
        this.#onConnectionEnd.add(settle)
        if (this.#connectionEnded) {
          settle()
        }
        pending.then(resolve, reject).finally(() => this.#onConnectionEnd.delete(settle))
      })
    }

    #detach(): void {
      this.#connection?.removeListener('end', this.#onEnd)
      this.#connection = undefined
    }
  }

  if (typeof (Base.prototype as Partial<SubmittableCursor>).submit !== 'function') {
    // Not a node-postgres submittable (pg would not run it anyway): only the type parsers apply.
    return (types === undefined ? cursor : typesOnly(Base, config)) as PostgresCursorConstructor
  }
  return CockroachCursor as unknown as PostgresCursorConstructor
}

function typesOnly(Base: CursorClass, config: object | undefined): CursorClass {
  return class extends Base {
    constructor(sql: string, parameters: unknown[]) {
      super(sql, parameters, config)
    }
  }
}

function isSubmittedConnection(value: unknown): value is SubmittedConnection {
  const candidate = value as Partial<SubmittedConnection> | null
  return typeof candidate?.once === 'function' && typeof candidate.removeListener === 'function'
}

/** pg's query_timeout error (pg lib/client.js, `query`) explained; any other error as it is. */
function streamError(error: unknown): unknown {
  if (!(error instanceof Error) || error.message !== 'Query read timeout') {
    return error
  }
  return new KyselyCockroachError(
    "stream(): node-postgres' query_timeout passed before the stream ended; the rows received so far are not all " +
      'of the result. Outside a transaction query_timeout is one deadline for the whole stream, not one per read: ' +
      'raise it above the longest stream, or stream inside a transaction, where each FETCH has its own.',
    { cause: error },
  )
}

function connectionEndedError(): KyselyCockroachError {
  // "Connection terminated" is what isConnectionError recognises, as it does pg's own message.
  return new KyselyCockroachError(
    'stream(): Connection terminated unexpectedly while reading rows; the rows received so far are not all of ' +
      'the result. Run the query again on a new connection.',
  )
}
