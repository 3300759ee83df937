// The query behind the introspector's CockroachDB table metadata (table-options.ts): one
// `SHOW CREATE ALL TABLES` (docs /docs/stable/show-create#show-the-create-table-statement-for-all-tables,
// one row per object, column `create_statement`), not gated by allow_unsafe_internals.
import { sql } from 'kysely'
import type { Kysely } from 'kysely'
import { applyTableOptions, parseCreateTableStatement } from './table-options.js'
import type { TableOptions } from './table-options.js'
import type { CockroachTableMetadata } from './introspection-rows.js'

/** Adds locality, TTL and the hash-sharded primary key to CockroachDB tables. @internal */
export async function withTableOptions<DB>(db: Kysely<DB>, tables: CockroachTableMetadata[]): Promise<CockroachTableMetadata[]> {
  if (tables.every((t) => t.isView)) {
    return tables
  }
  const { rows } = await sql<{ create_statement: string }>`show create all tables`.execute(db)
  const options: TableOptions[] = []
  for (const row of rows) {
    const parsed = typeof row.create_statement === 'string' ? parseCreateTableStatement(row.create_statement) : undefined
    if (parsed !== undefined) options.push(parsed)
  }
  return applyTableOptions(tables, options)
}
