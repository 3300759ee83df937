import { existsSync } from 'node:fs'
import { BlockList, isIP } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { ConnectionOptions } from 'node:tls'
import { parse as parseWithPg } from 'pg-connection-string'
import { QueryRefusedError } from '../errors/query-refused-error.js'

/**
 * The `sslmode` values this package accepts, with libpq's meaning (not node-postgres' own).
 *
 * - `disable`: plain TCP. For a local `cockroach start-single-node --insecure` node.
 * - `require`: TLS, without checking the server certificate (unless a root certificate is given
 *   with `sslrootcert` or found in `~/.postgresql/root.crt`, in which case libpq and this package
 *   behave as `verify-ca`).
 * - `verify-ca`: TLS, the certificate must chain to the root certificate; the host name is not checked.
 * - `verify-full`: TLS, certificate and host name checked. What CockroachDB Cloud asks for, and the
 *   only mode libpq allows with `sslrootcert=system`.
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
  /**
   * libpq's `sslnegotiation`: `direct` starts TLS without PostgreSQL's SSLRequest (PostgreSQL 17).
   * node-postgres honours it from pg 8.22; older versions ignore it and negotiate as `postgres`.
   */
  readonly sslnegotiation?: 'postgres' | 'direct'
}

/** Default SQL port of CockroachDB, used for `cockroachdb://` URLs without a port. */
export const COCKROACH_DEFAULT_PORT = 26257

const SCHEMES = new Map<string, number>([
  ['postgres', 5432],
  ['postgresql', 5432],
  ['cockroachdb', COCKROACH_DEFAULT_PORT],
])

const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full']

const SUPPORTED_PARAMETERS = [
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslnegotiation',
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

// libpq's other connection parameters (libpq docs, "Parameter Key Words") and node-postgres' own:
// names that are certainly not part of a password, so an error may show them.
const OTHER_LIBPQ_PARAMETERS: readonly string[] = [
  'hostaddr',
  'passfile',
  'require_auth',
  'channel_binding',
  'client_encoding',
  'encoding',
  'fallback_application_name',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'replication',
  'gssencmode',
  'sslcompression',
  'sslpassword',
  'sslcertmode',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'requirepeer',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'min_protocol_version',
  'max_protocol_version',
  'krbsrvname',
  'gsslib',
  'gssdelegation',
  'service',
  'target_session_attrs',
  'load_balance_hosts',
  'requiressl',
  'ssl',
  'db',
]

const FORM = "'postgresql://user:password@host:26257/database?sslmode=verify-full'"
const ENCODE_HINT = "percent-encode '@' '/' '?' '#' in the user name and password as %40 %2F %3F %23"

/**
 * Parses a `postgresql://`, `postgres://` or `cockroachdb://` connection string into node-postgres
 * client options, giving `sslmode` libpq's meaning.
 *
 * The URL itself is read by pg-connection-string (node-postgres' own parser, in its libpq mode);
 * this function adds what is CockroachDB's or libpq's and pg-connection-string leaves out: the
 * `cockroachdb://` scheme and its port 26257, `sslmode=prefer`/`allow` refused, `sslrootcert=system`,
 * `~/.postgresql/root.crt`, local hosts without TLS by default, refused host lists, `connect_timeout`.
 *
 * Errors name the bad part of the URL and never contain its password, nor any part of a string that
 * may hold one (an unencoded `/` in a password makes the rest of the URL unreliable).
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
  return readConnectionString(connectionString, 'parseConnectionString')
}

/**
 * {@link parseConnectionString}, with its refusals starting with `api`: `CockroachDialect` when the
 * dialect reads its `connectionString`, the function's own name when an application calls it.
 *
 * @internal
 */
export function readConnectionString(connectionString: string, api: string): ParsedConnectionString {
  // Typed explicitly: TypeScript narrows after a call only of a function with a declared type.
  const fail: (problem: string, fix: string) => never = (problem, fix) => {
    throw refused(api, problem, fix)
  }
  if (typeof connectionString !== 'string' || connectionString.trim() === '') {
    fail('connectionString must be a non-empty string', "give one such as 'postgresql://root@localhost:26257/defaultdb?sslmode=disable'")
  }
  const view = inspectConnectionString(connectionString)
  if ('unsafe' in view) {
    fail(...view.unsafe)
  }
  const { query } = view
  // When the query string holds a password, an unencoded '&' in it turns its tail into parameters:
  // names and values from the query are then not echoed.
  const echo = (text: string) => (view.hasPasswordParameter ? '(not shown: the query string holds a password)' : `'${text}'`)

  const params = new Map<string, string>()
  for (const [key, value] of new URLSearchParams(query)) {
    if (!(SUPPORTED_PARAMETERS as readonly string[]).includes(key)) {
      // Named only when it is certainly a parameter name: with a '?' or '&' unencoded in a password
      // (and its '@host' forgotten), the password's tail is read as parameters.
      const named = !view.hasPasswordParameter && (OTHER_LIBPQ_PARAMETERS.includes(key) || nearSupportedParameter(key))
      fail(
        `unknown connection string parameter ${named ? `'${key}'` : '(name not shown: it may be part of a password with an unencoded ? or &)'}`,
        `use only ${SUPPORTED_PARAMETERS.join(', ')}`,
      )
    }
    params.set(key, value)
  }
  for (const [hosts, shown] of [
    [view.hostPort, isHostList(view.hostPort) ? `'${view.hostPort}'` : 'not shown: not all of them are host names'],
    [params.get('host'), echo(params.get('host') ?? '')],
  ] as const) {
    if (hosts !== undefined && hosts.includes(',')) {
      fail(
        `the connection string names several hosts (${shown}); a host list is not supported yet`,
        'give one host: a load balancer or one node (every CockroachDB node serves the whole cluster)',
      )
    }
  }
  const uselibpqcompat = params.get('uselibpqcompat')
  if (uselibpqcompat !== undefined && uselibpqcompat !== 'true') {
    fail('uselibpqcompat must be true or absent: this package always gives sslmode its libpq meaning', 'drop uselibpqcompat')
  }

  const defaultPort = SCHEMES.get(view.scheme) as number
  const portText = params.get('port') ?? view.port
  let port = defaultPort
  if (portText !== '') {
    port = Number(portText)
    if (!/^\d+$/.test(portText)) {
      // Not echoed: with the '@host' forgotten, `user:pass@word:x` puts the password's tail here.
      fail(`connectionString is not a valid URL: ${view.prefix}: the port is not a number`, `give a port 1-65535 (${ENCODE_HINT})`)
    }
    if (port < 1 || port > 65535) {
      fail(`invalid port '${portText}' in connection string ${view.prefix}`, 'give a port 1-65535')
    }
  }

  const host = params.get('host') ?? view.host
  if (!isHostName(host)) {
    fail(`the host in connection string ${view.prefix} is not a host name, an IP address or a Unix socket directory`, ENCODE_HINT)
  }
  const socket = host.startsWith('/')
  const rootCert = params.get('sslrootcert')
  const system = rootCert === 'system'
  const sslmodeText = params.get('sslmode') ?? (system ? 'verify-full' : isLocalHost(host) ? 'disable' : 'verify-full')
  const sslmode = parseSslMode(sslmodeText, api)
  if (system && sslmode !== 'verify-full') {
    // libpq docs (sslrootcert, PostgreSQL 16+): "When using sslrootcert=system, the default sslmode is
    // changed to verify-full, and any weaker setting will result in an error."
    fail(
      `sslmode=${sslmode} cannot be used with sslrootcert=system: with the system's public CAs, any weaker ` +
        'check accepts a certificate anyone can get for their own host (libpq refuses it too)',
      'use sslmode=verify-full, the default with sslrootcert=system',
    )
  }
  const sslnegotiation = params.get('sslnegotiation')
  if (sslnegotiation !== undefined) {
    if (sslnegotiation !== 'postgres' && sslnegotiation !== 'direct') {
      fail(`unknown sslnegotiation ${echo(sslnegotiation)}`, 'use postgres (the default) or direct (PostgreSQL 17 and later)')
    }
    if (sslnegotiation === 'direct' && (sslmode === 'disable' || socket)) {
      // PostgreSQL commit fb5718f (libpq 17): direct is only allowed with sslmode=require or stronger.
      fail(
        `sslnegotiation=direct needs sslmode=require, verify-ca or verify-full (it starts with TLS), ` +
          `not ${socket ? 'a Unix socket' : 'sslmode=disable'}`,
        'use one of those sslmodes, or drop sslnegotiation',
      )
    }
  }
  if ((params.get('sslcert') === undefined) !== (params.get('sslkey') === undefined)) {
    fail('sslcert and sslkey must be given together for client certificate auth', 'give both, or neither')
  }

  // libpq ("SSL Support", Client Verification of Server Certificates): without sslrootcert, the root
  // certificate is ~/.postgresql/root.crt when that file exists; CockroachDB Cloud's connect page has
  // you download the cluster's CA there (`curl --create-dirs -o $HOME/.postgresql/root.crt ...`).
  let effectiveRootCert = system ? undefined : rootCert
  if (effectiveRootCert === undefined && !system && sslmode !== 'disable') {
    const fallback = defaultRootCertPath()
    if (fallback !== undefined && existsSync(fallback)) effectiveRootCert = fallback
  }
  if (sslmode === 'verify-ca' && effectiveRootCert === undefined) {
    fail(
      'sslmode=verify-ca needs sslrootcert, the CA certificate to check the server against',
      'give sslrootcert=<path to the CA certificate> (for CockroachDB Cloud, the ca.crt downloaded from the ' +
        'console), or put that certificate in ~/.postgresql/root.crt',
    )
  }

  // What pg-connection-string gets: our sslmode decision, the root certificate to read, and none of
  // the parameters it does not know (sslrootcert=system would be read as a file named "system").
  const tls = !socket && sslmode !== 'disable'
  // Without TLS (disable, or a Unix socket) no certificate file is read, as before.
  const replaced = tls ? ['sslmode', 'sslrootcert', 'uselibpqcompat'] : ['sslmode', 'sslrootcert', 'uselibpqcompat', 'sslcert', 'sslkey']
  const forwarded = view.querySegments.filter((segment) => !replaced.includes(segmentKey(segment)))
  forwarded.push(`sslmode=${tls ? sslmode : 'disable'}`)
  if (tls && effectiveRootCert !== undefined) forwarded.push(`sslrootcert=${encodeURIComponent(effectiveRootCert)}`)
  let config: ReturnType<typeof parseWithPg>
  try {
    config = parseWithPg(`${view.beforeQuery}?${forwarded.join('&')}`, { useLibpqCompat: true })
  } catch (error) {
    throw (
      certificateError(error, params, effectiveRootCert, api) ??
      refused(api, `connectionString is not a valid URL: ${view.prefix}`, `use the form ${FORM} (${ENCODE_HINT})`)
    )
  }

  let connectionTimeoutMillis: number | undefined
  const connectTimeout = params.get('connect_timeout')
  if (connectTimeout !== undefined) {
    const seconds = Number(connectTimeout)
    if (!/^\d+$/.test(connectTimeout)) {
      fail(`invalid connect_timeout ${echo(connectTimeout)}`, 'give a whole number of seconds')
    }
    // libpq treats 0 as "wait forever", as node-postgres does.
    connectionTimeoutMillis = seconds * 1000
  }

  const database = params.get('dbname') ?? config.database ?? undefined
  // pg-connection-string before 2.14.1 keeps the brackets of an IPv6 host.
  const pgHost = (config.host ?? '').replace(/^\[(.*)\]$/s, '$1')
  return Object.freeze({
    host: pgHost || undefined,
    port,
    user: config.user || undefined,
    password: config.password || undefined,
    database: database === '' ? undefined : database,
    ssl: tls ? sslOptions(sslmode, config.ssl, pgHost) : false,
    sslmode,
    options: params.get('options'),
    application_name: params.get('application_name'),
    connectionTimeoutMillis,
    sslnegotiation,
  })
}

/**
 * Replaces the password of a connection string (in the authority or as a `password` parameter)
 * with `****`, for logs and error messages. A string that is not a well-formed URL, where the
 * password's end cannot be told for certain, comes back as its scheme and `****` only.
 *
 * ```ts
 * import { redactConnectionString } from 'kysely-cockroachdb'
 *
 * redactConnectionString('postgresql://app:s3cret@db:26257/bank') // 'postgresql://app:****@db:26257/bank'
 * redactConnectionString('postgresql://app:pa/ss@db:26257/bank') // 'postgresql://****'
 * ```
 */
export function redactConnectionString(connectionString: string): string {
  if (typeof connectionString !== 'string') return '****'
  const view = inspectConnectionString(connectionString)
  if ('unsafe' in view) return view.scheme === undefined ? '****' : `${view.scheme}://****`
  // A host or port that is not one may be the tail of a password whose '@host' was forgotten.
  return isHostList(view.hostPort) ? view.redacted : `${view.prefix}****`
}

/** Validates an `sslmode` value and explains the ones node-postgres cannot honour. */
export function parseSslMode(value: string, api = 'CockroachDialect'): SslMode {
  // Typed explicitly: TypeScript narrows after a call only of a function with a declared type.
  const fail: (problem: string, fix: string) => never = (problem, fix) => {
    throw refused(api, problem, fix)
  }
  if ((SSL_MODES as readonly string[]).includes(value)) {
    return value as SslMode
  }
  if (value === 'allow' || value === 'prefer') {
    fail(
      `sslmode=${value} is not supported: node-postgres cannot fall back between TLS and plain connections`,
      'use sslmode=disable for a local insecure node, or sslmode=verify-full (or require) for a secure cluster',
    )
  }
  fail(
    `unknown sslmode '${value}'`,
    `use one of: ${SSL_MODES.join(', ')} (disable for a local insecure node, verify-full for CockroachDB Cloud)`,
  )
}

interface SafeView {
  readonly scheme: string
  /** The string with its password masked, for a well-formed host and port. */
  readonly redacted: string
  /** `scheme://` and the user name with `:****@` (or `@`): the part that never holds the password. */
  readonly prefix: string
  readonly host: string
  readonly hostPort: string
  readonly port: string
  readonly query: string
  readonly querySegments: readonly string[]
  /** Everything before the query string, as given. */
  readonly beforeQuery: string
  readonly hasPasswordParameter: boolean
}

/**
 * Splits a connection string at the places an unencoded password character would move, and
 * decides whether any of it can be shown. `unsafe` explains, without echoing, why not: what it
 * names (the scheme, the host after the last '@') cannot hold the password.
 */
function inspectConnectionString(
  text: string,
): SafeView | { readonly unsafe: readonly [problem: string, fix: string]; readonly scheme?: string } {
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text)
  if (schemeMatch === null) {
    const near = /^(postgres(?:ql)?|cockroachdb)(?!:\/\/)/i.exec(text)
    return {
      unsafe:
        near === null
          ? ['connectionString must start with postgresql://, postgres:// or cockroachdb:// (it does not)', `use the form ${FORM}`]
          : [`connectionString must start with ${near[1]}:// (the ':' or '//' after '${near[1]}' is missing)`, `use the form ${FORM}`],
    }
  }
  const scheme = (schemeMatch[1] as string).toLowerCase()
  if (!SCHEMES.has(scheme)) {
    return {
      unsafe: [`unsupported connection string scheme '${scheme}:'`, 'use postgresql://, postgres:// or cockroachdb://'],
    }
  }
  const fail = (problem: string, fix: string) => ({ unsafe: [problem, fix] as const, scheme })
  if (text.includes('#')) {
    return fail("the connection string contains '#', which ends a URL", `percent-encode it as %23 (${ENCODE_HINT})`)
  }
  const rest = text.slice(schemeMatch[0].length)
  const authorityEnd = rest.search(/[/?]/)
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)
  const after = authorityEnd === -1 ? '' : rest.slice(authorityEnd)
  if (after.includes('@')) {
    return fail(
      "the connection string has an '@' after the host, so its user name or password holds an unencoded " +
        'character that ends the host part',
      `${ENCODE_HINT}; the form is ${FORM}`,
    )
  }
  const at = authority.lastIndexOf('@')
  const userinfo = at === -1 ? undefined : authority.slice(0, at)
  const hostPort = authority.slice(at + 1)
  const hostMatch = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort) as RegExpExecArray
  const bracketed = hostMatch[1] as string
  const port = hostMatch[2] ?? ''
  if (!/^\d*$/.test(port.replace(/,.*$/s, '')) && userinfo === undefined) {
    // `app:secret/db`: a user name and password with the host forgotten read as host:port.
    return fail(
      'the text after the host in the connection string is not a port number',
      `if it is user:password, add the '@host' after it; the form is ${FORM}`,
    )
  }
  const queryStart = after.indexOf('?')
  const query = queryStart === -1 ? '' : after.slice(queryStart + 1)
  const querySegments = query === '' ? [] : query.split('&')
  const hasPasswordParameter = querySegments.some((segment) => segmentKey(segment) === 'password')
  const user = userinfo === undefined ? '' : `${userinfo.replace(/:.*$/s, userinfo.includes(':') ? ':****' : '')}@`
  const maskedQuery = query.replace(new RegExp(`(^|&)password=.*?(?=&(?:${SUPPORTED_PARAMETERS.join('|')})=|$)`, 'gs'), '$1password=****')
  const path = queryStart === -1 ? after : after.slice(0, queryStart)
  return {
    scheme,
    redacted: `${scheme}://${user}${hostPort}${path}${queryStart === -1 ? '' : `?${maskedQuery}`}`,
    prefix: `${scheme}://${user}`,
    host: decodeHost(bracketed.replace(/^\[(.*)\]$/s, '$1')),
    hostPort,
    port,
    query,
    querySegments,
    beforeQuery: text.slice(0, text.length - (queryStart === -1 ? 0 : query.length + 1)),
    hasPasswordParameter,
  }
}

/**
 * The decoded key of one `key=value` segment of a URL's query string (the raw key when it is not
 * valid percent-encoding).
 *
 * @internal
 */
export function segmentKey(segment: string): string {
  const key = segment.split('=', 1)[0] as string
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '))
  } catch {
    return key
  }
}

function decodeHost(host: string): string {
  try {
    return decodeURIComponent(host)
  } catch {
    return host
  }
}

/** `host[:port][,host[:port]...]` with real host names and numeric ports. */
function isHostList(hostPort: string): boolean {
  return hostPort.split(',').every((entry) => {
    const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/s.exec(entry)
    return match !== null && isHostName(decodeHost((match[1] as string).replace(/^\[(.*)\]$/s, '$1')))
  })
}

/** A misspelling of a supported parameter (at most two edits away), e.g. `sslmdoe`. */
function nearSupportedParameter(key: string): boolean {
  return /^[a-z_]{4,}$/.test(key) && SUPPORTED_PARAMETERS.some((name) => editDistance(key, name) <= 2)
}

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[]
      const up = d[i - 1] as number[]
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1)
      }
    }
  }
  return (d[a.length] as number[])[b.length] as number
}

/** A DNS name, an IPv4 or IPv6 address, a Unix socket directory, or empty (node-postgres' default). */
function isHostName(host: string): boolean {
  return host === '' || host.startsWith('/') || isIP(host) !== 0 || /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/.test(host)
}

// Loopback: IPv4 127.0.0.0/8 (RFC 1122 3.2.1.3) and IPv6 ::1 (RFC 4291 2.5.3). BlockList reads the
// address, so every IPv6 spelling (`0:0:0:0:0:0:0:1`, `0::1`) matches, and it checks an IPv4-mapped
// IPv6 address (`::ffff:127.0.0.1`) against the IPv4 rules (Node docs, net.BlockList).
const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/**
 * "Local" decides the default sslmode (disable: a local `cockroach start-single-node --insecure`
 * serves plain TCP). Loopback addresses, any spelling of localhost, and Unix sockets (a host that
 * is a directory, as libpq reads it; `cockroach start --socket-dir` creates `<dir>/.s.PGSQL.<port>`,
 * cockroach `pkg/cli/cliflags/flags.go`, SocketDir) are local. An empty host is not: node-postgres would then use
 * PGHOST, which may name a remote server.
 */
function isLocalHost(host: string): boolean {
  if (host.startsWith('/') || host.toLowerCase() === 'localhost') return true
  const family = isIP(host)
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6')
}

/** libpq's default root certificate: ~/.postgresql/root.crt, %APPDATA%\postgresql\root.crt on Windows. */
function defaultRootCertPath(): string | undefined {
  if (process.platform === 'win32') {
    return process.env.APPDATA ? join(process.env.APPDATA, 'postgresql', 'root.crt') : undefined
  }
  try {
    return join(homedir(), '.postgresql', 'root.crt')
  } catch {
    return undefined
  }
}

/** node-postgres' TLS options from pg-connection-string's libpq mapping, with SNI for host names. */
function sslOptions(sslmode: SslMode, ssl: unknown, host: string): ConnectionOptions {
  const options: { -readonly [K in keyof ConnectionOptions]: ConnectionOptions[K] } =
    typeof ssl === 'object' && ssl !== null ? { ...(ssl as ConnectionOptions) } : {}
  if (sslmode === 'verify-full') {
    options.rejectUnauthorized = true
  }
  if (host !== '' && isIP(host) === 0) {
    options.servername = host
  }
  return Object.freeze(options)
}

/** pg-connection-string reads the certificate files; its fs error becomes one naming the parameter. */
function certificateError(
  error: unknown,
  params: ReadonlyMap<string, string>,
  rootCert: string | undefined,
  api: string,
): QueryRefusedError | undefined {
  const path = (error as { path?: unknown } | null)?.path
  if (typeof path !== 'string' || !(error instanceof Error)) return undefined
  const parameter =
    path === params.get('sslcert')
      ? 'sslcert'
      : path === params.get('sslkey')
        ? 'sslkey'
        : path === rootCert && params.get('sslrootcert') === undefined
          ? 'default root certificate (~/.postgresql/root.crt)'
          : 'sslrootcert'
  return refused(
    api,
    `cannot read the ${parameter} file '${path}': ${error.message}`,
    'check that the file exists and this process may read it',
    error,
  )
}

function refused(api: string, problem: string, fix: string, cause?: unknown): QueryRefusedError {
  return new QueryRefusedError(api, problem, fix, cause === undefined ? undefined : { cause })
}
