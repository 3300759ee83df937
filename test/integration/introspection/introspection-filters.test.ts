// The introspection filters exist as one list each (src/introspection/introspection-filters.ts),
// rendered as SQL for the catalog query and as predicates for the row mapping: here the server
// evaluates the SQL over a corpus of names, and it must agree with the predicates (LIKE's `_` and
// `%` escaped included). PostgreSQL always; CockroachDB too when the suite has one (CI).
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import { CockroachDialect } from '../../../src/index.js'
import {
  isIntrospectedRelationKind,
  isSystemSchema,
  relationKindCondition,
  RELATION_KINDS,
  SYSTEM_SCHEMA_PREFIXES,
  SYSTEM_SCHEMAS,
  userSchemaCondition,
} from '../../../src/introspection/introspection-filters.js'
import { allTargets } from '../../harness/targets.js'

const SCHEMA_NAMES: readonly string[] = [
  ...SYSTEM_SCHEMAS,
  ...SYSTEM_SCHEMA_PREFIXES,
  'public',
  'app',
  'pg_temp_1',
  'pg_temp_1_1',
  'pg_toast_temp_1',
  'pg_tempx',
  'pgXtemp_1',
  'pg_temp',
  'pg_toasty',
  'pgXtoast',
  'pg%temp_',
  'crdb_internal_x',
  'crdb',
  'Information_Schema',
  'pg_catalog2',
  '',
]

const RELKINDS: readonly string[] = [...RELATION_KINDS, 'i', 'S', 't', 'c', 'I', 'R', '']

for (const target of allTargets) {
  describe(`introspection filters: SQL and TypeScript agree (${target.isCockroach ? 'CockroachDB' : 'PostgreSQL'})`, () => {
    const db = new Kysely<unknown>({ dialect: new CockroachDialect({ connectionString: target.adminUrl }) })
    after(() => db.destroy())

    it('user schemas', async () => {
      const { rows } = await sql<{ name: string; user_schema: boolean }>`
        select name, (${userSchemaCondition(sql`name`)}) as user_schema
        from unnest(${SCHEMA_NAMES}::text[]) as name
      `.execute(db)
      assert.equal(rows.length, SCHEMA_NAMES.length)
      for (const row of rows) {
        assert.equal(row.user_schema, !isSystemSchema(row.name), JSON.stringify(row.name))
      }
    })

    it('relation kinds', async () => {
      const { rows } = await sql<{ kind: string; introspected: boolean }>`
        select kind, (${relationKindCondition(sql`kind`)}) as introspected
        from unnest(${RELKINDS}::text[]) as kind
      `.execute(db)
      assert.equal(rows.length, RELKINDS.length)
      for (const row of rows) {
        assert.equal(row.introspected, isIntrospectedRelationKind(row.kind), JSON.stringify(row.kind))
      }
    })
  })
}
