// The shipped declarations, type-checked the way a TypeScript user's project checks them: with
// `skipLibCheck: false`, so every .d.ts of the package (and of kysely, pg, ...) is checked, against
// each kysely of the peer-range consumers (scripts/lib/peer-matrix.mjs: 0.28.0, 0.28.19, 0.29.0,
// 0.29.9), from ESM and CommonJS, with `moduleResolution` node16, nodenext and bundler, on each
// supported TypeScript (5.9, 6.0 and 7, the native compiler). The consumer source uses the main
// public API, so the declarations are really read, not only resolved.
//
// Run by the peer-range leg of `npm test`, which installs the peers and the compilers.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { createConsumer, peerMatrix, reusableDir, writeJson } from '../../../harness/peer-consumers.js'
import { parseDiagnostics } from '../../../harness/tsc-diagnostics.js'
import type { Diagnostic } from '../../../harness/tsc-diagnostics.js'

const execFileAsync = promisify(execFile)
const matrix = peerMatrix()

interface Program {
  readonly name: string
  readonly compilerOptions: Readonly<Record<string, string>>
  /** The consumer files: one ESM, one CommonJS, checked in the same program. */
  readonly files: Readonly<Record<string, 'import' | 'require'>>
}

// One program per resolution mode holds an ESM and a CommonJS consumer file (.mts/.cts under node16
// and nodenext; under bundler, `module: preserve` resolves `import` with the "import" condition and
// `import x = require()` with "require"), so the libraries' declarations are checked once for both.
const PROGRAMS: readonly Program[] = [
  {
    name: 'node16',
    compilerOptions: { module: 'node16', moduleResolution: 'node16' },
    files: { 'esm.mts': 'import', 'cjs.cts': 'import' },
  },
  {
    name: 'nodenext',
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' },
    files: { 'esm.mts': 'import', 'cjs.cts': 'import' },
  },
  {
    name: 'bundler',
    compilerOptions: { module: 'preserve', moduleResolution: 'bundler' },
    files: { 'esm.ts': 'import', 'cjs.ts': 'require' },
  },
]

const VALUES = [
  'AmbiguousCommitError',
  'CockroachAdapter',
  'CockroachDialect',
  'CockroachIntrospector',
  'asOfSystemTime',
  'followerReadTimestamp',
  'indexHint',
  'isCommitOutcomeUnknown',
  'isRetryExhaustedError',
  'parseConnectionString',
  'readAt',
  'setTransactionPriority',
  'streamWithSqlCursor',
  'upsertInto',
  'withRetry',
] as const
const TYPES = ['CockroachDialectConfig', 'ParsedConnectionString', 'RetryEvent', 'WithRetryOptions'] as const

const PRELUDE = {
  import: `import Cursor from 'pg-cursor'
import { Kysely } from 'kysely'
import type { Generated } from 'kysely'
import { ${VALUES.join(', ')} } from 'kysely-cockroachdb'
import type { ${TYPES.join(', ')} } from 'kysely-cockroachdb'
`,
  require: `import Cursor = require('pg-cursor')
import kysely = require('kysely')
import cockroach = require('kysely-cockroachdb')
const { Kysely } = kysely
type Generated<T> = kysely.Generated<T>
const { ${VALUES.join(', ')} } = cockroach
${TYPES.map((t) => `type ${t} = cockroach.${t}`).join('\n')}
`,
}

const BODY = `
interface Database {
  account: { id: Generated<string>; name: string; balance: bigint }
}

const config: CockroachDialectConfig = {
  connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable',
  cursor: Cursor,
  int8: 'bigint',
  migrationLock: { leaseDurationMs: 30_000 },
}
export const db = new Kysely<Database>({ dialect: new CockroachDialect(config) })
export const adapter = new CockroachAdapter({ acquireTimeoutMs: 60_000 })
export const introspector = new CockroachIntrospector(db)
export const parsed: ParsedConnectionString = parseConnectionString('cockroachdb://root@localhost/defaultdb?sslmode=disable')

const retryOptions: WithRetryOptions = {
  maxAttempts: 5,
  strategy: 'savepoint',
  onRetry: (event: RetryEvent) => console.log(event.attempt, event.delayMs),
}

export async function transfer(fromId: string, toId: string, amount: bigint): Promise<string> {
  try {
    return await withRetry(
      db,
      async (trx) => {
        await setTransactionPriority(trx, 'high')
        const from = await trx.selectFrom('account').select('balance').where('id', '=', fromId).executeTakeFirstOrThrow()
        const balance: bigint = from.balance
        if (balance < amount) throw new Error('insufficient funds')
        await trx.updateTable('account').set((eb) => ({ balance: eb('balance', '-', amount) })).where('id', '=', fromId).execute()
        await trx.updateTable('account').set((eb) => ({ balance: eb('balance', '+', amount) })).where('id', '=', toId).execute()
        return toId
      },
      retryOptions,
    )
  } catch (error) {
    if (error instanceof AmbiguousCommitError || isCommitOutcomeUnknown(error)) throw new Error('reconcile the transfer', { cause: error })
    if (isRetryExhaustedError(error)) console.log(error.attempts)
    throw error
  }
}

export async function reads(): Promise<number> {
  await upsertInto(db, 'account').values({ name: 'alice', balance: 100n }).execute()
  const past = await db.selectFrom('account').selectAll().$call(asOfSystemTime('-10s')).execute()
  const follower = await db.selectFrom('account').selectAll().$call(asOfSystemTime(followerReadTimestamp())).execute()
  const hinted = await db.selectFrom(indexHint(db, 'account', { forceIndex: 'account_name_key' })).select(['name']).execute()
  const names: string[] = hinted.map((row) => row.name)
  const snapshot = await readAt(db, followerReadTimestamp(), (trx) => trx.selectFrom('account').selectAll().execute())
  let streamed = 0
  await db.transaction().execute(async (trx) => {
    for await (const row of streamWithSqlCursor(trx, trx.selectFrom('account').select('id'))) {
      const id: string = row.id
      streamed += id.length
    }
  })
  return past.length + follower.length + names.length + snapshot.length + streamed
}
`

// kysely 0.29 is ESM only. Under `module: node16`, which models Node 16 (no require() of ES modules),
// TypeScript refuses any CommonJS import of it: TS1479, and TS1541 for type-only imports. The
// consumer's own `import { Kysely } from 'kysely'` in a .cts file fails the same way, so this is
// kysely's packaging, not these declarations: CommonJS users of kysely 0.29 need `module: nodenext`,
// which models require() of ES modules from TypeScript 5.8 (release notes, "Support for require()
// of ECMAScript Modules in --module nodenext"). Only these errors, and only in CommonJS files, are
// expected there; anything else fails the test.
function expectedErrors(kyselyVersion: string, program: Program): (d: Diagnostic) => boolean {
  if (program.name !== 'node16' || Number(kyselyVersion.split('.')[1]) < 29) return () => false
  return (d) => (d.code === 1479 || d.code === 1541) && (d.file.endsWith('.cts') || d.file.includes('/dist/cjs/'))
}

for (const consumer of matrix.consumers) {
  describe(
    `declarations: ${consumer.name} (kysely@${consumer.peers.kysely}, @types/pg@${consumer.peers['@types/pg']})`,
    { concurrency: 2 },
    () => {
      const projects = new Map<Program, string>()
      let held: ReturnType<typeof reusableDir> | undefined

      before(() => {
        held = reusableDir(`types-${consumer.name}`)
        for (const program of PROGRAMS) {
          const dir = createConsumer(join(held.dir, program.name), consumer, 'commonjs')
          for (const [file, syntax] of Object.entries(program.files)) writeFileSync(join(dir, file), PRELUDE[syntax] + BODY)
          writeJson(join(dir, 'tsconfig.json'), {
            compilerOptions: {
              ...program.compilerOptions,
              target: 'es2022',
              strict: true,
              skipLibCheck: false,
              esModuleInterop: true,
              noEmit: true,
            },
            files: Object.keys(program.files),
          })
          projects.set(program, dir)
        }
      })

      after(() => held?.release())

      for (const typescript of matrix.typescripts) {
        for (const program of PROGRAMS) {
          const files = Object.keys(program.files).join(' + ')
          it(`TypeScript ${typescript.version}, ${program.name} (${files}): type-checks with skipLibCheck false`, async () => {
            const dir = projects.get(program)!
            const tsc = join(typescript.modules, 'typescript', 'bin', 'tsc')
            // Incremental: a later run re-checks only the files whose contents changed (the package's).
            const args = [
              tsc,
              '-p',
              '.',
              '--pretty',
              'false',
              '--incremental',
              '--tsBuildInfoFile',
              join(dir, `.tsbuildinfo-${typescript.version}`),
            ]
            const { failed, output } = await execFileAsync(process.execPath, args, { cwd: dir, timeout: 300_000 }).then(
              () => ({ failed: false, output: '' }),
              (error: { stdout?: string; stderr?: string }) => ({
                failed: true,
                output: `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error),
              }),
            )
            const diagnostics = parseDiagnostics(output)
            // A non-zero exit always means something failed; with nothing parsed, the output says what.
            assert.ok(!failed || diagnostics.length > 0, `tsc failed without a diagnostic:\n${output}`)
            const expected = expectedErrors(consumer.peers.kysely!, program)
            const unexpected = diagnostics.filter((d) => !expected(d))
            assert.deepEqual(
              unexpected.map((d) => d.text),
              [],
              output && !diagnostics.length ? output : undefined,
            )
            if (diagnostics.length) {
              // The expected refusal really is kysely's: the consumer's own CommonJS import of it.
              assert.ok(
                diagnostics.some((d) => d.file === 'cjs.cts' && d.code === 1479),
                diagnostics.map((d) => d.text).join('\n'),
              )
            }
          })
        }
      }
    },
  )
}
