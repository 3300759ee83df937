import pg from 'pg'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'

/**
 * What a PostgreSQL wire-protocol cancel request needs: where the session's server is, and the
 * key it sent in BackendKeyData at startup.
 *
 * @internal
 */
export interface CancelTarget {
  /** A host name or address, or a Unix-socket directory (starts with `/`). */
  readonly host: string
  readonly port: number
  readonly processID: number
  readonly secretKey: number
}

/** The parts of a node-postgres `Client` a cancel request is built from (node_modules/pg/lib/client.js). */
interface PgClientParts {
  readonly host?: unknown
  readonly port?: unknown
  readonly processID?: unknown
  readonly secretKey?: unknown
  readonly connection?: { readonly stream?: { readonly remoteAddress?: unknown; readonly remotePort?: unknown } }
}

/**
 * Reads the cancel target of a connected node-postgres client, or `undefined` when the client is
 * not one (a custom `PostgresPool`) or has no key yet.
 *
 * The address is the socket's remote end when it has one, not the configured host name: behind DNS
 * round robin or a load balancer a fresh lookup may reach another server (pgx does the same,
 * pgconn.go `CancelRequest`). On CockroachDB any node would do: the key carries the SQL instance id
 * of the node that holds the session, and the node that receives the request forwards it there
 * (docs/RFCS/20220202_pgwire_compatible_cancel.md, "SQL Node Changes").
 *
 * @internal
 */
export function cancelTargetOf(client: unknown): CancelTarget | undefined {
  const { host, port, processID, secretKey, connection } = (client ?? {}) as PgClientParts
  if (typeof processID !== 'number' || typeof secretKey !== 'number') {
    return undefined
  }
  const remoteAddress = connection?.stream?.remoteAddress
  const remotePort = connection?.stream?.remotePort
  if (typeof remoteAddress === 'string' && typeof remotePort === 'number') {
    return Object.freeze({ host: remoteAddress, port: remotePort, processID, secretKey })
  }
  if (typeof host !== 'string' || typeof port !== 'number') {
    return undefined
  }
  return Object.freeze({ host, port, processID, secretKey })
}

/** node-postgres' `Connection`, as far as a cancel request uses it (node_modules/pg/lib/connection.js). */
interface PgConnection {
  connect(port: number | string, host?: string): void
  cancel(processID: number, secretKey: number): void
  on(event: 'connect' | 'end', listener: () => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  readonly stream: { setTimeout(ms: number, callback: () => void): unknown; destroy(): void }
}

// A cancel request that reaches no server must not hold the aborted query's connection forever:
// Kysely releases that connection only once the abort handler has settled.
const CANCEL_REQUEST_TIMEOUT_MS = 10_000

/**
 * Sends a wire-protocol CancelRequest over a new connection, as libpq's `PQcancel` and
 * node-postgres' `Client.cancel` do, and resolves once the server has closed that connection,
 * which it does after processing the request (PostgreSQL docs, "Canceling Requests in Progress").
 *
 * The request goes unencrypted and unauthenticated, as node-postgres' `Client.cancel` sends it: the
 * key is the authentication, and CockroachDB reads it that way only ("sent without authentication,
 * always over an unencrypted channel", pkg/sql/pgwire/pre_serve.go, `PreServe`). CockroachDB
 * implements it from v22.1 (docs: CANCEL QUERY; cockroach#41335); older versions close the
 * connection without cancelling anything (cockroach PR #33202, fixing cockroach#32973; backported to
 * v2.1 as #33246).
 *
 * `stillWanted` is asked once connected, just before the request is written: the query may have
 * finished meanwhile, and a cancel must not hit the connection's next query.
 *
 * @internal
 */
export async function sendCancelRequest(target: CancelTarget, stillWanted: () => boolean = () => true): Promise<void> {
  const Connection = (pg as unknown as { Connection: new () => PgConnection }).Connection
  const connection = new Connection()
  await new Promise<void>((resolve, reject) => {
    connection.on('error', reject)
    connection.on('end', resolve)
    connection.on('connect', () => {
      if (!stillWanted()) {
        connection.stream.destroy()
        return
      }
      connection.cancel(target.processID, target.secretKey)
    })
    connection.stream.setTimeout(CANCEL_REQUEST_TIMEOUT_MS, () => {
      reject(
        new KyselyCockroachError(
          `CockroachDialect: the cancel request to ${target.host}:${target.port} got no answer within ` +
            `${CANCEL_REQUEST_TIMEOUT_MS / 1000} s; check that the server is reachable from this host.`,
        ),
      )
      connection.stream.destroy()
    })
    if (target.host.startsWith('/')) {
      connection.connect(`${target.host}/.s.PGSQL.${target.port}`)
    } else {
      connection.connect(target.port, target.host)
    }
  })
}
