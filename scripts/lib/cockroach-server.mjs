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
 * Returns `{ url, stop, source }`, or `{ skipped: reason }` when no CockroachDB is available.
 * Flags from the `cockroach start-single-node` docs; `--listening-url-file` is in
 * cockroachdb/cockroach pkg/cli/cliflags/flags.go.
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
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stop)
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      stop()
      throw new Error(`cockroach start-single-node exited with ${child.exitCode}: ${stderr.trim()}`)
    }
    const url = existsSync(urlFile) ? readFileSync(urlFile, 'utf8').trim() : ''
    if (url) {
      log(`[cockroach] throwaway single node from ${binary}: ${url}`)
      return { url, stop, source: binary }
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  stop()
  throw new Error(`cockroach start-single-node did not write its URL within ${timeoutMs} ms: ${stderr.trim()}`)
}
