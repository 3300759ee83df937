// indexHint() and joinHint() read their table name with Kysely's own parseTable, so a hinted table
// is the table selectFrom() would give: the same TableNode over a corpus of names (schema-qualified,
// three parts, stray dots and spaces, quotes), and the same SQL but for the hint.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Kysely, WithSchemaPlugin } from 'kysely'
import type { SelectQueryNode } from 'kysely'
import { CockroachDialect, indexHint, joinHint } from '../../../src/index.js'
import { parseTable } from '../../../src/sql/hints/table-hint-marker.js'

// Any names: the tests reach past the DB type on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDB = any

const CORPUS: readonly string[] = [
  'person',
  'app.person',
  'a.b.c',
  'a.b.c.d',
  ' person',
  'person ',
  'app . person',
  ' app.person ',
  '.person',
  'person.',
  'a..b',
  'my table',
  'we"ird.ta"ble',
  'Person',
  'café.crème',
]

function createDb(withSchema = false): Kysely<AnyDB> {
  return new Kysely<AnyDB>({
    dialect: new CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable' }),
    plugins: withSchema ? [new WithSchemaPlugin('app')] : [],
  })
}

describe("hinted tables are parsed by Kysely's parseTable", () => {
  const db = createDb()
  for (const name of CORPUS) {
    it(JSON.stringify(name), () => {
      const kysely = (db.selectFrom(name).toOperationNode() as SelectQueryNode).from?.froms[0]
      assert.deepEqual(parseTable(name, 'test'), kysely)
      for (const plugins of [false, true]) {
        const target = createDb(plugins)
        const plain = target.selectFrom(name).selectAll().compile().sql
        assert.equal(
          target
            .selectFrom(indexHint(target, name, 'idx'))
            .selectAll()
            .compile().sql,
          `${plain}@"idx"`,
        )
        const joined = target
          .selectFrom('other')
          .innerJoin(name, (join) => join.onTrue())
          .selectAll()
          .compile().sql
        const hinted = target
          .selectFrom('other')
          .innerJoin(joinHint('hash', target, name), (join) => join.onTrue())
          .selectAll()
          .compile().sql
        assert.equal(hinted, joined.replace('inner join', 'inner hash join'))
      }
    })
  }

  it('still refuses what is no table name', () => {
    for (const bad of ['', '   ', 'person as p']) {
      assert.throws(() => parseTable(bad, 'indexHint()'), { name: 'QueryRefusedError', message: /^indexHint\(\): / })
    }
    assert.throws(() => parseTable(42, 'indexHint()'), { name: 'QueryRefusedError', message: /^indexHint\(\): / })
  })
})
