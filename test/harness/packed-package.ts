// A consumer project around the packed package: the tarball `npm test` packed right after its build
// (PACKAGE_TARBALL; else `npm pack` here), unpacked into node_modules/kysely-cockroachdb of a fresh
// directory outside the repository, with the peer dependencies and type packages linked from this
// repository's node_modules. For tests that read what users get: the declarations, README and docs.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Compiled to .build/test/harness/, so the repository root is three levels up.
export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url))

export interface Consumer {
  /** The project directory (its package.json is `"type": "module"`). */
  readonly dir: string
  /** Where the tarball was unpacked: `<dir>/node_modules/kysely-cockroachdb`. */
  readonly packageDir: string
  /** The version of the kysely linked in, e.g. `0.29.9`. */
  readonly kyselyVersion: string
  remove(): void
}

/**
 * The kysely this process runs on: the node20 leg of `npm test` maps `kysely` to the `kysely-0.28`
 * install with a resolve hook (scripts/lib/kysely-0.28-hook.mjs), which import.meta.resolve honours.
 */
export function runtimeKyselyDir(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('kysely')))
  while (!existsSync(join(dir, 'package.json')) || readPackage(dir).name !== 'kysely') {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the package.json of the kysely this process runs on')
    dir = parent
  }
  return dir
}

function readPackage(dir: string): { name?: string; version?: string } {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
}

/** The tarball path: PACKAGE_TARBALL when `npm test` packed one, else a fresh `npm pack` into `dir`. */
export function tarball(dir: string): string {
  if (process.env.PACKAGE_TARBALL) return process.env.PACKAGE_TARBALL
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: repositoryRoot })
    .toString()
    .trim()
    .split('\n')
    .pop()!
  return join(dir, name)
}

/** Unpacks the tarball's `package/` directory as `target` (which must not exist). */
function unpack(path: string, target: string): void {
  const parent = dirname(target)
  mkdirSync(parent, { recursive: true })
  execFileSync('tar', ['-xzf', path, '-C', parent])
  renameSync(join(parent, 'package'), target)
}

/** The tarball unpacked into a new directory of its own: what npm installs, before any linking. */
export function unpackPackage(): { readonly dir: string; remove(): void } {
  const work = mkdtempSync(join(tmpdir(), 'kysely-crdb-unpacked-'))
  const dir = join(work, 'kysely-cockroachdb')
  unpack(tarball(work), dir)
  return { dir, remove: () => rmSync(work, { recursive: true, force: true }) }
}

/**
 * Unpacks the tarball into a new consumer project and links `links` (package names of this
 * repository's node_modules) next to it, with the kysely this process runs on as `kysely`.
 */
export function createConsumer(links: readonly string[]): Consumer {
  const dir = mkdtempSync(join(tmpdir(), 'kysely-crdb-consumer-'))
  const modules = join(dir, 'node_modules')
  mkdirSync(join(modules, '@types'), { recursive: true })
  unpack(tarball(dir), join(modules, 'kysely-cockroachdb'))
  const kyselyDir = runtimeKyselyDir()
  symlinkSync(kyselyDir, join(modules, 'kysely'), 'dir')
  for (const name of links) symlinkSync(join(repositoryRoot, 'node_modules', name), join(modules, name), 'dir')
  return {
    dir,
    packageDir: join(modules, 'kysely-cockroachdb'),
    kyselyVersion: readPackage(kyselyDir).version ?? 'unknown',
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
