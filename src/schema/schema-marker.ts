// How the schema helpers (hashSharded, storing, invertedIndex, notVisible, rowLevelTtl, locality,
// alterPrimaryKey) travel through Kysely's schema builders to CockroachQueryCompiler. Internal: not
// exported from the package.
//
// Kysely's CreateIndexNode, PrimaryKeyConstraintNode and AlterTableNode have no modifier slot, and
// OperationNodeTransformer (what CamelCasePlugin and WithSchemaPlugin run) rebuilds nodes from a
// fixed list of fields, dropping anything extra. It keeps RawNode fragments verbatim and transforms
// RawNode parameters. So a helper's options ride as a RawNode whose first fragment is
// `/*kysely-cockroachdb:<kind>:<json>*/`, and the identifiers it names (stored columns, the
// locality column, the new primary key's columns) are its parameters, column references that
// CamelCasePlugin renames like any other column. Where each marker is put:
//
// - createIndex: appended to the index's `columns` (CreateIndexBuilder.expression(), in kysely 0.28
//   and 0.29 alike); the compiler takes it out again, wherever it sits in the list;
// - createTable: `modifyEnd()` (CreateTableNode.endModifiers);
// - alterTable: `addCheckConstraint('kysely_cockroachdb', marker)`, the one AlterTableBuilder method
//   that takes an expression and returns an executor in both kysely versions; the compiler prints
//   the CockroachDB command instead of the constraint.
//
// A query with a marker compiled by another compiler keeps the comment text and fails on the
// server: the helpers need CockroachDialect (or CockroachQueryCompiler).
import { ColumnNode, RawNode } from 'kysely'
import type { OperationNode } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { assertKnownKeys } from '../util/known-keys.js'

/** What a marker carries. */
export type SchemaMarkerKind = 'hash' | 'storing' | 'inverted' | 'visibility' | 'ttl' | 'ttl-reset' | 'locality' | 'alter-pk'

const KINDS: ReadonlySet<string> = new Set(['hash', 'storing', 'inverted', 'visibility', 'ttl', 'ttl-reset', 'locality', 'alter-pk'])
const PREFIX = '/*kysely-cockroachdb:'
const SUFFIX = '*/'
const HEAD = /^\/\*kysely-cockroachdb:([a-z-]+):(\{.*\})\*\/$/s

/** A marker as the compiler reads it back. */
export interface SchemaMarker {
  readonly kind: SchemaMarkerKind
  /** The validated option values the helper rendered: SQL text fragments and numbers only. */
  readonly data: Readonly<Record<string, unknown>>
  /** The identifiers the helper named, as (plugin-transformed) column references. */
  readonly refs: readonly OperationNode[]
  readonly node: RawNode
}

/**
 * A marker node. `data` must hold values the helper validated (the compiler writes them into the SQL
 * text), `refs` names checked with {@link checkColumnName}.
 */
export function createSchemaMarker(kind: SchemaMarkerKind, data: object, refs: readonly string[] = []): RawNode {
  // `\/` is JSON's escape for `/`, so no `*/` in the data (say, in a TTL expression) can end the comment.
  const json = JSON.stringify(data).replace(/\//g, '\\/')
  const head = `${PREFIX}${kind}:${json}${SUFFIX}`
  if (refs.length === 0) {
    return RawNode.create([head], [])
  }
  return RawNode.create(
    [head, ...refs.slice(1).map(() => ', '), ''],
    refs.map((name) => ColumnNode.create(name)),
  )
}

/** The marker `node` is, or undefined for any other node (also a RawNode of the user's that looks alike). */
export function readSchemaMarker(node: OperationNode | undefined): SchemaMarker | undefined {
  if (node === undefined || node.kind !== 'RawNode') {
    return undefined
  }
  const raw = node as RawNode
  const { sqlFragments, parameters } = raw
  const head = sqlFragments[0]
  if (head === undefined || !head.startsWith(PREFIX) || sqlFragments.length !== parameters.length + 1) {
    return undefined
  }
  // The separators are exactly those createSchemaMarker writes.
  for (let i = 1; i < sqlFragments.length; i++) {
    if (sqlFragments[i] !== (i === sqlFragments.length - 1 ? '' : ', ')) {
      return undefined
    }
  }
  const match = HEAD.exec(head)
  if (match === null || !KINDS.has(match[1]!)) {
    return undefined
  }
  let data: unknown
  try {
    data = JSON.parse(match[2]!)
  } catch {
    return undefined
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return undefined
  }
  return { kind: match[1] as SchemaMarkerKind, data: data as Record<string, unknown>, refs: parameters, node: raw }
}

/**
 * A column name a helper writes as a reference: a non-empty string without a `.` (a qualified
 * reference would be schema-qualified by WithSchemaPlugin, and CockroachDB's `name_list` takes plain
 * names, pkg/sql/parser/sql.y) and without NUL.
 */
export function checkColumnName(name: unknown, api: string, example: string): string {
  if (typeof name !== 'string' || name.trim().length === 0 || name.includes('.') || name.includes('\0') || name !== name.trim()) {
    throw new QueryRefusedError(
      api,
      `${JSON.stringify(name)} is not a column name (give plain names without a table prefix)`,
      `write it as ${example}`,
    )
  }
  return name
}

/** Refuses unknown option keys, which would otherwise be ignored silently (the package's one check). */
export function assertOptionKeys(value: object, allowed: readonly string[], api: string): void {
  assertKnownKeys(api, value, allowed)
}

export { describeValue } from '../util/describe-value.js'
