// What CockroachQueryCompiler does with the schema helpers' markers (schema-marker.ts): it rewrites
// the node into one Kysely's own visitor prints as CockroachDB's SQL, then hands it to Kysely. Pure
// functions from node to node: no Kysely method body is copied, and a node without markers comes
// back `undefined` (the compiler then compiles the original, so queries without the helpers print
// exactly as with PostgresQueryCompiler). Internal: not exported from the package.
//
// Where the clauses go (pkg/sql/parser/sql.y):
// - `create_index_stmt: CREATE opt_unique INDEX opt_concurrently opt_index_name ON table_name
//   opt_index_access_method '(' index_params ')' opt_hash_sharded opt_storing opt_partition_by_index
//   opt_with_storage_parameter_list opt_where_clause opt_index_visible`. Kysely prints `create
//   [unique] index [if not exists] <name> on <table> [using <x>] (<columns>) [nulls not distinct]
//   [where ...]`, so the access method goes in `using`, the operator class on the last column, and
//   `using hash storing (...) with (...)` plus the visibility around the WHERE node.
// - `create_table_stmt: ... '(' opt_table_elem_list ')' opt_create_table_inherits
//   opt_partition_by_table opt_table_with opt_create_table_on_commit opt_locality`: the TTL's WITH
//   and the LOCALITY become the last end modifiers (after the user's own, such as PARTITION BY).
//   The hash-sharded primary key: `col_qualification_elem: PRIMARY KEY USING HASH ...` (USING HASH
//   right after PRIMARY KEY, so both move to the end of the column definition, where Kysely's
//   references/check cannot come between them) or `constraint_elem: PRIMARY KEY '(' index_params ')'
//   opt_hash_sharded opt_with_storage_parameter_list` (the constraint is printed as a RawNode).
// - `alter_table_cmd: ALTER PRIMARY KEY USING COLUMNS ... | SET '(' ... ')' | RESET '(' ... ')'`
//   and `alter_table_locality_stmt: ALTER TABLE relation_expr SET locality`: the command replaces
//   the carrier CHECK constraint, printed where Kysely prints column alterations.
import { RawNode } from 'kysely'
import type {
  AlterTableNode,
  ColumnDefinitionNode,
  CreateIndexNode,
  CreateTableNode,
  OperationNode,
  OrderByItemNode,
  PrimaryKeyConstraintNode,
  WhereNode,
} from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { checkBucketCount, renderHashSharding } from './hash-sharded.js'
import { TTL_PARAMETER_KEYS, TTL_RESET_KEYS } from './row-level-ttl.js'
import { readSchemaMarker } from './schema-marker.js'
import type { SchemaMarker, SchemaMarkerKind } from './schema-marker.js'

const HELPER: Readonly<Record<SchemaMarkerKind, string>> = Object.freeze({
  hash: 'hashSharded()',
  storing: 'storing()',
  inverted: 'invertedIndex()',
  visibility: 'notVisible()',
  ttl: 'rowLevelTtl()',
  'ttl-reset': 'resetRowLevelTtl()',
  locality: 'locality()',
  'alter-pk': 'alterPrimaryKey()',
})

// Access methods CockroachDB builds (opt_index_access_method in sql.y: btree forward, gin/gist
// inverted, cspann vector); `hash`, `spgist` and `brin` are `unimplemented(sqllex, "index using " + $2)`.
const ACCESS_METHODS: ReadonlySet<string> = new Set(['btree', 'gin', 'gist', 'cspann'])

// A marker is a RawNode anyone can write with sql.raw(), and its data goes into the SQL text: so
// before printing, the data must be exactly what the helper renders (the forms below are those of
// hash-sharded.ts, inverted-index.ts, not-visible.ts, row-level-ttl.ts, locality.ts,
// alter-primary-key.ts), else the marker is refused. The refs are printed by Kysely as references.
const TTL_VALUE = /^(?:'(?:[^']|'')*'|[1-9]\d*|true|false)$/
const REGION = /^"(?:[^"\0]|"")+"$/
const LOCALITIES =
  /^(?:global|regional by table in primary region|regional by row|regional by row as|regional by table in "(?:[^"\0]|"")+")$/
const INVERTED: Readonly<Record<string, string | undefined>> = Object.freeze({ gin_trgm_ops: 'gin', gist_trgm_ops: 'gist' })

function onlyKeys(data: Readonly<Record<string, unknown>>, keys: readonly string[]): boolean {
  return Object.keys(data).every((key) => keys.includes(key))
}

function validBucketCount(value: unknown): boolean {
  try {
    checkBucketCount(value, 'hashSharded()')
    return true
  } catch {
    return false
  }
}

function isMarkerDataValid(marker: SchemaMarker): boolean {
  const { data, refs } = marker
  const strings = (value: unknown): value is string[] =>
    Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')
  switch (marker.kind) {
    case 'hash':
      return onlyKeys(data, ['bucketCount']) && validBucketCount(data.bucketCount) && refs.length === 0
    case 'storing':
      return onlyKeys(data, []) && refs.length > 0
    case 'inverted':
      return (
        onlyKeys(data, ['method', 'opclass']) &&
        (data.opclass === undefined ? data.method === 'gin' : typeof data.opclass === 'string' && INVERTED[data.opclass] === data.method)
      )
    case 'visibility': {
      const text = data.text
      if (!onlyKeys(data, ['text']) || typeof text !== 'string') return false
      if (text === 'not visible') return true
      const value = /^visibility ([01]\.\d{1,10})$/.exec(text)
      return value !== null && Number(value[1]) <= 1
    }
    case 'ttl':
      return (
        onlyKeys(data, ['parameters']) &&
        strings(data.parameters) &&
        data.parameters.every((p) => {
          const eq = p.indexOf(' = ')
          return eq > 0 && TTL_PARAMETER_KEYS.has(p.slice(0, eq)) && TTL_VALUE.test(p.slice(eq + 3))
        })
      )
    case 'ttl-reset':
      return onlyKeys(data, ['keys']) && strings(data.keys) && data.keys.every((k) => TTL_RESET_KEYS.has(k))
    case 'locality': {
      const text = data.text
      if (!onlyKeys(data, ['text']) || typeof text !== 'string' || !LOCALITIES.test(text)) return false
      if (text.startsWith('regional by table in "') && !REGION.test(text.slice('regional by table in '.length))) return false
      return refs.length === (text === 'regional by row as' ? 1 : 0)
    }
    case 'alter-pk':
      return (
        onlyKeys(data, ['hash', 'bucketCount']) &&
        (data.hash === undefined || data.hash === true) &&
        (data.bucketCount === undefined || (data.hash === true && validBucketCount(data.bucketCount))) &&
        refs.length > 0
      )
  }
}

/** The marker, if its data is what its helper writes; refuses it otherwise. */
function checkedMarker(marker: SchemaMarker): SchemaMarker {
  if (!isMarkerDataValid(marker)) {
    throw new QueryRefusedError(
      HELPER[marker.kind],
      'the statement carries a kysely-cockroachdb marker whose data is not one the helper writes (a comment such as /*kysely-cockroachdb:...*/ written by hand with sql.raw()?)',
      `call ${HELPER[marker.kind]} itself, or remove the comment`,
    )
  }
  return marker
}

function raw(text: string): RawNode {
  return RawNode.createWithSql(text)
}

/** The markers of `nodes` by kind (each kind once) and the other nodes. */
function splitMarkers(
  nodes: readonly OperationNode[],
  allowed: readonly SchemaMarkerKind[],
  where: string,
): { readonly markers: ReadonlyMap<SchemaMarkerKind, SchemaMarker>; readonly rest: OperationNode[] } {
  const markers = new Map<SchemaMarkerKind, SchemaMarker>()
  const rest: OperationNode[] = []
  for (const node of nodes) {
    const read = readSchemaMarker(node)
    if (read === undefined) {
      rest.push(node)
      continue
    }
    const marker = checkedMarker(read)
    const api = HELPER[marker.kind]
    if (!allowed.includes(marker.kind)) {
      throw new QueryRefusedError(api, `it cannot be used on ${where}`, 'see docs/schema.md for where each helper goes')
    }
    if (markers.has(marker.kind)) {
      throw new QueryRefusedError(api, `it was applied twice to the same ${where}`, 'keep one')
    }
    markers.set(marker.kind, marker)
  }
  return { markers, rest }
}

/** Refuses Kysely's `.using(...)` values CockroachDB does not build. */
function checkUsing(using: RawNode | undefined, hasInverted: boolean): void {
  if (using === undefined) {
    return
  }
  const text = using.sqlFragments.join('').trim().toLowerCase()
  if (text === 'hash') {
    throw new QueryRefusedError(
      "createIndex().using('hash')",
      'it prints PostgreSQL\'s access method, `using hash` before the column list, which CockroachDB refuses ("unimplemented: index using hash")',
      'use .$call(hashSharded()) for a hash-sharded index',
    )
  }
  if (/^[a-z_]+$/.test(text) && !ACCESS_METHODS.has(text)) {
    throw new QueryRefusedError(
      `createIndex().using('${text}')`,
      `CockroachDB has no "${text}" index access method`,
      'use btree (the default), gin or gist, or invertedIndex()',
    )
  }
  if (hasInverted && text !== 'gin' && text !== 'gist') {
    throw new QueryRefusedError('invertedIndex()', `the index also has .using('${text}')`, 'remove .using(...)')
  }
}

/**
 * What CockroachDB refuses on an inverted index (invertedIndex(), or Kysely's using('gin'|'gist')):
 * pkg/sql/create_index.go (and the declarative schema changer's scbuildstmt/create_index.go)
 * answers "inverted indexes don't support stored columns" and "inverted indexes can't be unique"
 * (42602, InvalidSQLStatementName) for `n.Inverted` with Storing / Unique.
 */
function checkInverted(node: CreateIndexNode, inverted: boolean, hasStoring: boolean): void {
  if (!inverted) {
    return
  }
  if (hasStoring) {
    throw new QueryRefusedError(
      'storing()',
      'the index is inverted, and CockroachDB answers "inverted indexes don\'t support stored columns"',
      'remove storing() (or make the index a forward one)',
    )
  }
  if (node.unique === true) {
    throw new QueryRefusedError(
      'createIndex().unique()',
      'the index is inverted, and CockroachDB answers "inverted indexes can\'t be unique"',
      'remove .unique() (or make the index a forward one)',
    )
  }
}

/** The last index column with the operator class after it (`index_elem_options: opt_class opt_asc_desc ...`). */
function withOpclass(column: OperationNode, opclass: string): OperationNode {
  if (column.kind !== 'OrderByItemNode') {
    return RawNode.create(['', ` ${opclass}`], [column])
  }
  const item = column as OrderByItemNode
  if (item.collation !== undefined || item.nulls !== undefined) {
    throw new QueryRefusedError('invertedIndex()', 'an inverted index column takes no collation or nulls order', 'remove them')
  }
  return item.direction === undefined
    ? RawNode.create(['', ` ${opclass}`], [item.orderBy])
    : RawNode.create(['', ` ${opclass} `, ''], [item.orderBy, item.direction])
}

function columnName(node: OperationNode): string | undefined {
  const column = node.kind === 'OrderByItemNode' ? (node as OrderByItemNode).orderBy : node
  if (column.kind === 'ColumnNode') {
    return (column as unknown as { column: { name: string } }).column.name
  }
  return undefined
}

/**
 * CREATE INDEX with the helpers' clauses; `undefined` when the node has none and nothing to refuse.
 */
export function rewriteCreateIndex(node: CreateIndexNode): CreateIndexNode | undefined {
  if (node.nullsNotDistinct === true) {
    throw new QueryRefusedError(
      'createIndex().nullsNotDistinct()',
      "CockroachDB's CREATE INDEX has no NULLS NOT DISTINCT (create_index_stmt in its grammar)",
      'remove it',
    )
  }
  const columns = node.columns ?? []
  const hasMarker = columns.some((c) => c.kind === 'RawNode' && readSchemaMarker(c) !== undefined)
  const invertedUsing = /^(gin|gist)$/i.test(node.using?.sqlFragments.join('').trim() ?? '')
  if (!hasMarker) {
    checkUsing(node.using, false)
    checkInverted(node, invertedUsing, false)
    return undefined
  }
  const { markers, rest } = splitMarkers(columns, ['hash', 'storing', 'inverted', 'visibility'], 'index')
  const hash = markers.get('hash')
  const storing = markers.get('storing')
  const inverted = markers.get('inverted')
  const visibility = markers.get('visibility')
  checkUsing(node.using, inverted !== undefined)
  if (rest.length === 0) {
    throw new QueryRefusedError(
      HELPER[[...markers.keys()][0]!],
      'the index has no columns',
      "add them with .column('name') or .columns([...])",
    )
  }
  const isInverted = inverted !== undefined || invertedUsing
  if (hash !== undefined && isInverted) {
    // The INVERTED INDEX forms of create_index_stmt and index_def have no opt_hash_sharded.
    throw new QueryRefusedError(
      'hashSharded()',
      'an inverted index cannot be hash-sharded in CockroachDB',
      'remove hashSharded() or invertedIndex()',
    )
  }
  checkInverted(node, isInverted, storing !== undefined)
  let indexColumns = rest
  let using = node.using
  if (inverted !== undefined) {
    using = raw(String(inverted.data.method))
    const opclass = inverted.data.opclass
    if (typeof opclass === 'string') {
      indexColumns = [...rest.slice(0, -1), withOpclass(rest[rest.length - 1]!, opclass)]
    }
  }
  if (storing !== undefined) {
    const keys = new Set(rest.map(columnName).filter((n) => n !== undefined))
    for (const ref of storing.refs) {
      const name = columnName(ref)
      if (name !== undefined && keys.has(name)) {
        throw new QueryRefusedError('storing()', `"${name}" is already a key column of the index`, 'remove it from storing()')
      }
    }
  }
  // Before WHERE: using hash, storing (...), with (bucket_count = n); after it, the visibility.
  const fragments: string[] = []
  const parameters: OperationNode[] = []
  let text = ''
  if (hash !== undefined) {
    text = renderHashSharding(hash.data.bucketCount as number | undefined).usingHash
  }
  if (storing !== undefined) {
    text += `${text === '' ? '' : ' '}storing (`
    storing.refs.forEach((ref, i) => {
      fragments.push(text)
      parameters.push(ref)
      text = i === storing.refs.length - 1 ? '' : ', '
    })
    text += ')'
  }
  const withClause = hash === undefined ? undefined : renderHashSharding(hash.data.bucketCount as number | undefined).withClause
  if (withClause !== undefined) {
    text += ` ${withClause}`
  }
  const where: WhereNode | undefined = node.where
  if (where !== undefined) {
    fragments.push(text === '' ? '' : `${text} `)
    parameters.push(where)
    text = ''
  }
  if (visibility !== undefined) {
    text += `${fragments.length === 0 && text === '' ? '' : ' '}${String(visibility.data.text)}`
  }
  fragments.push(text)
  const tail = fragments.length === 1 && fragments[0] === '' ? undefined : RawNode.create(fragments, parameters)
  return {
    ...node,
    using,
    columns: indexColumns,
    where: tail as unknown as WhereNode | undefined,
  }
}

/** The carried TTL parameters, e.g. `ttl_expire_after = '30 days'`. */
function ttlParameters(marker: SchemaMarker): string {
  return (marker.data.parameters as string[]).join(', ')
}

function localityNode(marker: SchemaMarker, prefix: string): RawNode {
  const text = `${prefix}${String(marker.data.text)}`
  return marker.refs.length === 0 ? raw(text) : RawNode.create([`${text} `, ''], [marker.refs[0]!])
}

// Kysely clauses CockroachDB's grammar (pkg/sql/parser/sql.y) has no place for, refused before
// sending rather than left to a syntax error:
// - `col_qualification_elem: UNIQUE opt_without_index` and `constraint_elem: UNIQUE opt_without_index
//   '(' index_params ')' ...` have no NULLS NOT DISTINCT (nor has create_index_stmt);
// - `index_def: INDEX opt_index_name '(' index_params ')' opt_hash_sharded opt_storing ...`: after
//   the column list only `USING HASH [WITH BUCKET_COUNT ...]` (opt_hash_sharded), no access method.
//   Kysely 0.29's createTable().addIndex(..., ib => ib.using(x)) prints `index "i" (...) using x`,
//   so using('hash') happens to be CockroachDB's hash-sharded index with the default bucket count
//   and is let through; anything else is a syntax error;
// - alter_table_cmd has no ADD INDEX (Kysely's alterTable().addIndex() prints MySQL's form).
function refuseNullsNotDistinct(node: { readonly nullsNotDistinct?: boolean } | undefined, api: string): void {
  if (node?.nullsNotDistinct === true) {
    throw new QueryRefusedError(
      api,
      "CockroachDB's UNIQUE has no NULLS NOT DISTINCT (col_qualification_elem and constraint_elem in its grammar)",
      'remove it',
    )
  }
}

function checkConstraint(node: OperationNode | undefined): void {
  if (node?.kind === 'UniqueConstraintNode') {
    refuseNullsNotDistinct(node as { nullsNotDistinct?: boolean }, 'addUniqueConstraint().nullsNotDistinct()')
  }
}

function checkTableClauses(node: CreateTableNode): void {
  for (const column of node.columns) {
    refuseNullsNotDistinct(column as { nullsNotDistinct?: boolean }, 'addColumn().nullsNotDistinct()')
  }
  for (const constraint of node.constraints ?? []) {
    checkConstraint(constraint)
  }
  // `indexes` exists from kysely 0.29 (createTable().addIndex()).
  for (const index of (node as { readonly indexes?: readonly { readonly using?: RawNode }[] }).indexes ?? []) {
    const method = index.using?.sqlFragments.join('').trim()
    if (method !== undefined && method.toLowerCase() !== 'hash') {
      throw new QueryRefusedError(
        `createTable().addIndex().using('${method}')`,
        "CockroachDB's index_def takes no access method after the column list (only USING HASH, for a hash-sharded index)",
        'create the index with db.schema.createIndex(...) after the table (.using(...) or .$call(invertedIndex()) there)',
      )
    }
  }
}

function checkAlterTableClauses(node: AlterTableNode): void {
  if (node.addIndex !== undefined) {
    throw new QueryRefusedError(
      'alterTable().addIndex()',
      "it prints MySQL's ALTER TABLE ... ADD INDEX, which CockroachDB's alter_table_cmd does not have",
      'use db.schema.createIndex(name).on(table) instead',
    )
  }
  for (const alteration of node.columnAlterations ?? []) {
    if (alteration.kind === 'AddColumnNode') {
      refuseNullsNotDistinct((alteration as { column: { nullsNotDistinct?: boolean } }).column, 'addColumn().nullsNotDistinct()')
    }
  }
  checkConstraint(node.addConstraint?.constraint)
}

/**
 * CREATE TABLE with a TTL, a locality or a hash-sharded primary key; `undefined` without markers.
 */
export function rewriteCreateTable(node: CreateTableNode): CreateTableNode | undefined {
  checkTableClauses(node)
  const endModifiers = node.endModifiers
  if (endModifiers === undefined || !endModifiers.some((m) => m.kind === 'RawNode' && readSchemaMarker(m) !== undefined)) {
    return undefined
  }
  const { markers, rest } = splitMarkers(endModifiers, ['hash', 'ttl', 'locality'], 'table')
  const ttl = markers.get('ttl')
  const locality = markers.get('locality')
  const hash = markers.get('hash')
  const first = HELPER[[...markers.keys()][0]!]
  if (node.selectQuery !== undefined || node.temporary === true || node.onCommit !== undefined) {
    throw new QueryRefusedError(
      first,
      'CockroachDB takes it only on a plain CREATE TABLE, not on CREATE TABLE AS or a temporary table',
      'create the table, then use alterTable(...).$call(...)',
    )
  }
  let columns = node.columns
  let constraints = node.constraints
  if (hash !== undefined) {
    ;({ columns, constraints } = hashPrimaryKey(node, hash))
  }
  const added: OperationNode[] = []
  if (ttl !== undefined) {
    added.push(raw(`with (${ttlParameters(ttl)})`))
  }
  if (locality !== undefined) {
    added.push(localityNode(locality, 'locality '))
  }
  const modifiers = [...rest, ...added]
  return { ...node, columns, constraints, endModifiers: modifiers.length === 0 ? undefined : modifiers }
}

function hashPrimaryKey(
  node: CreateTableNode,
  marker: SchemaMarker,
): { columns: CreateTableNode['columns']; constraints: CreateTableNode['constraints'] } {
  const { usingHash, withClause } = renderHashSharding(marker.data.bucketCount as number | undefined)
  const clause = withClause === undefined ? usingHash : `${usingHash} ${withClause}`
  const pkColumns = node.columns.filter((c) => c.primaryKey === true)
  const pkConstraints = (node.constraints ?? []).filter((c) => c.kind === 'PrimaryKeyConstraintNode')
  if (pkColumns.length + pkConstraints.length !== 1) {
    throw new QueryRefusedError(
      'hashSharded()',
      `on createTable it hash-shards the primary key, and this table has ${pkColumns.length + pkConstraints.length === 0 ? 'none' : 'several'}`,
      'add .primaryKey() to one column or .addPrimaryKeyConstraint(...)',
    )
  }
  if (pkColumns.length === 1) {
    const target = pkColumns[0]!
    const columns = node.columns.map((c): ColumnDefinitionNode =>
      c !== target ? c : { ...c, primaryKey: false, endModifiers: [raw(`primary key ${clause}`), ...(c.endModifiers ?? [])] },
    )
    return { columns, constraints: node.constraints }
  }
  const pk = pkConstraints[0] as PrimaryKeyConstraintNode
  if (pk.deferrable !== undefined || pk.initiallyDeferred !== undefined) {
    throw new QueryRefusedError('hashSharded()', 'CockroachDB has no deferrable primary keys', 'remove deferrable()/initiallyDeferred()')
  }
  // `[constraint <name> ]primary key (<columns>) using hash ...`, Kysely's visitPrimaryKeyConstraint
  // text with the clause after it.
  const fragments: string[] = []
  const parameters: OperationNode[] = []
  if (pk.name !== undefined) {
    fragments.push('constraint ')
    parameters.push(pk.name)
  }
  pk.columns.forEach((column, i) => {
    fragments.push(i === 0 ? `${pk.name === undefined ? '' : ' '}primary key (` : ', ')
    parameters.push(column)
  })
  fragments.push(`) ${clause}`)
  const constraint = RawNode.create(fragments, parameters)
  return {
    columns: node.columns,
    constraints: node.constraints?.map((c) => (c === pk ? (constraint as unknown as PrimaryKeyConstraintNode) : c)),
  }
}

/**
 * ALTER TABLE carrying a helper's command (rowLevelTtl, resetRowLevelTtl, locality,
 * alterPrimaryKey); `undefined` for any other ALTER TABLE.
 */
export function rewriteAlterTable(node: AlterTableNode): AlterTableNode | undefined {
  checkAlterTableClauses(node)
  const constraint = node.addConstraint?.constraint
  if (constraint === undefined || constraint.kind !== 'CheckConstraintNode') {
    return undefined
  }
  const read = readSchemaMarker((constraint as { expression?: OperationNode }).expression)
  if (read === undefined) {
    return undefined
  }
  const marker = checkedMarker(read)
  let command: OperationNode
  switch (marker.kind) {
    case 'ttl':
      command = raw(`set (${ttlParameters(marker)})`)
      break
    case 'ttl-reset':
      command = raw(`reset (${(marker.data.keys as string[]).join(', ')})`)
      break
    case 'locality':
      command = localityNode(marker, 'set locality ')
      break
    case 'alter-pk': {
      const fragments = ['alter primary key using columns (', ...marker.refs.slice(1).map(() => ', ')]
      let tail = ')'
      if (marker.data.hash === true) {
        const { usingHash, withClause } = renderHashSharding(marker.data.bucketCount as number | undefined)
        tail += ` ${usingHash}${withClause === undefined ? '' : ` ${withClause}`}`
      }
      command = RawNode.create([...fragments, tail], [...marker.refs])
      break
    }
    default:
      throw new QueryRefusedError(
        HELPER[marker.kind],
        'it cannot be used on alterTable',
        'use it on db.schema.createIndex(...) or createTable(...)',
      )
  }
  return { ...node, addConstraint: undefined, columnAlterations: [command as never] }
}
