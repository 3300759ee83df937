import { PostgresQueryCompiler } from 'kysely'
import type {
  AliasNode,
  CompiledQuery,
  DeleteQueryNode,
  ExplainNode,
  InsertQueryNode,
  JoinNode,
  LimitNode,
  OperationNode,
  OrderByNode,
  QueryId,
  RawNode,
  ReturningNode,
  RootOperationNode,
  SelectQueryNode,
  UpdateQueryNode,
} from 'kysely'
import { asOfSystemTimeInstant, isBoundedStalenessClause } from '../sql/as-of-system-time/as-of-system-time-literal.js'
import { isAsOfSystemTimeMarker } from '../sql/as-of-system-time/as-of-system-time.js'
import { renderExplain } from '../sql/explain.js'
import { readTableHint } from '../sql/hints/table-hint-marker.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'

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
 * - tables from {@link indexHint} and {@link joinHint} print their `@...` and join hints;
 * - UPDATE/DELETE with ORDER BY or LIMIT print RETURNING last, as CockroachDB's grammar has it;
 * - `explain()` prints CockroachDB's `EXPLAIN [ANALYZE] [(options)]` (see {@link explain}).
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
  // UPDATE/DELETE nodes whose RETURNING clause is held back until their ORDER BY / LIMIT is printed.
  readonly #deferredReturning = new WeakMap<OperationNode, ReturningNode>()

  override compileQuery(node: RootOperationNode, queryId: QueryId): CompiledQuery {
    this.#topLevelAsOf = undefined
    return super.compileQuery(node, queryId)
  }

  protected override visitSelectQuery(node: SelectQueryNode): void {
    if (this.parentNode !== undefined && this.#topLevelAsOf !== undefined && isBoundedStalenessClause(this.#topLevelAsOf)) {
      throw secondBoundedStalenessScan('a subquery')
    }
    const modifiers = node.endModifiers
    if (modifiers === undefined) {
      return super.visitSelectQuery(node)
    }
    let asOf: RawNode | undefined
    let locking = false
    for (const modifier of modifiers) {
      if (isAsOfSystemTimeMarker(modifier.rawModifier)) {
        if (asOf !== undefined) {
          throw new QueryRefusedError('asOfSystemTime()', 'it was applied twice to the same SELECT', 'keep one')
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

  // `upsert into` is Kysely's own visitInsertQuery (kysely 0.28.x and 0.29.x) with one word changed:
  // the keyword is a literal inside that method (`node.replace ? 'replace' : 'insert'`), so rather
  // than copy the method, an upsert node is handed to it, and the one `replace` it appends while
  // that node is the one being visited is printed as `upsert` (see append). Everything else (WITH,
  // EXPLAIN, parentheses in a subquery, columns, values, DEFAULT VALUES, RETURNING, end modifiers,
  // and any field a later Kysely adds) is Kysely's; test/unit/sql/upsert-differential.test.ts holds
  // the output to PostgresQueryCompiler's. Grammar: `opt_with_clause UPSERT INTO insert_target
  // insert_rest returning_clause` (sql.y); what UPSERT lacks is refused by rejectForUpsert.
  protected override visitInsertQuery(node: InsertQueryNode): void {
    this.#checkWrite(node.endModifiers, 'INSERT')
    if (node.replace === true) {
      rejectForUpsert(node)
    }
    super.visitInsertQuery(node)
  }

  protected override visitUpdateQuery(node: UpdateQueryNode): void {
    this.#checkWrite(node.endModifiers, 'UPDATE')
    super.visitUpdateQuery(this.#deferReturning(node))
  }

  protected override visitDeleteQuery(node: DeleteQueryNode): void {
    this.#checkWrite(node.endModifiers, 'DELETE')
    super.visitDeleteQuery(this.#deferReturning(node))
  }

  protected override visitOrderBy(node: OrderByNode): void {
    super.visitOrderBy(node)
    const parent = this.parentNode
    if (parent !== undefined && (parent as { limit?: unknown }).limit === undefined) {
      this.#printDeferredReturning(parent)
    }
  }

  protected override visitLimit(node: LimitNode): void {
    super.visitLimit(node)
    if (this.parentNode !== undefined) {
      this.#printDeferredReturning(this.parentNode)
    }
  }

  // Kysely prints PostgreSQL's `explain (analyze, format json)`; CockroachDB's grammar takes
  // `EXPLAIN [ANALYZE] [(word, ...)]` (explain_stmt in sql.y). See renderExplain in explain.ts.
  protected override visitExplain(node: ExplainNode): void {
    this.append(renderExplain(node))
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
      throw new QueryRefusedError(
        'joinHint()',
        `joinHint('${hint.join}', ...) is only valid as the table of a join (innerJoin, leftJoin, ...), not in FROM`,
        'pass it to a join instead of selectFrom',
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
      throw new QueryRefusedError('joinHint()', `joinHint('${join}', ...) cannot be used with a ${node.joinType}`, 'use an inner, left, right, full or cross join')
    }
    // sql.y, opt_join_hint: "LOOKUP can only be used with INNER and LEFT joins" (INVERTED likewise).
    if ((join === 'lookup' || join === 'inverted') && joinType !== 'inner' && joinType !== 'left') {
      throw new QueryRefusedError('joinHint()', `joinHint('${join}', ...) works with inner and left joins only, not with a ${joinType} join`, 'use innerJoin or leftJoin')
    }
    // docs /docs/stable/cost-based-optimizer#supported-join-algorithms: "a straight INNER, LEFT, or
    // RIGHT join"; the other join types are not documented for it.
    if (join === 'straight' && joinType !== 'inner' && joinType !== 'left' && joinType !== 'right') {
      throw new QueryRefusedError('joinHint()', `joinHint('straight', ...) works with inner, left and right joins only, not with a ${joinType} join`, 'use innerJoin, leftJoin or rightJoin')
    }
    // A merge join needs equality columns and a cross join has none: GenerateMergeJoins
    // (pkg/sql/opt/xform/join_funcs.go) produces no merge join, and execbuilder's buildHashJoin fails
    // with "could not produce a query plan conforming to the MERGE JOIN hint".
    if (join === 'merge' && joinType === 'cross') {
      throw new QueryRefusedError(
        'joinHint()',
        "joinHint('merge', ...) cannot be used with a cross join: a merge join needs an equality condition, and " +
          'CockroachDB fails with "could not produce a query plan conforming to the MERGE JOIN hint"',
        "use innerJoin(joinHint('merge', ...), 'a.x', 'b.x') or joinHint('hash', ...)",
      )
    }
    this.append(`${joinType} ${join} join `)
    this.visitNode(table)
    if (node.on !== undefined) {
      this.append(' ')
      this.visitNode(node.on)
    }
  }

  // Kysely (0.28 and 0.29) prints UPDATE/DELETE as `... where ... returning ... order by ... limit`;
  // CockroachDB's grammar has RETURNING last: `delete_stmt: opt_with_clause DELETE FROM
  // table_expr_opt_alias_idx opt_using_clause opt_where_clause opt_sort_clause opt_limit_clause
  // returning_clause`, and update_stmt likewise ends in `opt_where_clause opt_sort_clause
  // opt_limit_clause returning_clause` (pkg/sql/parser/sql.y). Rather than copy Kysely's visitor,
  // the node is compiled without its RETURNING, and visitOrderBy/visitLimit print it after the last
  // of the two. Kysely visits node.orderBy and node.limit while the original node is on its stack,
  // so `parentNode` there is the key stored here.
  #deferReturning<N extends UpdateQueryNode | DeleteQueryNode>(node: N): N {
    if (node.returning === undefined || (node.orderBy === undefined && node.limit === undefined)) {
      return node
    }
    this.#deferredReturning.set(node, node.returning)
    return { ...node, returning: undefined }
  }

  #printDeferredReturning(parent: OperationNode): void {
    const returning = this.#deferredReturning.get(parent)
    if (returning === undefined) {
      return
    }
    this.#deferredReturning.delete(parent)
    this.append(' ')
    this.visitNode(returning)
  }

  #checkAsOfSystemTime(node: SelectQueryNode, clause: string, locking: boolean): void {
    if (locking) {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        'AS OF SYSTEM TIME cannot be combined with FOR UPDATE/FOR SHARE: historical reads take no locks',
        'remove the locking clause or asOfSystemTime()',
      )
    }
    if (node.from === undefined) {
      throw new QueryRefusedError('asOfSystemTime()', 'the query has no FROM clause, and CockroachDB only accepts AS OF SYSTEM TIME after FROM', 'select from a table')
    }
    // CockroachDB plans a scan with a hard limit as a multi-row scan that "can span multiple ranges
    // if the first range is empty", and bounded staleness allows a single-range read only: "cannot use
    // bounded staleness for queries that may touch more than one range or require an index join"
    // (scanParams (called from buildScan) in pkg/sql/opt/exec/execbuilder/relational.go), even for
    // LIMIT 1. The same check refuses a second scan (containsBoundedStalenessScan: "We already
    // planned a scan, perhaps as part of a subquery"): a join here, a subquery in visitSelectQuery.
    if (node.joins !== undefined && isBoundedStalenessClause(clause)) {
      throw secondBoundedStalenessScan('a join')
    }
    if (node.limit !== undefined && isBoundedStalenessClause(clause)) {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        'bounded staleness (withMaxStaleness/withMinTimestamp) cannot be combined with limit(): CockroachDB refuses a ' +
          'limited scan there ("cannot use bounded staleness for queries that may touch more than one range")',
        'look the row up by its primary or unique key without limit(), e.g. with executeTakeFirst()',
      )
    }
    if (this.parentNode === undefined) {
      // CockroachDB looks for the clause on the statement's top-level SELECT clause only; a set
      // operation at the top is not one ((*planner).isAsOf in pkg/sql), so its branches'
      // clauses fail with "AS OF SYSTEM TIME must be provided on a top-level statement".
      if (node.setOperations !== undefined) {
        throw new QueryRefusedError(
          'asOfSystemTime()',
          'AS OF SYSTEM TIME cannot be on a top-level UNION/INTERSECT/EXCEPT in CockroachDB',
          "wrap it: db.selectFrom(q1.union(q2).as('u')).selectAll().$call(asOfSystemTime(value))",
        )
      }
      this.#topLevelAsOf = clause
      return
    }
    // Nested SELECTs may repeat the clause only if the top level has it, with the same timestamp
    // (Builder.validateAsOf in pkg/sql/opt/optbuilder), compared as instants: a Date and the bigint
    // of the same instant agree.
    if (this.#topLevelAsOf === undefined) {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        'AS OF SYSTEM TIME must be on the top-level SELECT of the statement; CockroachDB refuses it on a subquery, ' +
          'CTE or UNION branch alone',
        'apply asOfSystemTime() to the outer query',
      )
    }
    if (asOfSystemTimeInstant(this.#topLevelAsOf) !== asOfSystemTimeInstant(clause)) {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        `all AS OF SYSTEM TIME clauses of a statement must read at the same time: the top level has ` +
          `"${this.#topLevelAsOf}", a subquery "${clause}"`,
        'give the subquery the same value as the outer query, or drop it there',
      )
    }
  }

  #checkWrite(endModifiers: ReadonlyArray<OperationNode> | undefined, statement: string): void {
    if (this.#topLevelAsOf !== undefined) {
      throw new QueryRefusedError('asOfSystemTime()', `AS OF SYSTEM TIME statements are read-only: ${statement} cannot appear in them`, 'run the write as a statement of its own')
    }
    if (endModifiers !== undefined && endModifiers.some(isAsOfSystemTimeMarker)) {
      throw new QueryRefusedError('asOfSystemTime()', `AS OF SYSTEM TIME is for reads only; CockroachDB refuses it on ${statement}`, 'drop asOfSystemTime() from the write')
    }
  }

  // The `replace` keyword of an upsert (see visitInsertQuery). Kysely appends nothing else that is
  // exactly `replace` while an InsertQueryNode is on top of its node stack; the comparison fails
  // fast for every other piece of every query.
  protected override append(str: string): void {
    if (str === 'replace' && isUpsertNode(this.nodeStack[this.nodeStack.length - 1])) {
      return super.append('upsert')
    }
    super.append(str)
  }
}

/** An insert built by replaceInto(): Kysely appends its keyword while it is the node on top of the stack. */
function isUpsertNode(node: OperationNode | undefined): boolean {
  return node !== undefined && node.kind === 'InsertQueryNode' && (node as InsertQueryNode).replace === true
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
    throw new QueryRefusedError('upsertInto()', `UPSERT does not support ${unsupported}`, 'use insertInto() for that')
  }
}

/** A join or subquery in a bounded staleness read: see #checkAsOfSystemTime for CockroachDB's rule. */
function secondBoundedStalenessScan(what: 'a join' | 'a subquery'): QueryRefusedError {
  return new QueryRefusedError(
    'asOfSystemTime()',
    `bounded staleness (withMaxStaleness/withMinTimestamp) cannot be combined with ${what}: CockroachDB plans one ` +
      'scan for a bounded staleness read and refuses a second ("cannot use bounded staleness for queries that may ' +
      'touch more than one range or require an index join")',
    'read each table in a query of its own, or use an exact staleness such as asOfSystemTime(followerReadTimestamp())',
  )
}
