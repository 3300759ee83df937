// Puts a schema marker (schema-marker.ts) on the Kysely builder a helper was `$call`ed with.
// Internal: not exported from the package. The builders are told apart by their methods, which
// kysely 0.28 and 0.29 share: CreateIndexBuilder has `on` and `expression`, CreateTableBuilder
// `addColumn` and `modifyEnd`, AlterTableBuilder `alterColumn` and `addCheckConstraint` (and no
// `modifyEnd`).
import type { Expression, RawNode } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'

/** The name of the CHECK constraint an ALTER TABLE marker rides in; never printed. */
export const ALTER_TABLE_CARRIER = 'kysely_cockroachdb'

type Builder = Record<string, unknown>

function has(qb: unknown, ...methods: string[]): qb is Builder {
  return typeof qb === 'object' && qb !== null && methods.every((m) => typeof (qb as Builder)[m] === 'function')
}

function asExpression(marker: RawNode): Expression<unknown> {
  return {
    get expressionType() {
      return undefined
    },
    toOperationNode: () => marker,
  }
}

export function isCreateIndexBuilder(qb: unknown): boolean {
  return has(qb, 'on', 'expression', 'columns')
}

export function isCreateTableBuilder(qb: unknown): boolean {
  return has(qb, 'addColumn', 'modifyEnd')
}

export function isAlterTableBuilder(qb: unknown): boolean {
  return has(qb, 'alterColumn', 'addCheckConstraint') && !has(qb, 'modifyEnd')
}

export function attachToCreateIndex(qb: unknown, marker: RawNode): unknown {
  return ((qb as Builder).expression as (e: Expression<unknown>) => unknown).call(qb, asExpression(marker))
}

export function attachToCreateTable(qb: unknown, marker: RawNode): unknown {
  return ((qb as Builder).modifyEnd as (e: Expression<unknown>) => unknown).call(qb, asExpression(marker))
}

export function attachToAlterTable(qb: unknown, marker: RawNode): unknown {
  return ((qb as Builder).addCheckConstraint as (name: string, e: Expression<unknown>) => unknown).call(
    qb,
    ALTER_TABLE_CARRIER,
    asExpression(marker),
  )
}

/** Attaches to the first of `targets` that `qb` is, else refuses naming where the helper works. */
export function attachMarker(
  qb: unknown,
  marker: RawNode,
  api: string,
  targets: readonly ('createIndex' | 'createTable' | 'alterTable')[],
): unknown {
  for (const target of targets) {
    if (target === 'createIndex' && isCreateIndexBuilder(qb)) return attachToCreateIndex(qb, marker)
    if (target === 'createTable' && isCreateTableBuilder(qb)) return attachToCreateTable(qb, marker)
    if (target === 'alterTable' && isAlterTableBuilder(qb)) return attachToAlterTable(qb, marker)
  }
  const where = targets.map((t) => `db.schema.${t}(...)`).join(' or ')
  throw new QueryRefusedError(api, `it works on ${where} only, not on this builder`, `call it as ${where}.$call(${api})`)
}
