// The migration lock lease of CockroachAdapter under Kysely's Migrator, on PostgreSQL and (when
// COCKROACH_URL is set) CockroachDB: concurrent migrators, a killed migrator, renewal during a long
// statement, a lost lease, and the lock timeout.
// Counts are cast to int4: plain INT is INT8 on CockroachDB, which node-postgres returns as a string.
// pg_sleep(float) exists on CockroachDB too (cockroach docs/generated/sql/functions.md).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, MigrationLeaseLostError, MigrationLockTimeoutError } from '../src/index.js'
import { allTargets, createKysely, createTestDatabase } from './harness/targets.js'
import type { TestDatabase } from './harness/targets.js'
import { loadMigrationModule } from './fixtures/migrations/kysely-migration.js'
import type { Migration, MigrationResultSet } from './fixtures/migrations/kysely-migration.js'

const { Migrator } = await loadMigrationModule()
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations take Kysely<any>
type AnyDb = Kysely<any>

async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query<R>(text, values)
  } finally {
    await client.end()
  }
}

async function createSideEffectsTable(database: TestDatabase): Promise<void> {
  await query(database.url, 'create table side_effects (migration text not null, migrator int not null)')
}

async function recordSideEffect(db: AnyDb, migration: string, migrator: number): Promise<void> {
  await sql`insert into side_effects (migration, migrator) values (${migration}, ${migrator})`.execute(db)
}

async function sideEffectCounts(database: TestDatabase): Promise<Record<string, number>> {
  const { rows } = await query<{ migration: string; n: number }>(
    database.url,
    'select migration, count(*)::int4 as n from side_effects group by migration order by migration',
  )
  return Object.fromEntries(rows.map((row) => [row.migration, row.n]))
}

interface LockRow {
  readonly is_locked: number
  readonly lease_owner: string | null
  readonly live: boolean | null
}

async function lockRow(
  database: TestDatabase,
  table = 'kysely_migration_lock',
): Promise<LockRow> {
  const { rows } = await query<LockRow>(
    database.url,
    `select is_locked::int4 as is_locked, lease_owner, lease_expires_at > now() as live from ${table} where id = 'migration_lock'`,
  )
  assert.equal(rows.length, 1, 'the lock row exists')
  return rows[0]
}

function staticProvider(migrations: Record<string, Migration>) {
  return { getMigrations: async () => migrations }
}

function assertSucceeded(result: MigrationResultSet, label: string): void {
  assert.equal(result.error, undefined, `${label} failed: ${String(result.error)}`)
}

for (const target of allTargets) {
  describe(`migration lock lease on ${target.name}`, () => {
    const databases: TestDatabase[] = []
    const fresh = async (label: string): Promise<TestDatabase> => {
      const database = await createTestDatabase(target, label)
      databases.push(database)
      return database
    }

    after(async () => {
      for (const database of databases) {
        await database.drop()
      }
    })

    it('five concurrent migrators apply every migration exactly once', async () => {
      const database = await fresh('five_migrators')
      await createSideEffectsTable(database)
      const migrationsFor = (migrator: number): Record<string, Migration> => ({
        '001_create_a': {
          async up(db) {
            await recordSideEffect(db, '001_create_a', migrator)
            // Keep the first migration busy so the other migrators are all waiting on the lock
            // while it runs; without the lock they would all see it as pending.
            await sql`select pg_sleep(0.3)`.execute(db)
            await db.schema.createTable('a').addColumn('id', 'uuid', (col) => col.primaryKey()).execute()
          },
        },
        '002_create_b': {
          async up(db) {
            await recordSideEffect(db, '002_create_b', migrator)
            await db.schema.createTable('b').addColumn('id', 'uuid', (col) => col.primaryKey()).execute()
          },
        },
        '003_fill_a': {
          async up(db) {
            await recordSideEffect(db, '003_fill_a', migrator)
            await sql`insert into a (id) values (gen_random_uuid())`.execute(db)
          },
        },
      })
      const dbs = [1, 2, 3, 4, 5].map(() => createKysely<unknown>(database, { migrationLock: { leaseDurationMs: 5_000 } }))
      try {
        const results = await Promise.all(
          dbs.map((db, i) => new Migrator({ db, provider: staticProvider(migrationsFor(i + 1)) }).migrateToLatest()),
        )
        results.forEach((result, i) => assertSucceeded(result, `migrator ${i + 1}`))
        const succeeded = results.flatMap((result) => (result.results ?? []).filter((r) => r.status === 'Success'))
        assert.deepEqual(succeeded.map((r) => r.migrationName).sort(), ['001_create_a', '002_create_b', '003_fill_a'])
        assert.deepEqual(await sideEffectCounts(database), { '001_create_a': 1, '002_create_b': 1, '003_fill_a': 1 })
        const executed = await query<{ name: string }>(database.url, 'select name from kysely_migration order by name')
        assert.deepEqual(executed.rows.map((r) => r.name), ['001_create_a', '002_create_b', '003_fill_a'])
        assert.equal((await query<{ n: number }>(database.url, 'select count(*)::int4 as n from a')).rows[0]?.n, 1)
        assert.deepEqual(await lockRow(database), { is_locked: 0, lease_owner: null, live: null })
      } finally {
        await Promise.all(dbs.map((db) => db.destroy()))
      }
    })

    it('a migrator killed mid-run blocks the next one only until its lease runs out', async () => {
      const database = await fresh('killed_migrator')
      await createSideEffectsTable(database)
      const lease = { leaseDurationMs: 1_000, renewIntervalMs: 250 }
      const childScript = fileURLToPath(new URL('./fixtures/migrations/crash-child.js', import.meta.url))
      const child = spawn(
        process.execPath,
        [...process.execArgv.filter((arg) => !arg.startsWith('--test')), childScript],
        {
          env: {
            ...process.env,
            DATABASE_URL: database.url,
            LEASE_MS: String(lease.leaseDurationMs),
            RENEW_MS: String(lease.renewIntervalMs),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      const exited = once(child, 'exit')
      const db = createKysely<unknown>(database, { migrationLock: { ...lease, acquireTimeoutMs: 120_000 } })
      try {
        const lines = createInterface({ input: child.stdout })
        for await (const line of lines) {
          assert.equal(line, 'STARTED', `the child printed: ${line}`)
          break
        }
        const held = await lockRow(database)
        assert.equal(held.is_locked, 1)
        assert.ok(held.lease_owner, 'the child holds the lease')
        assert.equal(held.live, true)

        const migrator = new Migrator({
          db,
          provider: staticProvider({
            '001_first': {
              async up(db) {
                await recordSideEffect(db, '001_first', 2)
              },
            },
            '002_second': {
              async up(db) {
                await recordSideEffect(db, '002_second', 2)
              },
            },
          }),
        })
        // Start waiting while the child still renews its lease, then kill it mid-migration.
        const running = migrator.migrateToLatest()
        child.kill('SIGKILL')
        const [, signal] = (await exited) as [number | null, NodeJS.Signals | null]
        assert.equal(signal, 'SIGKILL')
        const result = await running
        assertSucceeded(result, 'the migrator after the killed one')
        assert.deepEqual(
          result.results?.map((r) => [r.migrationName, r.status]),
          [
            ['001_first', 'Success'],
            ['002_second', 'Success'],
          ],
        )
        assert.deepEqual(await sideEffectCounts(database), { '001_first': 1, '002_second': 1 })
        assert.deepEqual(await lockRow(database), { is_locked: 0, lease_owner: null, live: null })
      } finally {
        child.kill('SIGKILL')
        await db.destroy()
      }
    })

    it('renews the lease on a separate session while a statement outlasts it', async () => {
      const database = await fresh('long_statement')
      await createSideEffectsTable(database)
      const config = {
        connectionString: database.url,
        migrationLock: { leaseDurationMs: 1_500, renewIntervalMs: 300, acquireTimeoutMs: 120_000 },
      }
      const migrations = (migrator: number): Record<string, Migration> => ({
        '001_long': {
          async up(db) {
            await recordSideEffect(db, '001_long', migrator)
            // One statement on the migration connection, far longer than the lease: a renewal
            // queued on that connection would come too late and the second migrator would run
            // this migration again.
            await sql`select pg_sleep(4)`.execute(db)
          },
        },
      })
      const first = new Kysely<unknown>({ dialect: new CockroachDialect(config) })
      const second = new Kysely<unknown>({ dialect: new CockroachDialect(config) })
      try {
        const firstRun = new Migrator({ db: first, provider: staticProvider(migrations(1)) }).migrateToLatest()
        await waitFor(async () => (await sideEffectCounts(database))['001_long'] === 1)
        const secondResult = await new Migrator({ db: second, provider: staticProvider(migrations(2)) }).migrateToLatest()
        const firstResult = await firstRun
        assertSucceeded(firstResult, 'the first migrator')
        assertSucceeded(secondResult, 'the second migrator')
        assert.deepEqual(secondResult.results, [])
        assert.deepEqual(await sideEffectCounts(database), { '001_long': 1 })
      } finally {
        await first.destroy()
        await second.destroy()
      }
    })

    it('reports a lost lease at release, and a held lock as a timeout naming the holder', async () => {
      const database = await fresh('lost_lease')
      const db = createKysely<unknown>(database, { migrationLock: { acquireTimeoutMs: 300 } })
      try {
        const stolen = await new Migrator({
          db,
          provider: staticProvider({
            '001_stolen': {
              async up() {
                // Another party takes the lock row while this migration runs.
                await query(
                  database.url,
                  "update kysely_migration_lock set lease_owner = 'intruder', lease_expires_at = now() + interval '1 hour'",
                )
              },
            },
          }),
        }).migrateToLatest()
        assert.ok(stolen.error instanceof MigrationLeaseLostError, `expected MigrationLeaseLostError, got ${String(stolen.error)}`)
        assert.match(stolen.error.message, /another\s+migrator may have run migrations concurrently/i)
        assert.equal(stolen.error.currentHolder, 'intruder')
        assert.equal((await lockRow(database)).lease_owner, 'intruder', 'release left the new holder alone')

        const blocked = await new Migrator({ db, provider: staticProvider({}) }).migrateToLatest()
        assert.ok(blocked.error instanceof MigrationLockTimeoutError, `expected a timeout, got ${String(blocked.error)}`)
        assert.equal(blocked.error.holder, 'intruder')
        assert.ok(blocked.error.expiresAt instanceof Date)
        assert.match(blocked.error.message, /held by 'intruder' until/)
        const clear = /run: (UPDATE .*)$/.exec(blocked.error.message)?.[1]
        assert.ok(clear, 'the message says how to clear a stale lock')

        // The statement from the message clears the lock, and the next migrator proceeds.
        await query(database.url, clear)
        const next = await new Migrator({
          db,
          provider: staticProvider({ '001_stolen': { async up() {} }, '002_next': { async up() {} } }),
        }).migrateToLatest()
        assertSucceeded(next, 'the migrator after clearing')
        assert.deepEqual(next.results?.map((r) => r.migrationName), ['002_next'])
      } finally {
        await db.destroy()
      }
    })

    describe('up, down and list with a custom schema and table names', () => {
      let database: TestDatabase
      let db: Kysely<unknown>
      let migrator: InstanceType<typeof Migrator>

      before(async () => {
        const { FileMigrationProvider } = await loadMigrationModule()
        const fs = await import('node:fs/promises')
        const path = await import('node:path')
        database = await fresh('up_down_list')
        db = createKysely<unknown>(database)
        migrator = new Migrator({
          db,
          provider: new FileMigrationProvider({
            fs,
            path,
            migrationFolder: fileURLToPath(new URL('./fixtures/migrations/basic', import.meta.url)),
          }),
          migrationTableSchema: 'migration_meta',
          migrationTableName: 'schema_history',
          migrationLockTableName: 'schema_history_lock',
        })
      })

      after(async () => {
        await db?.destroy()
      })

      it('lists, migrates up, down and up again', async () => {
        const names = ['2024_01_01_000_create_person', '2024_01_02_000_add_person_email', '2024_01_03_000_seed_person']
        const listed = await migrator.getMigrations()
        assert.deepEqual(listed.map((m) => [m.name, m.executedAt]), names.map((name) => [name, undefined]))

        const up = await migrator.migrateToLatest()
        assertSucceeded(up, 'migrateToLatest')
        assert.deepEqual(up.results?.map((r) => [r.migrationName, r.direction, r.status]), names.map((n) => [n, 'Up', 'Success']))
        assert.ok((await migrator.getMigrations()).every((m) => m.executedAt instanceof Date))
        const history = await query<{ name: string }>(database.url, 'select name from migration_meta.schema_history order by name')
        assert.deepEqual(history.rows.map((r) => r.name), names)
        const lock = await lockRow(database, 'migration_meta.schema_history_lock')
        assert.deepEqual(lock, { is_locked: 0, lease_owner: null, live: null })
        const people = await query(database.url, 'select name, email from person')
        assert.deepEqual(people.rows, [{ name: 'Ada', email: 'ada@example.com' }])

        const down = await migrator.migrateDown()
        assertSucceeded(down, 'migrateDown')
        assert.deepEqual(down.results?.map((r) => [r.migrationName, r.direction, r.status]), [[names[2], 'Down', 'Success']])
        assert.equal((await query<{ n: number }>(database.url, 'select count(*)::int4 as n from person')).rows[0]?.n, 0)
        assert.deepEqual((await migrator.getMigrations()).map((m) => m.executedAt instanceof Date), [true, true, false])

        const { NO_MIGRATIONS } = await loadMigrationModule()
        const toZero = await migrator.migrateTo(NO_MIGRATIONS)
        assertSucceeded(toZero, 'migrateTo(NO_MIGRATIONS)')
        assert.deepEqual(toZero.results?.map((r) => r.migrationName), [names[1], names[0]])
        const tables = await query(database.url, "select table_name from information_schema.tables where table_name = 'person'")
        assert.equal(tables.rowCount, 0, 'person was dropped')

        const again = await migrator.migrateUp()
        assertSucceeded(again, 'migrateUp')
        assert.deepEqual(again.results?.map((r) => r.migrationName), [names[0]])
      })
    })
  })
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
