// Starts and stops a throwaway PostgreSQL 15 server for tests, the demo and benchmarks.
//
// The server lives in a fresh temporary directory, listens on a free loopback port only, runs with
// fsync off (its data is thrown away) and trusts local connections. `initdb` refuses to run as root,
// so as root every server process runs as the `postgres` system user that Debian's package creates.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PG_MAJOR = '15'

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/** Finds the directory holding `initdb` and `pg_ctl`, installing Debian's postgresql-15 if allowed. */
export function findPostgresBinDir({ install = true, log = console.error } = {}) {
  const candidates = [process.env.PG_BIN_DIR, `/usr/lib/postgresql/${PG_MAJOR}/bin`]
  if (existsSync('/usr/lib/postgresql')) {
    for (const v of readdirSync('/usr/lib/postgresql').sort().reverse()) {
      candidates.push(`/usr/lib/postgresql/${v}/bin`)
    }
  }
  for (const dir of ['/usr/local/bin', '/usr/bin', '/opt/homebrew/bin', '/usr/local/opt/postgresql@15/bin']) {
    candidates.push(dir)
  }
  for (const dir of candidates) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) {
      return dir
    }
  }
  if (!install) {
    return undefined
  }
  if (!isRoot() || !existsSync('/usr/bin/apt-get')) {
    throw new Error(
      `PostgreSQL ${PG_MAJOR} server binaries (initdb, pg_ctl) were not found. Install them ` +
        `(Debian/Ubuntu: "sudo apt-get install -y postgresql-${PG_MAJOR}") or point PG_BIN_DIR at their directory.`,
    )
  }
  log(`[postgres] initdb not found: installing postgresql-${PG_MAJOR} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', `postgresql-${PG_MAJOR}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  })
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
  log(`[postgres] throwaway PostgreSQL ${PG_MAJOR} on ${url} (data in ${dataDir})`)
  return { url, port, dataDir, stop }
}
