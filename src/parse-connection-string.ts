import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'

/**
 * The `sslmode` values this package accepts, with libpq's meaning (not node-postgres' own).
 *
 * - `disable`: plain TCP. For a local `cockroach start-single-node --insecure` node.
 * - `require`: TLS, without checking the server certificate (unless `sslrootcert` is given, in
 *   which case libpq and this package behave as `verify-ca`).
 * - `verify-ca`: TLS, the certificate must chain to `sslrootcert`; the host name is not checked.
 * - `verify-full`: TLS, certificate and host name checked. What CockroachDB Cloud asks for.
 *
 * node-postgres on its own treats `require` and `verify-ca` as `verify-full` unless
 * `uselibpqcompat=true` is set (node-postgres PR #3473), so a URL copied from a libpq tool or from
 * sqlalchemy-cockroachdb would silently mean something else there.
 *
 * ```ts
 * import { parseConnectionString } from 'kysely-cockroachdb'
 * import type { SslMode } from 'kysely-cockroachdb'
 *
 * const sslmode: SslMode = parseConnectionString(process.env.DATABASE_URL!).sslmode
 * ```
 */
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full'

/**
 * The subset of node-postgres' client configuration that a connection string can set.
 *
 * ```ts
 * import { parseConnectionString } from 'kysely-cockroachdb'
 *
 * const { host, port, ssl, sslmode } = parseConnectionString('postgresql://root@localhost:26257/defaultdb?sslmode=disable')
 * // 'localhost', 26257, false, 'disable'
 * ```
 */
export interface ParsedConnectionString {
  readonly host?: string
  readonly port?: number
  readonly user?: string
  readonly password?: string
  readonly database?: string
  readonly ssl: false | ConnectionOptions
  readonly sslmode: SslMode
  /** Startup `options`, e.g. `--cluster=<routing-id>` for CockroachDB Cloud serverless clusters. */
  readonly options?: string
  readonly application_name?: string
  readonly connectionTimeoutMillis?: number
}

/** Default SQL port of CockroachDB, used for `cockroachdb://` URLs without a port. */
export const COCKROACH_DEFAULT_PORT = 26257

const SCHEMES = new Map<string, number>([
  ['postgres:', 5432],
  ['postgresql:', 5432],
  ['cockroachdb:', COCKROACH_DEFAULT_PORT],
])

const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full']

const SUPPORTED_PARAMETERS = [
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'options',
  'application_name',
  'connect_timeout',
  'user',
  'password',
  'host',
  'port',
  'dbname',
  // node-postgres' switch for libpq semantics: this package always applies them.
  'uselibpqcompat',
] as const

/**
 * Parses a `postgresql://`, `postgres://` or `cockroachdb://` connection string into node-postgres
 * client options, giving `sslmode` libpq's meaning.
 *
 * Errors name the bad part of the URL and never contain its password.
 *
 * ```ts
 * import { parseConnectionString } from 'kysely-cockroachdb'
 *
 * const options = parseConnectionString(
 *   'cockroachdb://maxroach@free-tier.gcp-us-central1.cockroachlabs.cloud/defaultdb' +
 *     '?sslmode=verify-full&options=--cluster%3Drouting-id-123',
 * )
 * // options.port === 26257, options.options === '--cluster=routing-id-123'
 * ```
 */
export function parseConnectionString(connectionString: string): ParsedConnectionString {
  if (typeof connectionString !== 'string' || connectionString.trim() === '') {
    throw new TypeError(
      'CockroachDialect: connectionString must be a non-empty string such as ' +
        "'postgresql://root@localhost:26257/defaultdb?sslmode=disable'",
    )
  }

  let url: URL
  try {
    url = new URL(connectionString)
  } catch {
    throw new TypeError(
      `CockroachDialect: connectionString is not a valid URL: ${redactConnectionString(connectionString)}. ` +
        "Expected the form 'postgresql://user:password@host:26257/database?sslmode=verify-full' " +
        '(percent-encode special characters in the user name and password).',
    )
  }

  const defaultPort = SCHEMES.get(url.protocol)
  if (defaultPort === undefined) {
    throw new TypeError(
      `CockroachDialect: unsupported connection string scheme '${url.protocol}' in ` +
        `${redactConnectionString(connectionString)}. Use postgresql://, postgres:// or cockroachdb://.`,
    )
  }

  const params = new Map<string, string>()
  for (const [key, value] of url.searchParams) {
    if (!(SUPPORTED_PARAMETERS as readonly string[]).includes(key)) {
      throw new TypeError(
        `CockroachDialect: unknown connection string parameter '${key}'. ` +
          `Supported parameters: ${SUPPORTED_PARAMETERS.join(', ')}.`,
      )
    }
    params.set(key, value)
  }

  const host = params.get('host') ?? decodeComponent(url.hostname.replace(/^\[(.*)\]$/, '$1'), 'host')
  const portText = params.get('port') ?? url.port
  let port: number | undefined = defaultPort
  if (portText !== '') {
    port = Number(portText)
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TypeError(`CockroachDialect: invalid port '${portText}' in connection string; expected 1-65535.`)
    }
  }

  const path = url.pathname.replace(/^\//, '')
  const database = params.get('dbname') ?? (path === '' ? undefined : decodeComponent(path, 'database name'))
  const user = params.get('user') ?? (url.username === '' ? undefined : decodeComponent(url.username, 'user name'))
  const password =
    params.get('password') ?? (url.password === '' ? undefined : decodeComponent(url.password, 'password'))

  const sslmodeText = params.get('sslmode') ?? (host === 'localhost' || host === '127.0.0.1' ? 'disable' : 'verify-full')
  const sslmode = parseSslMode(sslmodeText)
  const ssl = buildSslOptions(sslmode, params, host)

  let connectionTimeoutMillis: number | undefined
  const connectTimeout = params.get('connect_timeout')
  if (connectTimeout !== undefined) {
    const seconds = Number(connectTimeout)
    if (!Number.isInteger(seconds) || seconds < 0) {
      throw new TypeError(
        `CockroachDialect: invalid connect_timeout '${connectTimeout}'; expected a whole number of seconds.`,
      )
    }
    // libpq treats 0 as "wait forever", as node-postgres does.
    connectionTimeoutMillis = seconds * 1000
  }

  return Object.freeze({
    host: host === '' ? undefined : host,
    port,
    user,
    password,
    database,
    ssl,
    sslmode,
    options: params.get('options'),
    application_name: params.get('application_name'),
    connectionTimeoutMillis,
  })
}

/**
 * Replaces the password of a connection string (in the authority or as a `password` parameter)
 * with `****`, for logs and error messages.
 *
 * ```ts
 * import { redactConnectionString } from 'kysely-cockroachdb'
 *
 * redactConnectionString('postgresql://app:s3cret@db:26257/bank') // 'postgresql://app:****@db:26257/bank'
 * ```
 */
export function redactConnectionString(connectionString: string): string {
  return connectionString
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/i, '$1****@')
    .replace(/([?&]password=)[^&#]*/gi, '$1****')
}

/** Validates an `sslmode` value and explains the ones node-postgres cannot honour. */
export function parseSslMode(value: string): SslMode {
  if ((SSL_MODES as readonly string[]).includes(value)) {
    return value as SslMode
  }
  if (value === 'allow' || value === 'prefer') {
    throw new TypeError(
      `CockroachDialect: sslmode=${value} is not supported: node-postgres cannot fall back between TLS and ` +
        'plain connections. Use sslmode=disable for a local insecure node, or sslmode=verify-full ' +
        '(or require) for a secure cluster.',
    )
  }
  throw new TypeError(
    `CockroachDialect: unknown sslmode '${value}'. Use one of: ${SSL_MODES.join(', ')} ` +
      '(disable for a local insecure node, verify-full for CockroachDB Cloud).',
  )
}

function buildSslOptions(sslmode: SslMode, params: ReadonlyMap<string, string>, host: string): false | ConnectionOptions {
  const rootCertPath = params.get('sslrootcert')
  if (sslmode === 'disable') {
    return false
  }
  const options: { -readonly [K in keyof ConnectionOptions]: ConnectionOptions[K] } = {}
  // libpq 16 spells "use the operating system's trust store" as sslrootcert=system.
  if (rootCertPath !== undefined && rootCertPath !== 'system') {
    options.ca = readCertificateFile(rootCertPath, 'sslrootcert')
  }
  const certPath = params.get('sslcert')
  const keyPath = params.get('sslkey')
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new TypeError('CockroachDialect: sslcert and sslkey must be given together for client certificate auth.')
  }
  if (certPath !== undefined && keyPath !== undefined) {
    options.cert = readCertificateFile(certPath, 'sslcert')
    options.key = readCertificateFile(keyPath, 'sslkey')
  }
  if (host !== '' && !/^[\d.]+$|:/.test(host)) {
    options.servername = host
  }

  switch (sslmode) {
    case 'require':
      if (options.ca === undefined) {
        // libpq: encrypt, but do not verify the server without a root certificate.
        options.rejectUnauthorized = false
      } else {
        // libpq: with a root certificate present, `require` verifies the chain like verify-ca.
        options.checkServerIdentity = () => undefined
      }
      break
    case 'verify-ca':
      if (options.ca === undefined && rootCertPath !== 'system') {
        throw new TypeError(
          'CockroachDialect: sslmode=verify-ca needs sslrootcert=<path to the CA certificate> (for CockroachDB ' +
            'Cloud, the ca.crt downloaded from the console).',
        )
      }
      options.checkServerIdentity = () => undefined
      break
    case 'verify-full':
      options.rejectUnauthorized = true
      break
  }
  return Object.freeze(options)
}

function readCertificateFile(path: string, parameter: string): string {
  try {
    return readFileSync(path.replace(/^~(?=\/)/, process.env.HOME ?? '~'), 'utf8')
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new TypeError(`CockroachDialect: cannot read the ${parameter} file '${path}': ${reason}`, { cause: error })
  }
}

function decodeComponent(value: string, what: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    throw new TypeError(`CockroachDialect: the ${what} in the connection string is not valid percent-encoding.`)
  }
}
