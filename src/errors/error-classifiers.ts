/**
 * Reads the SQLSTATE of a database error thrown by node-postgres (its `code` property), or
 * `undefined` for errors that did not come from the server.
 *
 * ```ts
 * import { getSqlState } from 'kysely-cockroachdb'
 *
 * try {
 *   await db.insertInto('account').values(row).execute()
 * } catch (error) {
 *   if (getSqlState(error) === '23505') {
 *     // unique_violation
 *   }
 * }
 * ```
 */
export function getSqlState(error: unknown): string | undefined {
  // Node's system errors (`errno` and `syscall` set) carry errno names, some of which have five
  // letters like a SQLSTATE: EPIPE, EPERM, EBUSY.
  if (typeof readProperty(error, 'syscall') === 'string') {
    return undefined
  }
  const code = readProperty(error, 'code')
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

// Errors node-postgres and Node's net/tls layers raise when the connection itself is gone.
const CONNECTION_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
])

const CONNECTION_ERROR_MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Connection closed',
  'timeout exceeded when trying to connect',
]

/**
 * Whether an error means the connection to the server is unusable: a socket error, an unexpected
 * close, SQLSTATE class 08 (connection exception), or 57P01-57P03 (the server shutting down or
 * refusing connections). A transaction on such a connection was not committed by anything the
 * client sent afterwards, and the connection must not go back to the pool.
 *
 * ```ts
 * import { isConnectionError } from 'kysely-cockroachdb'
 *
 * if (isConnectionError(error)) {
 *   metrics.increment('db.connection_lost')
 * }
 * ```
 */
export function isConnectionError(error: unknown): boolean {
  const state = getSqlState(error)
  if (state !== undefined) {
    return state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03'
  }
  const code = readProperty(error, 'code')
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) {
    return true
  }
  const message = readProperty(error, 'message')
  return typeof message === 'string' && CONNECTION_ERROR_MESSAGES.some((m) => message.includes(m))
}

/**
 * Whether CockroachDB refused a statement because a wire-protocol portal (a pg-cursor stream) was
 * still open in the same explicit transaction. SQLSTATE 0A000; the message changed across versions
 * ("multiple active portals not supported", later "... is in preview, please set session variable
 * multiple_active_portals_enabled ..."), see cockroachdb/cockroach pkg/sql/distsql_running.go and
 * cockroach#40195.
 *
 * Kysely never runs into this through this dialect (statements on a connection are serialized,
 * and `stream()` inside transactions reads a SQL cursor); it is for code that drives
 * node-postgres directly.
 *
 * ```ts
 * import { isMultipleActivePortalsError } from 'kysely-cockroachdb'
 *
 * try {
 *   await client.query('update job set done = true where id = $1', [id]) // a pg-cursor is still open
 * } catch (error) {
 *   if (isMultipleActivePortalsError(error)) {
 *     // close the cursor first, or read through DECLARE ... CURSOR / FETCH
 *   }
 *   throw error
 * }
 * ```
 */
export function isMultipleActivePortalsError(error: unknown): boolean {
  const message = readProperty(error, 'message')
  return getSqlState(error) === '0A000' && typeof message === 'string' && message.includes('multiple active portals')
}

/**
 * Reads `value[key]` when `value` is an object, else `undefined`: for inspecting errors of unknown
 * shape: `readProperty(new Error('x'), 'message')` is `'x'`, `readProperty(undefined, 'message')`
 * is `undefined`.
 *
 * @internal
 */
export function readProperty(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
}
