// The peer-range leg of `npm test`: the packed package against the lowest and the highest version of
// every peer dependency it declares, and against each TypeScript it supports.
//
// Each consumer below is a set of exact peer versions, installed from the npm registry once into
// .cache/peers/<name>-<hash of the versions>/ (gitignored) and reused by later runs. The tests in
// test/peer-ranges/ (compiled to .build/test/peer-ranges/) then link those installs next to the
// unpacked tarball in fresh directories and load, run and type-check the package there; this module
// only installs and starts them, on the Node each consumer needs (kysely 0.29 needs Node >= 22).
//
// The floors must be the lower bounds of package.json's peer ranges and every version must satisfy
// its range: test/integration/package/peer-ranges/runtime.test.ts checks both against the packed package.json. The
// ceilings are the newest releases on the registry when they were last bumped here: bump them
// when a peer releases (`npm view kysely versions`).
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { node22 } from './node22.mjs'

const CACHE_DIR = resolve('.cache', 'peers')

// The consumer's own packages next to the peers: @types/pg-cursor types the `cursor: Cursor` option.
const CONSUMER_TYPES = { '@types/pg-cursor': '2.7.2' }

/** Floors and ceilings of each peer range, split by kysely minor (0.29 needs Node >= 22). */
export const PEER_CONSUMERS = Object.freeze([
  {
    name: 'kysely-0.28-floor',
    node: 'system',
    peers: {
      kysely: '0.28.0',
      pg: '8.11.0',
      'pg-cursor': '2.10.0',
      'pg-copy-streams': '6.0.1',
      '@types/pg': '8.11.0',
      'kysely-codegen': '0.20.0',
    },
  },
  {
    name: 'kysely-0.28-newest',
    node: 'system',
    peers: { kysely: '0.28.19', pg: '8.23.1', 'pg-cursor': '2.22.1', 'pg-copy-streams': '7.0.0', '@types/pg': '8.23.1' },
  },
  {
    name: 'kysely-0.29-floor',
    node: 'node22',
    peers: { kysely: '0.29.0', pg: '8.11.0', 'pg-cursor': '2.10.0', 'pg-copy-streams': '6.0.1', '@types/pg': '8.11.0' },
  },
  {
    name: 'kysely-0.29-newest',
    node: 'node22',
    peers: {
      kysely: '0.29.9',
      pg: '8.23.1',
      'pg-cursor': '2.22.1',
      'pg-copy-streams': '7.0.0',
      '@types/pg': '8.23.1',
      'kysely-codegen': '0.20.0',
    },
  },
])

/** The TypeScript versions the declarations are checked with (7 is the native compiler). */
export const TYPESCRIPT_VERSIONS = Object.freeze(['5.9.3', '6.0.3', '7.0.2'])

/** Whether a compiled test file belongs to this leg rather than to the Node/kysely matrix. */
export function isPeerRangeTest(file) {
  return file.split(/[\\/]/).includes('peer-ranges')
}

function npm(args, options) {
  const npmCli = process.env.npm_execpath
  const [cmd, prefix] = npmCli ? [process.execPath, [npmCli]] : ['npm', []]
  execFileSync(cmd, [...prefix, ...args], { stdio: ['ignore', 'ignore', 'inherit'], ...options })
}

/**
 * Installs `dependencies` (exact versions) into a cache directory keyed by them, once: a directory
 * is renamed into place only when its install succeeded, so an interrupted run leaves nothing half
 * installed behind.
 */
function cachedInstall(name, dependencies, log) {
  const key = createHash('sha256').update(JSON.stringify(dependencies)).digest('hex').slice(0, 12)
  const dir = join(CACHE_DIR, `${name}-${key}`)
  if (existsSync(join(dir, 'node_modules'))) return dir
  log(
    `[peers] installing ${Object.entries(dependencies)
      .map(([n, v]) => `${n}@${v}`)
      .join(' ')} into ${dir}`,
  )
  const staging = `${dir}.${process.pid}.tmp`
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(staging, { recursive: true })
  writeFileSync(join(staging, 'package.json'), JSON.stringify({ name: `peers-${name}`, private: true, dependencies }, null, 2) + '\n')
  npm(['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: staging })
  try {
    renameSync(staging, dir)
  } catch (error) {
    // Another run installed the same versions meanwhile: use theirs.
    rmSync(staging, { recursive: true, force: true })
    if (!existsSync(join(dir, 'node_modules'))) throw error
  }
  return dir
}

/** Installs (or finds in the cache) every consumer and TypeScript, for the tests' PEER_MATRIX. */
export function preparePeerMatrix({ log = console.log } = {}) {
  const systemNode = process.env.npm_node_execpath ?? process.execPath
  const consumers = PEER_CONSUMERS.map((consumer) => ({
    name: consumer.name,
    peers: consumer.peers,
    node: resolve(consumer.node === 'node22' ? node22({ log }) : systemNode),
    modules: join(cachedInstall(consumer.name, { ...consumer.peers, ...CONSUMER_TYPES }, log), 'node_modules'),
  }))
  const typescripts = TYPESCRIPT_VERSIONS.map((version) => ({
    version,
    modules: join(cachedInstall(`typescript-${version}`, { typescript: version }, log), 'node_modules'),
  }))
  return { consumers, typescripts }
}

/**
 * Installs what the peer-range test files need and runs them with `run(files, env)` (the test
 * command's own runner, so their counts join its totals); resolves to what `run` resolves to.
 */
export async function runPeerRangeLeg(files, env, { log = console.log, run }) {
  const matrix = preparePeerMatrix({ log })
  log(`\n[test] peer ranges: ${matrix.consumers.map((c) => c.name).join(', ')}; TypeScript ${TYPESCRIPT_VERSIONS.join(', ')}`)
  return await run(files, { ...env, PEER_MATRIX: JSON.stringify(matrix) })
}
