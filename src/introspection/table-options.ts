// The CockroachDB-only table metadata of the introspector: locality, row-level TTL and a
// hash-sharded primary key, read from the CREATE statements CockroachDB prints, and the kind of each
// hidden column. Pure: the query is in table-options-query.ts.
//
// Why SHOW CREATE: it is one statement for all tables (`SHOW CREATE ALL TABLES`), it exists on every
// supported version, and SHOW statements are not gated by `allow_unsafe_internals`, which restricts
// crdb_internal (off by default from v26.x, docs /docs/stable/crdb-internal#access-control) where
// `crdb_internal.tables.locality` lives. The printed forms are those of cockroach's show-create tests:
// pkg/sql/show_create_table_test.go (`) WITH (ttl = 'on', ttl_expire_after = '00:10:00':::INTERVAL,
// ttl_job_cron = '@hourly')`, older versions with `ttl_automatic_column = 'on'`),
// pkg/ccl/multiregionccl/show_test.go (TestShowCreateTable: `) LOCALITY GLOBAL`, `REGIONAL BY TABLE
// IN PRIMARY REGION`, `REGIONAL BY TABLE IN "us-west1"`, `REGIONAL BY ROW`, `REGIONAL BY ROW AS
// crdb_region_col`) and pkg/sql/logictest/testdata/logic_test/hash_sharded_index (`CONSTRAINT
// sharded_primary_pkey PRIMARY KEY (a ASC) USING HASH WITH (bucket_count=10)`).
import type { CockroachTableMetadata } from './introspection-rows.js'

/**
 * A table's multi-region locality ({@link CockroachTableMetadata}'s `locality`): `regional-by-table`
 * with its region (`null`: the database's primary region), `regional-by-row` with the column that
 * holds each row's region, or `global`.
 *
 * ```ts
 * import type { CockroachTableMetadata, TableLocality } from 'kysely-cockroachdb'
 *
 * const tables = (await db.introspection.getTables()) as CockroachTableMetadata[]
 * const perRow = tables.filter((t) => t.locality?.kind === 'regional-by-row')
 * const locality: TableLocality | undefined = perRow[0]?.locality
 * ```
 */
export type TableLocality =
  | { readonly kind: 'regional-by-table'; readonly region: string | null }
  | { readonly kind: 'regional-by-row'; readonly column: string }
  | { readonly kind: 'global' }

/**
 * A table's row-level TTL ({@link CockroachTableMetadata}'s `rowLevelTtl`), from its storage
 * parameters: `expireAfter` as CockroachDB prints it (`'00:10:00'` for 10 minutes, `'30 days'`),
 * and every `ttl*` parameter in `parameters`, values without quotes and type annotations.
 *
 * ```ts
 * import type { CockroachTableMetadata, RowLevelTtlMetadata } from 'kysely-cockroachdb'
 *
 * const tables = (await db.introspection.getTables()) as CockroachTableMetadata[]
 * const ttl: RowLevelTtlMetadata | undefined = tables.find((t) => t.name === 'event')?.rowLevelTtl
 * ```
 */
export interface RowLevelTtlMetadata {
  readonly expireAfter?: string
  readonly expirationExpression?: string
  readonly jobCron?: string
  readonly paused: boolean
  readonly parameters: Readonly<Record<string, string>>
}

/**
 * Why a column is hidden (CockroachColumnMetadata's `hiddenKind`): the implicit `rowid`, a
 * hash-shard column, the TTL's `crdb_internal_expiration`, the region column of a REGIONAL BY ROW
 * table, or a column declared `NOT VISIBLE`.
 *
 * ```ts
 * import type { CockroachColumnMetadata, HiddenColumnKind } from 'kysely-cockroachdb'
 *
 * const kind: HiddenColumnKind | undefined = (column as CockroachColumnMetadata).hiddenKind
 * ```
 */
export type HiddenColumnKind = 'rowid' | 'hash-shard' | 'ttl-expiration' | 'region' | 'not-visible'

/** What {@link parseCreateTableStatement} reads. @internal */
export interface TableOptions {
  readonly schema: string | undefined
  readonly name: string
  readonly locality?: TableLocality
  readonly rowLevelTtl?: RowLevelTtlMetadata
  readonly primaryKeyHashSharded?: { readonly bucketCount: number }
}

const NAME = String.raw`(?:"(?:[^"]|"")+"|[^\s."(]+)`
const HEAD = new RegExp(String.raw`^\s*CREATE TABLE (?:IF NOT EXISTS )?((?:${NAME}\.){0,2}${NAME}) \(`, 'i')
const LOCALITY = new RegExp(
  String.raw`\bLOCALITY (GLOBAL|REGIONAL BY TABLE IN PRIMARY REGION|REGIONAL BY TABLE IN (${NAME})|REGIONAL BY TABLE|REGIONAL BY ROW AS (${NAME})|REGIONAL BY ROW)\s*;?\s*$`,
  'i',
)
const PK_HASH = /^\s*CONSTRAINT (?:"(?:[^"]|"")+"|\S+) PRIMARY KEY \([^\n]*\) USING HASH WITH \(bucket_count=(\d+)\)/im

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name
}

function splitName(qualified: string): string[] {
  return [...qualified.matchAll(new RegExp(NAME, 'g'))].map((m) => unquote(m[0]))
}

/** `key = value, ...` of a WITH (...) list: values unquoted, `:::TYPE` annotations dropped. */
function parseStorageParameters(text: string): Record<string, string> {
  const parameters: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const key = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*/.exec(text.slice(i))
    if (key === null) break
    i += key[0].length
    let value = ''
    if (text[i] === "'") {
      i++
      while (i < text.length) {
        if (text[i] === "'" && text[i + 1] === "'") {
          value += "'"
          i += 2
        } else if (text[i] === "'") {
          i++
          break
        } else {
          value += text[i++]
        }
      }
      const annotation = /^:::[A-Za-z0-9_ ]+?(?=,|$)/.exec(text.slice(i))
      if (annotation !== null) i += annotation[0].length
    } else {
      const end = text.indexOf(',', i)
      value = (end === -1 ? text.slice(i) : text.slice(i, end)).trim().replace(/:::[A-Za-z0-9_ ]+$/, '')
      i = end === -1 ? text.length : end
    }
    parameters[key[1]!] = value
    const comma = /^\s*,\s*/.exec(text.slice(i))
    if (comma === null) break
    i += comma[0].length
  }
  return parameters
}

/** The WITH (...) list right after the table's closing parenthesis, if any. */
function withList(tail: string): string | undefined {
  const start = /^\s*WITH \(/i.exec(tail)
  if (start === null) return undefined
  let depth = 1
  let quoted = false
  for (let i = start[0].length; i < tail.length; i++) {
    const c = tail[i]
    if (c === "'") quoted = !quoted
    else if (!quoted && c === '(') depth++
    else if (!quoted && c === ')' && --depth === 0) return tail.slice(start[0].length, i)
  }
  return undefined
}

/**
 * Reads a table's locality, TTL and hash-sharded primary key from its `create_statement` as
 * `SHOW CREATE` prints it; `undefined` for anything that is not a CREATE TABLE. @internal
 */
export function parseCreateTableStatement(statement: string): TableOptions | undefined {
  const head = HEAD.exec(statement)
  if (head === null) return undefined
  const parts = splitName(head[1]!)
  const name = parts[parts.length - 1]!
  const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined
  // The column list ends at the last line that starts with ")".
  const close = statement.lastIndexOf('\n)')
  const tail = close === -1 ? '' : statement.slice(close + 2)
  const body = close === -1 ? statement : statement.slice(0, close)
  const options: { -readonly [K in keyof TableOptions]: TableOptions[K] } = { schema, name }

  const list = withList(tail)
  if (list !== undefined) {
    const parameters = parseStorageParameters(list)
    const ttl = Object.fromEntries(Object.entries(parameters).filter(([key]) => key === 'ttl' || key.startsWith('ttl_')))
    if (ttl.ttl === 'on' || ttl.ttl_expire_after !== undefined || ttl.ttl_expiration_expression !== undefined) {
      options.rowLevelTtl = Object.freeze({
        ...(ttl.ttl_expire_after === undefined ? {} : { expireAfter: ttl.ttl_expire_after }),
        ...(ttl.ttl_expiration_expression === undefined ? {} : { expirationExpression: ttl.ttl_expiration_expression }),
        ...(ttl.ttl_job_cron === undefined ? {} : { jobCron: ttl.ttl_job_cron }),
        paused: ttl.ttl_pause === 'true' || ttl.ttl_pause === 'on',
        parameters: Object.freeze(ttl),
      })
    }
  }
  const locality = LOCALITY.exec(tail)
  if (locality !== null) {
    const words = locality[1]!.toUpperCase()
    options.locality =
      words === 'GLOBAL'
        ? { kind: 'global' }
        : words.startsWith('REGIONAL BY ROW')
          ? { kind: 'regional-by-row', column: locality[3] === undefined ? 'crdb_region' : unquote(locality[3]) }
          : { kind: 'regional-by-table', region: locality[2] === undefined ? null : unquote(locality[2]) }
  }
  const hash = PK_HASH.exec(body)
  if (hash !== null) {
    options.primaryKeyHashSharded = Object.freeze({ bucketCount: Number(hash[1]) })
  }
  return Object.freeze(options)
}

// `crdb_internal_<columns>_shard_<n>` (tabledesc.GetShardColumnName in
// pkg/sql/catalog/tabledesc/table.go), computed from fnv32 (`mod(fnv32(...), n)`, older versions
// without md5, logic_test/hash_sharded_index).
const SHARD_COLUMN = /^crdb_internal_.+_shard_\d+$/
const ROWID_DEFAULT = /^\s*\(?\s*unique_rowid\s*\(\s*\)/i

/**
 * Why a hidden column is hidden, from its name, type and default (`crdb_region` of type
 * `crdb_internal_region` defaulting to `gateway_region()`, pkg/ccl/multiregionccl/show_test.go).
 * `undefined` for a visible column. @internal
 */
export function hiddenColumnKind(column: {
  readonly name: string
  readonly isHidden: boolean
  readonly dataType: string
  readonly generated?: string
  readonly defaultExpression?: string
  readonly computedExpression?: string | null
}): HiddenColumnKind | undefined {
  if (!column.isHidden) return undefined
  if (SHARD_COLUMN.test(column.name) && column.generated !== undefined) return 'hash-shard'
  if (column.name === 'crdb_internal_expiration') return 'ttl-expiration'
  if (column.name === 'rowid' && column.defaultExpression !== undefined && ROWID_DEFAULT.test(column.defaultExpression)) return 'rowid'
  if (column.dataType === 'crdb_internal_region' && /\bgateway_region\s*\(/.test(column.defaultExpression ?? '')) return 'region'
  return 'not-visible'
}

/** The tables with the options read for them (matched by schema and name). @internal */
export function applyTableOptions(tables: readonly CockroachTableMetadata[], options: readonly TableOptions[]): CockroachTableMetadata[] {
  const byKey = new Map<string, TableOptions>()
  for (const option of options) {
    byKey.set(JSON.stringify([option.schema ?? 'public', option.name]), option)
  }
  return tables.map((table) => {
    const found = byKey.get(JSON.stringify([table.schema, table.name]))
    if (found === undefined) return table
    const { locality, rowLevelTtl, primaryKeyHashSharded } = found
    if (locality === undefined && rowLevelTtl === undefined && primaryKeyHashSharded === undefined) return table
    return Object.freeze({
      ...table,
      ...(locality === undefined ? {} : { locality }),
      ...(rowLevelTtl === undefined ? {} : { rowLevelTtl }),
      ...(primaryKeyHashSharded === undefined ? {} : { primaryKeyHashSharded }),
    })
  })
}
