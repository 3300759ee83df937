// The schema helpers against real servers. On PostgreSQL only what it shares runs (a GIN index from
// invertedIndex(), partial indexes, tables without markers); the rest compiles only (see
// test/unit/schema/schema-helpers.test.ts). The CockroachDB suite (CI) creates hash-sharded tables
// and indexes, TTL tables, alters a primary key, then introspects and generates types.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import {
  alterPrimaryKey,
  hashSharded,
  invertedIndex,
  locality,
  notVisible,
  resetRowLevelTtl,
  rowLevelTtl,
  setPrimaryRegion,
  storing,
  uniqueRowid,
} from '../../../src/index.js'
import type { CockroachTableMetadata } from '../../../src/index.js'
import { cockroachSkip, cockroachTarget, createKysely, createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'

const run = promisify(execFile)
const root = resolve(new URL('../../../..', import.meta.url).pathname)
const bin = join(root, '.build/src/codegen/codegen-cli.js')
const preload = process.execArgv.flatMap((arg, i, all) =>
  arg === '--import' && all[i + 1] ? [arg, all[i + 1] as string] : arg.startsWith('--import=') ? [arg] : [],
)

describe('schema helpers on PostgreSQL (what it shares)', () => {
  let database: TestDatabase
  let db: Kysely<unknown>

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'schema_helpers')
    db = createKysely(database)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  it('a table without markers, a GIN index from invertedIndex() with a partial WHERE', async () => {
    await db.schema
      .createTable('doc')
      .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
      .addColumn('body', 'jsonb', (col) => col.notNull())
      .addColumn('archived', 'boolean', (col) => col.notNull().defaultTo(false))
      .execute()
    const index = db.schema
      .createIndex('doc_body_idx')
      .on('doc')
      .column('body')
      .where(sql.ref('archived'), '=', false)
      .$call(invertedIndex())
    assert.equal(index.compile().sql, 'create index "doc_body_idx" on "doc" using gin ("body") where "archived" = false')
    await index.execute()
    const { rows } = await sql<{ indexdef: string }>`select indexdef from pg_indexes where indexname = 'doc_body_idx'`.execute(db)
    assert.match(rows[0]!.indexdef, /USING gin \(body\) WHERE \(archived = false\)/)
  })

  it('the introspector on PostgreSQL has no CockroachDB table metadata', async () => {
    const tables = (await db.introspection.getTables()) as CockroachTableMetadata[]
    const doc = tables.find((t) => t.name === 'doc')
    assert.ok(doc)
    assert.equal(doc.locality, undefined)
    assert.equal(doc.rowLevelTtl, undefined)
    assert.equal(
      doc.columns.some((c) => c.hiddenKind !== undefined),
      false,
    )
  })

  it('CockroachDB-only helpers compile here, and PostgreSQL refuses what it does not have', async () => {
    assert.equal(
      db.schema
        .createTable('x')
        .addColumn('id', 'int8', (col) => col.primaryKey().defaultTo(uniqueRowid()))
        .compile().sql,
      'create table "x" ("id" int8 default unique_rowid() primary key)',
    )
    assert.equal(
      db.schema
        .alterTable('doc')
        .$call(rowLevelTtl({ expireAfter: '30 days' }))
        .compile().sql,
      `alter table "doc" set (ttl_expire_after = '30 days')`,
    )
    // STORING is CockroachDB's (PostgreSQL spells it INCLUDE): the statement fails on PostgreSQL.
    await assert.rejects(
      db.schema
        .createIndex('doc_id_idx')
        .on('doc')
        .column('id')
        .$call(storing(['archived']))
        .execute(),
      /syntax error/,
    )
  })
})

describe('schema helpers on CockroachDB', { skip: cockroachSkip }, () => {
  let database: TestDatabase
  let db: Kysely<unknown>

  before(async () => {
    assert.ok(cockroachTarget)
    database = await createTestDatabase(cockroachTarget, 'schema_helpers')
    db = createKysely(database)
  })

  after(async () => {
    await db?.destroy()
    await database?.drop()
  })

  const tableOf = async (name: string, includeHidden = false) => {
    const { CockroachIntrospector } = await import('../../../src/index.js')
    const tables = await new CockroachIntrospector(db, { includeHiddenColumns: includeHidden }).getTables()
    const table = tables.find((t) => t.name === name)
    assert.ok(table, `table ${name} not introspected`)
    return table
  }

  it('creates a hash-sharded table and hash-sharded, covering, partial, invisible indexes', async () => {
    await db.schema
      .createTable('event')
      .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
      .addColumn('ts', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('payload', 'jsonb')
      .addColumn('name', 'text')
      .$call(hashSharded({ bucketCount: 8 }))
      .execute()
    await db.schema
      .createIndex('event_ts_idx')
      .on('event')
      .column('ts')
      .where(sql.ref('kind'), '<>', 'debug')
      .$call(hashSharded({ bucketCount: 4 }))
      .$call(storing(['kind']))
      .$call(notVisible())
      .execute()
    await db.schema
      .createIndex('event_kind_idx')
      .on('event')
      .column('kind')
      .$call(notVisible({ visibility: 0.5 }))
      .execute()
    await db.schema.createIndex('event_payload_idx').on('event').column('payload').$call(invertedIndex()).execute()
    await db.schema
      .createIndex('event_name_trgm')
      .on('event')
      .column('name')
      .$call(invertedIndex({ opclass: 'gin_trgm_ops' }))
      .execute()
    const { rows } = await sql<{ create_statement: string }>`select create_statement from [show create table event]`.execute(db)
    const statement = rows[0]!.create_statement
    assert.match(statement, /PRIMARY KEY \(id ASC\) USING HASH WITH \(bucket_count=8\)/)
    // SHOW CREATE prints an index as catformat.indexForDisplay writes it
    // (pkg/sql/catalog/catformat/index.go): the columns, ` USING HASH`, ` STORING (...)`, the
    // partition, then formatStorageConfigs' ` WITH (bucket_count=N)`, ` WHERE ...`, ` NOT VISIBLE`.
    // (The primary key's STORING is never printed, so there USING HASH and WITH are adjacent.)
    assert.match(statement, /INDEX event_ts_idx \(ts ASC\) USING HASH STORING \(kind\) WITH \(bucket_count=4\) WHERE .* NOT VISIBLE/)
    assert.match(statement, /INDEX event_kind_idx \(kind ASC\) VISIBILITY 0\.50?/)
    assert.match(statement, /INVERTED INDEX event_name_trgm \(name gin_trgm_ops\)/)
    await db
      .insertInto('event' as never)
      .values({ kind: 'created' } as never)
      .execute()
  })

  it("refuses Kysely's using('hash') before sending", async () => {
    await assert.rejects(db.schema.createIndex('x').on('event').using('hash').column('ts').execute(), /hashSharded\(\)/)
  })

  it('creates a TTL table, pauses and resets its TTL', async () => {
    await db.schema
      .createTable('session')
      .addColumn('id', 'int8', (col) => col.primaryKey().defaultTo(uniqueRowid()))
      .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
      .$call(rowLevelTtl({ expireAfter: '30 days' }, { jobCron: '@daily', deleteBatchSize: 500 }))
      .execute()
    await db.schema
      .alterTable('session')
      .$call(rowLevelTtl(null, { pause: true }))
      .execute()
    const session = await tableOf('session')
    assert.equal(session.rowLevelTtl?.jobCron, '@daily')
    assert.equal(session.rowLevelTtl?.paused, true)
    assert.ok(session.rowLevelTtl?.expireAfter)
    assert.equal(
      session.columns.some((c) => c.name === 'crdb_internal_expiration'),
      false,
    )
    await db.schema
      .createTable('scratch')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .$call(rowLevelTtl({ expireAfter: { hours: 1 } }))
      .execute()
    await db.schema.alterTable('scratch').$call(resetRowLevelTtl()).execute()
    assert.equal((await tableOf('scratch')).rowLevelTtl, undefined)
    // The compact interval form, taken by CockroachDB's parseDuration (pkg/util/duration/parse.go).
    await db.schema
      .createTable('compact_ttl')
      .addColumn('id', 'uuid', (col) => col.primaryKey())
      .$call(rowLevelTtl({ expireAfter: '1d2h' }))
      .execute()
    assert.ok((await tableOf('compact_ttl')).rowLevelTtl?.expireAfter)
    await db.schema
      .alterTable('compact_ttl')
      .$call(rowLevelTtl({ expireAfter: '90m' }))
      .execute()
    assert.ok((await tableOf('compact_ttl')).rowLevelTtl?.expireAfter)
  })

  it('alters a primary key to a hash-sharded one on a populated table', async () => {
    await alterPrimaryKey('event', ['kind', 'id'], { hashSharded: { bucketCount: 4 } }).execute(db)
    const event = await tableOf('event')
    assert.deepEqual(event.primaryKeyHashSharded, { bucketCount: 4 })
    assert.equal(
      event.columns.some((c) => c.name.startsWith('crdb_internal_')),
      false,
    )
    const hidden = await tableOf('event', true)
    assert.ok(hidden.columns.some((c) => c.hiddenKind === 'hash-shard'))
  })

  it('codegen over the hash-sharded and TTL tables: no hidden shard or expiration column is generated', async () => {
    // Runs on every CockroachDB leg (the multi-region test below needs a node with a region).
    const url = database.url.replace(/^postgres(?:ql)?:/, 'cockroachdb:')
    const { stdout } = await run(process.execPath, [...preload, bin, 'codegen', '--url', url, '--print', '--log-level=error'], {
      cwd: root,
    })
    assert.match(stdout, /export interface Event \{/)
    assert.match(stdout, /export interface Session \{/)
    assert.doesNotMatch(stdout, /crdb_internal_/)
  })

  it('multi-region: a REGIONAL BY ROW table, introspected and generated with crdb_region as the region enum', async (t) => {
    const { rows } = await sql<{ region: string }>`select region from [show regions from cluster]`.execute(db)
    const region = rows[0]?.region
    if (region === undefined) {
      // CI starts the node with --locality=region=us-east1 (.github/workflows/ci.yml); a region
      // must be a live node's (CheckClusterRegionIsLive, pkg/sql/region_util.go).
      t.skip('the node has no --locality region')
      return
    }
    await setPrimaryRegion(database.name, region).execute(db)
    await db.schema
      .createTable('profile')
      .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
      .$call(locality({ regionalByRow: true }))
      .execute()
    await db.schema
      .alterTable('session')
      .$call(locality({ global: true }))
      .execute()
    const profile = await tableOf('profile')
    assert.deepEqual(profile.locality, { kind: 'regional-by-row', column: 'crdb_region' })
    assert.deepEqual(
      profile.columns.filter((c) => c.hiddenKind === 'region').map((c) => [c.name, c.dataType]),
      [['crdb_region', 'crdb_internal_region']],
    )
    assert.deepEqual((await tableOf('session')).locality, { kind: 'global' })
    const url = database.url.replace(/^postgres(?:ql)?:/, 'cockroachdb:')
    const { stdout } = await run(process.execPath, [...preload, bin, 'codegen', '--url', url, '--print', '--log-level=error'], {
      cwd: root,
    })
    assert.match(stdout, /export interface Profile \{[^}]*\n {2}crdb_region: Generated<CrdbInternalRegion>;/)
    assert.doesNotMatch(stdout, /crdb_internal_expiration|_shard_\d/)
  })
})
