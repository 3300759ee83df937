// The packed package at the floor and the ceiling of every peer range it declares (the consumers of
// scripts/lib/peer-matrix.mjs): each consumer loads it with `import` and with `require()` on its own
// Node, and runs a connection, a query, transactions, both kinds of stream, copyInto, withRetry and Kysely's
// Migrator against the throwaway PostgreSQL; consumers with kysely-codegen also run the codegen CLI.
//
// Run by the peer-range leg of `npm test` (not by the Node/kysely matrix), which installs the peers.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import semver from 'semver'
import { createTestDatabase, postgresTarget } from '../../../harness/targets.js'
import type { TestDatabase } from '../../../harness/targets.js'
import { createConsumer, installedVersion, packageTarball, peerMatrix } from '../../../harness/peer-consumers.js'
import type { PeerConsumer } from '../../../harness/peer-consumers.js'

const execFileAsync = promisify(execFile)
const matrix = peerMatrix()

interface PackedPackage {
  readonly peerDependencies: Readonly<Record<string, string>>
}

interface Probe {
  readonly resolved: string
  readonly kyselyIsPeer: boolean
  readonly kyselyHasAbortedTransactionError: boolean
  readonly migrations: readonly string[]
  readonly select: unknown
  readonly rolledBack: string
  readonly items: readonly number[]
  readonly stream: readonly string[]
  readonly streamInTransaction: readonly string[]
  readonly copied: number
  readonly retriedAttempts: number
  readonly commitFailure: unknown
  readonly abortedCommit: unknown
}

// One program for both module systems: `load` is `import()` or `require()`. Kysely's Migrator lives
// in 'kysely/migration' on 0.29 (0.29.0's root export no longer has it) and in 'kysely' on 0.28, so
// the test passes the module name in.
const probeBody = (load: string, resolve: string) => `
  const load = ${load}
  const [pkg, kysely, cursorModule, { Migrator }] = await Promise.all([
    load('kysely-cockroachdb'), load('kysely'), load('pg-cursor'), load(process.env.MIGRATION_MODULE),
  ])
  const { sql } = kysely
  const Cursor = cursorModule.default ?? cursorModule
  const dialect = new pkg.CockroachDialect({ connectionString: process.env.DATABASE_URL, cursor: Cursor })
  const db = new kysely.Kysely({ dialect })
  const out = {
    resolved: ${resolve},
    kyselyIsPeer: dialect.createDriver() instanceof kysely.PostgresDriver,
    kyselyHasAbortedTransactionError: typeof kysely.AbortedTransactionError === 'function',
  }
  try {
    const migrations = {
      '001_item': { up: (db) => db.schema.createTable('item').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute() },
      '002_ledger': { up: (db) => sql\`create table ledger (id int primary key, ref int unique deferrable initially deferred)\`.execute(db) },
    }
    const migrated = await new Migrator({ db, provider: { getMigrations: async () => migrations } }).migrateToLatest()
    if (migrated.error) throw migrated.error
    out.migrations = migrated.results.map((r) => r.migrationName + ':' + r.status)

    out.select = (await sql\`select 1 + 1 as two\`.execute(db)).rows
    await db.transaction().execute((trx) => trx.insertInto('item').values([{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }]).execute())
    out.rolledBack = await db.transaction().execute(async (trx) => {
      await trx.insertInto('item').values({ id: 4, name: 'd' }).execute()
      throw new Error('roll back')
    }).catch((error) => error.message)
    out.items = (await db.selectFrom('item').select('id').orderBy('id').execute()).map((r) => r.id)

    out.stream = []
    for await (const row of db.selectFrom('item').select('name').orderBy('id').stream(2)) out.stream.push(row.name)
    out.streamInTransaction = await db.transaction().execute(async (trx) => {
      const names = []
      for await (const row of trx.selectFrom('item').select('name').orderBy('id').stream(2)) names.push(row.name)
      return names
    })

    // copyInto through the consumer's pg-copy-streams (an optional peer: floor and ceiling).
    // pg-copy-streams before 6.0.5 has no named ESM exports (its changelog, 6.0.5): take it off the default export there.
    const copyStreams = await load('pg-copy-streams')
    const from = copyStreams.from ?? copyStreams.default.from
    const bulk = new kysely.Kysely({ dialect: new pkg.CockroachDialect({ connectionString: process.env.DATABASE_URL, copyFrom: from }) })
    try {
      out.copied = (await pkg.copyInto(bulk, 'item', [{ id: 10, name: 'x' }, { id: 11, name: 'y' }], { chunkRows: 1 })).rows
    } finally {
      await bulk.destroy()
    }

    // A 40001 on the first attempt is retried.
    let attempts = 0
    out.retriedAttempts = await pkg.withRetry(db, async (trx) => {
      attempts++
      if (attempts === 1) await sql\`do $$ begin raise exception 'restart transaction: injected' using errcode = '40001'; end $$\`.execute(trx)
      return attempts
    }, { baseDelayMs: 1, maxDelayMs: 1 })

    // A COMMIT that fails with a known outcome (a deferred unique check, 23505) is classified
    // (isCommitOutcomeUnknown) and comes through as itself.
    try {
      await pkg.withRetry(db, (trx) => trx.insertInto('ledger').values([{ id: 1, ref: 1 }, { id: 2, ref: 1 }]).execute())
      out.commitFailure = 'committed'
    } catch (error) {
      out.commitFailure = { name: error.name, code: error.code, outcomeUnknown: pkg.isCommitOutcomeUnknown(error) }
    }

    // COMMIT after a failed statement: PostgreSQL answers ROLLBACK, which kysely >= 0.28.19 / 0.29.8
    // reports as its AbortedTransactionError (a known outcome: nothing was committed).
    try {
      await db.transaction().execute(async (trx) => {
        await sql\`select 1 / 0\`.execute(trx).catch(() => {})
      })
      out.abortedCommit = 'resolved'
    } catch (error) {
      out.abortedCommit = { name: error.name, outcomeUnknown: pkg.isCommitOutcomeUnknown(error), retryable: pkg.isRetryableError(error) }
    }
  } finally {
    await db.destroy()
  }
  console.log(JSON.stringify(out))
`

const esmProbe = probeBody('(name) => import(name)', "import.meta.resolve('kysely-cockroachdb')")
const cjsProbe = `(async () => {${probeBody('async (name) => require(name)', "require.resolve('kysely-cockroachdb')")}})().catch((error) => { console.error(error); process.exit(1) })`

/** Kysely's AbortedTransactionError exists from 0.28.19 and 0.29.8 (checked in the npm tarballs: 0.28.18 and 0.29.7 lack it). */
function hasAbortedTransactionError(kyselyVersion: string): boolean {
  return semver.satisfies(kyselyVersion, '>=0.28.19 <0.29.0 || >=0.29.8')
}

function migrationModule(kyselyVersion: string): string {
  return semver.gte(kyselyVersion, '0.29.0') ? 'kysely/migration' : 'kysely'
}

// The package.json inside the tarball, whose ranges users' installs are checked against.
const packed = JSON.parse(execFileSync('tar', ['-xzOf', packageTarball(), 'package/package.json']).toString()) as PackedPackage

for (const consumer of matrix.consumers) {
  describe(`peers: ${consumer.name} (${Object.entries(consumer.peers)
    .map(([n, v]) => `${n}@${v}`)
    .join(', ')})`, () => {
    let work: string
    const databases = new Map<'module' | 'commonjs', TestDatabase>()
    const dirs = new Map<'module' | 'commonjs', string>()

    before(async () => {
      work = mkdtempSync(join(tmpdir(), `kysely-crdb-${consumer.name}-`))
      for (const type of ['module', 'commonjs'] as const) {
        dirs.set(type, createConsumer(join(work, type), consumer, type))
        databases.set(type, await createTestDatabase(postgresTarget, `peers_${consumer.name}_${type}`))
      }
    })

    after(async () => {
      for (const database of databases.values()) await database.drop()
      if (work) rmSync(work, { recursive: true, force: true })
    })

    it('installs peer versions that the packed package.json declares, floors included', () => {
      const dir = dirs.get('module')!
      for (const [name, version] of Object.entries(consumer.peers)) {
        const range = packed.peerDependencies[name]
        assert.ok(range, `${name} is not a peer dependency of the package`)
        assert.equal(installedVersion(dir, name), version)
        assert.ok(semver.satisfies(version, range), `${name}@${version} is outside the declared range ${range}`)
      }
    })

    for (const type of ['module', 'commonjs'] as const) {
      it(`${type === 'module' ? 'import' : 'require()'}: loads, queries, transactions, streams, withRetry, Migrator`, async () => {
        const dir = dirs.get(type)!
        const kyselyVersion = installedVersion(dir, 'kysely')
        const { stdout } = await runNode(consumer, dir, type, type === 'module' ? esmProbe : cjsProbe, {
          DATABASE_URL: databases.get(type)!.url,
          MIGRATION_MODULE: migrationModule(kyselyVersion),
        })
        const probe = JSON.parse(stdout) as Probe
        const entry = type === 'module' ? 'dist/esm/index.js' : 'dist/cjs/index.js'
        assert.ok(probe.resolved.replace(/^file:\/\//, '').endsWith(`/node_modules/kysely-cockroachdb/${entry}`), probe.resolved)
        assert.equal(probe.kyselyIsPeer, true, "the driver must extend the consumer's kysely PostgresDriver")
        assert.deepEqual(probe.migrations, ['001_item:Success', '002_ledger:Success'])
        assert.deepEqual(probe.select, [{ two: 2 }])
        assert.equal(probe.rolledBack, 'roll back')
        assert.deepEqual(probe.items, [1, 2, 3])
        assert.deepEqual(probe.stream, ['a', 'b', 'c'])
        assert.deepEqual(probe.streamInTransaction, ['a', 'b', 'c'])
        assert.equal(probe.copied, 2)
        assert.equal(probe.retriedAttempts, 2)
        assert.deepEqual(probe.commitFailure, { name: 'error', code: '23505', outcomeUnknown: false })
        assert.equal(probe.kyselyHasAbortedTransactionError, hasAbortedTransactionError(kyselyVersion))
        assert.deepEqual(
          probe.abortedCommit,
          hasAbortedTransactionError(kyselyVersion)
            ? { name: 'AbortedTransactionError', outcomeUnknown: false, retryable: false }
            : 'resolved',
        )
      })
    }

    // kysely-codegen is an optional peer: the floor and the newest consumers install it.
    const codegen = consumer.peers['kysely-codegen']
    if (codegen)
      it(`the codegen command runs kysely-codegen ${codegen}`, async () => {
        // After the import test above, whose migrations created the tables.
        const dir = dirs.get('module')!
        const cli = join(dir, 'node_modules', 'kysely-cockroachdb', 'dist', 'esm', 'codegen', 'codegen-cli.js')
        const { stdout } = await execFileAsync(consumer.node, [cli, 'codegen', '--url', databases.get('module')!.url, '--print'], {
          cwd: dir,
          env: { ...process.env, NODE_OPTIONS: '' },
          timeout: 120_000,
        })
        assert.match(stdout, /export interface Item \{\s+id: number;\s+name: string \| null;\s+\}/)
        assert.match(stdout, /export interface Ledger \{/)
      })
  })
}

async function runNode(
  consumer: PeerConsumer,
  cwd: string,
  type: 'module' | 'commonjs',
  source: string,
  env: Record<string, string>,
): Promise<{ stdout: string }> {
  try {
    return await execFileAsync(consumer.node, ['--input-type', type, '--eval', source], {
      cwd,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      timeout: 120_000,
    })
  } catch (error) {
    // Only what the program printed: the child-process error repeats the whole program (cmd,
    // spawnargs) and says nothing the program's stderr does not.
    const { stderr, code, signal } = error as { stderr?: string; code?: unknown; signal?: unknown }
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`${consumer.name} (${type}) exited with ${String(code ?? signal)} on ${consumer.node}:\n${stderr ?? ''}`)
  }
}
