// readSqlCursor against a scripted connection: the exact statements it sends for a query (DECLARE,
// FETCH, CLOSE) and for a mutation with RETURNING, which no SQL cursor can wrap (one statement, its
// rows handed out in chunkSize pieces). test/integration/streaming/streaming.test.ts runs both on the servers.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CompiledQuery, Kysely } from 'kysely'
import type { QueryResult } from 'kysely'
import { CockroachDialect } from '../../../src/index.js'
import { canDeclareCursorFor, readSqlCursor } from '../../../src/streaming/sql-cursor.js'
import type { ExecuteCompiled } from '../../../src/streaming/sql-cursor.js'

interface DB {
  item: { id: number; label: string }
}

// The real dialect: compile() never connects.
const db = new Kysely<DB>({
  dialect: new CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable' }),
})

/** Answers every statement with `rows` (FETCH: the next `chunk` of them), recording the SQL. */
function scripted(rows: readonly object[]): { execute: ExecuteCompiled; sent: string[] } {
  const sent: string[] = []
  let offset = 0
  const execute = (async (query: CompiledQuery) => {
    sent.push(query.sql)
    const fetch = /^fetch forward (\d+) from /.exec(query.sql)
    if (fetch !== null) {
      const next = rows.slice(offset, offset + Number(fetch[1]))
      offset += next.length
      return { rows: next }
    }
    return { rows: query.sql.startsWith('declare') || query.sql.startsWith('close') ? [] : [...rows] }
  }) as ExecuteCompiled
  return { execute, sent }
}

async function chunks<R>(iterator: AsyncIterableIterator<QueryResult<R>>): Promise<R[][]> {
  const out: R[][] = []
  for await (const { rows } of iterator) out.push(rows)
  return out
}

const five = [1, 2, 3, 4, 5].map((id) => ({ id }))

describe('readSqlCursor', () => {
  it('reads a query through DECLARE, FETCH and CLOSE', async () => {
    const { execute, sent } = scripted(five)
    const query = db.selectFrom('item').select('id').where('id', '>', 0).compile()
    assert.deepEqual(await chunks(readSqlCursor(execute, query, 2, 'stream()')), [
      [{ id: 1 }, { id: 2 }],
      [{ id: 3 }, { id: 4 }],
      [{ id: 5 }],
    ])
    assert.equal(sent.length, 5)
    assert.match(sent[0]!, /^declare kysely_cursor_\d+ cursor for select "id" from "item" where "id" > \$1$/)
    assert.deepEqual(
      sent.slice(1).map((s) => s.replace(/kysely_cursor_\d+/, 'c')),
      ['fetch forward 2 from c', 'fetch forward 2 from c', 'fetch forward 2 from c', 'close c'],
    )
  })

  for (const [kind, compile] of [
    ['INSERT', () => db.insertInto('item').values({ id: 1, label: 'a' }).returning('id').compile()],
    ['UPSERT', () => db.replaceInto('item').values({ id: 1, label: 'a' }).returning('id').compile()],
    ['UPDATE', () => db.updateTable('item').set({ label: 'b' }).returning('id').compile()],
    ['DELETE', () => db.deleteFrom('item').returning('id').compile()],
    [
      'SELECT with a data-modifying WITH',
      () =>
        db
          .with('gone', (q) => q.deleteFrom('item').returning('id'))
          .selectFrom('gone')
          .select('id')
          .compile(),
    ],
  ] as const) {
    it(`runs ${kind} ... RETURNING as the one statement it is, no cursor, and yields its rows in chunkSize pieces`, async () => {
      const { execute, sent } = scripted(five)
      const query = compile()
      assert.equal(canDeclareCursorFor(query.query), false)
      assert.deepEqual(await chunks(readSqlCursor(execute, query, 2, 'stream()')), [
        [{ id: 1 }, { id: 2 }],
        [{ id: 3 }, { id: 4 }],
        [{ id: 5 }],
      ])
      assert.deepEqual(sent, [query.sql])
    })
  }

  it('wraps queries, and raw SQL it cannot see into, in a cursor', () => {
    assert.equal(canDeclareCursorFor(db.selectFrom('item').selectAll().compile().query), true)
    assert.equal(
      canDeclareCursorFor(
        db
          .with('x', (q) => q.selectFrom('item').select('id'))
          .selectFrom('x')
          .selectAll()
          .compile().query,
      ),
      true,
    )
    assert.equal(canDeclareCursorFor(CompiledQuery.raw('select 1').query), true)
  })

  it('yields nothing for a mutation that returns no rows, and refuses a bad chunkSize before sending', async () => {
    const empty = scripted([])
    assert.deepEqual(await chunks(readSqlCursor(empty.execute, db.deleteFrom('item').returning('id').compile(), 10, 'stream()')), [])
    assert.equal(empty.sent.length, 1)
    const none = scripted(five)
    await assert.rejects(chunks(readSqlCursor(none.execute, db.deleteFrom('item').returning('id').compile(), 0, 'stream()')), {
      name: 'QueryRefusedError',
      message: /^stream\(\): chunkSize must be a positive integer/,
    })
    // The API the user called, not the shared reader, is the one the message names.
    await assert.rejects(chunks(readSqlCursor(none.execute, db.deleteFrom('item').returning('id').compile(), 0, 'streamWithSqlCursor()')), {
      name: 'QueryRefusedError',
      message: /^streamWithSqlCursor\(\): chunkSize must be a positive integer, got number 0\./,
    })
    assert.deepEqual(none.sent, [])
  })
})
