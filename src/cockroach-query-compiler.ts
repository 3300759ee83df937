import { PostgresQueryCompiler } from 'kysely'
import type {
  AliasNode,
  CompiledQuery,
  DeleteQueryNode,
  InsertQueryNode,
  JoinNode,
  OperationNode,
  QueryId,
  RawNode,
  RootOperationNode,
  SelectQueryNode,
  UpdateQueryNode,
} from 'kysely'
import { AS_OF_SYSTEM_TIME_PREFIX } from './as-of-system-time-literal.js'
import { readTableHint } from './table-hint-marker.js'

const LOCKING_MODIFIERS: ReadonlySet<string> = new Set(['ForUpdate', 'ForNoKeyUpdate', 'ForShare', 'ForKeyShare'])

// `<join type> <hint> JOIN`: sql.y `table_ref join_type opt_join_hint JOIN table_ref join_qual`
// and `table_ref CROSS opt_join_hint JOIN table_ref`.
const HINTABLE_JOINS: Readonly<Record<string, string>> = Object.freeze({
  InnerJoin: 'inner',
  LeftJoin: 'left',
  RightJoin: 'right',
  FullJoin: 'full',
  CrossJoin: 'cross',
})

/**
 * Kysely's Postgres compiler with CockroachDB's own SQL:
 *
 * - an insert built by `replaceInto()` / {@link upsertInto} compiles to `upsert into`;
 * - {@link asOfSystemTime} is placed right after the FROM clause and its joins, where CockroachDB's
 *   grammar has it (`from_clause: FROM from_list opt_as_of_clause` in pkg/sql/parser/sql.y), and
 *   what CockroachDB would refuse about it is refused at compile time;
 * - tables from {@link indexHint} and {@link joinHint} print their `@...` and join hints.
 *
 * Queries that use none of these compile exactly as with `PostgresQueryCompiler`, at the same cost:
 * each override checks one property before deferring to Kysely.
 *
 * ```ts
 * import { createQueryId } from 'kysely'
 * import { CockroachQueryCompiler, upsertInto } from 'kysely-cockroachdb'
 *
 * // CockroachDialect uses it; it can also compile without a connection:
 * const node = upsertInto(db, 'account').values(row).toOperationNode()
 * const compiled = new CockroachQueryCompiler().compileQuery(node, createQueryId())
 * ```
 */
export class CockroachQueryCompiler extends PostgresQueryCompiler {
  // The AS OF SYSTEM TIME clause of the statement's top-level SELECT while it is being compiled.
  #topLevelAsOf: string | undefined

  override compileQuery(node: RootOperationNode, queryId: QueryId): CompiledQuery {
    this.#topLevelAsOf = undefined
    return super.compileQuery(node, queryId)
  }

  protected override visitSelectQuery(node: SelectQueryNode): void {
    const modifiers = node.endModifiers
    if (modifiers === undefined) {
      return super.visitSelectQuery(node)
    }
    let asOf: RawNode | undefined
    let locking = false
    for (const modifier of modifiers) {
      if (isAsOfSystemTime(modifier.rawModifier)) {
        if (asOf !== undefined) {
          throw new Error('asOfSystemTime() was applied twice to the same SELECT; keep one.')
        }
        asOf = modifier.rawModifier
      } else if (modifier.modifier !== undefined && LOCKING_MODIFIERS.has(modifier.modifier)) {
        locking = true
      }
    }
    if (asOf === undefined) {
      return super.visitSelectQuery(node)
    }
    this.#checkAsOfSystemTime(node, asOf.sqlFragments[0]!, locking)
    // Compiled as a last "join": Kysely prints joins right after FROM, separated by spaces, which
    // is exactly where CockroachDB wants the clause.
    const rest = modifiers.filter((modifier) => modifier.rawModifier !== asOf)
    super.visitSelectQuery({
      ...node,
      joins: node.joins === undefined ? [asOf] : [...node.joins, asOf as unknown as JoinNode],
      endModifiers: rest.length === 0 ? undefined : rest,
    } as SelectQueryNode)
  }

  protected override visitInsertQuery(node: InsertQueryNode): void {
    this.#checkWrite(node.endModifiers, 'INSERT')
    if (node.replace !== true) {
      return super.visitInsertQuery(node)
    }
    this.#compileUpsert(node)
  }

  protected override visitUpdateQuery(node: UpdateQueryNode): void {
    this.#checkWrite(node.endModifiers, 'UPDATE')
    super.visitUpdateQuery(node)
  }

  protected override visitDeleteQuery(node: DeleteQueryNode): void {
    this.#checkWrite(node.endModifiers, 'DELETE')
    super.visitDeleteQuery(node)
  }

  protected override visitAlias(node: AliasNode): void {
    if (node.alias.kind !== 'RawNode') {
      return super.visitAlias(node)
    }
    const hint = readTableHint(node.alias as RawNode)
    if (hint === undefined) {
      return super.visitAlias(node)
    }
    if (hint.join !== undefined && this.parentNode?.kind !== 'JoinNode') {
      throw new Error(
        `joinHint('${hint.join}', ...) is only valid as the table of a join (innerJoin, leftJoin, ...), not in FROM.`,
      )
    }
    this.visitNode(node.node)
    if (hint.index !== '') {
      this.append('@')
      this.append(hint.index)
    }
    if (hint.alias !== undefined) {
      this.append(' as ')
      this.visitNode(hint.alias)
    }
  }

  protected override visitJoin(node: JoinNode): void {
    const table = node.table
    if (table.kind !== 'AliasNode' || (table as AliasNode).alias.kind !== 'RawNode') {
      return super.visitJoin(node)
    }
    const join = readTableHint((table as AliasNode).alias as RawNode)?.join
    if (join === undefined) {
      return super.visitJoin(node)
    }
    const joinType = HINTABLE_JOINS[node.joinType]
    if (joinType === undefined) {
      throw new Error(`joinHint('${join}', ...) cannot be used with a ${node.joinType}; use an inner, left, right, full or cross join.`)
    }
    // sql.y, opt_join_hint: "LOOKUP can only be used with INNER and LEFT joins" (INVERTED likewise).
    if ((join === 'lookup' || join === 'inverted') && joinType !== 'inner' && joinType !== 'left') {
      throw new Error(`joinHint('${join}', ...) works with inner and left joins only, not with a ${joinType} join.`)
    }
    this.append(`${joinType} ${join} join `)
    this.visitNode(table)
    if (node.on !== undefined) {
      this.append(' ')
      this.visitNode(node.on)
    }
  }

  #checkAsOfSystemTime(node: SelectQueryNode, clause: string, locking: boolean): void {
    if (locking) {
      throw new Error(
        'AS OF SYSTEM TIME cannot be combined with FOR UPDATE/FOR SHARE: historical reads take no locks. ' +
          'Remove the locking clause or asOfSystemTime().',
      )
    }
    if (node.from === undefined) {
      throw new Error('asOfSystemTime() needs a FROM clause: CockroachDB only accepts AS OF SYSTEM TIME after FROM.')
    }
    if (this.parentNode === undefined) {
      // CockroachDB looks for the clause on the statement's top-level SELECT clause only; a set
      // operation at the top is not one ((*planner).isAsOf in pkg/sql), so its branches'
      // clauses fail with "AS OF SYSTEM TIME must be provided on a top-level statement".
      if (node.setOperations !== undefined) {
        throw new Error(
          'AS OF SYSTEM TIME cannot be on a top-level UNION/INTERSECT/EXCEPT in CockroachDB. Wrap it: ' +
            "db.selectFrom(q1.union(q2).as('u')).selectAll().$call(asOfSystemTime(value)).",
        )
      }
      this.#topLevelAsOf = clause
      return
    }
    // Nested SELECTs may repeat the clause only if the top level has it, with the same timestamp
    // (Builder.validateAsOf in pkg/sql/opt/optbuilder).
    if (this.#topLevelAsOf === undefined) {
      throw new Error(
        'AS OF SYSTEM TIME must be on the top-level SELECT of the statement; CockroachDB refuses it on a subquery, ' +
          'CTE or UNION branch alone. Apply asOfSystemTime() to the outer query.',
      )
    }
    if (this.#topLevelAsOf !== clause) {
      throw new Error(
        `All AS OF SYSTEM TIME clauses of a statement must read at the same time: the top level has ` +
          `"${this.#topLevelAsOf}", a subquery "${clause}".`,
      )
    }
  }

  #checkWrite(endModifiers: ReadonlyArray<OperationNode> | undefined, statement: string): void {
    if (this.#topLevelAsOf !== undefined) {
      throw new Error(`AS OF SYSTEM TIME statements are read-only: ${statement} cannot appear in them.`)
    }
    if (endModifiers !== undefined && endModifiers.some(isAsOfSystemTime)) {
      throw new Error(`AS OF SYSTEM TIME is for reads only; CockroachDB refuses it on ${statement}.`)
    }
  }

  // Kysely's visitInsertQuery with `upsert`: its keyword is a literal inside that method
  // (`node.replace ? 'replace' : 'insert'`), so the replace branch is compiled here.
  // Grammar: `opt_with_clause UPSERT INTO insert_target insert_rest returning_clause` (sql.y).
  #compileUpsert(node: InsertQueryNode): void {
    rejectForUpsert(node)
    const parent = this.parentNode?.kind
    const wrapInParens =
      parent !== undefined && parent !== 'ParensNode' && parent !== 'RawNode' && parent !== 'WhenNode'
    if (parent === undefined && node.explain !== undefined) {
      this.visitNode(node.explain)
      this.append(' ')
    }
    if (wrapInParens) {
      this.append('(')
    }
    if (node.with !== undefined) {
      this.visitNode(node.with)
      this.append(' ')
    }
    this.append('upsert')
    if (node.into !== undefined) {
      this.append(' into ')
      this.visitNode(node.into)
    }
    if (node.columns !== undefined) {
      this.append(' (')
      this.compileList(node.columns)
      this.append(')')
    }
    if (node.values !== undefined) {
      this.append(' ')
      this.visitNode(node.values)
    }
    if (node.defaultValues === true) {
      this.append(' default values')
    }
    if (node.returning !== undefined) {
      this.append(' ')
      this.visitNode(node.returning)
    }
    if (wrapInParens) {
      this.append(')')
    }
    if (node.endModifiers?.length) {
      this.append(' ')
      this.compileList(node.endModifiers, ' ')
    }
  }
}

function isAsOfSystemTime(node: OperationNode | undefined): node is RawNode {
  if (node === undefined || node.kind !== 'RawNode') {
    return false
  }
  const { sqlFragments, parameters } = node as RawNode
  return sqlFragments.length === 1 && parameters.length === 0 && sqlFragments[0]!.startsWith(AS_OF_SYSTEM_TIME_PREFIX)
}

function rejectForUpsert(node: InsertQueryNode): void {
  const unsupported: string | undefined =
    node.onConflict !== undefined
      ? 'onConflict() (UPSERT always resolves conflicts on the primary key; use insertInto().onConflict() for other targets)'
      : node.onDuplicateKey !== undefined
        ? 'onDuplicateKeyUpdate()'
        : node.orAction !== undefined || (node as { ignore?: boolean }).ignore === true
          ? 'or ignore/or replace'
          : node.top !== undefined
            ? 'top()'
            : node.output !== undefined
              ? 'output()'
              : undefined
  if (unsupported !== undefined) {
    throw new Error(`UPSERT does not support ${unsupported}.`)
  }
}
