// The harness's CockroachDB discovery (scripts/lib/cockroach-server.mjs), run against a fake
// `cockroach` binary: no CockroachDB can run on the development machines, and a broken discovery
// would silently turn the CockroachDB suite into a skip.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import { postgresTarget } from '../../harness/targets.js'
import { queryOnce } from '../../harness/query-once.js'
import { waitFor } from '../../harness/wait-for.js'

interface StartedNode {
  readonly url: string
  readonly source: string
  readonly stop: () => void
  readonly exited?: Promise<void>
}

interface CockroachServerModule {
  readonly startCockroach: (options?: {
    log?: (message: string) => void
    timeoutMs?: number
  }) => Promise<StartedNode | { readonly skipped: string }>
}

// Compiled to .build/test/, so the repository root is two levels up.
const modulePath = new URL('../../../../scripts/lib/cockroach-server.mjs', import.meta.url).href

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function processGone(pid: number): Promise<void> {
  await waitFor(() => !isAlive(pid), { what: `process ${pid} to exit` })
}

function isStarted(result: StartedNode | { readonly skipped: string }): result is StartedNode {
  return !('skipped' in result)
}

describe('scripts/lib/cockroach-server.mjs', () => {
  let startCockroach: CockroachServerModule['startCockroach']
  let binDir: string
  const saved = { PATH: process.env.PATH, COCKROACH_URL: process.env.COCKROACH_URL }
  const logs: string[] = []
  const log = (message: string) => logs.push(message)

  /** Puts an executable `cockroach` shell script made of `body` first on PATH. */
  function fakeCockroach(body: string): void {
    const script = join(binDir, 'cockroach')
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" > '${binDir}/args'\necho $$ > '${binDir}/pid'\n${body}\n`)
    chmodSync(script, 0o755)
  }

  /** The value of `--listening-url-file=` in the fake's arguments. */
  const urlFileLine = `for arg in "$@"; do case "$arg" in --listening-url-file=*) file="\${arg#--listening-url-file=}";; esac; done`

  before(async () => {
    ;({ startCockroach } = (await import(modulePath)) as CockroachServerModule)
  })

  beforeEach(() => {
    binDir = mkdtempSync(join(tmpdir(), 'kysely-crdb-fake-'))
    process.env.PATH = `${binDir}:${saved.PATH ?? ''}`
    delete process.env.COCKROACH_URL
    logs.length = 0
  })

  afterEach(() => {
    process.env.PATH = saved.PATH
    if (saved.COCKROACH_URL === undefined) delete process.env.COCKROACH_URL
    else process.env.COCKROACH_URL = saved.COCKROACH_URL
    rmSync(binDir, { recursive: true, force: true })
  })

  after(() => {
    process.env.PATH = saved.PATH
  })

  it('uses COCKROACH_URL when set, without starting anything', async () => {
    fakeCockroach('exit 3')
    process.env.COCKROACH_URL = 'postgresql://root@db.example:26257/defaultdb?sslmode=disable'
    const result = await startCockroach({ log })
    assert.ok(isStarted(result))
    assert.equal(result.url, 'postgresql://root@db.example:26257/defaultdb?sslmode=disable')
    assert.equal(result.source, 'COCKROACH_URL')
    assert.equal(existsSync(join(binDir, 'args')), false)
  })

  it('says why the suite is skipped when there is neither COCKROACH_URL nor a binary', async () => {
    process.env.PATH = binDir
    const result = await startCockroach({ log })
    assert.ok(!isStarted(result))
    assert.match(result.skipped, /^CockroachDB suite skipped: COCKROACH_URL is not set and no `cockroach` binary is on PATH/)
  })

  it('starts a throwaway single node and returns the URL it writes', async () => {
    // The fake "node" is the suite's PostgreSQL: the URL it reports must be usable as is.
    fakeCockroach(`${urlFileLine}\nprintf '%s\\n' '${postgresTarget.adminUrl}' > "$file"\nexec sleep 300`)
    const result = await startCockroach({ log })
    assert.ok(isStarted(result))
    try {
      assert.equal(result.url, postgresTarget.adminUrl)
      assert.equal(result.source, join(binDir, 'cockroach'))
      assert.deepEqual(logs, [`[cockroach] throwaway single node from ${join(binDir, 'cockroach')}: ${postgresTarget.adminUrl}`])

      const args = readFileSync(join(binDir, 'args'), 'utf8').trim().split('\n')
      const urlFile = args.find((a) => a.startsWith('--listening-url-file='))?.slice('--listening-url-file='.length)
      assert.ok(urlFile)
      assert.deepEqual(args, [
        'start-single-node',
        '--insecure',
        '--store=type=mem,size=1GiB',
        '--listen-addr=127.0.0.1:0',
        '--http-addr=127.0.0.1:0',
        `--listening-url-file=${urlFile}`,
        `--log-dir=${join(dirname(urlFile), 'logs')}`,
      ])

      const { rows } = await queryOnce<{ one: number }>(result.url, 'select 1 as one')
      assert.deepEqual(rows, [{ one: 1 }])

      result.stop()
      await result.exited
      assert.equal(existsSync(dirname(urlFile)), false, 'stop() removes the temporary directory')
      assert.equal(isAlive(Number(readFileSync(join(binDir, 'pid'), 'utf8'))), false, 'stop() kills the node')
    } finally {
      result.stop()
    }
  })

  it('waits for the newline that ends the URL, as the file is not written atomically', async () => {
    fakeCockroach(
      `${urlFileLine}\nprintf 'postgresql://root@127.0.0.1:1' > "$file"\nsleep 1\n` +
        `printf '%s\\n' 'postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable' > "$file"\nexec sleep 300`,
    )
    const result = await startCockroach({ log })
    assert.ok(isStarted(result))
    result.stop()
    assert.equal(result.url, 'postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable')
    await result.exited
  })

  it('reports the exit code and stderr of a node that fails to start', async () => {
    fakeCockroach(`echo 'ERROR: cannot listen on 127.0.0.1' >&2\nexit 7`)
    await assert.rejects(startCockroach({ log }), {
      message: 'cockroach start-single-node exited with 7: ERROR: cannot listen on 127.0.0.1',
    })
  })

  it('gives up, and kills the node, when no URL arrives in time', async () => {
    fakeCockroach('exec sleep 300')
    await assert.rejects(startCockroach({ log, timeoutMs: 300 }), /did not write its URL within 300 ms/)
    // SIGKILL was sent: wait (bounded by the test timeout) for this process to reap the child.
    await processGone(Number(readFileSync(join(binDir, 'pid'), 'utf8')))
  })
})
