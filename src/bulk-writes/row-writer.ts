// The statements insertMany and upsertMany send for one batch, built (and every cell checked)
// before the batch's transaction begins, so bad input is refused before anything is sent and a
// retry re-sends the same statements.
import { sql } from 'kysely'
import type { CompiledQuery, Kysely, RawBuilder } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { upsertInto } from '../sql/upsert-into.js'
import { valuesChunkRows, chunk } from './batch-planning.js'
import { arrayEncoder, CellRefusal } from './column-encoding.js'
import type { ColumnType } from './column-encoding.js'
import { groupByKeySet } from './key-sets.js'
import type { KeyGroup } from './key-sets.js'

/** Any table of any schema: the helpers are typed at their signatures, built untyped inside. */
export type AnyDB = Record<string, Record<string, unknown>>
export type Row = Readonly<Record<string, unknown>>

/** More key sets than this in one batch send the batch as one multi-row VALUES (Kysely prints DEFAULT). */
export const MAX_GROUPS = 8

export interface WriteShape {
  readonly api: 'insertMany' | 'upsertMany'
  readonly table: string
  readonly form: 'auto' | 'values'
  readonly returning: readonly string[] | undefined
  /** Column types by the caller's names; a column without one goes through VALUES. */
  readonly types: ReadonlyMap<string, ColumnType>
  /** Upsert only: the statement form. */
  readonly upsert?: { readonly kind: 'upsert' } | { readonly kind: 'on-conflict'; readonly conflict: readonly string[] } | undefined
}

/** The compiled statements of one batch. Throws QueryRefusedError for a cell its column cannot take. */
export function buildStatements(db: Kysely<AnyDB>, shape: WriteShape, rows: readonly Row[], first: number): CompiledQuery[] {
  const groups = groupByKeySet(rows)
  if (shape.form === 'values' || groups.length > MAX_GROUPS) {
    const columns = new Set<string>()
    for (const group of groups) for (const column of group.columns) columns.add(column)
    return valuesStatements(db, shape, rows, columns.size)
  }
  const statements: CompiledQuery[] = []
  for (const group of groups) {
    if (group.columns.length === 0) {
      // Rows with no values at all: `insert into t default values` per row, as Kysely has no multi-row form.
      for (let i = 0; i < group.rows.length; i++) statements.push(defaultValues(db, shape))
      continue
    }
    const types = group.columns.map((column) => shape.types.get(column))
    if (group.hasExpression || types.some((type) => type === undefined)) {
      statements.push(...valuesStatements(db, shape, group.rows, group.columns.length))
    } else {
      statements.push(arrayStatement(db, shape, group, types as ColumnType[], rows, first))
    }
  }
  return statements
}

function defaultValues(db: Kysely<AnyDB>, shape: WriteShape): CompiledQuery {
  let query = db.insertInto(shape.table).defaultValues()
  if (shape.returning !== undefined) query = query.returning(shape.returning) as unknown as typeof query
  return query.compile()
}

/** One array parameter per column: insert into t (c...) select u.c1, u.c2::jsonb ... from unnest($1::int8[], ...) as u(c1, ...). */
function arrayStatement(
  db: Kysely<AnyDB>,
  shape: WriteShape,
  group: KeyGroup<Row>,
  types: readonly ColumnType[],
  batch: readonly Row[],
  first: number,
): CompiledQuery {
  const { columns, rows } = group
  const parameters: RawBuilder<unknown>[] = []
  const select: string[] = []
  const aliases: string[] = []
  for (let c = 0; c < columns.length; c++) {
    const column = columns[c]!
    const type = types[c]!
    const values = new Array<unknown>(rows.length)
    const encode = arrayEncoder(type)
    for (let r = 0; r < rows.length; r++) {
      const value = rows[r]![column]
      if (value === null || value === undefined) {
        values[r] = null
        continue
      }
      const element = encode(value)
      if (element instanceof CellRefusal) {
        throw new QueryRefusedError(
          shape.api,
          `row ${first + batch.indexOf(rows[r]!)}, column "${column}": ${element.problem}`,
          element.fix,
        )
      }
      values[r] = element
    }
    // Internal aliases c1...cN and validated type names only: no caller identifier enters raw text.
    parameters.push(sql`${sql.val(values)}::${sql.raw(type.parameter)}[]`)
    aliases.push(`c${c + 1}`)
    select.push(type.cast === undefined ? `u.c${c + 1}` : `u.c${c + 1}::${type.cast}`)
  }
  const source = sql`select ${sql.raw(select.join(', '))} from unnest(${sql.join(parameters)}) as u(${sql.raw(aliases.join(', '))})`
  let query = start(db, shape)
    .columns(columns as never)
    .expression(source)
  query = conflict(query, shape, columns)
  if (shape.returning !== undefined) query = query.returning(shape.returning as never) as unknown as typeof query
  return query.compile()
}

/** Kysely's own multi-row VALUES, in chunks of at most 65,535 parameters. */
function valuesStatements(db: Kysely<AnyDB>, shape: WriteShape, rows: readonly Row[], columns: number): CompiledQuery[] {
  return chunk(rows, valuesChunkRows(columns)).map((part) => {
    let query = start(db, shape).values(part as never)
    const keys = new Set<string>()
    for (const row of part) for (const key in row) if (row[key] !== undefined) keys.add(key)
    query = conflict(query, shape, [...keys])
    if (shape.returning !== undefined) query = query.returning(shape.returning as never) as unknown as typeof query
    return query.compile()
  })
}

function start(db: Kysely<AnyDB>, shape: WriteShape) {
  return shape.upsert?.kind === 'upsert' ? upsertInto(db, shape.table) : db.insertInto(shape.table)
}

type Insert = ReturnType<typeof start>

/** PostgreSQL (or a conflict target other than the primary key): ON CONFLICT (...) DO UPDATE SET c = excluded.c. */
function conflict(query: Insert, shape: WriteShape, columns: readonly string[]): Insert {
  if (shape.upsert?.kind !== 'on-conflict') return query
  const target = shape.upsert.conflict
  const rest = columns.filter((column) => !target.includes(column))
  return query.onConflict((oc) => {
    const on = oc.columns(target as never)
    if (rest.length === 0) return on.doNothing()
    return on.doUpdateSet(Object.fromEntries(rest.map((column) => [column, sql.ref(`excluded.${column}`)])) as never)
  })
}
