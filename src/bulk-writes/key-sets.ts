// Which columns each row fills, and the checks on them. Pure: no I/O.
//
// Kysely's values([...]) turns a missing or undefined key into DEFAULT (the column's default), so
// insertMany keeps that meaning by grouping the rows of a batch by their set of defined keys: each
// group is one statement naming only its columns. upsertMany refuses rows with different key sets
// (UPSERT overwrites the columns it names and keeps the others, so a row without `price` next to
// rows with `price` is ambiguous), and copyInto refuses a row without a value for one of its
// columns (COPY has no per-cell DEFAULT on PostgreSQL 15 or CockroachDB).
import { QueryRefusedError } from '../errors/query-refused-error.js'

type Row = Readonly<Record<string, unknown>>

/** Whether a cell is a Kysely expression (sql`now()`, eb.val(...)): anything with toOperationNode. */
export function isExpressionCell(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { toOperationNode?: unknown }).toOperationNode === 'function'
}

/** The keys of `row` whose value is not undefined, in the row's order. */
export function definedKeys(row: Row): string[] {
  const keys: string[] = []
  for (const key in row) if (row[key] !== undefined) keys.push(key)
  return keys
}

/** The rows of one key set, with their indexes in the batch. */
export interface KeyGroup<R extends Row> {
  /** The defined keys, in the order of the group's first row. */
  readonly columns: readonly string[]
  readonly rows: R[]
  /** Whether a cell of some row is a Kysely expression. */
  hasExpression: boolean
}

/** Groups rows by their set of defined keys (order-insensitive), groups in order of first appearance. */
export function groupByKeySet<R extends Row>(rows: readonly R[]): KeyGroup<R>[] {
  const groups = new Map<string, KeyGroup<R>>()
  let previous: KeyGroup<R> | undefined
  for (const row of rows) {
    // The common case: the same keys in the same order as the previous row.
    if (previous !== undefined && hasKeysInOrder(row, previous.columns)) {
      previous.rows.push(row)
      if (!previous.hasExpression) previous.hasExpression = previous.columns.some((key) => isExpressionCell(row[key]))
      continue
    }
    const keys = definedKeys(row)
    const signature = keys.length < 2 ? keys.join('\0') : [...keys].sort().join('\0')
    let group = groups.get(signature)
    if (group === undefined) {
      group = { columns: keys, rows: [], hasExpression: false }
      groups.set(signature, group)
    }
    group.rows.push(row)
    previous = group
    if (!group.hasExpression) {
      for (const key of keys) {
        if (isExpressionCell(row[key])) {
          group.hasExpression = true
          break
        }
      }
    }
  }
  return [...groups.values()]
}

function hasKeysInOrder(row: Row, columns: readonly string[]): boolean {
  let i = 0
  for (const key in row) {
    if (row[key] === undefined) continue
    if (columns[i] !== key) return false
    i++
  }
  return i === columns.length
}

const list = (keys: readonly string[]) => `(${keys.join(', ')})`

/**
 * upsertMany: every row has the key set of the first row (`reference`, that of row 0). `first` is
 * the index of rows[0] in the whole input.
 */
export function checkSameKeys(api: string, rows: readonly Row[], first: number, reference: readonly string[]): void {
  const expected = new Set(reference)
  for (let i = 0; i < rows.length; i++) {
    const keys = definedKeys(rows[i]!)
    if (keys.length !== expected.size || keys.some((key) => !expected.has(key))) {
      throw new QueryRefusedError(
        api,
        `row ${first + i} has the keys ${list(keys)} but row 0 has ${list(reference)}. UPSERT overwrites the columns it ` +
          'lists and keeps the others, so rows with different keys are ambiguous',
        `Give every row the same keys (null clears a value), or call ${api} once per key set`,
      )
    }
  }
}

/** copyInto: every row has a value for each of `columns` and no other key. */
export function checkCopyRows(api: string, rows: readonly Row[], first: number, columns: readonly string[]): void {
  const known = new Set(columns)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    for (const column of columns) {
      if (row[column] === undefined) {
        throw new QueryRefusedError(
          api,
          `row ${first + i} has no value for "${column}". COPY cannot apply a column default to single rows`,
          `Give every row every column (null for NULL), leave "${column}" out of columns so its default applies to all rows, or use insertMany`,
        )
      }
      if (isExpressionCell(row[column])) {
        throw new QueryRefusedError(
          api,
          `row ${first + i} has a Kysely expression for "${column}"; COPY sends data, not SQL`,
          'Compute the value in JavaScript, or use insertMany, which sends such rows through insertInto().values()',
        )
      }
    }
    for (const key in row) {
      if (!known.has(key) && row[key] !== undefined) {
        throw new QueryRefusedError(
          api,
          `row ${first + i} has the key "${key}", which is not one of the columns ${list(columns)}`,
          'Pass { columns } with every column to copy, or give every row the keys of the first row',
        )
      }
    }
  }
}
