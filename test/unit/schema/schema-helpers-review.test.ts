// The schema helpers' review fixes (issue 13 review): inverted indexes with STORING or UNIQUE,
// Kysely 0.29's index clauses that CockroachDB's grammar does not have, markers forged with
// sql.raw(). Compile only: no server. Sources are cited in src/schema/schema-node-rewriter.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect, invertedIndex, isQueryRefusedError, storing } from '../../../src/index.js'

const db = new Kysely<unknown>({
  dialect: new CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable' }),
})

function expectRefused(run: () => unknown, api: string, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isQueryRefusedError(error), `expected a QueryRefusedError, got ${String(error)}`)
    assert.equal((error as { api: string }).api, api)
    assert.match((error as Error).message, message)
    return true
  })
}

describe('inverted indexes: no STORING, no UNIQUE (pkg/sql/create_index.go)', () => {
  it('invertedIndex() with storing() is refused', () => {
    expectRefused(
      () =>
        db.schema
          .createIndex('i')
          .on('t')
          .column('a')
          .$call(invertedIndex())
          .$call(storing(['b']))
          .compile(),
      'storing()',
      /inverted indexes don't support stored columns/,
    )
  })

  it("using('gin') with storing() is refused", () => {
    expectRefused(
      () =>
        db.schema
          .createIndex('i')
          .on('t')
          .using('gin')
          .column('a')
          .$call(storing(['b']))
          .compile(),
      'storing()',
      /inverted indexes don't support stored columns/,
    )
  })

  it('unique() with invertedIndex() or using(gist) is refused', () => {
    expectRefused(
      () => db.schema.createIndex('i').on('t').unique().column('a').$call(invertedIndex()).compile(),
      'createIndex().unique()',
      /inverted indexes can't be unique/,
    )
    expectRefused(
      () => db.schema.createIndex('i').on('t').unique().using('gist').column('a').compile(),
      'createIndex().unique()',
      /inverted indexes can't be unique/,
    )
  })

  it('a plain inverted index and a unique btree index still compile', () => {
    assert.equal(
      db.schema.createIndex('i').on('t').column('a').$call(invertedIndex()).compile().sql,
      'create index "i" on "t" using gin ("a")',
    )
    assert.equal(
      db.schema
        .createIndex('i')
        .on('t')
        .unique()
        .column('a')
        .$call(storing(['b']))
        .compile().sql,
      'create unique index "i" on "t" ("a") storing ("b")',
    )
  })
})

// Kysely 0.29 added createTable().addIndex(); the Node 20 run uses kysely 0.28.
const noTableIndexes = process.env.KYSELY_CRDB_TEST_LABEL?.includes('0.28') ? 'createTable().addIndex() needs kysely 0.29' : false

describe('index and uniqueness clauses CockroachDB does not have (sql.y index_def, alter_table_cmd, col_qualification_elem)', () => {
  it(
    "createTable().addIndex(..., ib => ib.using('gin'|'brin'|'btree')) is refused; using('hash') is opt_hash_sharded",
    { skip: noTableIndexes },
    () => {
      for (const method of ['gin', 'brin', 'btree']) {
        expectRefused(
          () =>
            db.schema
              .createTable('t')
              .addColumn('a', 'jsonb')
              .addIndex('i', ['a'], (ib) => ib.using(method))
              .compile(),
          `createTable().addIndex().using('${method}')`,
          /index_def/,
        )
      }
      assert.equal(
        db.schema
          .createTable('t')
          .addColumn('a', 'int8')
          .addIndex('i', ['a'], (ib) => ib.using('hash'))
          .compile().sql,
        'create table "t" ("a" int8, index "i" ("a") using hash)',
      )
      assert.equal(
        db.schema.createTable('t').addColumn('a', 'int8').addIndex('i', ['a']).compile().sql,
        'create table "t" ("a" int8, index "i" ("a"))',
      )
    },
  )

  it("alterTable().addIndex() is refused (ALTER TABLE ... ADD INDEX is MySQL's)", () => {
    expectRefused(() => db.schema.alterTable('t').addIndex('i').column('a').compile(), 'alterTable().addIndex()', /createIndex/)
  })

  it('nullsNotDistinct() on a column or a unique constraint is refused', () => {
    expectRefused(
      () =>
        db.schema
          .createTable('t')
          .addColumn('a', 'int8', (col) => col.unique().nullsNotDistinct())
          .compile(),
      'addColumn().nullsNotDistinct()',
      /NULLS NOT DISTINCT/,
    )
    expectRefused(
      () =>
        db.schema
          .alterTable('t')
          .addColumn('a', 'int8', (col) => col.unique().nullsNotDistinct())
          .compile(),
      'addColumn().nullsNotDistinct()',
      /NULLS NOT DISTINCT/,
    )
    expectRefused(
      () =>
        db.schema
          .createTable('t')
          .addColumn('a', 'int8')
          .addUniqueConstraint('u', ['a'], (uc) => uc.nullsNotDistinct())
          .compile(),
      'addUniqueConstraint().nullsNotDistinct()',
      /NULLS NOT DISTINCT/,
    )
    expectRefused(
      () =>
        db.schema
          .alterTable('t')
          .addUniqueConstraint('u', ['a'], (uc) => uc.nullsNotDistinct())
          .compile(),
      'addUniqueConstraint().nullsNotDistinct()',
      /NULLS NOT DISTINCT/,
    )
    assert.equal(
      db.schema
        .createTable('t')
        .addColumn('a', 'int8', (col) => col.unique())
        .compile().sql,
      'create table "t" ("a" int8 unique)',
    )
  })
})

describe('markers forged with sql.raw() are refused, not printed', () => {
  const forged = (kind: string, data: object) => sql.raw(`/*kysely-cockroachdb:${kind}:${JSON.stringify(data)}*/`)
  const refusedForged = (run: () => unknown, api: string) => expectRefused(run, api, /not one the helper writes/)

  it('createIndex: visibility text, hash bucket count, inverted method and operator class', () => {
    const index = () => db.schema.createIndex('i').on('t').column('a')
    refusedForged(
      () =>
        index()
          .expression(forged('visibility', { text: 'not visible; drop table x' }))
          .compile(),
      'notVisible()',
    )
    refusedForged(
      () =>
        index()
          .expression(forged('visibility', { text: 'visibility 2' }))
          .compile(),
      'notVisible()',
    )
    refusedForged(
      () =>
        index()
          .expression(forged('hash', { bucketCount: '8); drop table x; --' }))
          .compile(),
      'hashSharded()',
    )
    refusedForged(
      () =>
        index()
          .expression(forged('inverted', { method: 'gin ("a"); drop table x; --' }))
          .compile(),
      'invertedIndex()',
    )
    refusedForged(
      () =>
        index()
          .expression(forged('inverted', { method: 'gin', opclass: 'x; drop table x' }))
          .compile(),
      'invertedIndex()',
    )
  })

  it('createTable / alterTable: locality text, TTL parameters and reset keys, alterPrimaryKey options', () => {
    const table = () => db.schema.createTable('t').addColumn('id', 'int8', (col) => col.primaryKey())
    refusedForged(
      () =>
        table()
          .modifyEnd(forged('locality', { text: 'global; drop table x' }))
          .compile(),
      'locality()',
    )
    refusedForged(
      () =>
        table()
          .modifyEnd(forged('ttl', { parameters: ['ttl_pause = true); drop table x; --'] }))
          .compile(),
      'rowLevelTtl()',
    )
    const carrier = (kind: string, data: object) => db.schema.alterTable('t').addCheckConstraint('kysely_cockroachdb', forged(kind, data))
    refusedForged(() => carrier('ttl', { parameters: ["ttl_job_cron = '@daily'", 'ttl_x = 1'] }).compile(), 'rowLevelTtl()')
    refusedForged(() => carrier('ttl-reset', { keys: ['ttl); drop table x; --'] }).compile(), 'resetRowLevelTtl()')
    refusedForged(() => carrier('locality', { text: 'regional by table in "a"; drop table x' }).compile(), 'locality()')
    refusedForged(() => carrier('alter-pk', { hash: 'yes', bucketCount: 0 }).compile(), 'alterPrimaryKey()')
  })

  it("the helpers' own markers still compile", () => {
    assert.equal(
      db.schema
        .alterTable('t')
        .addCheckConstraint('kysely_cockroachdb', forged('locality', { text: 'regional by table in "us-east1"' }))
        .compile().sql,
      'alter table "t" set locality regional by table in "us-east1"',
    )
    assert.equal(
      db.schema
        .alterTable('t')
        .addCheckConstraint(
          'kysely_cockroachdb',
          forged('ttl', { parameters: ["ttl_expire_after = '30 days'", 'ttl_pause = true', "ttl_expiration_expression = 'a''b'"] }),
        )
        .compile().sql,
      `alter table "t" set (ttl_expire_after = '30 days', ttl_pause = true, ttl_expiration_expression = 'a''b')`,
    )
  })
})
