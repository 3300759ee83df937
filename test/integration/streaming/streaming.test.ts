import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import { streamWithSqlCursor } from '../../../src/index.js'
import { allTargets, createKysely, createTestDatabase } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

interface DB {
  item: { id: number; label: string }
  note: { id: number }
}

const ROWS = 100_000
// Kysely 0.29 added abort signals to stream(); the Node 20 run uses kysely 0.28.
const supportsAbort = !process.env.KYSELY_CRDB_TEST_LABEL?.includes('0.28')

for (const target of allTargets) {
  describe(`stream() on ${target.name}`, () => {
    let database: TestDatabase
    let db: Kysely<DB>
    // One connection, so "the next query" provably runs on the connection the stream used.
    let single: Kysely<DB>

    before(async () => {
      database = await createTestDatabase(target, 'streaming')
      db = createKysely<DB>(database)
      single = createKysely<DB>(database, { poolConfig: { max: 1 } })
      await db.schema
        .createTable('item')
        .addColumn('id', 'int8', (c) => c.primaryKey())
        .addColumn('label', 'text')
        .execute()
      await db.schema
        .createTable('note')
        .addColumn('id', 'int8', (c) => c.primaryKey())
        .execute()
      await sql`insert into item (id, label) select g, 'item ' || g::text from generate_series(1, ${sql.lit(ROWS)}) as g`.execute(db)
    })

    after(async () => {
      await single?.destroy()
      await db?.destroy()
      await database?.drop()
    })

    async function openCursors(conn: Kysely<DB>): Promise<number> {
      const { rows } = await sql<{ n: string }>`select count(*) as n from pg_catalog.pg_cursors`.execute(conn)
      return Number(rows[0]!.n)
    }

    it(`streams ${ROWS} rows outside a transaction (pg-cursor)`, async () => {
      let count = 0
      let sum = 0
      let previous = 0
      for await (const row of db.selectFrom('item').select(['id', 'label']).orderBy('id').stream(1000)) {
        count++
        const id = Number(row.id)
        sum += id
        assert.ok(id > previous, 'rows arrive in order')
        previous = id
      }
      assert.equal(count, ROWS)
      assert.equal(sum, (ROWS * (ROWS + 1)) / 2)
    })

    it(`streams ${ROWS} rows inside a transaction (SQL cursor)`, async () => {
      const { count, cursors } = await db.transaction().execute(async (trx) => {
        let n = 0
        let sum = 0
        for await (const row of trx.selectFrom('item').select('id').orderBy('id').stream(5000)) {
          n++
          sum += Number(row.id)
        }
        assert.equal(sum, (ROWS * (ROWS + 1)) / 2)
        return { count: n, cursors: await openCursors(trx) }
      })
      assert.equal(count, ROWS)
      assert.equal(cursors, 0)
    })

    it(`streamWithSqlCursor reads ${ROWS} rows while the loop writes in the same transaction`, async () => {
      const count = await db.transaction().execute(async (trx) => {
        let n = 0
        const query = trx.selectFrom('item').select(['id', 'label']).orderBy('id')
        for await (const row of streamWithSqlCursor(trx, query, { chunkSize: 5000 })) {
          n++
          assert.equal(row.label, `item ${row.id}`)
          if (Number(row.id) % 10_000 === 0) {
            await trx
              .insertInto('note')
              .values({ id: Number(row.id) })
              .execute()
          }
        }
        assert.equal(await openCursors(trx), 0)
        return n
      })
      assert.equal(count, ROWS)
      const notes = await db
        .selectFrom('note')
        .select(sql<string>`count(*)`.as('n'))
        .executeTakeFirstOrThrow()
      assert.equal(Number(notes.n), ROWS / 10_000)
    })

    it('streamWithSqlCursor closes its cursor on early exit and refuses to run outside a transaction', async () => {
      await db.transaction().execute(async (trx) => {
        let seen = 0
        for await (const _ of streamWithSqlCursor(trx, trx.selectFrom('item').select('id'), { chunkSize: 10 })) {
          if (++seen === 25) break
        }
        assert.equal(await openCursors(trx), 0)
      })
      await assert.rejects(
        async () => {
          for await (const _ of streamWithSqlCursor(db, db.selectFrom('item').select('id'))) void _
        },
        { name: 'QueryRefusedError', message: /^streamWithSqlCursor\(\): it needs a transaction/ },
      )
    })

    it('streams inside a transaction without pg-cursor configured, and explains what is missing outside one', async () => {
      const noCursor = createKysely<DB>(database, { cursor: undefined })
      try {
        const ids = await noCursor.transaction().execute(async (trx) => {
          const out: number[] = []
          for await (const row of trx.selectFrom('item').select('id').where('id', '<=', 5).orderBy('id').stream(2)) {
            out.push(Number(row.id))
          }
          return out
        })
        assert.deepEqual(ids, [1, 2, 3, 4, 5])
        await assert.rejects(async () => {
          for await (const _ of noCursor.selectFrom('item').select('id').stream()) void _
        }, /cursor/)
      } finally {
        await noCursor.destroy()
      }
    })

    it('passes parameters to the SQL cursor inside a transaction', async () => {
      const ids = await db.transaction().execute(async (trx) => {
        const out: number[] = []
        const query = trx.selectFrom('item').select('id').where('id', '>', 10).where('label', 'like', 'item 1%').orderBy('id').limit(3)
        for await (const row of query.stream(2)) out.push(Number(row.id))
        return out
      })
      assert.deepEqual(ids, [11, 12, 13])
    })

    it('streams INSERT/UPDATE/DELETE ... RETURNING inside a transaction, which no SQL cursor can wrap', async () => {
      const ids = [1, 2, 3, 4, 5].map((n) => 1_000_000 + n)
      const collect = async (stream: AsyncIterable<{ id: number | string }>) => {
        const out: number[] = []
        for await (const row of stream) out.push(Number(row.id))
        return out.sort((a, b) => a - b)
      }
      const seen = await db.transaction().execute(async (trx) => ({
        inserted: await collect(
          trx
            .insertInto('note')
            .values(ids.map((id) => ({ id })))
            .returning('id')
            .stream(2),
        ),
        updated: await collect(
          trx
            .updateTable('note')
            .set({ id: sql`id + 10` })
            .where('id', 'in', ids)
            .returning('id')
            .stream(2),
        ),
        withCte: await collect(
          trx
            .with('gone', (q) => q.deleteFrom('note').where('id', '>', 1_000_012).returning('id'))
            .selectFrom('gone')
            .select('id')
            .stream(2),
        ),
        deleted: await collect(trx.deleteFrom('note').where('id', '>', 1_000_000).returning('id').stream(2)),
        cursors: await openCursors(trx),
      }))
      assert.deepEqual(seen, {
        inserted: ids,
        updated: ids.map((id) => id + 10),
        withCte: [1_000_013, 1_000_014, 1_000_015],
        deleted: [1_000_011, 1_000_012],
        cursors: 0,
      })
    })

    it('closes the SQL cursor when the consumer breaks early inside a transaction', async () => {
      await db.transaction().execute(async (trx) => {
        let seen = 0
        for await (const _ of trx.selectFrom('item').selectAll().stream(100)) {
          if (++seen === 150) break
        }
        assert.equal(seen, 150)
        assert.equal(await openCursors(trx), 0)
      })
    })

    it('closes the portal when the consumer breaks early outside a transaction', async () => {
      let seen = 0
      for await (const _ of single.selectFrom('item').selectAll().stream(100)) {
        if (++seen === 250) break
      }
      assert.equal(seen, 250)
      // pg_cursors lists wire-protocol portals on PostgreSQL; on CockroachDB it lists only SQL
      // cursors, so there the proof is that the connection takes the next statement.
      if (!target.isCockroach) {
        assert.equal(await openCursors(single), 0)
      }
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(single)
      assert.equal(rows[0]!.one, 1)
    })

    it('closes the portal and frees the connection when the consumer throws', async () => {
      await assert.rejects(async () => {
        for await (const _ of single.selectFrom('item').selectAll().stream(100)) {
          throw new Error('consumer failed')
        }
      }, /consumer failed/)
      if (!target.isCockroach) {
        assert.equal(await openCursors(single), 0)
      }
    })

    it('surfaces a server error raised mid-stream and leaves the pool usable', async () => {
      const failing = single.selectFrom(sql`generate_series(1, 10000)`.as('g')).select(sql<number>`1 / (g - 5000)`.as('v'))
      let received = 0
      await assert.rejects(async () => {
        for await (const _ of failing.stream(1000)) received++
      }, /division by zero/)
      assert.ok(received < 10000)

      let inTransactionError: unknown
      await single
        .transaction()
        .execute(async (trx) => {
          const q = trx.selectFrom(sql`generate_series(1, 10000)`.as('g')).select(sql<number>`1 / (g - 5000)`.as('v'))
          for await (const _ of q.stream(1000)) void _
        })
        .catch((error: unknown) => (inTransactionError = error))
      assert.match(String(inTransactionError), /division by zero/)
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(single)
      assert.equal(rows[0]!.one, 1)
    })

    it('fails, and does not end early, when query_timeout passes mid-stream outside a transaction', async () => {
      // node-postgres arms query_timeout once, when client.query() takes the cursor (pg lib/client.js,
      // `query`), and pg-cursor never calls the query callback that clears it: outside a transaction
      // it is one deadline for the whole stream. Past it, pg-cursor's handleError sends Sync, the
      // server's ReadyForQuery marks the cursor done, and its next read() returns no rows, so the
      // loop would end as though the result were complete. 20 rows with a 50 ms pause each outlast
      // the 200 ms deadline whatever the machine's speed.
      const timed = createKysely<DB>(database, { poolConfig: { max: 1, query_timeout: 200 } })
      const received: number[] = []
      try {
        await assert.rejects(
          async () => {
            for await (const row of timed.selectFrom('item').select('id').orderBy('id').limit(20).stream(1)) {
              received.push(Number(row.id))
              await delay(50)
            }
          },
          (error: Error) => /^stream\(\): node-postgres' query_timeout passed/.test(error.message),
        )
        assert.ok(received.length < 20, `the stream failed before its end (${received.length} rows)`)
      } finally {
        await timed.destroy()
      }
    })

    it(
      'stops streaming and releases the connection when aborted',
      { skip: !supportsAbort && 'abort signals need kysely 0.29' },
      async () => {
        const controller = new AbortController()
        let seen = 0
        const stream = single
          .selectFrom('item')
          .selectAll()
          .stream({ chunkSize: 100, signal: controller.signal } as never) as AsyncIterable<unknown>
        await assert.rejects(async () => {
          for await (const _ of stream) {
            if (++seen === 120) controller.abort(new Error('caller gave up'))
          }
        }, /caller gave up/)
        const { rows } = await sql<{ one: number }>`select 1 as one`.execute(single)
        assert.equal(rows[0]!.one, 1)
        if (!target.isCockroach) {
          assert.equal(await openCursors(single), 0)
        }
      },
    )
  })
}
