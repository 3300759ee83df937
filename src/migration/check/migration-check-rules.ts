// The migration check's rules: pure functions over the statements one direction (up or down) of a
// migration sent to the recording dialect (recording-dialect.ts), and the error it threw, if any.
// Internal; the public types are re-exported from src/index.ts.
import type { OperationNode, RootOperationNode } from 'kysely'
import { isQueryRefusedError } from '../../errors/query-refused-error.js'
import { readSchemaMarker } from '../../schema/schema-marker.js'
import { readRawCreateIndex, readRawCreateTable, splitStatements } from './raw-statements.js'
import type { RawStatement } from './raw-statements.js'
import { classifyStatement } from './recording-dialect.js'
import type { RecordedQuery, RecordedStatementKind } from './recording-dialect.js'

/**
 * The rules of the migration check (docs/migrations.md#checking-migrations):
 *
 * - `sequential-primary-key` (error): a primary key from a sequence (identity, `nextval()`,
 *   `autoIncrement()`): every insert goes to the end of one range;
 * - `serial-primary-key` (warning): SERIAL as a primary key (CockroachDB's default
 *   `serial_normalization = rowid` makes it `unique_rowid()`, time-ordered, docs /docs/stable/serial);
 * - `kysely-using-hash` (error): Kysely's `.using('hash')` on an index;
 * - `multiple-ddl` (error): more than one schema change in one direction (from v25.1 CockroachDB
 *   commits before each DDL, `autocommit_before_ddl`, cockroach PR #118440, so a failure leaves the
 *   earlier ones applied);
 * - `ddl-and-dml` (error): schema and data changes in one direction;
 * - `background-job` (warning): an index on an existing table, `ALTER PRIMARY KEY` or a column type
 *   change: a background job that rewrites or backfills the table;
 * - `compile-error` (error): another refusal of the package's compiler;
 * - `migration-threw` (error): the migration threw something else (it ran without a database: reads
 *   returned no rows).
 *
 * ```ts
 * import type { MigrationCheckRule } from 'kysely-cockroachdb'
 *
 * const rule: MigrationCheckRule = 'multiple-ddl'
 * ```
 */
export type MigrationCheckRule =
  | 'sequential-primary-key'
  | 'serial-primary-key'
  | 'kysely-using-hash'
  | 'multiple-ddl'
  | 'ddl-and-dml'
  | 'background-job'
  | 'compile-error'
  | 'migration-threw'

/** Every rule and its default severity. @internal */
export const RULE_SEVERITY: Readonly<Record<MigrationCheckRule, 'error' | 'warning'>> = Object.freeze({
  'sequential-primary-key': 'error',
  'serial-primary-key': 'warning',
  'kysely-using-hash': 'error',
  'multiple-ddl': 'error',
  'ddl-and-dml': 'error',
  'background-job': 'warning',
  'compile-error': 'error',
  'migration-threw': 'error',
})

/**
 * What a migration module may export as `cockroachdb` to acknowledge findings: `allow` lists rules
 * that do not apply to it, `backgroundJob` says why a background job is fine (it acknowledges
 * `background-job`). Acknowledged findings are reported apart and do not fail the check.
 *
 * ```ts
 * import type { MigrationCheckAcknowledgement } from 'kysely-cockroachdb'
 *
 * // in a migration file:
 * export const cockroachdb: MigrationCheckAcknowledgement = {
 *   backgroundJob: 'the table has 2,000 rows',
 * }
 * ```
 */
export interface MigrationCheckAcknowledgement {
  readonly allow?: readonly MigrationCheckRule[]
  readonly backgroundJob?: string
}

/**
 * One finding of the migration check.
 *
 * ```ts
 * import type { MigrationFinding } from 'kysely-cockroachdb'
 *
 * const line = (f: MigrationFinding) => `${f.migration} ${f.direction} ${f.rule}: ${f.message}. Fix: ${f.fix}`
 * ```
 */
export interface MigrationFinding {
  readonly rule: MigrationCheckRule
  readonly severity: 'error' | 'warning'
  readonly migration: string
  readonly direction: 'up' | 'down'
  /** 1-based position of the statement among those the direction sent (transaction control not counted). */
  readonly statement?: number
  readonly sql?: string
  /** What is wrong, without a final period (a refusal's message, which names its own remedy, included). */
  readonly message: string
  /** What to do, without a final period. */
  readonly fix: string
}

/** The input of {@link checkDirection}. @internal */
export interface DirectionRecord {
  readonly migration: string
  readonly direction: 'up' | 'down'
  readonly queries: readonly RecordedQuery[]
  readonly error?: unknown
}

type Draft = Omit<MigrationFinding, 'severity' | 'migration' | 'direction'>

const SERIAL_TYPE = /^(?:small|big)?serial[248]?$/i

// sql.y alter_table_cmd: `ALTER opt_column column_name opt_set_data TYPE typename opt_collate opt_alter_column_using`.
const RAW_ALTER_TYPE = /^\s*alter\s+table\b[\s\S]*\balter\s+(?:column\s+)?(?:"(?:[^"]|"")*"|[^\s,;]+)\s+(?:set\s+data\s+)?type\b/i

function rawText(node: OperationNode | undefined): string {
  if (node === undefined) return ''
  if (node.kind === 'RawNode') return (node as unknown as { sqlFragments: readonly string[] }).sqlFragments.join('?')
  if (node.kind === 'DataTypeNode') return String((node as unknown as { dataType: unknown }).dataType)
  if (node.kind === 'DefaultValueNode') return rawText((node as unknown as { defaultValue: OperationNode }).defaultValue)
  return ''
}

interface ColumnDef {
  readonly kind: 'ColumnDefinitionNode'
  readonly column: { readonly column: { readonly name: string } }
  readonly dataType: OperationNode
  readonly primaryKey?: boolean
  readonly autoIncrement?: boolean
  readonly identity?: boolean
  readonly generated?: { readonly identity?: boolean }
  readonly defaultTo?: OperationNode
}

/** How a primary key column gets its values, if from a sequence: 'serial', 'sequence' or undefined. */
function sequentialKind(column: ColumnDef): { kind: 'serial' | 'sequence'; how: string } | undefined {
  const type = rawText(column.dataType)
  if (SERIAL_TYPE.test(type.trim())) return { kind: 'serial', how: type.toUpperCase() }
  if (column.identity === true || column.generated?.identity === true) return { kind: 'sequence', how: 'an identity column' }
  if (column.autoIncrement === true) return { kind: 'sequence', how: 'autoIncrement()' }
  if (/\bnextval\s*\(/i.test(rawText(column.defaultTo))) return { kind: 'sequence', how: 'a nextval() default' }
  return undefined
}

/** `schema.table` of a CreateTableNode / CreateIndexNode (a TableNode around a SchemableIdentifierNode). */
function tableName(node: OperationNode): string {
  const table = (node as { table?: { kind?: string; table?: { schema?: { name: string }; identifier?: { name: string } } } }).table
  if (table?.kind !== 'TableNode' || table.table?.identifier === undefined) return ''
  const schema = table.table.schema?.name
  return `${schema === undefined ? '' : `${schema}.`}${table.table.identifier.name}`
}

const SEQUENTIAL_FIX = 'use uuid with gen_random_uuid(), int8 with uniqueRowid(), or hash-shard the key with .$call(hashSharded())'

function sequentialFinding(name: string, sequential: { kind: 'serial' | 'sequence'; how: string }, index: number, sql: string): Draft {
  return sequential.kind === 'serial'
    ? serialFinding(`"${name}" ${sequential.how}`, index, sql)
    : {
        rule: 'sequential-primary-key',
        statement: index,
        sql,
        message: `the primary key "${name}" comes from a sequence (${sequential.how}): every insert lands at the end of one range (a hot spot), and each one waits for the sequence`,
        fix: SEQUENTIAL_FIX,
      }
}

/** The primary-key rules on one statement of a raw string (raw-statements.ts reads the table). */
function checkRawPrimaryKeys(statement: RawStatement, index: number, out: Draft[]): void {
  for (const key of readRawCreateTable(statement)?.sequentialKeys ?? []) {
    out.push(sequentialFinding(key.name, key, index, statement.sql))
  }
}

function checkPrimaryKeys(node: RootOperationNode, index: number, sql: string, out: Draft[]): void {
  if (node.kind !== 'CreateTableNode') return
  const table = node as unknown as {
    columns: readonly ColumnDef[]
    constraints?: readonly { kind: string; columns?: readonly { column: { name: string } }[] }[]
    endModifiers?: readonly OperationNode[]
  }
  // A hash-sharded key spreads sequential values over the shards.
  if (table.endModifiers?.some((m) => readSchemaMarker(m)?.kind === 'hash')) return
  const keyNames = new Set<string>()
  for (const constraint of table.constraints ?? []) {
    if (constraint.kind === 'PrimaryKeyConstraintNode') constraint.columns?.forEach((c) => keyNames.add(c.column.name))
  }
  for (const column of table.columns) {
    if (column.primaryKey !== true && !keyNames.has(column.column.column.name)) continue
    const sequential = sequentialKind(column)
    if (sequential === undefined) continue
    out.push(sequentialFinding(column.column.column.name, sequential, index, sql))
  }
}

function serialFinding(what: string, index: number, sql: string): Draft {
  return {
    rule: 'serial-primary-key',
    statement: index,
    sql,
    message:
      `${what} as a primary key: under CockroachDB's default serial_normalization = rowid it becomes unique_rowid(), ` +
      'whose values are time-ordered, so inserts concentrate on one range',
    fix: SEQUENTIAL_FIX,
  }
}

const BACKGROUND_FIX =
  "it runs as a background job that backfills or rewrites the table; on a large table plan for it, then add `export const cockroachdb = { backgroundJob: '<why it is fine>' }` to the migration"

const USING_HASH_FIX = "use .$call(hashSharded()) instead of .using('hash'); in raw SQL write USING HASH after the column list"

/** The background-job and using-hash rules on one statement of a raw string. */
function checkRawStatement(statement: RawStatement, index: number, createdTables: ReadonlySet<string>, out: Draft[]): void {
  const { sql, code } = statement
  const fix = BACKGROUND_FIX
  if (/^\s*alter\s+table\b[\s\S]*\balter\s+primary\s+key\b/i.test(code)) {
    out.push(backgroundJobFinding(index, sql, 'ALTER PRIMARY KEY rewrites the whole table in a background job', fix))
  } else if (RAW_ALTER_TYPE.test(code)) {
    out.push(backgroundJobFinding(index, sql, "changing a column's type rewrites the table in a background job", fix))
  }
  const createIndex = readRawCreateIndex(statement)
  if (createIndex === undefined) return
  if (createIndex.usingHashMethod) {
    out.push({
      rule: 'kysely-using-hash',
      statement: index,
      sql,
      message:
        'USING HASH before the column list is PostgreSQL\'s hash access method, which CockroachDB refuses ("unimplemented: index using hash")',
      fix: USING_HASH_FIX,
    })
  }
  if (!createdTables.has(createIndex.table)) {
    out.push(
      backgroundJobFinding(index, sql, `a new index on the existing table ${createIndex.table} is built by a background backfill`, fix),
    )
  }
}

function backgroundJob(node: RootOperationNode, index: number, sql: string, createdTables: ReadonlySet<string>, out: Draft[]): void {
  const fix = BACKGROUND_FIX
  if (node.kind === 'CreateIndexNode') {
    const table = tableName(node)
    if (!createdTables.has(table)) {
      out.push(
        backgroundJobFinding(
          index,
          sql,
          `a new index on the existing table ${table || '(unknown)'} is built by a background backfill`,
          fix,
        ),
      )
    }
    return
  }
  if (node.kind === 'AlterTableNode') {
    const alter = node as unknown as {
      addConstraint?: { constraint: { kind: string; expression?: OperationNode } }
      // Kysely's AlterColumnNode holds the new type itself: `dataType` (setDataType(type)) or, for
      // setDataType(sql`...`), a RawNode in `dataType` too (`dataTypeExpression` is the USING).
      columnAlterations?: readonly { kind: string; dataType?: unknown; dataTypeExpression?: unknown }[]
    }
    if (readSchemaMarker(alter.addConstraint?.constraint.expression)?.kind === 'alter-pk') {
      out.push(backgroundJobFinding(index, sql, 'ALTER PRIMARY KEY rewrites the whole table in a background job', fix))
      return
    }
    if (alter.columnAlterations?.some((a) => a.kind === 'AlterColumnNode' && (a.dataType ?? a.dataTypeExpression) !== undefined)) {
      out.push(backgroundJobFinding(index, sql, "changing a column's type rewrites the table in a background job", fix))
    }
    return
  }
}

/** A message as a clause: the report adds `. Fix: ...` after it (formatMigrationCheckReport). */
function clause(text: string): string {
  return text.trim().replace(/\.+$/, '')
}

function thrown(error: unknown): Draft {
  const message = clause(error instanceof Error ? error.message : String(error))
  if (isQueryRefusedError(error)) {
    if (error.api === "createIndex().using('hash')") {
      // The refusal's own text names hashSharded() as its fix; the finding says it once, as the fix.
      return {
        rule: 'kysely-using-hash',
        message:
          "createIndex().using('hash'): it prints PostgreSQL's access method, `using hash` before the column list, which CockroachDB refuses (\"unimplemented: index using hash\")",
        fix: USING_HASH_FIX,
      }
    }
    // The refusal's message already ends with its fix (QueryRefusedError: `api: problem. Fix.`).
    return {
      rule: 'compile-error',
      message,
      fix: 'change the statement as the message says; nothing of this migration past it would reach the database',
    }
  }
  return {
    rule: 'migration-threw',
    message,
    fix: "the check runs migrations without a database (reads return no rows); make the migration work without data, or acknowledge with allow: ['migration-threw']",
  }
}

/** The findings of one direction of one migration, before severities and acknowledgements. @internal */
export function checkDirection(record: DirectionRecord): Draft[] {
  const out: Draft[] = []
  const statements = record.queries.filter((q) => q.kind !== 'txn')
  const createdTables = new Set<string>()
  let ddl = 0
  let firstDdl: number | undefined
  let firstDml: number | undefined
  let firstDmlSql: string | undefined
  // A raw string may hold several statements (sql`a; b`.execute(db) sends them as one simple
  // query): each is checked on its own, with the number of the query that sent it.
  const units: { index: number; sql: string; kind: RecordedStatementKind; node?: RootOperationNode; raw?: RawStatement }[] = []
  statements.forEach((query, i) => {
    if (query.node === undefined || query.node.kind === 'RawNode') {
      for (const raw of splitStatements(query.sql)) {
        units.push({ index: i + 1, sql: raw.sql, kind: classifyStatement(query.node, raw.sql), raw })
      }
    } else {
      units.push({ index: i + 1, sql: query.sql, kind: query.kind, node: query.node })
    }
  })
  for (const unit of units) {
    const { index, node, raw } = unit
    if (node !== undefined) {
      checkPrimaryKeys(node, index, unit.sql, out)
      backgroundJob(node, index, unit.sql, createdTables, out)
      if (node.kind === 'CreateTableNode') createdTables.add(tableName(node))
    } else if (raw !== undefined) {
      checkRawPrimaryKeys(raw, index, out)
      checkRawStatement(raw, index, createdTables, out)
      const created = readRawCreateTable(raw)
      if (created !== undefined) createdTables.add(created.table)
    }
    if (unit.kind === 'txn') continue
    if (unit.kind === 'ddl') {
      ddl++
      firstDdl ??= index
      if (ddl === 2) {
        out.push({
          rule: 'multiple-ddl',
          statement: index,
          sql: unit.sql,
          message:
            firstDdl === index
              ? 'this direction makes more than one schema change (this statement holds several)'
              : `this direction makes more than one schema change (the first is statement #${firstDdl})`,
          fix:
            'split it into one migration per schema change: from v25.1 CockroachDB commits before each DDL (autocommit_before_ddl), ' +
            'so a failure leaves the earlier changes applied and the migration half done',
        })
      }
    } else if (unit.kind === 'dml') {
      firstDml ??= index
      firstDmlSql ??= unit.sql
    }
  }
  if (firstDdl !== undefined && firstDml !== undefined) {
    out.push({
      rule: 'ddl-and-dml',
      statement: firstDml,
      sql: firstDmlSql,
      message: 'this direction changes both the schema and the data',
      fix: 'move the data change into a migration of its own after the schema change (CockroachDB does not run schema changes transactionally with other statements)',
    })
  }
  if (record.error !== undefined) {
    out.push(thrown(record.error))
  }
  return out
}

/** Applies severities (`off` drops a finding) and acknowledgements. @internal */
export function classifyFindings(
  record: Pick<DirectionRecord, 'migration' | 'direction'>,
  drafts: readonly Draft[],
  acknowledgement: MigrationCheckAcknowledgement | undefined,
  severity: Partial<Record<MigrationCheckRule, 'error' | 'warning' | 'off'>>,
): { errors: MigrationFinding[]; warnings: MigrationFinding[]; acknowledged: MigrationFinding[] } {
  const errors: MigrationFinding[] = []
  const warnings: MigrationFinding[] = []
  const acknowledged: MigrationFinding[] = []
  for (const draft of drafts) {
    const level = severity[draft.rule] ?? RULE_SEVERITY[draft.rule]
    if (level === 'off') continue
    const finding: MigrationFinding = Object.freeze({ ...draft, severity: level, migration: record.migration, direction: record.direction })
    const acked =
      acknowledgement?.allow?.includes(draft.rule) === true ||
      (draft.rule === 'background-job' && typeof acknowledgement?.backgroundJob === 'string' && acknowledgement.backgroundJob.trim() !== '')
    if (acked) acknowledged.push(finding)
    else if (level === 'error') errors.push(finding)
    else warnings.push(finding)
  }
  return { errors, warnings, acknowledged }
}

/** A background-job finding: the statement runs as a CockroachDB job that outlives the migration's transaction. */
function backgroundJobFinding(statement: number, sql: string, message: string, fix: string): Draft {
  return { rule: 'background-job', statement, sql, message, fix }
}
