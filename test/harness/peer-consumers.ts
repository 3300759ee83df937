// Consumer projects for the peer-range leg (scripts/lib/peer-matrix.mjs installs the peers and
// passes them in PEER_MATRIX): a fresh directory whose node_modules holds the unpacked tarball and
// links to one cached install of exact peer versions, as a user's project would after
// `npm install kysely-cockroachdb kysely@X pg@Y ...`.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Compiled to .build/test/harness/, so the repository root is three levels up.
const root = fileURLToPath(new URL('../../../', import.meta.url))

export interface PeerConsumer {
  readonly name: string
  /** Exact versions of the peers this consumer installs (kysely, pg, pg-cursor, @types/pg, ...). */
  readonly peers: Readonly<Record<string, string>>
  /** The Node binary that runs this consumer (Node >= 22 for kysely 0.29). */
  readonly node: string
  /** The cached node_modules with those peers. */
  readonly modules: string
}

export interface TypeScriptInstall {
  readonly version: string
  readonly modules: string
}

export interface PeerMatrix {
  readonly consumers: readonly PeerConsumer[]
  readonly typescripts: readonly TypeScriptInstall[]
}

/** The matrix `npm test` installed, or a message that says how to get it. */
export function peerMatrix(): PeerMatrix {
  const raw = process.env.PEER_MATRIX
  if (!raw) {
    throw new Error('PEER_MATRIX is not set: run the peer-range tests with `npm test` (scripts/lib/peer-matrix.mjs installs them).')
  }
  return JSON.parse(raw) as PeerMatrix
}

/** The tarball `npm test` packed right after its build. */
export function packageTarball(): string {
  const tarball = process.env.PACKAGE_TARBALL
  if (!tarball) throw new Error('PACKAGE_TARBALL is not set: run the peer-range tests with `npm test`, which packs the package.')
  return tarball
}

/**
 * Creates `dir` as a consumer project: `package.json` of the given module type, the tarball unpacked
 * as node_modules/kysely-cockroachdb, and every cached package linked beside it (Node and
 * TypeScript resolve a link to its real path, so the package and the consumer share one kysely).
 */
export function createConsumer(dir: string, consumer: PeerConsumer, type: 'module' | 'commonjs'): string {
  const modules = join(dir, 'node_modules')
  rmSync(modules, { recursive: true, force: true })
  mkdirSync(modules, { recursive: true })
  for (const entry of readdirSync(consumer.modules)) {
    if (entry.startsWith('.')) continue
    symlinkSync(join(consumer.modules, entry), join(modules, entry), 'dir')
  }
  execFileSync('tar', ['-xzf', packageTarball(), '-C', modules])
  renameSync(join(modules, 'package'), join(modules, 'kysely-cockroachdb'))
  const dependencies = { 'kysely-cockroachdb': '0.1.0', ...consumer.peers }
  writeJson(join(dir, 'package.json'), { name: `consumer-${consumer.name}`, private: true, type, dependencies })
  return dir
}

/** The version of `name` installed in the consumer project at `dir`. */
export function installedVersion(dir: string, name: string): string {
  return readJson<{ version: string }>(join(dir, 'node_modules', name, 'package.json')).version
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n')
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * A directory under .cache/peers/projects/ that keeps what is left in it between runs (TypeScript's
 * incremental state, keyed by the file contents it checked), held by this process until `release`.
 * When another live run holds it, a fresh temporary directory instead: correct, only slower.
 */
export function reusableDir(name: string): { readonly dir: string; readonly release: () => void } {
  const dir = join(root, '.cache', 'peers', 'projects', name)
  const lock = `${dir}.lock`
  mkdirSync(dirname(dir), { recursive: true })
  try {
    mkdirSync(lock)
  } catch {
    let holder = 0 // no pid yet: another run is creating the lock right now
    try {
      holder = Number(readFileSync(join(lock, 'pid'), 'utf8'))
    } catch {
      // Keep 0.
    }
    if (holder === 0 || isAlive(holder)) {
      const temporary = mkdtempSync(join(tmpdir(), `kysely-crdb-${name.replace(/\W+/g, '-')}-`))
      return { dir: temporary, release: () => rmSync(temporary, { recursive: true, force: true }) }
    }
    // Left by a run that died: take it over.
  }
  writeFileSync(join(lock, 'pid'), String(process.pid))
  mkdirSync(dir, { recursive: true })
  return { dir, release: () => rmSync(lock, { recursive: true, force: true }) }
}
