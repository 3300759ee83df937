import { sql } from 'kysely'
import type { Expression, ExplainNode, OperationNode, RawNode } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { assertKnownKeys } from '../util/known-keys.js'

// CockroachDB's EXPLAIN grammar (pkg/sql/parser/sql.y, explain_stmt):
//   EXPLAIN explainable_stmt
//   EXPLAIN '(' explain_option_list ')' explainable_stmt
//   EXPLAIN ANALYZE [ '(' explain_option_list ')' ] explainable_stmt
// explain_option_list is a list of single words (explain_option_name: non_reserved_word); ANALYZE is
// a reserved keyword, so it cannot sit inside the list and goes before it. PostgreSQL's
// `explain (analyze)`, `explain (format json)` and `explain (verbose true)` do not parse. The words
// are read by MakeExplain (pkg/sql/sem/tree/explain.go): one mode (PLAN, DISTSQL, OPT, VEC, DEBUG,
// ...) and any flags (VERBOSE, TYPES, ENV, ...).

/** EXPLAIN modes; at most one per statement ("cannot set EXPLAIN mode more than once", MakeExplain). */
const MODES: readonly ExplainOption[] = Object.freeze(['opt', 'distsql', 'vec', 'debug'] as const)
/** EXPLAIN flags offered here. */
const FLAGS: readonly ExplainOption[] = Object.freeze(['verbose', 'types', 'env'] as const)
// PostgreSQL options with no CockroachDB counterpart (PostgreSQL docs, sql-explain).
const POSTGRES_ONLY = Object.freeze(['costs', 'buffers', 'timing', 'summary', 'settings', 'wal', 'generic_plan', 'memory', 'serialize'])
const ITEM = /^([a-z_]+)(?:\s+(true|false|on|off|1|0))?$/
const FORMAT = /^format\s+([a-z]+)$/

/**
 * A word of CockroachDB's EXPLAIN option list that {@link explain} offers: a mode (`opt`,
 * `distsql`, `vec`, `debug`; at most one) or a flag (`verbose`, `types`, `env`). Spelled out rather
 * than derived from the internal lists, so the public declaration names no unexported value.
 *
 * ```ts
 * import type { ExplainOption } from 'kysely-cockroachdb'
 *
 * const words: ExplainOption[] = ['distsql', 'verbose']
 * ```
 */
export type ExplainOption = 'opt' | 'distsql' | 'vec' | 'debug' | 'verbose' | 'types' | 'env'

/**
 * What {@link explain} runs: plain `EXPLAIN`, `EXPLAIN (<options>)`, or with `analyze: true`
 * `EXPLAIN ANALYZE [(<options>)]`, which executes the statement and reports what it did.
 *
 * - modes (one at most): `'opt'` (the optimizer's plan), `'distsql'` (the distributed plan),
 *   `'vec'` (the vectorized operators), `'debug'` (with `analyze` only: a statement bundle);
 * - flags: `'verbose'`, `'types'`, `'env'` (with `'opt'`: the environment to reproduce the plan).
 *
 * ```ts
 * import type { CockroachExplainOptions } from 'kysely-cockroachdb'
 *
 * const options: CockroachExplainOptions = { analyze: true, options: ['distsql'] }
 * ```
 */
export interface CockroachExplainOptions {
  readonly analyze?: boolean
  readonly options?: readonly ExplainOption[]
}

/**
 * A row of CockroachDB's EXPLAIN output: every EXPLAIN variant returns one text column, `info`, one
 * row per line (`ExplainPlanColumns` in pkg/sql/catalog/colinfo/result_columns.go).
 *
 * ```ts
 * import type { ExplainRow } from 'kysely-cockroachdb'
 *
 * const text = (rows: ExplainRow[]) => rows.map((row) => row.info).join('\n')
 * ```
 */
export interface ExplainRow {
  readonly info: string
}

/** Anything with Kysely's `explain()`: select, insert, update and delete builders. */
export interface ExplainableQuery {
  explain(format?: undefined, options?: Expression<unknown>): Promise<unknown[]>
}

/**
 * Runs `EXPLAIN` on CockroachDB with its own options and returns the plan as typed rows. Kysely's
 * `query.explain()` compiles PostgreSQL's forms, `explain (format json)` and `explain (analyze)`,
 * which CockroachDB's grammar refuses; {@link CockroachQueryCompiler} rewrites what has a
 * CockroachDB form (`explain(undefined, sql\`analyze\`)` becomes `explain analyze`) and refuses the
 * rest before sending. This helper takes CockroachDB's options directly.
 *
 * ```ts
 * import { explain } from 'kysely-cockroachdb'
 *
 * const query = db.selectFrom('account').selectAll().where('id', '=', 1)
 * await explain(query) // explain select * from "account" where "id" = $1
 * await explain(query, { options: ['verbose'] }) // explain (verbose) select ...
 * await explain(query, { options: ['opt', 'env'] }) // explain (opt, env) select ...
 * const rows = await explain(query, { analyze: true, options: ['distsql'] }) // explain analyze (distsql) select ...
 * console.log(rows.map((row) => row.info).join('\n'))
 * ```
 *
 * @throws QueryRefusedError for an option CockroachDB does not have or a combination it refuses (two modes,
 *   `analyze` with `'opt'` or `'vec'`, `'debug'` without `analyze`), before anything is sent.
 */
export async function explain(query: ExplainableQuery, options: CockroachExplainOptions = {}): Promise<ExplainRow[]> {
  if (typeof query?.explain !== 'function') {
    throw new QueryRefusedError(
      'explain()',
      'the first argument must be a query builder (db.selectFrom(...), db.updateTable(...), ...)',
      'pass the query, as in explain(db.selectFrom(...))',
    )
  }
  const words = explainWords(options)
  // The words come from the fixed lists above; nothing the caller wrote is copied into the SQL.
  const rows = await query.explain(undefined, words.length === 0 ? undefined : sql.raw(words.join(', ')))
  return rows as ExplainRow[]
}

function explainWords(options: CockroachExplainOptions): string[] {
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError('explain()', 'options must be an object', "give one such as { analyze: true, options: ['distsql'] }")
  }
  assertKnownKeys('explain()', options, ['analyze', 'options'])
  if (options.analyze !== undefined && typeof options.analyze !== 'boolean') {
    throw new QueryRefusedError('explain()', 'analyze must be a boolean', 'use analyze: true')
  }
  const list: readonly unknown[] | undefined = options.options
  if (list !== undefined && (!Array.isArray(list) || !list.every((word): word is string => typeof word === 'string'))) {
    throw new QueryRefusedError(
      'explain()',
      'options.options must be an array of words',
      `use some of ${[...MODES, ...FLAGS].map((w) => `'${w}'`).join(', ')}`,
    )
  }
  const given = (list ?? []) as readonly string[]
  const words = options.analyze === true ? ['analyze', ...given] : [...given]
  // Validated here with the caller's name; the compiler validates the same words again.
  renderExplainOptions(words, 'explain()')
  return words
}

/**
 * Renders Kysely's ExplainNode as CockroachDB's EXPLAIN prefix, or throws before anything is sent.
 * Internal: used by CockroachQueryCompiler.
 */
export function renderExplain(node: ExplainNode): string {
  const where = 'explain()'
  checkFormat(node.format, where)
  return renderExplainOptions(node.options === undefined ? [] : readOptionWords(node.options, where), where)
}

// FORMAT TEXT is what CockroachDB prints anyway, so it maps to no option; the other formats have
// no CockroachDB form.
function checkFormat(format: string | undefined, where: string): void {
  if (format === 'json') {
    throw new QueryRefusedError(
      where,
      'CockroachDB has no EXPLAIN (FORMAT JSON). Its JSON output is the distributed plan, EXPLAIN (DISTSQL, JSON)',
      'run that with sql`explain (distsql, json) ...`; for the plan as text use explain(query) or ' +
        "explain(query, { options: ['verbose'] }) from kysely-cockroachdb",
    )
  }
  if (format !== undefined && format !== 'text') {
    throw new QueryRefusedError(
      where,
      `CockroachDB has no EXPLAIN FORMAT ${format.toUpperCase()}; EXPLAIN returns text rows (column info)`,
      "use query.explain() or explain(query, { options: ['verbose'] }) from kysely-cockroachdb",
    )
  }
}

function readOptionWords(options: OperationNode, where: string): string[] {
  const raw = options as RawNode
  if (options.kind !== 'RawNode' || raw.parameters.length !== 0 || raw.sqlFragments.length !== 1) {
    throw new QueryRefusedError(
      where,
      "CockroachDB's EXPLAIN options are single words",
      "give them as sql`verbose`, or use explain(query, { analyze: true, options: ['distsql'] }) from kysely-cockroachdb",
    )
  }
  const words: string[] = []
  for (const item of raw.sqlFragments[0]!.split(',')) {
    const text = item.trim().toLowerCase()
    const match = ITEM.exec(text)
    if (match === null) {
      const format = FORMAT.exec(text)
      if (format !== null) {
        checkFormat(format[1], where)
        continue
      }
      throw new QueryRefusedError(where, `${JSON.stringify(item.trim())} is not a CockroachDB EXPLAIN option`, KNOWN)
    }
    // PostgreSQL's `verbose false` turns the option off.
    if (match[2] === 'false' || match[2] === 'off' || match[2] === '0') {
      continue
    }
    words.push(match[1]!)
  }
  return words
}

const KNOWN =
  'use what CockroachDB has: EXPLAIN [ANALYZE] with OPT, DISTSQL, VEC, DEBUG (with ANALYZE), VERBOSE, TYPES and ENV ' +
  '(EXPLAIN (VERBOSE) ..., EXPLAIN (OPT, ENV) ..., EXPLAIN ANALYZE (DISTSQL) ...)'

/** `explain`, `explain analyze`, `explain (opt, env)`, `explain analyze (distsql)`, checked as MakeExplain does. */
function renderExplainOptions(words: readonly string[], where: string): string {
  let analyze = false
  let mode: string | undefined
  const flags: string[] = []
  for (const word of words) {
    if (word === 'analyze' || word === 'analyse') {
      analyze = true
    } else if ((MODES as readonly string[]).includes(word)) {
      if (mode !== undefined && mode !== word) {
        throw new QueryRefusedError(
          where,
          `CockroachDB takes one EXPLAIN mode, got ${mode.toUpperCase()} and ${word.toUpperCase()}`,
          'keep one of them',
        )
      }
      mode = word
    } else if ((FLAGS as readonly string[]).includes(word)) {
      if (!flags.includes(word)) flags.push(word)
    } else if (POSTGRES_ONLY.includes(word)) {
      throw new QueryRefusedError(where, `${word.toUpperCase()} is a PostgreSQL EXPLAIN option`, KNOWN)
    } else {
      throw new QueryRefusedError(where, `${JSON.stringify(word)} is not a CockroachDB EXPLAIN option here`, KNOWN)
    }
  }
  if (analyze && (mode === 'opt' || mode === 'vec')) {
    throw new QueryRefusedError(
      where,
      `EXPLAIN ANALYZE cannot be used with ${mode.toUpperCase()} (CockroachDB's MakeExplain)`,
      `drop analyze or ${mode}`,
    )
  }
  // EXPLAIN ANALYZE takes PLAN, VERBOSE, TYPES, DEBUG, REDACT and DISTSQL (docs
  // /docs/stable/explain-analyze, synopsis).
  if (analyze && flags.includes('env')) {
    throw new QueryRefusedError(
      where,
      'EXPLAIN ANALYZE has no ENV option',
      "drop analyze: ENV goes with EXPLAIN (OPT, ENV), { options: ['opt', 'env'] }",
    )
  }
  if (!analyze && mode === 'debug') {
    throw new QueryRefusedError(where, 'DEBUG only works with EXPLAIN ANALYZE', "use { analyze: true, options: ['debug'] }")
  }
  const list = mode === undefined ? flags : [mode, ...flags]
  return `explain${analyze ? ' analyze' : ''}${list.length === 0 ? '' : ` (${list.join(', ')})`}`
}
