import { PostgresQueryCompiler } from 'kysely'
import type {
  AliasNode,
  AlterTableNode,
  CompiledQuery,
  CreateIndexNode,
  CreateTableNode,
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
import { isBoundedStalenessClause } from '../sql/as-of-system-time/as-of-system-time-literal.js'
import { checkAsOfSystemTime, secondBoundedStalenessScan } from '../sql/as-of-system-time/as-of-system-time-checks.js'
import { isAsOfSystemTimeMarker } from '../sql/as-of-system-time/as-of-system-time.js'
import { renderExplain } from '../sql/explain.js'
import { rejectForUpsert } from '../sql/upsert-into.js'
import { joinHintKeyword } from '../sql/hints/join-hint.js'
import { readTableHint } from '../sql/hints/table-hint-marker.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { rewriteAlterTable, rewriteCreateIndex, rewriteCreateTable } from '../schema/schema-node-rewriter.js'

const LOCKING_MODIFIERS: ReadonlySet<string> = new Set(['ForUpdate', 'ForNoKeyUpdate', 'ForShare', 'ForKeyShare'])

/**
 * Kysely's Postgres compiler with CockroachDB's own SQL:
 *
 * - an insert built by `replaceInto()` / {@link upsertInto} compiles to `upsert into`;
 * - {@link asOfSystemTime} is placed right after the FROM clause and its joins, where CockroachDB's
 *   grammar has it (`from_clause: FROM from_list opt_as_of_clause` in pkg/sql/parser/sql.y), and
 *   what CockroachDB would refuse about it is refused at compile time;
 * - tables from {@link indexHint} and {@link joinHint} print their `@...` and join hints;
 * - UPDATE/DELETE with ORDER BY or LIMIT print RETURNING last, as CockroachDB's grammar has it;
 * - `explain()` prints CockroachDB's `EXPLAIN [ANALYZE] [(options)]` (see {@link explain});
 * - the schema helpers ({@link hashSharded}, {@link storing}, {@link invertedIndex}, {@link notVisible},
 *   {@link rowLevelTtl}, {@link locality}, {@link alterPrimaryKey}) print their clauses where
 *   CockroachDB's grammar has them, and Kysely's `.using('hash')` is refused (src/schema/schema-node-rewriter.ts).
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
    this.#topLevelAsOf = checkAsOfSystemTime(node, asOf.sqlFragments[0]!, locking, this.parentNode === undefined, this.#topLevelAsOf)
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

  // The schema helpers: the node is rewritten into one Kysely prints as CockroachDB's SQL; without
  // markers the rewriters return undefined and Kysely compiles the original. They also refuse the
  // clauses CockroachDB's grammar lacks (NULLS NOT DISTINCT, ALTER TABLE ADD INDEX, ...).
  protected override visitCreateIndex(node: CreateIndexNode): void {
    super.visitCreateIndex(rewriteCreateIndex(node) ?? node)
  }

  protected override visitCreateTable(node: CreateTableNode): void {
    super.visitCreateTable(rewriteCreateTable(node) ?? node)
  }

  protected override visitAlterTable(node: AlterTableNode): void {
    super.visitAlterTable(rewriteAlterTable(node) ?? node)
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
    const joinType = joinHintKeyword(join, node.joinType)
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

  #checkWrite(endModifiers: ReadonlyArray<OperationNode> | undefined, statement: string): void {
    if (this.#topLevelAsOf !== undefined) {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        `AS OF SYSTEM TIME statements are read-only: ${statement} cannot appear in them`,
        'run the write as a statement of its own',
      )
    }
    if (endModifiers !== undefined && endModifiers.some(isAsOfSystemTimeMarker)) {
      throw new QueryRefusedError(
        'asOfSystemTime()',
        `AS OF SYSTEM TIME is for reads only; CockroachDB refuses it on ${statement}`,
        'drop asOfSystemTime() from the write',
      )
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
