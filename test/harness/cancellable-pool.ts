// A pg.Pool stand-in for query cancellation without a server: its clients carry a pid, a secret key
// and the address of a cancel listener the test runs on loopback, as node-postgres clients do.
import type { PostgresPool, PostgresPoolClient } from 'kysely'
import { pgError } from './scripted-pool.js'

/** The statement that hangs until cancelled. */
export const SLEEP = 'select pg_sleep(30)'
/** What CockroachDialect asks before 'kill session': CockroachDB answers an id, PostgreSQL null. */
export const SESSION_INFO = "select current_setting('session_id', true) as session_id"

/**
 * A pg.Pool stand-in: {@link SLEEP} hangs until a CancelRequest with this client's key reaches the
 * test's cancel listener (which hands its bytes to {@link CancellablePool.cancelled}), or until
 * `cancel session '<its id>'` is sent, as the real servers do. Client `n` (from 1) has pid `n`, the
 * key {@link secretKeyOf}(n) and the session id `sessionId(n)`; `port()` is the listener's port.
 */
export class CancellablePool {
  readonly statements: string[] = []
  readonly releases: boolean[] = []
  readonly options = {}
  readonly cancelRequests: Buffer[] = []
  #sleepers = new Map<number, (error: Error) => void>()
  #next = 0

  constructor(
    readonly port: () => number,
    readonly sessionId: (id: number) => string | null,
  ) {}

  /** This stand-in typed as the pool `CockroachDialect({ pool })` takes. */
  asPool(): PostgresPool {
    return this as unknown as PostgresPool
  }

  /** Called by the cancel listener with the request's bytes. */
  cancelled(request: Buffer): void {
    this.cancelRequests.push(request)
    const pid = request.readInt32BE(8)
    const key = request.readInt32BE(12)
    if (key === secretKeyOf(pid)) {
      this.#sleepers.get(pid)?.(pgError('57014', 'canceling statement due to user request'))
    }
  }

  async connect(): Promise<PostgresPoolClient> {
    const id = ++this.#next
    return {
      processID: id,
      secretKey: secretKeyOf(id),
      host: '127.0.0.1',
      port: this.port(),
      query: (text: unknown) => {
        const statement = String(text)
        this.statements.push(statement)
        if (statement === SLEEP) {
          return new Promise((_, reject) => this.#sleepers.set(id, reject))
        }
        if (statement === SESSION_INFO) {
          return Promise.resolve({ command: 'SELECT', rowCount: 1, rows: [{ session_id: this.sessionId(id) }] })
        }
        const killed = /^cancel session if exists '([0-9a-f]+)'$/.exec(statement)
        if (killed !== null) {
          for (const [pid, reject] of this.#sleepers) {
            if (this.sessionId(pid) === killed[1]) reject(new Error('Connection terminated unexpectedly'))
          }
        }
        return Promise.resolve({ command: 'SELECT', rowCount: 0, rows: [] })
      },
      release: (destroy?: boolean) => void this.releases.push(destroy === true),
    } as unknown as PostgresPoolClient
  }

  async end(): Promise<void> {}
}

export function secretKeyOf(pid: number): number {
  return 0x5eed0000 + pid
}
