// kysely-ctl end to end on PostgreSQL: the fixture project's kysely.config.ts uses CockroachDialect
// from the built package; `kysely migrate:*` runs on Node 22 (kysely-ctl and kysely 0.29 need it).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { queryOnce } from '../../harness/query-once.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../../..', import.meta.url))
const fixture = resolve(root, 'test/fixtures/kysely-ctl')
const kyselyCtl = resolve(root, 'node_modules/kysely-ctl/dist/bin.mjs')
const MIGRATIONS = ['1700000000000_create_account', '1700000000001_index_account_owner', '1700000000002_seed_account']

/**
 * Lays the fixture out as an application: its config and migrations, with the built package
 * installed in node_modules/kysely-cockroachdb (package.json and dist/, as npm would) and kysely-ctl and the peer
 * dependencies linked from this repository. Working on a copy also keeps the test independent of
 * later rebuilds of dist/.
 */
function createProject(): string {
  if (!existsSync(resolve(root, 'dist/cjs/index.js')) || !existsSync(resolve(root, 'dist/esm/index.js'))) {
    throw new Error('dist/ is not built: run the tests with `npm test`, which builds it first.')
  }
  const project = mkdtempSync(join(tmpdir(), 'kysely-ctl-'))
  cpSync(fixture, project, { recursive: true })
  const installed = join(project, 'node_modules', 'kysely-cockroachdb')
  mkdirSync(installed, { recursive: true })
  cpSync(resolve(root, 'package.json'), join(installed, 'package.json'))
  cpSync(resolve(root, 'dist'), join(installed, 'dist'), { recursive: true })
  // pg-connection-string: the package's own dependency, which npm installs with it.
  for (const dependency of ['kysely', 'kysely-ctl', 'pg', 'pg-cursor', 'pg-connection-string']) {
    symlinkSync(resolve(root, 'node_modules', dependency), join(project, 'node_modules', dependency), 'dir')
  }
  return project
}

describe('kysely-ctl with CockroachDialect on PostgreSQL', () => {
  let database: TestDatabase
  let node: string
  let project: string

  before(async () => {
    const lib = (await import(pathToFileURL(resolve(root, 'scripts/lib/node22.mjs')).href)) as {
      node22: (options?: { log?: (message: string) => void }) => string
    }
    // node22() answers relative to the repository root.
    node = resolve(root, lib.node22({ log: () => {} }))
    project = createProject()
    database = await createTestDatabase(postgresTarget, 'kysely_ctl')
  })

  after(async () => {
    await database?.drop()
    if (project) {
      rmSync(project, { recursive: true, force: true })
    }
  })

  async function kysely(...args: string[]): Promise<string> {
    try {
      const { stdout, stderr } = await run(node, [kyselyCtl, ...args, '--no-filesystem-caching'], {
        cwd: project,
        env: { ...process.env, DATABASE_URL: database.url, NO_COLOR: '1', CI: '1' },
      })
      // Without a TTY, consola wraps the status marks in backticks: [`✓`].
      return (stdout + stderr).replace(/`/g, '')
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string }
      assert.fail(`kysely ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`)
    }
  }

  const executed = async (): Promise<string[]> =>
    (await queryOnce<{ name: string }>(database.url, 'select name from kysely_migration order by name')).rows.map((r) => r.name)

  it('lists, migrates to latest, migrates down, and runs concurrently without applying twice', async () => {
    const listedBefore = await kysely('migrate:list')
    for (const name of MIGRATIONS) {
      assert.match(listedBefore, new RegExp(`\\[ \\] ${name}`), listedBefore)
    }

    // Two `migrate:latest` processes at once: the lease lets one apply the migrations, the other
    // finds nothing left to do.
    const outputs = await Promise.all([kysely('migrate:latest'), kysely('migrate:latest')])
    assert.deepEqual(await executed(), MIGRATIONS)
    const accounts = await queryOnce(database.url, 'select owner from account order by owner')
    assert.deepEqual(accounts.rows, [{ owner: 'alice' }, { owner: 'bob' }], 'the seed migration ran once')
    assert.ok(
      outputs.some((out) => out.includes('Ran 3 migrations')),
      outputs.join('\n---\n'),
    )
    const index = await queryOnce(database.url, "select indexname from pg_indexes where indexname = 'account_owner_idx'")
    assert.equal(index.rowCount, 1)
    const lock = await queryOnce(database.url, 'select is_locked, lease_owner, lease_expires_at from kysely_migration_lock')
    assert.deepEqual(lock.rows, [{ is_locked: 0, lease_owner: null, lease_expires_at: null }], 'the lease was released')

    const listedAfter = await kysely('migrate:list')
    for (const name of MIGRATIONS) {
      assert.match(listedAfter, new RegExp(`\\[✓\\] ${name}`), listedAfter)
    }

    const down = await kysely('migrate:down')
    assert.match(down, /Undone 1 migration/, down)
    assert.deepEqual(await executed(), MIGRATIONS.slice(0, 2))
    assert.equal((await queryOnce<{ n: number }>(database.url, 'select count(*)::int4 as n from account')).rows[0]?.n, 0)
    assert.match(await kysely('migrate:list'), new RegExp(`\\[ \\] ${MIGRATIONS[2]}`))
  })
})
