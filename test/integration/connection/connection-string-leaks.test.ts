// The secret corpus (issue 9, defect 4): hundreds of generated connection strings with random
// passwords full of the characters that break URLs, through every entry point that takes one. No
// error message, stack, cause (recursively) or printed output may contain the password or any
// 4-character piece of it; errors about a bad part still name it (the port 99999, the sslmode).
import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, parseConnectionString } from '../../../src/index.js'
import { runCodegenCommand } from '../../../src/codegen/codegen-command.js'
import { assertNoSecret, connectionStringCorpus, errorText, thrown, warningsDuring } from '../../harness/password-corpus.js'
import type { CorpusEntry } from '../../harness/password-corpus.js'

const SEED = 0x5ec2e7
const run = promisify(execFile)
const root = resolve(new URL('../../../..', import.meta.url).pathname)
const bin = join(root, '.build/src/codegen/codegen-cli.js')
const preload = process.execArgv.flatMap((arg, i, all) =>
  arg === '--import' && all[i + 1] ? [arg, all[i + 1] as string] : arg.startsWith('--import=') ? [arg] : [],
)

/** A loopback port nothing listens on: bound once by us, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((done) => server.close(() => done()))
  return port
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++
        results[i] = await fn(items[i] as T)
      }
    }),
  )
  return results
}

describe('secret corpus: connect failures and the codegen command', () => {
  let port: number
  let corpus: CorpusEntry[]

  before(async () => {
    port = await closedPort()
    // Raw passwords that still make a valid URL name another host (`app:pass@word/bank`): left out
    // here, as in the redaction test.
    corpus = connectionStringCorpus({ seed: SEED + 1, size: 190, hosts: ['127.0.0.1', 'localhost'], port }).filter(
      (e) => e.kind !== 'raw' || thrown(() => parseConnectionString(e.connectionString)) !== undefined,
    )
  })

  it('a query on a closed port fails without a piece of the password in the error', { timeout: 120_000 }, async () => {
    const valid = corpus.filter((e) => e.kind === 'valid')
    assert.ok(valid.length >= 25)
    const warnings = await warningsDuring(async () => {
      await mapLimit(valid, 4, async (entry) => {
        const db = new Kysely<unknown>({ dialect: new CockroachDialect({ connectionString: entry.connectionString }) })
        try {
          const error = await sql`select 1`.execute(db).then(
            () => undefined,
            (e: unknown) => e,
          )
          assert.ok(error instanceof Error, `${entry.connectionString} connected to a closed port?`)
          assertNoSecret(errorText(error), entry, `connect (${entry.label} #${entry.index})`)
        } finally {
          await db.destroy()
        }
      })
    })
    for (const entry of valid) assertNoSecret(warnings, entry, 'process warnings')
  })

  it('runCodegenCommand (in process): what it writes never carries a piece of the password', { timeout: 120_000 }, async () => {
    for (const entry of corpus) {
      const out: string[] = []
      const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t) }
      const code = await runCodegenCommand(['codegen', '--url', entry.connectionString, '--print', '--log-level=silent'], io)
      assert.equal(code, 1, `${entry.connectionString}: ${out.join('')}`)
      assertNoSecret(out, entry, `runCodegenCommand (${entry.label} #${entry.index})`)
    }
  })

  it('the codegen bin (child processes): stdout and stderr never carry a piece of the password', { timeout: 240_000 }, async () => {
    // One string of each label (the corpus cycles through them), and the issue's own.
    const labels = new Set<string>()
    const sample = corpus.filter((e) => !labels.has(e.label) && labels.add(e.label))
    sample.push({
      index: -1,
      kind: 'malformed',
      label: 'issue',
      connectionString: 'postgresql://app:pa/ss@db:26257/bank',
      password: 'pa/ss',
    })
    await mapLimit(sample, 3, async (entry) => {
      const result = await run(process.execPath, [...preload, bin, 'codegen', '--url', entry.connectionString, '--print'], {
        cwd: root,
      }).then(
        () => assert.fail(`codegen succeeded on ${entry.connectionString}`),
        (e: { code?: number; stdout?: string; stderr?: string }) => e,
      )
      assert.equal(result.code, 1, result.stderr)
      assertNoSecret([result.stdout ?? '', result.stderr ?? ''], entry, `codegen bin (${entry.label} #${entry.index})`)
      assert.match(result.stderr ?? '', /^kysely-cockroachdb codegen: /)
    })
  })
})
