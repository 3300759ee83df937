// Kysely's Migrator on CockroachDialect: while it holds the migration lock, its connection is the
// one whose statements retry "schema change in progress" refusals (src/migration/schema-change-retry.ts;
// the retry itself is unit-tested in test/unit/migration/schema-change-retry.test.ts), and after the
// lock is released it is not. PostgreSQL never raises those errors, so this checks the wiring only.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Kysely } from 'kysely'
import { migrationRetryOf } from '../../../src/migration/schema-change-retry.js'
import { loadMigrationModule } from '../../fixtures/migrations/kysely-migration.js'
import { createKysely, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

const { Migrator } = await loadMigrationModule()

describe('Migrator: the migration connection retries schema-change-in-progress refusals', () => {
  let database: TestDatabase
  let db: Kysely<unknown>

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'schema_change_retry')
    db = createKysely(database)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  it('marks the connection for the migrations and unmarks it on release', async () => {
    let connection: object | undefined
    let marked: unknown
    const migrator = new Migrator({
      db,
      provider: {
        getMigrations: async () => ({
          '001': {
            async up(migrationDb: Kysely<unknown>) {
              await migrationDb.getExecutor().provideConnection(async (c) => {
                connection = c
                marked = migrationRetryOf(c)
              })
              await migrationDb.schema
                .createTable('t')
                .addColumn('id', 'uuid', (col) => col.primaryKey())
                .execute()
            },
          },
        }),
      },
    })
    const { error } = await migrator.migrateToLatest()
    assert.equal(error, undefined)
    assert.ok(connection)
    assert.deepEqual(marked, { initialDelayMs: 250, maxDelayMs: 8_000, timeoutMs: 120_000 })
    assert.equal(migrationRetryOf(connection), undefined)
  })
})
