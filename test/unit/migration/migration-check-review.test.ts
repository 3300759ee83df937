// The migration check's review fixes (issue 13 review): column type changes, raw SQL (several
// statements in one string, constraints, USING HASH), and the findings' message/fix text. No
// database: the migrations run on the recording dialect.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import { checkMigrations } from '../../../src/index.js'
import type { MigrationFinding } from '../../../src/index.js'

const up = (fn: (db: Kysely<unknown>) => Promise<void>) => ({ m: { up: fn } })
const rules = (list: readonly MigrationFinding[]) => list.map((f) => [f.rule, f.statement])

describe('migration check: column type changes', () => {
  it('alterColumn(...).setDataType() is a background job', async () => {
    const report = await checkMigrations({
      migrations: up(async (db) => {
        await db.schema.alterTable('order').alterColumn('total', (c) => c.setDataType('decimal')).execute()
      }),
    })
    assert.deepEqual(rules(report.warnings), [['background-job', 1]])
    assert.match(report.warnings[0]!.message, /column's type/)
    assert.equal(report.warnings[0]!.sql, 'alter table "order" alter column "total" type decimal')
  })

  it('alterColumn(...).setDefault() is not', async () => {
    const report = await checkMigrations({
      migrations: up(async (db) => {
        await db.schema.alterTable('order').alterColumn('total', (c) => c.setDefault(0)).execute()
      }),
    })
    assert.deepEqual(report.warnings, [])
  })

  it('raw ALTER COLUMN ... TYPE and ALTER COLUMN ... SET DATA TYPE are background jobs', async () => {
    for (const text of ['alter table "order" alter column total type decimal', 'ALTER TABLE o ALTER total SET DATA TYPE int8']) {
      const report = await checkMigrations({ migrations: up(async (db) => void (await sql.raw(text).execute(db))) })
      assert.deepEqual(rules(report.warnings), [['background-job', 1]], text)
    }
  })
})
