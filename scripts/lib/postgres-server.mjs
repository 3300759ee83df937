// Starts and stops a throwaway PostgreSQL 15 server for tests, the demo and benchmarks.
//
// The server lives in a fresh temporary directory, listens on a free loopback port only, runs with
// fsync off (its data is thrown away) and trusts local connections. `initdb` refuses to run as root,
// so as root every server process runs as the `postgres` system user that Debian's package creates;
// any other user (e.g. `runner` on GitHub Actions) runs the server itself.
//
// Binaries: PG_BIN_DIR if set (it must hold initdb and pg_ctl), else the first PostgreSQL found in
// the usual places (15 preferred), else postgresql-15 is installed with apt-get, through passwordless
// sudo when not root, adding the PostgreSQL project's apt repository (PGDG) when the distribution
// does not carry version 15 (Ubuntu 24.04 ships 16).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PG_MAJOR = '15'

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

function hasServerBinaries(dir) {
  return Boolean(dir) && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))
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

/** Finds the directory holding `initdb` and `pg_ctl`, installing postgresql-15 with apt if allowed. */
export function findPostgresBinDir({ install = true, log = console.error } = {}) {
  if (process.env.PG_BIN_DIR) {
    if (hasServerBinaries(process.env.PG_BIN_DIR)) return process.env.PG_BIN_DIR
    throw new Error(`PG_BIN_DIR=${process.env.PG_BIN_DIR} does not contain initdb and pg_ctl.`)
  }
  const candidates = [`/usr/lib/postgresql/${PG_MAJOR}/bin`]
  if (existsSync('/usr/lib/postgresql')) {
    for (const v of readdirSync('/usr/lib/postgresql').sort().reverse()) {
      candidates.push(`/usr/lib/postgresql/${v}/bin`)
    }
  }
  for (const dir of ['/usr/local/bin', '/usr/bin', '/opt/homebrew/bin', '/usr/local/opt/postgresql@15/bin']) {
    candidates.push(dir)
  }
  for (const dir of candidates) {
    if (hasServerBinaries(dir)) {
      return dir
    }
  }
  if (!install) {
    return undefined
  }
  if (!existsSync('/usr/bin/apt-get') || !canInstall()) {
    throw new Error(
      `PostgreSQL ${PG_MAJOR} server binaries (initdb, pg_ctl) were not found. Install them ` +
        `(Debian/Ubuntu: "sudo apt-get install -y postgresql-${PG_MAJOR}") or point PG_BIN_DIR at their directory.`,
    )
  }
  log(`[postgres] initdb not found: installing postgresql-${PG_MAJOR} with ${isRoot() ? '' : 'sudo '}apt-get`)
  aptInstall(log)
  return findPostgresBinDir({ install: false, log })
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
  const user = isRoot() ? 'postgres' : undefined
  const baseDir = mkdtempSync(join(tmpdir(), 'kysely-crdb-pg-'))
  const dataDir = join(baseDir, 'data')
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
  const version = execFileSync(join(binDir, 'pg_ctl'), ['--version']).toString().trim().replace(/^pg_ctl \(PostgreSQL\) /, '')
  log(`[postgres] throwaway PostgreSQL ${version} on ${url} (data in ${dataDir})`)
  return { url, port, dataDir, stop }
}
