// Unit tests of the introspector without a server: the pure row mapping fed with rows in the shape
// each CockroachDB version returns (test/fixtures/introspection: hand-built from CockroachDB's test
// expectations, not captured from servers; sources cited in each file), and the
// introspector itself on a scripted connection that answers like CockroachDB.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { CamelCasePlugin } from 'kysely'
import { CockroachIntrospector } from '../../../src/index.js'
import { isSystemSchema } from '../../../src/introspection/introspection-filters.js'
import { detectServer, mapIntrospectionRows } from '../../../src/introspection/introspection-rows.js'
import type { IntrospectionColumnRow } from '../../../src/introspection/introspection-rows.js'
import { scriptedKysely } from '../../harness/scripted-kysely.js'
import type { ScriptedAnswer } from '../../harness/scripted-kysely.js'

interface Fixture {
  readonly version: string
  readonly rows: IntrospectionColumnRow[]
}

const fixtureDir = new URL('../../../../test/fixtures/introspection/', import.meta.url)
const readJson = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, fixtureDir), 'utf8')) as T
// Hand-built fixtures (see their descriptions): one per release line whose catalog differs, and
// 'master', the development branch after cockroach#168771 (identity columns report no default),
// whose issue is milestoned v26.3.0.
const VERSIONS = ['v22.2', 'v23.1', 'v23.2', 'v24.2', 'master'] as const
/** The major.minor each fixture's version() text gives. */
const SERVER_VERSION: Record<(typeof VERSIONS)[number], readonly [number, number]> = {
  'v22.2': [22, 2],
  'v23.1': [23, 1],
  'v23.2': [23, 2],
  'v24.2': [24, 2],
  master: [26, 3],
}
const expected = readJson<{ tables: unknown[] }>('expected-tables.json').tables
// JSON drops `comment: undefined`, as the expected file does.
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

describe('mapIntrospectionRows on CockroachDB rows', () => {
  for (const version of VERSIONS) {
    it(`maps the ${version} rows to the same tables`, () => {
      const fixture = readJson<Fixture>(`cockroachdb-${version}.json`)
      assert.deepEqual(plain(mapIntrospectionRows(fixture.rows)), expected)
    })
  }

  it('keeps hidden columns, flagged, when asked (v23.1 is_hidden, v24.2 attishidden)', () => {
    for (const version of ['v23.1', 'v24.2']) {
      const { rows } = readJson<Fixture>(`cockroachdb-${version}.json`)
      const tables = mapIntrospectionRows(rows, { includeHiddenColumns: true })
      const hidden = tables.flatMap((t) => t.columns.filter((c) => c.isHidden).map((c) => `${t.name}.${c.name}`))
      assert.deepEqual(hidden, ['counters.secret', 'events.rowid', 'order_totals.rowid', 'orders.crdb_internal_created_at_shard_16'])
      const rowid = tables.find((t) => t.name === 'events')?.columns.find((c) => c.name === 'rowid')
      assert.equal(rowid?.isAutoIncrementing, true)
      assert.equal(rowid?.isNullable, false)
      const shard = tables.find((t) => t.name === 'orders')?.columns.find((c) => c.name.endsWith('_shard_16'))
      assert.equal(shard?.generated, 'virtual')
      assert.equal(shard?.isInsertable, false)
    }
  })

  it('hides a column that only attishidden marks (v24.2 and later)', () => {
    const row = readJson<Fixture>('cockroachdb-v24.2.json').rows.find((r) => r.column === 'secret')
    assert.ok(row)
    const tables = mapIntrospectionRows([{ ...row, is_hidden: null }])
    assert.deepEqual(tables[0]?.columns, [])
    assert.equal(tables[0]?.name, 'counters', 'a table whose columns are all hidden is still listed')
  })

  it("reads attidentity 'b' (before v23.1) and 'd' as BY DEFAULT, 'a' as ALWAYS", () => {
    const base = readJson<Fixture>('cockroachdb-v22.2.json').rows.find((r) => r.column === 'ident')
    assert.ok(base)
    const identityOf = (identity: string) => mapIntrospectionRows([{ ...base, identity }])[0]?.columns[0]?.identity
    assert.equal(identityOf('b'), 'by-default')
    assert.equal(identityOf('d'), 'by-default')
    assert.equal(identityOf('a'), 'always')
    assert.equal(identityOf(''), undefined)
  })

  it('reports computed columns as defaulted whatever atthasdef says (false before v23.2)', () => {
    const v231 = readJson<Fixture>('cockroachdb-v23.1.json').rows.find((r) => r.column === 'amount_cents')
    const v232 = readJson<Fixture>('cockroachdb-v23.2.json').rows.find((r) => r.column === 'amount_cents')
    assert.equal(v231?.has_default, false)
    assert.equal(v232?.has_default, true)
    for (const row of [v231, v232]) {
      assert.ok(row)
      const [column] = mapIntrospectionRows([row])[0]?.columns ?? []
      assert.equal(column?.hasDefaultValue, true)
      assert.equal(column?.isAutoIncrementing, false)
      assert.equal(column?.generated, 'stored')
    }
  })

  it('recognises auto-incrementing defaults, with and without type annotations', () => {
    const base = readJson<Fixture>('cockroachdb-v23.1.json').rows.find((r) => r.column === 'n')
    assert.ok(base)
    const auto = (default_expr: string | null) =>
      mapIntrospectionRows([{ ...base, default_expr, has_default: default_expr !== null }])[0]?.columns[0]?.isAutoIncrementing
    assert.equal(auto('unique_rowid()'), true)
    assert.equal(auto('unordered_unique_rowid()'), true)
    assert.equal(auto("nextval('public.counters_seq'::REGCLASS)"), true)
    assert.equal(auto("nextval('counters_n_seq'::regclass)"), true)
    assert.equal(auto('gen_random_uuid()'), false)
    assert.equal(auto('9:::INT8'), false)
    assert.equal(auto(null), false)
  })

  it('leaves out system schemas and, unless asked, Kysely migration tables', () => {
    const base = readJson<Fixture>('cockroachdb-v23.1.json').rows.find((r) => r.column === 'payload')
    assert.ok(base)
    const rows = ['crdb_internal', 'pg_extension', 'pg_catalog', 'information_schema', 'pg_temp_1_1', 'public']
      .map((schema) => ({ ...base, schema }))
      .concat([
        { ...base, table: 'kysely_migration' },
        { ...base, table: 'kysely_migration_lock' },
      ])
    assert.deepEqual(
      mapIntrospectionRows(rows).map((t) => `${t.schema}.${t.name}`),
      ['public.events'],
    )
    assert.deepEqual(
      mapIntrospectionRows(rows, { withInternalKyselyTables: true }).map((t) => t.name),
      ['events', 'kysely_migration', 'kysely_migration_lock'],
    )
  })
})

describe('the fixtures', () => {
  // The rows are hand-built from CockroachDB's own test expectations, not captured from servers.
  const SHARD_COLUMN = 'crdb_internal_created_at_shard_16'
  for (const version of VERSIONS) {
    it(`${version}: say they are hand-built, and show the hash-shard column as that version does`, () => {
      const fixture = readJson<Fixture & { description: string }>(`cockroachdb-${version}.json`)
      const shard = fixture.rows.find((r) => r.column === SHARD_COLUMN)
      assert.ok(shard)
      // INT8 since cockroach#76930 (v22.1; "sql: set hash-sharded index column type to INT8").
      assert.equal(shard.type, 'int8')
      // pg_attrdef has computed columns' expressions from v23.2 (cockroach#108964), and the shard
      // expression hashes through md5 since cockroach#109374 (v23.2): schemaexpr.MakeHashShardComputeExpr.
      if (shard.has_default) {
        assert.equal(shard.default_expr, 'mod(fnv32(md5(crdb_internal.datums_to_bytes(created_at))), 16:::INT8)')
      }
      assert.match(fixture.description, /^Hand-built, not captured from a server/)
    })
  }
})

describe('detectServer and isSystemSchema', () => {
  it('reads CockroachDB and PostgreSQL version strings', () => {
    for (const version of VERSIONS) {
      const server = detectServer(readJson<Fixture>(`cockroachdb-${version}.json`).version)
      assert.equal(server.kind, 'cockroachdb')
      assert.deepEqual(server.version.slice(0, 2), SERVER_VERSION[version])
    }
    const pg = detectServer('PostgreSQL 15.4 on x86_64-pc-linux-gnu, compiled by gcc (GCC) 12.2.0, 64-bit')
    assert.equal(pg.kind, 'postgres')
    assert.deepEqual(pg.version, [15, 4, 0])
    assert.throws(() => detectServer('MySQL 8.0'), /cannot tell the server/)
  })

  it('knows the system schemas of both servers', () => {
    for (const name of ['crdb_internal', 'pg_extension', 'pg_catalog', 'information_schema', 'pg_temp_3', 'pg_toast', 'pg_toast_temp_1']) {
      assert.equal(isSystemSchema(name), true, name)
    }
    for (const name of ['public', 'app', 'pgx', 'crdb']) {
      assert.equal(isSystemSchema(name), false, name)
    }
  })
})

/** A Kysely that answers the introspector's queries the way a CockroachDB of `version` would. */
function fakeCockroach(version: string, options: { camelCase?: boolean } = {}) {
  const fixture = readJson<Fixture>(`cockroachdb-${version}.json`)
  // pg_namespace of a CockroachDB database (cockroach logic_test/information_schema, schemata).
  const schemas = ['crdb_internal', 'information_schema', 'pg_catalog', 'pg_extension', 'pg_temp_1_1', 'public', 'shop']
  const answer = (sql: string): ScriptedAnswer => {
    if (/select version\(\)/.test(sql)) return [{ version: fixture.version }]
    if (/from pg_catalog\.pg_namespace order by/.test(sql)) return schemas.map((nspname) => ({ nspname }))
    if (/from pg_catalog\.pg_attribute/.test(sql)) return fixture.rows as unknown as ScriptedAnswer
    // Locality/TTL metadata (src/introspection/table-options.ts; its own tests in table-options.test.ts).
    if (/^show create all tables$/.test(sql)) return []
    return new Error(`unexpected query: ${sql}`)
  }
  const { db, sent } = scriptedKysely({
    answer,
    introspector: (k) => new CockroachIntrospector(k),
    plugins: options.camelCase ? [new CamelCasePlugin()] : [],
  })
  return { db, driver: { queries: sent } }
}

describe('CockroachIntrospector against CockroachDB-shaped answers', () => {
  for (const version of VERSIONS) {
    it(`${version}: one version() per Kysely instance, then two set-based queries per getTables() (columns, SHOW CREATE ALL TABLES)`, async () => {
      const { db, driver } = fakeCockroach(version)
      try {
        assert.deepEqual(plain(await db.introspection.getTables()), expected)
        assert.deepEqual(plain(await db.introspection.getTables()), expected)
        assert.equal(driver.queries.length, 5)
        assert.match(driver.queries[0] ?? '', /select version\(\)/)
        const tablesSql = driver.queries[1] ?? ''
        assert.equal(driver.queries[2], 'show create all tables')
        assert.equal(driver.queries[3], tablesSql)
        assert.match(tablesSql, /isc\.is_hidden as "is_hidden"/)
        assert.match(tablesSql, /isc\.column_comment as "comment"/)
        assert.match(tablesSql, /left join information_schema\.columns isc/)
        assert.match(tablesSql, /ad\.adbin as "default_expr"/)
        if (version === 'v24.2' || version === 'master') {
          assert.match(tablesSql, /a\.attishidden as "att_is_hidden"/)
        } else {
          assert.doesNotMatch(tablesSql, /attishidden/, 'pg_attribute.attishidden only exists from v24.2')
        }
        for (const perRow of [/pg_get_serial_sequence/, /col_description/, /pg_get_expr/, /has_schema_privilege/]) {
          assert.doesNotMatch(tablesSql, perRow)
        }
      } finally {
        await db.destroy()
      }
    })
  }

  it('getSchemas() returns user schemas only', async () => {
    const { db } = fakeCockroach('v23.2')
    try {
      assert.deepEqual(await db.introspection.getSchemas(), [{ name: 'public' }, { name: 'shop' }])
    } finally {
      await db.destroy()
    }
  })

  it('is not confused by CamelCasePlugin on the Kysely instance', async () => {
    const { db } = fakeCockroach('v23.2', { camelCase: true })
    try {
      const introspector = new CockroachIntrospector(db)
      assert.deepEqual(plain(await introspector.getTables()), expected)
    } finally {
      await db.destroy()
    }
  })

  it('rejects bad options with a clear error', () => {
    const { db } = fakeCockroach('v23.2')
    assert.throws(
      () => new CockroachIntrospector(db, { includeHiddenColumns: 'yes' as unknown as boolean }),
      /includeHiddenColumns must be true or false/,
    )
  })
})
