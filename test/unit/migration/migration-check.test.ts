// The migration check (src/migration/check/): the rules on the sample migrations of
// test/fixtures/migrations/check/{good,bad}, the pure parts directly, and the CLI's output and exit
// codes. No database: the migrations run on the recording dialect.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CamelCasePlugin, sql } from 'kysely'
import type { Kysely } from 'kysely'
import { checkMigrations, hashSharded, isMigrationLoadError } from '../../../src/index.js'
import { classifyStatement } from '../../../src/migration/check/recording-dialect.js'

const fixtures = fileURLToPath(new URL('../../fixtures/migrations/check/', import.meta.url))
const good = join(fixtures, 'good')
const bad = join(fixtures, 'bad')
const bin = fileURLToPath(new URL('../../../src/codegen/codegen-cli.js', import.meta.url))

describe('checkMigrations', () => {
  it('good migrations: no errors, no warnings; the acknowledged background job is listed apart', async () => {
    const report = await checkMigrations({ migrations: { folder: good } })
    assert.deepEqual(report.errors, [])
    assert.deepEqual(report.warnings, [])
    assert.deepEqual(
      report.acknowledged.map((f) => [f.migration, f.rule]),
      [['2024_01_02_index_event_ts', 'background-job']],
    )
    assert.deepEqual(
      report.migrations.map((m) => m.name),
      ['2024_01_01_create_event', '2024_01_02_index_event_ts', '2024_01_03_event_ttl', '2024_01_04_seed_event'],
    )
    const index = report.migrations[1]!
    assert.deepEqual(index.up, [
      {
        sql: 'create index "event_ts_idx" on "event" ("ts") using hash storing ("kind") with (bucket_count = 8)',
        parameters: [],
        kind: 'ddl',
      },
    ])
    assert.deepEqual(index.down, [{ sql: 'drop index "event_ts_idx"', parameters: [], kind: 'ddl' }])
    assert.equal(report.migrations[2]!.up[0]!.sql, `alter table "event" set (ttl_expire_after = '30 days')`)
    assert.equal(report.migrations[3]!.up[0]!.kind, 'dml')
  })

  it('bad migrations: one finding per sample, with the statement and the fix', async () => {
    const report = await checkMigrations({ migrations: { folder: bad } })
    const summary = (list: typeof report.errors) => list.map((f) => [f.migration, f.direction, f.rule, f.statement])
    assert.deepEqual(summary(report.errors), [
      ['002_identity_primary_key', 'up', 'sequential-primary-key', 1],
      ['003_using_hash', 'up', 'kysely-using-hash', undefined],
      ['004_two_schema_changes', 'up', 'multiple-ddl', 2],
      ['005_ddl_and_dml', 'up', 'ddl-and-dml', 2],
      ['008_throws', 'up', 'migration-threw', undefined],
    ])
    assert.deepEqual(summary(report.warnings), [
      ['001_serial_primary_key', 'up', 'serial-primary-key', 1],
      ['006_alter_primary_key', 'up', 'background-job', 1],
      ['009_column_type', 'up', 'background-job', 1],
    ])
    assert.deepEqual(summary(report.acknowledged), [['007_acknowledged', 'up', 'multiple-ddl', 2]])
    const usingHash = report.errors[1]!
    assert.match(usingHash.message, /^createIndex\(\)\.using\('hash'\): /)
    assert.match(usingHash.fix, /hashSharded\(\)/)
    assert.equal(report.warnings[1]!.sql, 'alter table "tag" alter primary key using columns ("color", "name") using hash')
    assert.match(report.errors[2]!.fix, /autocommit_before_ddl/)
  })

  it('severity overrides and plugins; an object of migrations', async () => {
    const migrations = {
      m1: {
        async up(db: Kysely<unknown>) {
          await db.schema
            .createTable('userEvent')
            .addColumn('userId', 'bigserial', (col) => col.primaryKey())
            .execute()
          await db.schema.createIndex('user_event_idx').on('userEvent').column('createdAt').$call(hashSharded()).execute()
        },
      },
    }
    const report = await checkMigrations({
      migrations,
      plugins: [new CamelCasePlugin()],
      severity: { 'serial-primary-key': 'error', 'multiple-ddl': 'off' },
    })
    assert.deepEqual(
      report.errors.map((f) => f.rule),
      ['serial-primary-key'],
    )
    assert.deepEqual(report.warnings, [])
    assert.deepEqual(
      report.migrations[0]!.up.map((s) => s.sql),
      [
        'create table "user_event" ("user_id" bigserial primary key)',
        'create index "user_event_idx" on "user_event" ("created_at") using hash',
      ],
    )
  })

  it('a hash-sharded sequential key, a raw SQL serial key, a MigrationProvider', async () => {
    const report = await checkMigrations({
      migrations: {
        getMigrations: async () => ({
          a: {
            async up(db: Kysely<unknown>) {
              await db.schema
                .createTable('t')
                .addColumn('id', 'serial', (col) => col.primaryKey())
                .$call(hashSharded())
                .execute()
            },
          },
          b: {
            async up(db: Kysely<unknown>) {
              await sql`create table t (id int8 generated always as identity primary key)`.execute(db)
            },
          },
        }),
      },
    })
    assert.deepEqual(report.warnings, [])
    assert.deepEqual(
      report.errors.map((f) => [f.migration, f.rule]),
      [['b', 'sequential-primary-key']],
    )
  })

  it('a file that cannot be loaded is a MigrationLoadError', async () => {
    // fixtures/migrations/check/ itself holds folders only: nothing to load.
    const report = await checkMigrations({ migrations: { folder: fixtures } })
    assert.equal(report.migrations.length, 0)
    const broken = fileURLToPath(new URL('../../fixtures/migrations/check-broken/', import.meta.url))
    await assert.rejects(checkMigrations({ migrations: { folder: broken } }), (error: unknown) => {
      assert.ok(isMigrationLoadError(error))
      assert.match((error as Error).message, /^checkMigrations\(\): cannot load .*001_broken\.js: /)
      return true
    })
  })

  it('classifies raw statements by their first word', () => {
    assert.equal(classifyStatement(undefined, 'CREATE TABLE t (a int)'), 'ddl')
    assert.equal(classifyStatement(undefined, '  alter table t add column b int'), 'ddl')
    assert.equal(classifyStatement(undefined, 'upsert into t values (1)'), 'dml')
    assert.equal(classifyStatement(undefined, 'with x as (select 1) insert into t select * from x'), 'dml')
    assert.equal(classifyStatement(undefined, 'select 1'), 'other')
    assert.equal(classifyStatement(undefined, 'begin'), 'txn')
  })
})

describe('kysely-cockroachdb migrations check (CLI)', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'migrations', ...args], { encoding: 'utf8' })

  it('exit 1 with errors, the findings as lines; exit 0 for the good folder; --json; exit 2 on usage errors', () => {
    const failed = run('check', bad)
    assert.equal(failed.status, 1, failed.stderr)
    assert.match(failed.stdout, /^Errors:\n {2}002_identity_primary_key up #1 sequential-primary-key: /)
    assert.match(failed.stdout, /\nWarnings:\n {2}001_serial_primary_key up #1 serial-primary-key: /)
    assert.match(failed.stdout, /\n9 migrations checked: 5 errors, 3 warnings, 1 acknowledged\n$/)

    const passed = run('check', good)
    assert.equal(passed.status, 0, passed.stderr)
    assert.match(passed.stdout, /4 migrations checked: 0 errors, 0 warnings, 1 acknowledged\n$/)

    const json = run('check', bad, '--json', '--off', 'migration-threw')
    assert.equal(json.status, 1)
    const report = JSON.parse(json.stdout) as { errors: { rule: string }[]; migrations: unknown[] }
    assert.equal(report.migrations.length, 9)
    assert.deepEqual(
      report.errors.map((f) => f.rule),
      ['sequential-primary-key', 'kysely-using-hash', 'multiple-ddl', 'ddl-and-dml'],
    )

    assert.equal(run('check').status, 2)
    assert.equal(run('check', bad, '--warn', 'nope').status, 2)
    assert.equal(run('lint', bad).status, 2)
    assert.equal(run('check', join(fixtures, 'missing')).status, 2)
    assert.match(run('--help').stdout, /^Usage: kysely-cockroachdb migrations check <folder>/)
  })
})
