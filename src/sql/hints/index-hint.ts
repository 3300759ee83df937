import type { Kysely, QueryCreator } from 'kysely'
import { HintedTable } from './hinted-table.js'
import { parseTable, quoteUserIdentifier } from './table-hint-marker.js'
import { QueryRefusedError } from '../../errors/query-refused-error.js'
import { assertKnownKeys } from '../../util/known-keys.js'
import { describeValue } from '../../util/describe-value.js'

/**
 * Index hints for {@link indexHint}, CockroachDB's `@{...}` flags (docs
 * /docs/stable/table-expressions#force-index-selection; `index_flags_param` in
 * pkg/sql/parser/sql.y). Index names are used exactly as given, quoted; plugins do not rename them.
 *
 * ```ts
 * import { indexHint } from 'kysely-cockroachdb'
 *
 * db.selectFrom(indexHint(db, 'account', { forceIndex: 'account_name_key', direction: 'desc' })).selectAll()
 * // select * from "account"@{FORCE_INDEX="account_name_key",DESC}
 * ```
 */
export interface IndexHintOptions {
  /** `FORCE_INDEX=<index>`: scan this index (`'primary'` for the primary index). */
  readonly forceIndex?: string
  /** `ASC`/`DESC` after FORCE_INDEX: scan the forced index in this direction. Needs `forceIndex`. */
  readonly direction?: 'asc' | 'desc'
  /** `NO_INDEX_JOIN`: only indexes that cover the query, no lookup back into the primary index. */
  readonly noIndexJoin?: boolean
  /** `NO_ZIGZAG_JOIN`: never plan a zigzag join on this table. */
  readonly noZigzagJoin?: boolean
  /** `NO_FULL_SCAN`: fail rather than scan the whole table or index (partial indexes excepted). */
  readonly noFullScan?: boolean
  /** `AVOID_FULL_SCAN`: prefer any plan without a full scan, but allow one if there is none. */
  readonly avoidFullScan?: boolean
  /**
   * `FORCE_ZIGZAG`: `true` lets the optimizer choose the indexes; one or two index names force those
   * (`FORCE_ZIGZAG=a,FORCE_ZIGZAG=b`).
   */
  readonly forceZigzag?: boolean | string | readonly string[]
}

const OPTION_KEYS: readonly string[] = Object.freeze([
  'forceIndex',
  'direction',
  'noIndexJoin',
  'noZigzagJoin',
  'noFullScan',
  'avoidFullScan',
  'forceZigzag',
])
const FLAGS = Object.freeze([
  ['noIndexJoin', 'NO_INDEX_JOIN'],
  ['noZigzagJoin', 'NO_ZIGZAG_JOIN'],
  ['noFullScan', 'NO_FULL_SCAN'],
  ['avoidFullScan', 'AVOID_FULL_SCAN'],
] as const)

/**
 * A table with CockroachDB index hints, for `selectFrom`, joins, `updateTable` and `deleteFrom`. An
 * index name as the hint gives `t@idx`; options give `t@{...}`. Kysely types the result like the
 * table itself; `.as()` adds an alias.
 *
 * ```ts
 * import { indexHint } from 'kysely-cockroachdb'
 *
 * db.selectFrom(indexHint(db, 'person', 'person_name_idx')).selectAll()
 * // select * from "person"@"person_name_idx"
 *
 * db.selectFrom(indexHint(db, 'person', { forceIndex: 'person_name_idx', direction: 'desc' }).as('p'))
 *   .select('p.name')
 * // select "p"."name" from "person"@{FORCE_INDEX="person_name_idx",DESC} as "p"
 *
 * db.selectFrom('pet')
 *   .innerJoin(indexHint(db, 'person', { noFullScan: true }), 'person.id', 'pet.owner_id')
 *   .selectAll()
 * // select * from "pet" inner join "person"@{NO_FULL_SCAN} on "person"."id" = "pet"."owner_id"
 * ```
 *
 * Combinations CockroachDB refuses (pkg/sql/sem/tree/select.go, IndexFlags.Check) are refused here
 * too: a direction without forceIndex, forceIndex with noIndexJoin, and forceZigzag with
 * forceIndex, noIndexJoin or noZigzagJoin.
 *
 * @param db only carries the database types: your Kysely instance or transaction.
 */
export function indexHint<DB, T extends keyof DB & string>(db: Kysely<DB>, table: T, hint: string | IndexHintOptions): HintedTable<DB[T], T>
/** The same with a `QueryCreator` carrying the types, e.g. inside `db.with(...)`. */
export function indexHint<DB, T extends keyof DB & string>(
  db: QueryCreator<DB>,
  table: T,
  hint: string | IndexHintOptions,
): HintedTable<DB[T], T>
export function indexHint<DB, T extends keyof DB & string>(
  db: QueryCreator<DB>,
  table: T,
  hint: string | IndexHintOptions,
): HintedTable<DB[T], T> {
  if (typeof db !== 'object' || db === null) {
    throw new QueryRefusedError(
      'indexHint()',
      'the first argument must be your Kysely instance (it carries the table types)',
      "call it as indexHint(db, 'table', hint)",
    )
  }
  return new HintedTable<DB[T], T>(parseTable(table, 'indexHint()'), table, undefined, undefined, renderIndexHint(hint))
}

function renderIndexHint(hint: string | IndexHintOptions): string {
  if (typeof hint === 'string') {
    return quoteUserIdentifier(hint, 'indexHint()', 'the index name')
  }
  if (typeof hint !== 'object' || hint === null) {
    throw new QueryRefusedError(
      'indexHint()',
      `the hint must be an index name or an options object, got ${describeValue(hint)}`,
      "give 'idx' or options such as { forceIndex: 'idx' }",
    )
  }
  assertKnownKeys('indexHint()', hint, OPTION_KEYS)
  const parts: string[] = []
  const forceIndex = hint.forceIndex
  if (forceIndex !== undefined) {
    parts.push(`FORCE_INDEX=${quoteUserIdentifier(forceIndex, 'indexHint()', 'forceIndex')}`)
  }
  if (hint.direction !== undefined) {
    if (hint.direction !== 'asc' && hint.direction !== 'desc') {
      throw new QueryRefusedError(
        'indexHint()',
        `direction must be 'asc' or 'desc', got ${describeValue(hint.direction)}`,
        "use 'asc' or 'desc'",
      )
    }
    if (forceIndex === undefined) {
      throw new QueryRefusedError(
        'indexHint()',
        'direction needs forceIndex (CockroachDB: "ASC/DESC must be specified in conjunction with an index")',
        "add forceIndex, as in { forceIndex: 'idx', direction: 'desc' }",
      )
    }
    parts.push(hint.direction.toUpperCase())
  }
  for (const [key, flag] of FLAGS) {
    const value = hint[key]
    if (value !== undefined && typeof value !== 'boolean') {
      throw new QueryRefusedError('indexHint()', `${key} must be a boolean, got ${describeValue(value)}`, `use ${key}: true`)
    }
    if (value === true) {
      parts.push(flag)
    }
  }
  const zigzag = renderZigzag(hint.forceZigzag)
  if (hint.noIndexJoin === true && forceIndex !== undefined) {
    throw new QueryRefusedError(
      'indexHint()',
      'forceIndex and noIndexJoin cannot be combined (CockroachDB refuses FORCE_INDEX with NO_INDEX_JOIN)',
      'keep one of them',
    )
  }
  if (zigzag.length > 0) {
    const conflict =
      forceIndex !== undefined
        ? 'forceIndex'
        : hint.noIndexJoin === true
          ? 'noIndexJoin'
          : hint.noZigzagJoin === true
            ? 'noZigzagJoin'
            : undefined
    if (conflict !== undefined) {
      throw new QueryRefusedError(
        'indexHint()',
        `forceZigzag cannot be combined with ${conflict} (CockroachDB refuses FORCE_ZIGZAG with it)`,
        `drop forceZigzag or ${conflict}`,
      )
    }
    parts.push(...zigzag)
  }
  if (parts.length === 0) {
    throw new QueryRefusedError('indexHint()', 'no hint given', 'set at least one option, e.g. { noFullScan: true }')
  }
  return `{${parts.join(',')}}`
}

function renderZigzag(value: IndexHintOptions['forceZigzag']): string[] {
  if (value === undefined || value === false) {
    return []
  }
  if (value === true) {
    return ['FORCE_ZIGZAG']
  }
  const names = typeof value === 'string' ? [value] : value
  if (!Array.isArray(names) || names.length === 0) {
    throw new QueryRefusedError(
      'indexHint()',
      `forceZigzag must be true, an index name or a non-empty array of index names, got ${describeValue(value)}`,
      "use forceZigzag: true or forceZigzag: ['idx_a', 'idx_b']",
    )
  }
  return names.map((name) => `FORCE_ZIGZAG=${quoteUserIdentifier(name, 'indexHint()', 'a forceZigzag index name')}`)
}
