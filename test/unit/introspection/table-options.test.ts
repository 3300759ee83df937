// The introspector's CockroachDB table metadata (src/introspection/table-options.ts) from CREATE
// statements as CockroachDB prints them. The statements are copied from cockroach's tests (each
// case names its source); `%[1]s` of the Go tests is the table name `t`.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { applyTableOptions, hiddenColumnKind, parseCreateTableStatement } from '../../../src/introspection/table-options.js'
import { mapIntrospectionRows } from '../../../src/introspection/introspection-rows.js'
import type { IntrospectionColumnRow } from '../../../src/introspection/introspection-rows.js'

describe('parseCreateTableStatement', () => {
  it('TTL (pkg/sql/show_create_table_test.go), current and older outputs', () => {
    const current = parseCreateTableStatement(`CREATE TABLE public.t (
\tpk INT8 NOT NULL,
\tcrdb_internal_expiration TIMESTAMPTZ NOT VISIBLE NOT NULL DEFAULT current_timestamp():::TIMESTAMPTZ + '00:10:00':::INTERVAL ON UPDATE current_timestamp():::TIMESTAMPTZ + '00:10:00':::INTERVAL,
\tCONSTRAINT t_pkey PRIMARY KEY (pk ASC)
) WITH (ttl = 'on', ttl_expire_after = '00:10:00':::INTERVAL, ttl_job_cron = '@hourly')`)
    assert.deepEqual(current, {
      schema: 'public',
      name: 't',
      rowLevelTtl: {
        expireAfter: '00:10:00',
        jobCron: '@hourly',
        paused: false,
        parameters: { ttl: 'on', ttl_expire_after: '00:10:00', ttl_job_cron: '@hourly' },
      },
    })
    const older = parseCreateTableStatement(`CREATE TABLE public.t (
\tpk INT8 NOT NULL,
\tCONSTRAINT t_pkey PRIMARY KEY (pk ASC)
) WITH (ttl = 'on', ttl_automatic_column = 'on', ttl_expire_after = '00:10:00':::INTERVAL)`)
    assert.equal(older?.rowLevelTtl?.expireAfter, '00:10:00')
    assert.equal(older?.rowLevelTtl?.parameters.ttl_automatic_column, 'on')
  })

  it('an expiration expression with quotes, paused, and a locality after WITH', () => {
    const parsed = parseCreateTableStatement(`CREATE TABLE app."Event Log" (
\tts TIMESTAMPTZ NOT NULL,
\trowid INT8 NOT VISIBLE NOT NULL DEFAULT unique_rowid(),
\tCONSTRAINT "Event Log_pkey" PRIMARY KEY (rowid ASC)
) WITH (ttl = 'on', ttl_expiration_expression = e'ts + \\'30 days\\':::INTERVAL', ttl_pause = true) LOCALITY GLOBAL`)
    assert.equal(parsed?.schema, 'app')
    assert.equal(parsed?.name, 'Event Log')
    assert.equal(parsed?.rowLevelTtl?.paused, true)
    assert.deepEqual(parsed?.locality, { kind: 'global' })
  })

  it('localities (pkg/ccl/multiregionccl/show_test.go, TestShowCreateTable)', () => {
    const body = `(
\ta INT8 NULL,
\trowid INT8 NOT VISIBLE NOT NULL DEFAULT unique_rowid(),
\tCONSTRAINT t_pkey PRIMARY KEY (rowid ASC)
)`
    assert.deepEqual(parseCreateTableStatement(`CREATE TABLE public.t ${body} LOCALITY GLOBAL`)?.locality, { kind: 'global' })
    assert.deepEqual(parseCreateTableStatement(`CREATE TABLE public.t ${body} LOCALITY REGIONAL BY TABLE IN PRIMARY REGION`)?.locality, {
      kind: 'regional-by-table',
      region: null,
    })
    assert.deepEqual(parseCreateTableStatement(`CREATE TABLE public.t ${body} LOCALITY REGIONAL BY TABLE IN "us-west1"`)?.locality, {
      kind: 'regional-by-table',
      region: 'us-west1',
    })
    const rbr = `CREATE TABLE public.t (
\ta INT8 NULL,
\tcrdb_region public.crdb_internal_region NOT VISIBLE NOT NULL DEFAULT default_to_database_primary_region(gateway_region())::public.crdb_internal_region,
\trowid INT8 NOT VISIBLE NOT NULL DEFAULT unique_rowid(),
\tCONSTRAINT t_pkey PRIMARY KEY (rowid ASC),
\tINDEX a_idx (a ASC)
) LOCALITY REGIONAL BY ROW`
    assert.deepEqual(parseCreateTableStatement(rbr)?.locality, { kind: 'regional-by-row', column: 'crdb_region' })
    const rbrAs = `CREATE TABLE public.t (
\ta INT8 NULL,
\tcrdb_region_col public.crdb_internal_region NOT NULL,
\trowid INT8 NOT VISIBLE NOT NULL DEFAULT unique_rowid(),
\tCONSTRAINT t_pkey PRIMARY KEY (rowid ASC),
\tINDEX a_idx (a ASC) WHERE a > 0:::INT8
) LOCALITY REGIONAL BY ROW AS crdb_region_col`
    assert.deepEqual(parseCreateTableStatement(rbrAs)?.locality, { kind: 'regional-by-row', column: 'crdb_region_col' })
  })

  it('hash-sharded primary keys (pkg/sql/logictest/testdata/logic_test/hash_sharded_index; the md5 form of v23.2+)', () => {
    const old = parseCreateTableStatement(`CREATE TABLE public.sharded_primary (
                 crdb_internal_a_shard_10 INT4 NOT VISIBLE NOT NULL AS (mod(fnv32(crdb_internal.datums_to_bytes(a)), 10:::INT8)) VIRTUAL,
                 a INT8 NOT NULL,
                 CONSTRAINT sharded_primary_pkey PRIMARY KEY (a ASC) USING HASH WITH (bucket_count=10)
)`)
    assert.deepEqual(old, { schema: 'public', name: 'sharded_primary', primaryKeyHashSharded: { bucketCount: 10 } })
    const current = parseCreateTableStatement(`CREATE TABLE public.datapoints (
\tat TIMESTAMP NOT NULL,
\tstation UUID NOT NULL,
\tcrdb_internal_at_station_shard_16 INT8 NOT VISIBLE NOT NULL AS (mod(fnv32(md5(crdb_internal.datums_to_bytes(at, station))), 16:::INT8)) VIRTUAL,
\tCONSTRAINT datapoints_pkey PRIMARY KEY (station ASC, at ASC) USING HASH WITH (bucket_count=16),
\tINDEX datapoints_at_idx (at ASC) USING HASH WITH (bucket_count=8)
)`)
    assert.deepEqual(current?.primaryKeyHashSharded, { bucketCount: 16 })
    // A hash-sharded secondary index is not the primary key.
    const secondary = parseCreateTableStatement(`CREATE TABLE public.sharded_secondary (
                   a INT8 NULL,
                   crdb_internal_a_shard_4 INT4 NOT VISIBLE NOT NULL AS (mod(fnv32(crdb_internal.datums_to_bytes(a)), 4:::INT8)) VIRTUAL,
                   rowid INT8 NOT VISIBLE NOT NULL DEFAULT unique_rowid(),
                   CONSTRAINT sharded_secondary_pkey PRIMARY KEY (rowid ASC),
                   INDEX sharded_secondary_a_idx (a ASC) USING HASH WITH (bucket_count=4)
)`)
    assert.equal(secondary?.primaryKeyHashSharded, undefined)
  })

  it('other statements are not tables', () => {
    assert.equal(parseCreateTableStatement('CREATE VIEW public.v (a) AS SELECT 1'), undefined)
    assert.equal(
      parseCreateTableStatement('ALTER TABLE public.c ADD CONSTRAINT c_p_fkey FOREIGN KEY (p) REFERENCES public.p(id)'),
      undefined,
    )
  })
})

// Rows as CockroachIntrospector's column query returns them (see introspection-rows.ts), for the
// REGIONAL BY ROW table with a hash-sharded key and TTL of the show-create tests above.
function row(column: string, type: string, extra: Partial<IntrospectionColumnRow> = {}): IntrospectionColumnRow {
  return {
    schema: 'public',
    table: 'event',
    relkind: 'r',
    column,
    type,
    type_schema: 'pg_catalog',
    not_null: true,
    has_default: false,
    default_expr: null,
    identity: '',
    generated: '',
    is_hidden: 'NO',
    att_is_hidden: false,
    comment: null,
    ...extra,
  }
}

describe('hidden columns of REGIONAL BY ROW, hash-sharded and TTL tables', () => {
  const rows = [
    row('id', 'int8'),
    row('crdb_region', 'crdb_internal_region', {
      type_schema: 'public',
      has_default: true,
      default_expr: 'default_to_database_primary_region(gateway_region())::public.crdb_internal_region',
      is_hidden: 'YES',
      att_is_hidden: true,
    }),
    row('crdb_internal_id_shard_16', 'int8', {
      generated: 'v',
      default_expr: 'mod(fnv32(md5(crdb_internal.datums_to_bytes(id))), 16:::INT8)',
      is_hidden: 'YES',
      att_is_hidden: true,
    }),
    row('crdb_internal_expiration', 'timestamptz', {
      has_default: true,
      default_expr: "current_timestamp():::TIMESTAMPTZ + '00:10:00':::INTERVAL",
      is_hidden: 'YES',
      att_is_hidden: true,
    }),
  ]

  it('keeps crdb_region (typed by its enum in codegen), hides shard and expiration columns', () => {
    const [table] = mapIntrospectionRows(rows)
    assert.deepEqual(
      table!.columns.map((c) => [c.name, c.dataTypeSchema, c.dataType, c.isHidden, c.hiddenKind, c.hasDefaultValue]),
      [
        ['id', 'pg_catalog', 'int8', false, undefined, false],
        ['crdb_region', 'public', 'crdb_internal_region', true, 'region', true],
      ],
    )
    const [all] = mapIntrospectionRows(rows, { includeHiddenColumns: true })
    assert.deepEqual(
      all!.columns.map((c) => c.hiddenKind),
      [undefined, 'region', 'hash-shard', 'ttl-expiration'],
    )
  })

  it('hiddenColumnKind: rowid and NOT VISIBLE columns', () => {
    assert.equal(hiddenColumnKind({ name: 'rowid', isHidden: true, dataType: 'int8', defaultExpression: 'unique_rowid()' }), 'rowid')
    assert.equal(hiddenColumnKind({ name: 'secret', isHidden: true, dataType: 'text' }), 'not-visible')
    assert.equal(hiddenColumnKind({ name: 'a', isHidden: false, dataType: 'text' }), undefined)
  })

  it('applyTableOptions matches tables by schema and name', () => {
    const tables = mapIntrospectionRows(rows)
    const [event] = applyTableOptions(tables, [
      {
        schema: 'public',
        name: 'event',
        locality: { kind: 'regional-by-row', column: 'crdb_region' },
        primaryKeyHashSharded: { bucketCount: 16 },
      },
      { schema: 'other', name: 'event', locality: { kind: 'global' } },
    ])
    assert.deepEqual(event!.locality, { kind: 'regional-by-row', column: 'crdb_region' })
    assert.deepEqual(event!.primaryKeyHashSharded, { bucketCount: 16 })
    assert.equal(event!.rowLevelTtl, undefined)
  })
})
