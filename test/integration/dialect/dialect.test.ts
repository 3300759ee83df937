import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { Generated, Kysely } from 'kysely'
import { allTargets, createKysely, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  account: { id: Generated<string>; name: string; balance: string }
}

for (const target of allTargets) {
  describe(`CockroachDialect on ${target.name}`, () => {
    let database: TestDatabase
    let db: Kysely<DB>

    before(async () => {
      database = await createTestDatabase(target, 'dialect')
      db = createKysely<DB>(database)
      await db.schema
        .createTable('account')
        .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('balance', 'int8', (c) => c.notNull())
        .execute()
    })

    after(async () => {
      await db?.destroy()
      await database?.drop()
    })

    it('runs typed queries and reports affected rows', async () => {
      const inserted = await db
        .insertInto('account')
        .values([
          { name: 'alice', balance: '100' },
          { name: 'bob', balance: '50' },
        ])
        .returning(['id', 'name'])
        .execute()
      assert.equal(inserted.length, 2)
      assert.match(inserted[0]!.id, /^[0-9a-f-]{36}$/)

      const updated = await db.updateTable('account').set({ balance: '70' }).where('name', '=', 'bob').executeTakeFirst()
      assert.equal(updated.numUpdatedRows, 1n)

      const rows = await db.selectFrom('account').select(['name', 'balance']).orderBy('name').execute()
      assert.deepEqual(rows, [
        { name: 'alice', balance: '100' },
        { name: 'bob', balance: '70' },
      ])
    })

    it('commits and rolls back transactions', async () => {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('account').set({ balance: '90' }).where('name', '=', 'alice').execute()
      })
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await trx.updateTable('account').set({ balance: '0' }).where('name', '=', 'alice').execute()
          throw new Error('boom')
        }),
        /boom/,
      )
      const alice = await db.selectFrom('account').select('balance').where('name', '=', 'alice').executeTakeFirstOrThrow()
      assert.equal(alice.balance, '90')
    })
  })
}
