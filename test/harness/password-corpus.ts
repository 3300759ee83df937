// The secret corpus: generated connection strings with random passwords, valid and malformed, and
// the checks that no error, stack, cause or printed line carries any piece of a password.
// Seeded (see concurrency.ts), so a failure names a seed and an index that reproduce it.
import assert from 'node:assert/strict'
import { seeded } from './concurrency.js'

/** The characters that break a connection string when left unencoded, plus space and `=`. */
const SPECIALS = ['/', '#', '?', '@', ':', '%', '&', ' ', '=']
const PLAIN = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789'

/**
 * `valid`: must parse. `malformed`: must be refused. `raw`: an unencoded password that may or may
 * not break the URL (`p:ss w` does not, `pa/ss` does): either way nothing may leak.
 */
export type CorpusKind = 'valid' | 'malformed' | 'raw'

export interface CorpusEntry {
  readonly index: number
  readonly kind: CorpusKind
  /** What the string exercises, e.g. 'raw password in authority'. */
  readonly label: string
  readonly connectionString: string
  readonly password: string
  /** Text the error message must contain (the bad part, named), when the string is malformed. */
  readonly names?: string
}

export interface CorpusOptions {
  readonly seed: number
  readonly size: number
  /** Hosts of the strings; connect tests give loopback ones only. */
  readonly hosts: readonly string[]
  /** Port of the valid strings (a closed one, for connect tests). */
  readonly port: number
}

/**
 * Generates `size` connection strings. Every password has at least three characters from
 * SPECIALS; valid strings percent-encode it, malformed ones put it raw where it breaks the URL or
 * break the URL elsewhere (scheme, port, parameters, host list).
 */
export function connectionStringCorpus(options: CorpusOptions): CorpusEntry[] {
  const random = seeded(options.seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const password = (): string => {
    const length = 10 + Math.floor(random() * 8)
    const chars = Array.from({ length }, () => (random() < 0.35 ? pick(SPECIALS) : pick([...PLAIN])))
    // At least three specials, at random places.
    for (let i = 0; i < 3; i++) chars[Math.floor(random() * length)] = pick(SPECIALS)
    return chars.join('')
  }
  const scheme = () => pick(['postgresql', 'postgres', 'cockroachdb'])
  const user = () => pick(['app', 'root', 'maxroach', 'alice'])
  const db = () => pick(['bank', 'defaultdb'])
  const host = () => pick(options.hosts)
  const { port } = options

  type Make = (pw: string, enc: string) => Omit<CorpusEntry, 'index' | 'password'>
  const makers: Make[] = [
    // Valid.
    (_, enc) => ({
      kind: 'valid',
      label: 'encoded password in authority',
      connectionString: `${scheme()}://${user()}:${enc}@${host()}:${port}/${db()}?sslmode=disable`,
    }),
    (_, enc) => ({
      kind: 'valid',
      label: 'encoded password parameter',
      connectionString: `${scheme()}://${user()}@${host()}:${port}/${db()}?password=${enc}&application_name=corpus`,
    }),
    (_, enc) => ({
      kind: 'valid',
      label: 'encoded password, TLS modes',
      connectionString: `${scheme()}://${user()}:${enc}@${host()}:${port}/${db()}?sslmode=${pick(['require', 'verify-full'])}&connect_timeout=5`,
    }),
    // Malformed: the raw password.
    (pw) => ({
      kind: 'raw',
      label: 'raw password in authority',
      connectionString: `${scheme()}://${user()}:${pw}@${host()}:${port}/${db()}`,
    }),
    (pw) => ({
      kind: 'raw',
      label: 'raw password parameter',
      connectionString: `${scheme()}://${user()}@${host()}:${port}/${db()}?password=${pw}&sslmode=disable`,
    }),
    (pw) => ({
      kind: 'raw',
      label: 'raw password, no host',
      connectionString: `${scheme()}://${user()}:${pw}/${db()}`,
    }),
    // Malformed: the scheme.
    (pw, enc) => ({
      kind: 'malformed',
      label: 'no scheme',
      connectionString: `${user()}:${pick([pw, enc])}@${host()}:${port}/${db()}`,
    }),
    (pw, enc) => ({
      kind: 'malformed',
      label: 'scheme without ://',
      connectionString: `${scheme()}${pick(['//', ':', ':/', '/'])}${user()}:${pick([pw, enc])}@${host()}/${db()}`,
    }),
    (_, enc) => ({
      kind: 'malformed',
      label: 'unsupported scheme',
      connectionString: `mysql://${user()}:${enc}@${host()}/${db()}`,
      names: "'mysql:'",
    }),
    // Malformed: the port.
    (_, enc) => {
      const bad = pick(['99999', '0', '70000'])
      return {
        kind: 'malformed',
        label: 'port out of range',
        connectionString: `${scheme()}://${user()}:${enc}@${host()}:${bad}/${db()}`,
        names: bad,
      }
    },
    (_, enc) => ({
      kind: 'malformed',
      label: 'port not a number',
      connectionString: `${scheme()}://${user()}:${enc}@${host()}:${pick(['abc', '26257x', '-1'])}/${db()}`,
    }),
    // Malformed: parameters ([label, query string, what the error must name]).
    ...(
      [
        ['port parameter out of range', 'port=99999', '99999'],
        ['unknown sslmode', 'sslmode=bogus', "'bogus'"],
        ['unknown parameter', 'sslmdoe=disable', "'sslmdoe'"],
        ['sslmode=prefer', 'sslmode=prefer', 'sslmode=prefer'],
        ['bad connect_timeout', 'connect_timeout=soon', "'soon'"],
        ['missing certificate file', 'sslmode=verify-full&sslrootcert=/nonexistent/ca.crt', '/nonexistent/ca.crt'],
      ] as const
    ).map(([label, query, names]): Make => (_, enc) => ({
      kind: 'malformed',
      label,
      connectionString: `${scheme()}://${user()}:${enc}@${host()}/${db()}?${query}`,
      names,
    })),
    (_, enc) => ({
      kind: 'malformed',
      label: 'host list',
      connectionString: `${scheme()}://${user()}:${enc}@h1.example.com,h2.example.com/${db()}`,
      names: 'h1.example.com,h2.example.com',
    }),
    (pw, enc) => ({
      kind: 'malformed',
      label: 'space in host',
      connectionString: `${scheme()}://${user()}:${pick([pw, enc])}@db host/${db()}`,
    }),
  ]

  const entries: CorpusEntry[] = []
  for (let index = 0; index < options.size; index++) {
    const pw = password()
    const entry = (makers[index % makers.length] as Make)(pw, encodeURIComponent(pw))
    entries.push({ index, password: pw, ...entry })
  }
  return entries
}

/** Every 4-character piece of the password, raw and percent-encoded. */
export function secretPieces(password: string): string[] {
  const pieces = new Set<string>()
  for (const form of [password, encodeURIComponent(password)]) {
    for (let i = 0; i + 4 <= form.length; i++) pieces.add(form.slice(i, i + 4))
  }
  return [...pieces]
}

/**
 * The text an error carries: message, stack, and every own property (cause, errors of an
 * AggregateError, input of a URL error, ...), recursively.
 */
export function errorText(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value !== 'object' || value === null || seen.has(value)) {
    return value === undefined || value === null || typeof value === 'object' ? [] : [String(value)]
  }
  seen.add(value)
  const out: string[] = []
  if (value instanceof Error) out.push(String(value.message), String(value.stack))
  for (const key of Object.getOwnPropertyNames(value)) {
    if (key === 'message' || key === 'stack') continue
    const child = (value as Record<string, unknown>)[key]
    if (typeof child === 'function') continue
    out.push(...errorText(child, seen))
  }
  return out
}

/** Fails when any text contains the password or a 4-character piece of it. */
export function assertNoSecret(texts: readonly string[], entry: Pick<CorpusEntry, 'password' | 'connectionString'>, where: string): void {
  const pieces = secretPieces(entry.password)
  for (const text of texts) {
    const piece = pieces.find((p) => text.includes(p))
    if (piece !== undefined) {
      assert.fail(
        `${where}: the output contains ${JSON.stringify(piece)} from the password ${JSON.stringify(entry.password)} ` +
          `of ${JSON.stringify(entry.connectionString)}:\n${text}`,
      )
    }
  }
}

/** What `fn` throws, or undefined. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

/** Node's process warnings during `fn` (pg-connection-string warns through process.emitWarning). */
export async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = []
  const listener = (warning: Error) => warnings.push(...errorText(warning))
  process.on('warning', listener)
  try {
    await fn()
    // Warnings are emitted on the next tick.
    await new Promise((done) => setImmediate(done))
  } finally {
    process.off('warning', listener)
  }
  return warnings
}
