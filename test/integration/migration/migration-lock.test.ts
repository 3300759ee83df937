// The migration lock lease of CockroachAdapter under Kysely's Migrator, on PostgreSQL and (when
// COCKROACH_URL is set) CockroachDB: concurrent migrators, migrators racing to create the lock table
// on a fresh database, a killed migrator, renewal during a long statement, a lost lease, and the
// lock timeout. Without CockroachDB its suite is skipped, and node:test prints why.
// Counts are cast to int4: plain INT is INT8 on CockroachDB, which node-postgres returns as a string.
// pg_sleep(float) exists on CockroachDB too (cockroach docs/generated/sql/functions.md).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { CompiledQuery, Kysely, sql } from 'kysely'
import type { DatabaseConnection } from 'kysely'
import { CockroachDialect, MigrationLeaseLostError, MigrationLockTimeoutError } from '../../../src/index.js'
import { cockroachSkip, cockroachTarget, createKysely, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { Target, TestDatabase } from '../../harness/targets.js'
import { queryOnce } from '../../harness/query-once.js'
import { waitFor } from '../../harness/wait-for.js'
import { recordStatements } from '../../harness/concurrency.js'
import { loadMigrationModule } from '../../fixtures/migrations/kysely-migration.js'
import type { Migration, MigrationResultSet } from '../../fixtures/migrations/kysely-migration.js'

const { Migrator } = await loadMigrationModule()
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations take Kysely<any>
type AnyDb = Kysely<any>

async function createSideEffectsTable(database: TestDatabase): Promise<void> {
  await queryOnce(database.url, 'create table side_effects (migration text not null, migrator int not null)')
}

async function recordSideEffect(db: AnyDb, migration: string, migrator: number): Promise<void> {
  await sql`insert into side_effects (migration, migrator) values (${migration}, ${migrator})`.execute(db)
}

async function sideEffectCounts(database: TestDatabase): Promise<Record<string, number>> {
  const { rows } = await queryOnce<{ migration: string; n: number }>(
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

async function lockRow(database: TestDatabase, table = 'kysely_migration_lock'): Promise<LockRow> {
  const { rows } = await queryOnce<LockRow>(
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

// Three migrations that record each run in side_effects; the first keeps the lock long enough for
// every other migrator to be waiting on it (without the lock they would all see it as pending).
function threeMigrations(migrator: number): Record<string, Migration> {
  return {
    '001_create_a': {
      async up(db) {
        await recordSideEffect(db, '001_create_a', migrator)
        await sql`select pg_sleep(0.3)`.execute(db)
        await db.schema
          .createTable('a')
          .addColumn('id', 'uuid', (col) => col.primaryKey())
          .execute()
      },
    },
    '002_create_b': {
      async up(db) {
        await recordSideEffect(db, '002_create_b', migrator)
        await db.schema
          .createTable('b')
          .addColumn('id', 'uuid', (col) => col.primaryKey())
          .execute()
      },
    },
    '003_fill_a': {
      async up(db) {
        await recordSideEffect(db, '003_fill_a', migrator)
        await sql`insert into a (id) values (gen_random_uuid())`.execute(db)
      },
    },
  }
}

/** Every migrator succeeded, and together they applied each of threeMigrations exactly once. */
async function assertRanOnce(database: TestDatabase, results: readonly MigrationResultSet[]): Promise<void> {
  results.forEach((result, i) => assertSucceeded(result, `migrator ${i + 1}`))
  const succeeded = results.flatMap((result) => (result.results ?? []).filter((r) => r.status === 'Success'))
  assert.deepEqual(succeeded.map((r) => r.migrationName).sort(), ['001_create_a', '002_create_b', '003_fill_a'])
  assert.deepEqual(await sideEffectCounts(database), { '001_create_a': 1, '002_create_b': 1, '003_fill_a': 1 })
  const executed = await queryOnce<{ name: string }>(database.url, 'select name from kysely_migration order by name')
  assert.deepEqual(
    executed.rows.map((r) => r.name),
    ['001_create_a', '002_create_b', '003_fill_a'],
  )
  assert.equal((await queryOnce<{ n: number }>(database.url, 'select count(*)::int4 as n from a')).rows[0]?.n, 1)
  assert.deepEqual(await lockRow(database), { is_locked: 0, lease_owner: null, live: null })
}

/**
 * Runs `count` migrators of threeMigrations at once on `database` (fresh: no Kysely tables yet).
 * With `warm`, each opens its connection first, so that their first statements go out together.
 */
async function runConcurrentMigrators(
  database: TestDatabase,
  count: number,
  options: { warm?: boolean; onCreateConnection?: (connection: DatabaseConnection) => Promise<void> } = {},
): Promise<void> {
  await createSideEffectsTable(database)
  const dbs = Array.from({ length: count }, () =>
    createKysely<unknown>(database, {
      migrationLock: { leaseDurationMs: 5_000 },
      ...(options.onCreateConnection ? { onCreateConnection: options.onCreateConnection } : {}),
    }),
  )
  try {
    if (options.warm) {
      await Promise.all(dbs.map((db) => sql`select 1`.execute(db)))
    }
    const results = await Promise.all(
      dbs.map((db, i) => new Migrator({ db, provider: staticProvider(threeMigrations(i + 1)) }).migrateToLatest()),
    )
    await assertRanOnce(database, results)
  } finally {
    await Promise.all(dbs.map((db) => db.destroy()))
  }
}

const suites: ReadonlyArray<{ name: string; target: Target | undefined; skip: false | string }> = [
  { name: 'postgres', target: postgresTarget, skip: false },
  { name: 'cockroachdb', target: cockroachTarget, skip: cockroachSkip },
]

for (const { name, target, skip } of suites) {
  describe(`migration lock lease on ${name}`, { skip }, () => {
    const databases: TestDatabase[] = []
    const fresh = async (label: string): Promise<TestDatabase> => {
      const database = await createTestDatabase(target!, label)
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
      await runConcurrentMigrators(database, 5)
    })

    it('migrators starting at once on a fresh database, before the lock table exists, all succeed', async () => {
      // Connections are opened first, so that every migrator's CREATE TABLE IF NOT EXISTS of
      // Kysely's tables and ADD COLUMN IF NOT EXISTS of the lease columns go out together.
      const database = await fresh('fresh_race')
      await runConcurrentMigrators(database, 6, { warm: true })
    })

    it(
      'five concurrent migrators with the legacy schema changer, which raises 42701 for a racing ADD COLUMN',
      { skip: target?.isCockroach ? false : 'CockroachDB only: PostgreSQL has one schema changer' },
      async () => {
        // `use_declarative_schema_changer = off` runs ALTER TABLE ... ADD COLUMN through the legacy
        // schema changer (cockroachdb/cockroach pkg/sql/vars.go), whose addColumnImpl refuses a
        // column another job is still adding with 42701 (pkg/sql/add_column.go).
        const database = await fresh('legacy_schema_changer')
        await runConcurrentMigrators(database, 5, {
          warm: true,
          onCreateConnection: async (connection) => {
            await connection.executeQuery(CompiledQuery.raw("set use_declarative_schema_changer = 'off'"))
          },
        })
      },
    )

    it(
      'survives the 23505 that racing CREATE TABLE IF NOT EXISTS raise on PostgreSQL',
      {
        skip: target?.isCockroach ? 'PostgreSQL only: it holds the race open with an uncommitted CREATE TABLE and pg_stat_activity' : false,
        timeout: 60_000,
      },
      async () => {
        // A first migrator's CREATE TABLE of the lock table is held open in a transaction. The
        // others do not see the uncommitted table, so their CREATE TABLE IF NOT EXISTS goes ahead,
        // waits on pg_type's unique index (the table's row type), and fails with 23505 once it
        // commits: IF NOT EXISTS only looks at committed catalog rows (PostgreSQL
        // src/backend/catalog/heap.c, heap_create_with_catalog). Kysely's Migrator looks again
        // after a failed CREATE and goes on, and the lock then serializes the migrations.
        const database = await fresh('create_table_race')
        await createSideEffectsTable(database)
        await queryOnce(
          database.url,
          'create table kysely_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)',
        )
        const first = new pg.Client({ connectionString: database.url })
        await first.connect()
        const pools = [1, 2, 3, 4].map(() => new pg.Pool({ connectionString: database.url, max: 2 }))
        const sent = pools.map((pool) => recordStatements(pool))
        const dbs = pools.map(
          (pool) => new Kysely<unknown>({ dialect: new CockroachDialect({ pool, migrationLock: { leaseDurationMs: 5_000 } }) }),
        )
        try {
          await first.query('begin')
          await first.query(
            'create table kysely_migration_lock (id varchar(255) not null primary key, is_locked integer default 0 not null)',
          )
          const running = dbs.map((db, i) => new Migrator({ db, provider: staticProvider(threeMigrations(i + 1)) }).migrateToLatest())
          await waitFor(async () => {
            const { rows } = await queryOnce<{ n: number }>(
              database.url,
              "select count(*)::int4 as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' " +
                'and query ilike \'create table if not exists "kysely_migration_lock"%\'',
            )
            return rows[0]?.n === dbs.length
          })
          await first.query('commit')
          const results = await Promise.all(running)
          await assertRanOnce(database, results)
          const createErrors = sent
            .flat()
            .filter((s) => s.sql.startsWith('create table if not exists "kysely_migration_lock"'))
            .map((s) => [(s.error as pg.DatabaseError | undefined)?.code, (s.error as pg.DatabaseError | undefined)?.constraint])
          assert.deepEqual(
            createErrors,
            dbs.map(() => ['23505', 'pg_type_typname_nsp_index']),
          )
        } finally {
          await first.end()
          await Promise.all(dbs.map((db) => db.destroy()))
        }
      },
    )

    it('a migrator killed mid-run blocks the next one only until its lease runs out', async () => {
      const database = await fresh('killed_migrator')
      await createSideEffectsTable(database)
      const lease = { leaseDurationMs: 1_000, renewIntervalMs: 250 }
      const childScript = fileURLToPath(new URL('../../fixtures/migrations/crash-child.js', import.meta.url))
      const child = spawn(process.execPath, [...process.execArgv.filter((arg) => !arg.startsWith('--test')), childScript], {
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          LEASE_MS: String(lease.leaseDurationMs),
          RENEW_MS: String(lease.renewIntervalMs),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
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
                await queryOnce(
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
        await queryOnce(database.url, clear)
        const next = await new Migrator({
          db,
          provider: staticProvider({ '001_stolen': { async up() {} }, '002_next': { async up() {} } }),
        }).migrateToLatest()
        assertSucceeded(next, 'the migrator after clearing')
        assert.deepEqual(
          next.results?.map((r) => r.migrationName),
          ['002_next'],
        )
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
            migrationFolder: fileURLToPath(new URL('../../fixtures/migrations/basic', import.meta.url)),
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
        assert.deepEqual(
          listed.map((m) => [m.name, m.executedAt]),
          names.map((name) => [name, undefined]),
        )

        const up = await migrator.migrateToLatest()
        assertSucceeded(up, 'migrateToLatest')
        assert.deepEqual(
          up.results?.map((r) => [r.migrationName, r.direction, r.status]),
          names.map((n) => [n, 'Up', 'Success']),
        )
        assert.ok((await migrator.getMigrations()).every((m) => m.executedAt instanceof Date))
        const history = await queryOnce<{ name: string }>(database.url, 'select name from migration_meta.schema_history order by name')
        assert.deepEqual(
          history.rows.map((r) => r.name),
          names,
        )
        const lock = await lockRow(database, 'migration_meta.schema_history_lock')
        assert.deepEqual(lock, { is_locked: 0, lease_owner: null, live: null })
        const people = await queryOnce(database.url, 'select name, email from person')
        assert.deepEqual(people.rows, [{ name: 'Ada', email: 'ada@example.com' }])

        const down = await migrator.migrateDown()
        assertSucceeded(down, 'migrateDown')
        assert.deepEqual(
          down.results?.map((r) => [r.migrationName, r.direction, r.status]),
          [[names[2], 'Down', 'Success']],
        )
        assert.equal((await queryOnce<{ n: number }>(database.url, 'select count(*)::int4 as n from person')).rows[0]?.n, 0)
        assert.deepEqual(
          (await migrator.getMigrations()).map((m) => m.executedAt instanceof Date),
          [true, true, false],
        )

        const { NO_MIGRATIONS } = await loadMigrationModule()
        const toZero = await migrator.migrateTo(NO_MIGRATIONS)
        assertSucceeded(toZero, 'migrateTo(NO_MIGRATIONS)')
        assert.deepEqual(
          toZero.results?.map((r) => r.migrationName),
          [names[1], names[0]],
        )
        const tables = await queryOnce(database.url, "select table_name from information_schema.tables where table_name = 'person'")
        assert.equal(tables.rowCount, 0, 'person was dropped')

        const again = await migrator.migrateUp()
        assertSucceeded(again, 'migrateUp')
        assert.deepEqual(
          again.results?.map((r) => r.migrationName),
          [names[0]],
        )
      })
    })
  })
}
