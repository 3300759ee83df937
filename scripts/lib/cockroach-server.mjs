// Finds a CockroachDB server for the CockroachDB suite: COCKROACH_URL if set, else a `cockroach`
// binary on PATH started as a throwaway insecure single node with an in-memory store. Otherwise
// returns the reason the suite is skipped, for the caller to print.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return undefined
}

/**
 * Returns `{ url, stop, source }`, or `{ skipped: reason }` when no CockroachDB is available. A
 * node it started also has `exited`, a promise that settles when the process has gone, and `stop()`
 * (idempotent, also run on process exit) kills it and removes its temporary directory.
 * Flags from the `cockroach start-single-node` docs; `--listening-url-file` is in
 * cockroachdb/cockroach pkg/cli/cliflags/flags.go. The node writes that file with os.WriteFile and
 * `"%s\n"` once it accepts SQL connections (pkg/cli/start.go), which is not atomic: a URL counts
 * only once its trailing newline is there. Covered with a fake binary in test/integration/harness/cockroach-server.test.ts.
 */
export async function startCockroach({ log = console.error, timeoutMs = 60_000 } = {}) {
  if (process.env.COCKROACH_URL) {
    return { url: process.env.COCKROACH_URL, stop: () => {}, source: 'COCKROACH_URL' }
  }
  const binary = findOnPath('cockroach')
  if (!binary) {
    return {
      skipped:
        'CockroachDB suite skipped: COCKROACH_URL is not set and no `cockroach` binary is on PATH ' +
        '(it runs in .github/workflows/ci.yml against the official cockroachdb/cockroach image).',
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'kysely-crdb-node-'))
  const urlFile = join(dir, 'url')
  const child = spawn(
    binary,
    [
      'start-single-node',
      '--insecure',
      '--store=type=mem,size=1GiB',
      '--listen-addr=127.0.0.1:0',
      '--http-addr=127.0.0.1:0',
      `--listening-url-file=${urlFile}`,
      `--log-dir=${join(dir, 'logs')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  let gone = false
  let spawnError
  const exited = new Promise((resolve) => {
    child.once('close', resolve)
    // Not executable, or vanished from PATH: 'close' may never come.
    child.once('error', (error) => {
      spawnError = error
      resolve()
    })
  }).then(() => {
    gone = true
  })
  const stop = () => {
    process.off('exit', stop)
    if (!gone) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stop)
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (spawnError) {
      stop()
      throw new Error(`cannot start ${binary}: ${spawnError.message}`, { cause: spawnError })
    }
    if (gone) {
      stop()
      throw new Error(`cockroach start-single-node exited with ${child.exitCode ?? child.signalCode}: ${stderr.trim()}`)
    }
    const text = existsSync(urlFile) ? readFileSync(urlFile, 'utf8') : ''
    if (text.endsWith('\n') && text.trim()) {
      const url = text.trim()
      log(`[cockroach] throwaway single node from ${binary}: ${url}`)
      return { url, stop, exited, source: binary }
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  stop()
  throw new Error(`cockroach start-single-node did not write its URL within ${timeoutMs} ms: ${stderr.trim()}`)
}
