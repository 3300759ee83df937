// Exact SQL of the schema helpers (hashSharded, storing, invertedIndex, notVisible, rowLevelTtl,
// resetRowLevelTtl, locality, alterPrimaryKey, addRegion, setPrimaryRegion, surviveFailure,
// uniqueRowid) and every refusal, with and without CamelCasePlugin and WithSchemaPlugin. Compile
// only: no server. The forms follow pkg/sql/parser/sql.y (cited in src/schema/).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CamelCasePlugin, Kysely, PostgresQueryCompiler, sql, WithSchemaPlugin } from 'kysely'
import type { Compilable, KyselyPlugin, RootOperationNode } from 'kysely'
import {
  addRegion,
  alterPrimaryKey,
  CockroachDialect,
  hashSharded,
  invertedIndex,
  isQueryRefusedError,
  locality,
  notVisible,
  resetRowLevelTtl,
  rowLevelTtl,
  setPrimaryRegion,
  storing,
  surviveFailure,
  uniqueRowid,
} from '../../../src/index.js'

interface Variant {
  readonly label: string
  readonly plugins: readonly KyselyPlugin[]
  readonly camel: boolean
  readonly schema: boolean
}

const VARIANTS: readonly Variant[] = [
  { label: 'no plugins', plugins: [], camel: false, schema: false },
  { label: 'CamelCasePlugin', plugins: [new CamelCasePlugin()], camel: true, schema: false },
  { label: 'WithSchemaPlugin', plugins: [new WithSchemaPlugin('app')], camel: false, schema: true },
  { label: 'CamelCasePlugin + WithSchemaPlugin', plugins: [new CamelCasePlugin(), new WithSchemaPlugin('app')], camel: true, schema: true },
]

function createDb(plugins: readonly KyselyPlugin[] = []): Kysely<unknown> {
  return new Kysely<unknown>({
    dialect: new CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable' }),
    plugins: [...plugins],
  })
}

function expectSql(query: Compilable, text: string): void {
  const compiled = query.compile()
  assert.equal(compiled.sql, text)
  assert.deepEqual(compiled.parameters, [])
}

function expectRefused(run: () => unknown, api: string, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isQueryRefusedError(error), `expected a QueryRefusedError, got ${String(error)}`)
    assert.equal((error as { api: string }).api, api)
    assert.match((error as Error).message, message)
    return true
  })
}

for (const variant of VARIANTS) {
  const db = createDb(variant.plugins)
  const C = (name: string): string => `"${variant.camel ? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : name}"`
  const T = (name: string): string => (variant.schema ? `"app".${C(name)}` : C(name))

  describe(`schema helpers (${variant.label})`, () => {
    describe('createIndex', () => {
      it('hashSharded + storing: using hash storing (...) with (bucket_count = n), the issue example', () => {
        expectSql(
          db.schema
            .createIndex('event_ts_idx')
            .on('event')
            .column('createdAt')
            .$call(hashSharded({ bucketCount: 8 }))
            .$call(storing(['id'])),
          `create index "event_ts_idx" on ${T('event')} (${C('createdAt')}) using hash storing (${C('id')}) with (bucket_count = 8)`,
        )
      })

      it('markers before the columns are taken out as well', () => {
        expectSql(
          db.schema
            .createIndex('i')
            .on('event')
            .$call(storing(['kindName', 'id']))
            .$call(hashSharded())
            .columns(['createdAt', 'tenantId desc']),
          `create index "i" on ${T('event')} (${C('createdAt')}, ${C('tenantId')} desc) using hash storing (${C('kindName')}, ${C('id')})`,
        )
      })

      it('hashSharded without a bucket count, unique and if not exists', () => {
        expectSql(
          db.schema.createIndex('i').unique().ifNotExists().on('event').column('createdAt').$call(hashSharded()),
          `create unique index if not exists "i" on ${T('event')} (${C('createdAt')}) using hash`,
        )
      })

      it('where of a partial index comes after storing/with, the visibility after where', () => {
        expectSql(
          db.schema
            .createIndex('i')
            .on('event')
            .column('a')
            .where(sql.ref('isOpen'), '=', true)
            .$call(notVisible({ visibility: 0.25 }))
            .$call(hashSharded({ bucketCount: 4 }))
            .$call(storing(['b'])),
          `create index "i" on ${T('event')} (${C('a')}) using hash storing (${C('b')}) with (bucket_count = 4) where ${C('isOpen')} = true visibility 0.25`,
        )
        expectSql(
          db.schema
            .createIndex('i')
            .on('t')
            .column('a')
            .where(sql.ref('b'), '>', 0)
            .$call(notVisible({ visibility: 0.25 })),
          `create index "i" on ${T('t')} (${C('a')}) where ${C('b')} > 0 visibility 0.25`,
        )
      })

      it('notVisible: not visible, visibility with a decimal point', () => {
        expectSql(
          db.schema.createIndex('i').on('t').column('a').$call(notVisible()),
          `create index "i" on ${T('t')} (${C('a')}) not visible`,
        )
        expectSql(
          db.schema
            .createIndex('i')
            .on('t')
            .column('a')
            .$call(notVisible({ visibility: 0 })),
          `create index "i" on ${T('t')} (${C('a')}) visibility 0.0`,
        )
        expectSql(
          db.schema
            .createIndex('i')
            .on('t')
            .column('a')
            .$call(notVisible({ visibility: 1 })),
          `create index "i" on ${T('t')} (${C('a')}) visibility 1.0`,
        )
        expectSql(
          db.schema
            .createIndex('i')
            .on('t')
            .column('a')
            .$call(storing(['b']))
            .$call(notVisible()),
          `create index "i" on ${T('t')} (${C('a')}) storing (${C('b')}) not visible`,
        )
      })

      it('invertedIndex: using gin, the opclass after the last column (before its direction)', () => {
        expectSql(
          db.schema.createIndex('doc_idx').on('t').column('docBody').$call(invertedIndex()),
          `create index "doc_idx" on ${T('t')} using gin (${C('docBody')})`,
        )
        expectSql(
          db.schema
            .createIndex('n')
            .on('t')
            .column('fullName')
            .$call(invertedIndex({ opclass: 'gin_trgm_ops' })),
          `create index "n" on ${T('t')} using gin (${C('fullName')} gin_trgm_ops)`,
        )
        expectSql(
          db.schema
            .createIndex('n')
            .on('t')
            .columns(['tenantId', 'fullName desc'])
            .$call(invertedIndex({ opclass: 'gist_trgm_ops' })),
          `create index "n" on ${T('t')} using gist (${C('tenantId')}, ${C('fullName')} gist_trgm_ops desc)`,
        )
      })

      it("Kysely's .using('gin') is untouched; .using('hash') is refused before sending", () => {
        expectSql(db.schema.createIndex('i').on('t').using('gin').column('doc'), `create index "i" on ${T('t')} using gin (${C('doc')})`)
        expectRefused(
          () => db.schema.createIndex('i').on('t').using('hash').column('a').compile(),
          "createIndex().using('hash')",
          /hashSharded\(\)/,
        )
        expectRefused(
          () => db.schema.createIndex('i').on('t').using('brin').column('a').compile(),
          "createIndex().using('brin')",
          /no "brin"/,
        )
        expectRefused(
          () => db.schema.createIndex('i').on('t').column('a').nullsNotDistinct().compile(),
          'createIndex().nullsNotDistinct()',
          /NULLS NOT DISTINCT/,
        )
      })

      it('refuses what CockroachDB would reject', () => {
        expectRefused(
          () => db.schema.createIndex('i').on('t').column('a').$call(hashSharded()).$call(hashSharded()).compile(),
          'hashSharded()',
          /twice/,
        )
        expectRefused(
          () => db.schema.createIndex('i').on('t').column('a').$call(hashSharded()).$call(invertedIndex()).compile(),
          'hashSharded()',
          /inverted index cannot be hash-sharded/,
        )
        expectRefused(
          () => db.schema.createIndex('i').on('t').using('gin').column('a').$call(hashSharded()).compile(),
          'hashSharded()',
          /inverted/,
        )
        expectRefused(
          () =>
            db.schema
              .createIndex('i')
              .on('t')
              .column('a')
              .$call(storing(['a']))
              .compile(),
          'storing()',
          /already a key column/,
        )
        expectRefused(
          () =>
            db.schema
              .createIndex('i')
              .on('t')
              .$call(storing(['a']))
              .compile(),
          'storing()',
          /no columns/,
        )
        expectRefused(
          () =>
            db.schema
              .createIndex('i')
              .on('t')
              .column('a')
              .$call(rowLevelTtl({ expireAfter: '1 day' }) as never),
          'rowLevelTtl()',
          /works on db\.schema\.createTable/,
        )
      })
    })

    describe('createTable', () => {
      it('the issue example: unique_rowid(), TTL, then locality regional by row', () => {
        expectSql(
          db.schema
            .createTable('event')
            .addColumn('id', 'int8', (col) => col.primaryKey().defaultTo(uniqueRowid()))
            .addColumn('createdAt', 'timestamptz', (col) => col.notNull())
            .$call(rowLevelTtl({ expireAfter: '30 days' }))
            .$call(locality({ regionalByRow: true })),
          `create table ${T('event')} (${C('id')} int8 default unique_rowid() primary key, ${C('createdAt')} timestamptz not null) ` +
            `with (ttl_expire_after = '30 days') locality regional by row`,
        )
      })

      it('locality before TTL in the chain still prints with (...) first; every TTL option in order', () => {
        expectSql(
          db.schema
            .createTable('t')
            .addColumn('a', 'int8')
            .$call(locality({ regionalByTable: 'us-east1' }))
            .$call(
              rowLevelTtl(
                { expireAfter: { days: 1, hours: 2 } },
                {
                  jobCron: '0 3 * * *',
                  selectBatchSize: 100,
                  deleteBatchSize: 50,
                  selectRateLimit: 10,
                  deleteRateLimit: 20,
                  labelMetrics: true,
                  pause: false,
                  rowStatsPollInterval: '10m',
                  disableChangefeedReplication: true,
                },
              ),
            ),
          `create table ${T('t')} (${C('a')} int8) with (ttl_expire_after = '1 days 2 hours', ttl_select_batch_size = 100, ` +
            `ttl_delete_batch_size = 50, ttl_select_rate_limit = 10, ttl_delete_rate_limit = 20, ttl_label_metrics = true, ` +
            `ttl_pause = false, ttl_disable_changefeed_replication = true, ttl_job_cron = '0 3 * * *', ` +
            `ttl_row_stats_poll_interval = '10m') locality regional by table in "us-east1"`,
        )
      })

      it('expirationExpression is a quoted string (quotes doubled); the other localities', () => {
        expectSql(
          db.schema
            .createTable('t')
            .addColumn('ts', 'timestamptz')
            .$call(rowLevelTtl({ expirationExpression: "ts + interval '30 days'" })),
          `create table ${T('t')} (${C('ts')} timestamptz) with (ttl_expiration_expression = 'ts + interval ''30 days''')`,
        )
        expectSql(
          db.schema
            .createTable('t')
            .addColumn('a', 'int8')
            .$call(locality({ global: true })),
          `create table ${T('t')} (${C('a')} int8) locality global`,
        )
        expectSql(
          db.schema
            .createTable('t')
            .addColumn('a', 'int8')
            .$call(locality({ regionalByTable: true })),
          `create table ${T('t')} (${C('a')} int8) locality regional by table in primary region`,
        )
        expectSql(
          db.schema
            .createTable('t')
            .addColumn('homeRegion', sql`crdb_internal_region`)
            .$call(locality({ regionalByRow: { as: 'homeRegion' } })),
          `create table ${T('t')} (${C('homeRegion')} crdb_internal_region) locality regional by row as ${C('homeRegion')}`,
        )
      })

      it("the user's own end modifiers print before WITH/LOCALITY", () => {
        expectSql(
          db.schema
            .createTable('t')
            .addColumn('a', 'int8')
            .$call(locality({ global: true }))
            .modifyEnd(sql`partition by nothing`),
          `create table ${T('t')} (${C('a')} int8) partition by nothing locality global`,
        )
      })

      it('hashSharded hash-shards a column primary key, after references and check', () => {
        expectSql(
          db.schema
            .createTable('event')
            .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
            .addColumn('createdAt', 'timestamptz', (col) => col.notNull())
            .$call(hashSharded({ bucketCount: 8 })),
          `create table ${T('event')} (${C('id')} uuid default gen_random_uuid() primary key using hash with (bucket_count = 8), ${C('createdAt')} timestamptz not null)`,
        )
        expectSql(
          db.schema
            .createTable('child')
            .addColumn('parentId', 'uuid', (col) =>
              col
                .primaryKey()
                .references('parent.id')
                .modifyEnd(sql`not visible`),
            )
            .$call(hashSharded()),
          `create table ${T('child')} (${C('parentId')} uuid references ${T('parent')} (${C('id')}) primary key using hash not visible)`,
        )
      })

      it('hashSharded hash-shards a primary key constraint', () => {
        expectSql(
          db.schema
            .createTable('event')
            .addColumn('tenantId', 'int8')
            .addColumn('createdAt', 'timestamptz')
            .addPrimaryKeyConstraint('event_pkey', ['tenantId', 'createdAt'] as never)
            .$call(hashSharded()),
          `create table ${T('event')} (${C('tenantId')} int8, ${C('createdAt')} timestamptz, constraint "event_pkey" primary key (${C('tenantId')}, ${C('createdAt')}) using hash)`,
        )
      })

      it('refusals', () => {
        expectRefused(() => db.schema.createTable('t').addColumn('a', 'int8').$call(hashSharded()).compile(), 'hashSharded()', /has none/)
        expectRefused(
          () =>
            db.schema
              .createTable('t')
              .addColumn('a', 'int8', (c) => c.primaryKey())
              .addColumn('b', 'int8', (c) => c.primaryKey())
              .$call(hashSharded())
              .compile(),
          'hashSharded()',
          /several/,
        )
        expectRefused(
          () =>
            db.schema
              .createTable('t')
              .temporary()
              .addColumn('a', 'int8')
              .$call(locality({ global: true }))
              .compile(),
          'locality()',
          /temporary/,
        )
        expectRefused(
          () =>
            db.schema
              .createTable('t')
              .as(sql`select 1`)
              .$call(rowLevelTtl({ expireAfter: '1 day' }))
              .compile(),
          'rowLevelTtl()',
          /CREATE TABLE AS/,
        )
        expectRefused(
          () =>
            db.schema
              .createTable('t')
              .addColumn('a', 'int8')
              .$call(locality({ global: true }))
              .$call(locality({ global: true }))
              .compile(),
          'locality()',
          /twice/,
        )
        expectRefused(
          () =>
            db.schema
              .createTable('t')
              .addColumn('a', 'int8')
              .$call(rowLevelTtl(null, { pause: true })),
          'rowLevelTtl()',
          /existing TTL/,
        )
        expectRefused(
          () =>
            db.schema
              .createTable('t')
              .addColumn('a', 'int8')
              .$call(storing(['a']) as never),
          'storing()',
          /createIndex/,
        )
      })
    })

    describe('alterTable and statements', () => {
      it('rowLevelTtl: set (...); resetRowLevelTtl: reset (...)', () => {
        expectSql(
          db.schema.alterTable('event').$call(rowLevelTtl(null, { pause: true })),
          `alter table ${T('event')} set (ttl_pause = true)`,
        )
        expectSql(
          db.schema.alterTable('event').$call(rowLevelTtl({ expireAfter: '00:10:00' }, { jobCron: '@daily' })),
          `alter table ${T('event')} set (ttl_expire_after = '00:10:00', ttl_job_cron = '@daily')`,
        )
        expectSql(db.schema.alterTable('event').$call(resetRowLevelTtl()), `alter table ${T('event')} reset (ttl)`)
        expectSql(
          db.schema.alterTable('event').$call(resetRowLevelTtl(['jobCron', 'pause'])),
          `alter table ${T('event')} reset (ttl_job_cron, ttl_pause)`,
        )
      })

      it('locality: set locality ...', () => {
        expectSql(
          db.schema.alterTable('event').$call(locality({ regionalByTable: 'us-east1' })),
          `alter table ${T('event')} set locality regional by table in "us-east1"`,
        )
        expectSql(
          db.schema.alterTable('event').$call(locality({ regionalByRow: { as: 'homeRegion' } })),
          `alter table ${T('event')} set locality regional by row as ${C('homeRegion')}`,
        )
        expectSql(db.schema.alterTable('event').$call(locality({ global: true })), `alter table ${T('event')} set locality global`)
      })

      it('alterPrimaryKey: alter primary key using columns (...) [using hash [with (...)]]', () => {
        assert.equal(
          alterPrimaryKey('event', ['tenantId', 'id']).compile(db).sql,
          `alter table ${T('event')} alter primary key using columns (${C('tenantId')}, ${C('id')})`,
        )
        assert.equal(
          alterPrimaryKey('event', ['tenantId', 'id'], { hashSharded: { bucketCount: 8 } }).compile(db).sql,
          `alter table ${T('event')} alter primary key using columns (${C('tenantId')}, ${C('id')}) using hash with (bucket_count = 8)`,
        )
        assert.equal(
          alterPrimaryKey('event', ['id'], { hashSharded: true }).compile(db).sql,
          `alter table ${T('event')} alter primary key using columns (${C('id')}) using hash`,
        )
      })

      it('database statements: names written as given (CamelCasePlugin does not rename them)', () => {
        assert.equal(setPrimaryRegion('myDb', 'us-east1').compile(db).sql, 'alter database "myDb" set primary region "us-east1"')
        assert.equal(addRegion('myDb', 'us-west1').compile(db).sql, 'alter database "myDb" add region "us-west1"')
        assert.equal(
          addRegion('movr', 'us-west1', { ifNotExists: true }).compile(db).sql,
          'alter database "movr" add region if not exists "us-west1"',
        )
        assert.equal(surviveFailure('movr', 'region').compile(db).sql, 'alter database "movr" survive region failure')
        assert.equal(surviveFailure('movr', 'zone').compile(db).sql, 'alter database "movr" survive zone failure')
        assert.equal(setPrimaryRegion('a"b', 'r').compile(db).sql, 'alter database "a""b" set primary region "r"')
      })

      it('an alterTable without markers is untouched', () => {
        expectSql(db.schema.alterTable('t').addCheckConstraint('c', sql`a > 0`), `alter table ${T('t')} add constraint "c" check (a > 0)`)
      })
    })
  })
}

describe('schema helpers: validation before anything is built', () => {
  it('hashSharded bucketCount from 2 to 2048', () => {
    for (const bucketCount of [1, 2049, 2.5, Number.NaN, '8' as unknown as number]) {
      expectRefused(() => hashSharded({ bucketCount }), 'hashSharded()', /bucketCount must be an integer from 2 to 2048/)
    }
    expectRefused(() => hashSharded({ buckets: 8 } as never), 'hashSharded()', /unknown option "buckets"/)
    hashSharded({ bucketCount: 2 })
    hashSharded({ bucketCount: 2048 })
  })

  it('storing names', () => {
    expectRefused(() => storing([]), 'storing()', /one or more/)
    expectRefused(() => storing(['t.a']), 'storing()', /not a column name/)
    expectRefused(() => storing(['a', 'a']), 'storing()', /twice/)
    expectRefused(() => storing([' a']), 'storing()', /not a column name/)
  })

  it('invertedIndex opclasses', () => {
    expectRefused(() => invertedIndex({ opclass: 'jsonb_path_ops' as never }), 'invertedIndex()', /81115/)
    expectRefused(() => invertedIndex({ opclass: 'text_ops' as never }), 'invertedIndex()', /unknown operator class/)
  })

  it('notVisible visibility in [0, 1], at most 10 decimals', () => {
    for (const visibility of [-0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 0.123456789012, '0.5' as unknown as number]) {
      expectRefused(() => notVisible({ visibility }), 'notVisible()', /visibility must be a number from 0 to 1/)
    }
  })

  it('rowLevelTtl expiry and options', () => {
    expectRefused(() => rowLevelTtl({} as never), 'rowLevelTtl()', /exactly one of/)
    expectRefused(() => rowLevelTtl({ expireAfter: '1 day', expirationExpression: 'x' } as never), 'rowLevelTtl()', /exactly one of/)
    for (const expireAfter of ['', '0 days', '-1 day', "1 day'; drop table x; --", '30 parsecs', { days: 0 }, { days: 1.5 }, 30 as never]) {
      expectRefused(() => rowLevelTtl({ expireAfter }), 'rowLevelTtl()', /expireAfter/)
    }
    expectRefused(() => rowLevelTtl({ expirationExpression: '  ' }), 'rowLevelTtl()', /expirationExpression/)
    expectRefused(
      () => rowLevelTtl({ expireAfter: '1 day' }, { deleteBatchSize: 0 }),
      'rowLevelTtl()',
      /deleteBatchSize must be a positive integer/,
    )
    expectRefused(() => rowLevelTtl({ expireAfter: '1 day' }, { jobCron: 'daily' }), 'rowLevelTtl()', /jobCron/)
    expectRefused(() => rowLevelTtl({ expireAfter: '1 day' }, { jobCron: "0 3 * * '" }), 'rowLevelTtl()', /jobCron/)
    expectRefused(() => rowLevelTtl({ expireAfter: '1 day' }, { pause: 'yes' as never }), 'rowLevelTtl()', /pause must be true or false/)
    expectRefused(() => rowLevelTtl({ expireAfter: '1 day' }, { rangeConcurrency: 2 } as never), 'rowLevelTtl()', /unknown option/)
    expectRefused(() => rowLevelTtl(null, {}), 'rowLevelTtl()', /nothing to set/)
    expectRefused(() => resetRowLevelTtl(['automaticColumn' as never]), 'resetRowLevelTtl()', /unknown key/)
    expectRefused(() => resetRowLevelTtl([]), 'resetRowLevelTtl()', /keys to reset/)
  })

  it('locality specs', () => {
    expectRefused(() => locality({} as never), 'locality()', /exactly one of/)
    expectRefused(() => locality({ global: true, regionalByRow: true } as never), 'locality()', /exactly one of/)
    expectRefused(() => locality({ regionalByTable: '' }), 'locality()', /non-empty name/)
    expectRefused(() => locality({ regionalByRow: { as: 'a.b' } }), 'locality()', /not a column name/)
    expectRefused(() => locality({ global: false as never }), 'locality()', /global must be true/)
  })

  it('statements', () => {
    expectRefused(() => alterPrimaryKey('event', []), 'alterPrimaryKey()', /columns/)
    expectRefused(() => alterPrimaryKey('event', ['id'], { hashSharded: { bucketCount: 1 } }), 'alterPrimaryKey()', /bucketCount/)
    expectRefused(() => surviveFailure('movr', 'node' as never), 'surviveFailure()', /'zone' or 'region'/)
    expectRefused(() => setPrimaryRegion('', 'r'), 'setPrimaryRegion()', /database/)
  })

  it('a RawNode that merely looks like a marker is not taken', () => {
    const db = createDb()
    expectSql(
      db.schema
        .createIndex('i')
        .on('t')
        .column('a')
        .expression(sql`/*kysely-cockroachdb:storing:{}*/ x`),
      'create index "i" on "t" ("a", /*kysely-cockroachdb:storing:{}*/ x)',
    )
    expectSql(
      db.schema
        .createTable('t')
        .addColumn('a', 'int8')
        .modifyEnd(sql`storing`),
      'create table "t" ("a" int8) storing',
    )
  })

  it('queries without markers compile exactly as with PostgresQueryCompiler', () => {
    const db = createDb([new CamelCasePlugin(), new WithSchemaPlugin('app')])
    const queries: Compilable[] = [
      db.schema.createIndex('i').on('t').columns(['a', 'b desc']).where(sql.ref('c'), '>', 1),
      // (unique() with using('gin') is refused: CockroachDB's inverted indexes can't be unique)
      db.schema.createIndex('i').unique().on('t').using('btree').column('doc'),
      db.schema.createIndex('i').on('t').using('gin').column('doc'),
      db.schema
        .createTable('t')
        .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
        .modifyEnd(sql`with (x = 1)`),
      db.schema
        .createTable('t')
        .ifNotExists()
        .addColumn('a', 'int8', (c) => c.notNull().references('u.id'))
        .addUniqueConstraint('u', ['a'] as never),
      db.schema.alterTable('t').addColumn('b', 'text'),
      db.schema.alterTable('t').addCheckConstraint('c', sql`b <> ''`),
    ]
    const postgres = new PostgresQueryCompiler()
    for (const query of queries) {
      const node = (query as unknown as { toOperationNode(): RootOperationNode }).toOperationNode()
      const compiled = query.compile()
      assert.equal(compiled.sql, postgres.compileQuery(compiled.query, compiled.queryId).sql)
      assert.ok(node)
    }
  })
})
