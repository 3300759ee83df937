// A Kysely dialect that sends nothing: every statement is compiled by CockroachQueryCompiler (so the
// package's refusals fire exactly as they would against a server) and recorded with its operation
// node. Reads return no rows. Internal: the migration check (check-migrations.ts) runs migrations on it.
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  QueryCompiler,
  QueryResult,
  RootOperationNode,
  SchemaMetadata,
  TableMetadata,
} from 'kysely'
import { CockroachAdapter } from '../../dialect/cockroach-adapter.js'
import { CockroachQueryCompiler } from '../../dialect/cockroach-query-compiler.js'

/**
 * What a statement is, for the migration check's rules: `ddl` a schema change, `dml` a data
 * change, `txn` transaction control, `other` anything else (reads).
 *
 * ```ts
 * import type { RecordedStatementKind } from 'kysely-cockroachdb'
 *
 * const changesSchema = (kind: RecordedStatementKind) => kind === 'ddl'
 * ```
 */
export type RecordedStatementKind = 'ddl' | 'dml' | 'txn' | 'other'

/** One statement a migration sent, as recorded. @internal */
export interface RecordedQuery {
  readonly sql: string
  readonly parameters: readonly unknown[]
  readonly kind: RecordedStatementKind
  /** The operation node; undefined for transaction control. */
  readonly node: RootOperationNode | undefined
}

// Kysely's schema nodes (query-compiler's RootOperationNode) that change the schema.
const DDL_NODES: ReadonlySet<string> = new Set([
  'CreateTableNode',
  'CreateIndexNode',
  'AlterTableNode',
  'DropTableNode',
  'DropIndexNode',
  'CreateSchemaNode',
  'DropSchemaNode',
  'CreateViewNode',
  'DropViewNode',
  'CreateTypeNode',
  'DropTypeNode',
  'AlterTypeNode',
  'RefreshMaterializedViewNode',
])
const DML_NODES: ReadonlySet<string> = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode'])
const DDL_WORDS = /^\s*(?:create|alter|drop|truncate|comment|grant|revoke|rename)\b/i
const DML_WORDS = /^\s*(?:(?:with\b[\s\S]*?\)\s*)?(?:insert|upsert|update|delete|merge)\b)/i

/** Classifies a compiled statement by its node, a raw statement by its first word. @internal */
export function classifyStatement(node: RootOperationNode | undefined, sql: string): RecordedStatementKind {
  if (node !== undefined && DDL_NODES.has(node.kind)) return 'ddl'
  if (node !== undefined && DML_NODES.has(node.kind)) return 'dml'
  if (node === undefined || node.kind === 'RawNode') {
    if (DDL_WORDS.test(sql)) return 'ddl'
    if (DML_WORDS.test(sql)) return 'dml'
    if (/^\s*(?:begin|start transaction|commit|rollback|savepoint|release)\b/i.test(sql)) return 'txn'
  }
  return 'other'
}

class RecordingConnection implements DatabaseConnection {
  readonly #log: RecordedQuery[]

  constructor(log: RecordedQuery[]) {
    this.#log = log
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    this.#log.push(
      Object.freeze({
        sql: compiledQuery.sql,
        parameters: Object.freeze([...compiledQuery.parameters]),
        kind: classifyStatement(compiledQuery.query, compiledQuery.sql),
        node: compiledQuery.query,
      }),
    )
    return { rows: [] }
  }

  // eslint-disable-next-line require-yield -- a stream of no rows
  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    await this.executeQuery(compiledQuery)
  }
}

class RecordingDriver implements Driver {
  readonly #log: RecordedQuery[]

  constructor(log: RecordedQuery[]) {
    this.#log = log
  }

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new RecordingConnection(this.#log)
  }
  async beginTransaction(): Promise<void> {
    this.#txn('begin')
  }
  async commitTransaction(): Promise<void> {
    this.#txn('commit')
  }
  async rollbackTransaction(): Promise<void> {
    this.#txn('rollback')
  }
  async savepoint(_c: DatabaseConnection, name: string): Promise<void> {
    this.#txn(`savepoint ${name}`)
  }
  async rollbackToSavepoint(_c: DatabaseConnection, name: string): Promise<void> {
    this.#txn(`rollback to savepoint ${name}`)
  }
  async releaseSavepoint(_c: DatabaseConnection, name: string): Promise<void> {
    this.#txn(`release savepoint ${name}`)
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}

  #txn(sql: string): void {
    this.#log.push(Object.freeze({ sql, parameters: Object.freeze([]), kind: 'txn', node: undefined }))
  }
}

// CockroachDialect's adapter (its flags: no transactional DDL, RETURNING, IF NOT EXISTS), without
// the migration lock: there is no database to hold a lease in.
class RecordingAdapter extends CockroachAdapter {
  override async acquireMigrationLock(): Promise<void> {}
  override async releaseMigrationLock(): Promise<void> {}
}

// A migration that introspects sees an empty database: there is none.
class EmptyIntrospector implements DatabaseIntrospector {
  async getSchemas(): Promise<SchemaMetadata[]> {
    return []
  }
  async getTables(): Promise<TableMetadata[]> {
    return []
  }
  async getMetadata(): Promise<{ tables: TableMetadata[] }> {
    return { tables: [] }
  }
}

/** The dialect; `log` receives every statement. @internal */
export class RecordingDialect implements Dialect {
  readonly #log: RecordedQuery[]

  constructor(log: RecordedQuery[]) {
    this.#log = log
  }

  createDriver(): Driver {
    return new RecordingDriver(this.#log)
  }
  createQueryCompiler(): QueryCompiler {
    return new CockroachQueryCompiler()
  }
  createAdapter(): DialectAdapter {
    return new RecordingAdapter()
  }
  createIntrospector(): DatabaseIntrospector {
    return new EmptyIntrospector()
  }
}
