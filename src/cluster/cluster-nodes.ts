// Pure: turns a multi-host connection string (libpq's `postgresql://u@h1:p1,h2:p2,h3/db`) or the
// dialect's `nodes` option into one parsed single-host configuration per node. Each node goes
// through parseConnectionString, so every check, redaction rule and TLS decision (SNI servername,
// verify-full host check, "local host -> sslmode=disable") applies per node.
//
// Why split before parsing: pg-connection-string 2.x has no multi-host support. It calls WHATWG
// `new URL`, which throws `Invalid URL` on `h1:1,h2:2`, and reads `h1,h2` as one host name
// (node-postgres issues #1470, #2308, #2781, all open). libpq's rules (PostgreSQL docs,
// libpq-connect.html, "Specifying Multiple Hosts"): each host takes its own port, a host without
// one gets the default; `host=h1,h2&port=p1,p2` gives either one port for every host or exactly one
// per host.
import { isIP } from 'node:net'
import { parseConnectionString, segmentKey } from '../connection/parse-connection-string.js'
import type { ParsedConnectionString } from '../connection/parse-connection-string.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'

/**
 * A node of the cluster as given in {@link CockroachDialectConfig.nodes}: `'n1'`, `'n1:26257'`,
 * `'[::1]:26257'`, or `{ host, port }`. Without a port, the connection string's port is used
 * (26257 for `cockroachdb://`).
 *
 * ```ts
 * import type { ClusterNodeAddress } from 'kysely-cockroachdb'
 *
 * const nodes: ClusterNodeAddress[] = ['n1.internal:26257', { host: 'n2.internal', port: 26257 }]
 * ```
 */
export type ClusterNodeAddress = string | { readonly host: string; readonly port?: number }

/**
 * One node of a cluster configuration: its key (`host:port`, with `#2`, `#3`, ... appended when
 * the same address is listed again) and its node-postgres client options.
 *
 * @internal
 */
export interface ClusterNodeConfig {
  readonly key: string
  readonly options: ParsedConnectionString
}

const API = 'CockroachDialect'
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

/**
 * Splits `connectionString` into one configuration per node. A connection string with one host
 * gives one node; `nodes` replaces the connection string's hosts.
 *
 * @internal
 */
export function parseClusterNodes(
  connectionString: string | undefined,
  nodes?: ReadonlyArray<ClusterNodeAddress>,
): readonly ClusterNodeConfig[] {
  // Without a connection string the nodes still need a scheme for the default port and TLS rules.
  const base = connectionString ?? 'cockroachdb://'
  if (typeof base !== 'string') {
    // parseConnectionString words this refusal.
    parseConnectionString(base)
  }
  const split = splitAuthority(base)
  let entries: readonly string[] | undefined
  let template: (entry: string) => string
  if (split === undefined) {
    // Not a URL this module can split safely (e.g. an unencoded '/' in a password): with no host
    // list in sight, the single-host parser gives its own careful, password-free message.
    const parsed = parseConnectionString(base)
    if (nodes !== undefined) {
      throw new QueryRefusedError(
        API,
        'nodes needs a connection string whose host part can be replaced',
        'percent-encode the user name and password',
      )
    }
    return freezeNodes([parsed])
  }
  refuseHostSelectionParameters(split.querySegments)
  const hostListParameter = queryHostList(split.query)
  const authorityHosts = splitHostList(split.hostPort)
  if (nodes !== undefined) {
    if (!Array.isArray(nodes)) {
      throw new QueryRefusedError(API, `nodes must be an array, got ${typeof nodes}`, "list the nodes, e.g. ['n1:26257', 'n2:26257']")
    }
    if (authorityHosts.length > 1 || (hostListParameter?.hosts.length ?? 0) > 1) {
      throw new QueryRefusedError(
        API,
        'the connection string lists several hosts and nodes is given too',
        'give the nodes either in connectionString or in nodes, not both',
      )
    }
    if (nodes.length === 0) {
      throw new QueryRefusedError(API, 'nodes must list at least one node', "list them, e.g. ['n1:26257', 'n2:26257']")
    }
    entries = nodes.map(nodeEntry)
    template = (entry) => `${split.scheme}://${split.userinfo}${entry}${split.rest}`
  } else if (hostListParameter !== undefined && hostListParameter.hosts.length > 1) {
    if (authorityHosts.length > 1) {
      throw new QueryRefusedError(
        API,
        'the connection string lists hosts both before the path and in host=',
        'give the host list in one place',
      )
    }
    const { hosts, ports } = hostListParameter
    if (ports.length > 1 && ports.length !== hosts.length) {
      throw new QueryRefusedError(
        API,
        `the connection string's port= lists ${ports.length} ports for ${hosts.length} hosts`,
        'give one port for every host, or exactly one port per host (as libpq does)',
      )
    }
    const withoutHostPort = split.querySegments.filter((segment) => !['host', 'port'].includes(segmentKey(segment)))
    entries = hosts.map((host, i) => {
      checkEntry(host)
      const port = ports.length === 0 ? '' : ((ports.length === 1 ? ports[0] : ports[i]) as string)
      return `host=${encodeURIComponent(host)}${port === '' ? '' : `&port=${encodeURIComponent(port)}`}`
    })
    template = (entry) => `${split.scheme}://${split.userinfo}${split.hostPort}${split.path}?${[...withoutHostPort, entry].join('&')}`
  } else if (authorityHosts.length > 1) {
    authorityHosts.forEach(checkEntry)
    entries = authorityHosts
    template = (entry) => `${split.scheme}://${split.userinfo}${entry}${split.rest}`
  } else {
    return freezeNodes([parseConnectionString(base)])
  }
  const parsed = entries.map((entry) => parseConnectionString(template(entry)))
  assertOneSslMode(parsed)
  return freezeNodes(parsed)
}

/**
 * The key of a node in {@link ClusterPool.nodeStatus} and events: `host:port` (`[v6]:port`).
 *
 * @internal
 */
export function nodeAddress(options: ParsedConnectionString): string {
  const host = options.host ?? 'localhost'
  return `${isIP(host) === 6 ? `[${host}]` : host}:${options.port ?? ''}`
}

function freezeNodes(parsed: readonly ParsedConnectionString[]): readonly ClusterNodeConfig[] {
  // Duplicates are allowed (the CockroachDB suite points two entries at one node) and get distinct keys.
  const seen = new Map<string, number>()
  return Object.freeze(
    parsed.map((options) => {
      const address = nodeAddress(options)
      const count = (seen.get(address) ?? 0) + 1
      seen.set(address, count)
      return Object.freeze({ key: count === 1 ? address : `${address}#${count}`, options })
    }),
  )
}

// libpq's host selection parameters (libpq-connect.html): the pool does its own balancing, and every
// CockroachDB node serves reads and writes, so neither has a meaning here.
function refuseHostSelectionParameters(segments: readonly string[]): void {
  const keys = segments.map(segmentKey)
  if (keys.includes('target_session_attrs')) {
    throw new QueryRefusedError(API, 'target_session_attrs is not supported: every CockroachDB node serves reads and writes', 'remove it')
  }
  if (keys.includes('load_balance_hosts')) {
    throw new QueryRefusedError(
      API,
      "load_balance_hosts is not supported: the dialect's pool balances across the nodes itself",
      'remove it',
    )
  }
}

function assertOneSslMode(parsed: readonly ParsedConnectionString[]): void {
  const modes = new Map<string, string>()
  for (const node of parsed) if (!modes.has(node.sslmode)) modes.set(node.sslmode, nodeAddress(node))
  if (modes.size > 1) {
    const list = [...modes].map(([mode, node]) => `${mode} for ${node}`).join(', ')
    throw new QueryRefusedError(
      API,
      `the nodes of connectionString would use different sslmode values (${list})`,
      'give sslmode explicitly',
    )
  }
}

/** `host[:port]` text of a `nodes` entry, validated so it can go into a URL authority. */
function nodeEntry(node: ClusterNodeAddress, index: number): string {
  if (typeof node === 'string') {
    checkEntry(node)
    return node
  }
  if (typeof node !== 'object' || node === null || typeof node.host !== 'string') {
    throw new QueryRefusedError(
      API,
      `nodes[${index}] is neither a string nor { host, port }`,
      "give 'host:port' or { host: 'n1', port: 26257 }",
    )
  }
  if (node.port !== undefined && !(Number.isInteger(node.port) && node.port >= 1 && node.port <= 65535)) {
    throw new QueryRefusedError(API, `nodes[${index}].port must be an integer from 1 to 65535, got ${String(node.port)}`, 'fix the port')
  }
  const host = isIP(node.host) === 6 ? `[${node.host}]` : node.host
  const entry = node.port === undefined ? host : `${host}:${node.port}`
  checkEntry(entry)
  return entry
}

/**
 * Refuses an entry that is not `host[:port]`. Only entries that are host names are ever shown:
 * anything else may be part of a password with an unencoded character.
 */
function checkEntry(entry: string): void {
  if (entry === '') {
    throw new QueryRefusedError(
      API,
      'the host list of connectionString has an empty entry (two commas in a row, or a trailing comma)',
      'remove the empty entry',
    )
  }
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d+))?$/s.exec(entry)
  const host = match === null ? '' : (match[1] as string).replace(/^\[(.*)\]$/s, '$1')
  const hostOk = host !== '' && (isIP(host) !== 0 || /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/.test(host))
  if (match === null || !hostOk) {
    throw new QueryRefusedError(
      API,
      'an entry of the host list is not host or host:port (not shown: it may hold part of a password)',
      "write the list as 'h1:26257,h2:26257' and percent-encode '@' '/' '?' '#' ',' in the user name and password",
    )
  }
  if (match[2] !== undefined) {
    const port = Number(match[2])
    if (port < 1 || port > 65535) {
      throw new QueryRefusedError(API, `invalid port in host list entry '${entry}'`, 'use a port from 1 to 65535')
    }
  }
}

interface Authority {
  readonly scheme: string
  /** `user:password@` or empty. */
  readonly userinfo: string
  readonly hostPort: string
  /** The path, without the query. */
  readonly path: string
  /** Everything after the authority: path and query. */
  readonly rest: string
  readonly query: string
  readonly querySegments: readonly string[]
}

/**
 * The parts of a URL around its host list, or undefined when the string cannot be split for
 * certain (no scheme, '#', or an '@' after the authority: an unencoded character in a password).
 */
function splitAuthority(text: string): Authority | undefined {
  const scheme = SCHEME.exec(text)
  if (scheme === null || text.includes('#')) return undefined
  const afterScheme = text.slice(scheme[0].length)
  const end = afterScheme.search(/[/?]/)
  const authority = end === -1 ? afterScheme : afterScheme.slice(0, end)
  const rest = end === -1 ? '' : afterScheme.slice(end)
  if (rest.includes('@')) return undefined
  const at = authority.lastIndexOf('@')
  const queryStart = rest.indexOf('?')
  const query = queryStart === -1 ? '' : rest.slice(queryStart + 1)
  return {
    scheme: scheme[1] as string,
    userinfo: at === -1 ? '' : authority.slice(0, at + 1),
    hostPort: authority.slice(at + 1),
    path: queryStart === -1 ? rest : rest.slice(0, queryStart),
    rest,
    query,
    querySegments: query === '' ? [] : query.split('&'),
  }
}

/** Splits `h1:1,[::1]:2,h3` on the commas outside brackets. */
function splitHostList(hostPort: string): string[] {
  const entries: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < hostPort.length; i++) {
    const c = hostPort[i]
    if (c === '[') depth++
    else if (c === ']') depth = Math.max(0, depth - 1)
    else if (c === ',' && depth === 0) {
      entries.push(hostPort.slice(start, i))
      start = i + 1
    }
  }
  entries.push(hostPort.slice(start))
  return entries
}

function queryHostList(query: string): { readonly hosts: readonly string[]; readonly ports: readonly string[] } | undefined {
  if (query === '') return undefined
  const params = new URLSearchParams(query)
  const host = params.get('host')
  if (host === null) return undefined
  const port = params.get('port')
  return { hosts: host.split(','), ports: port === null || port === '' ? [] : port.split(',') }
}
