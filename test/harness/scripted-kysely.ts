// A Kysely whose one connection answers from a script: for tests of code that reads what the
// server answers (the migration lock, the introspector) without a server.
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely'
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  KyselyPlugin,
  QueryResult,
} from 'kysely'

/** The rows a statement returns, or the error it fails with. */
export type ScriptedAnswer = ReadonlyArray<Record<string, unknown>> | Error

export interface ScriptedKyselyOptions {
  /** Answers each statement by its SQL; throw or return an Error to fail it. */
  readonly answer: (sql: string) => ScriptedAnswer
  /** Default: Kysely's PostgresAdapter. */
  readonly adapter?: DialectAdapter
  /** Default: Kysely's PostgresIntrospector. */
  readonly introspector?: (db: Kysely<unknown>) => DatabaseIntrospector
  readonly plugins?: readonly KyselyPlugin[]
  /** The `numAffectedRows` of a statement's result, by its SQL (default: none). */
  readonly affected?: (sql: string) => bigint | undefined
}

/**
 * A Kysely on PostgreSQL's compiler whose single connection answers every query from `answer` and
 * records its SQL in `sent`, in order. Transactions are accepted and send nothing; streaming fails.
 *
 * ```ts
 * const { db, sent } = scriptedKysely({
 *   answer: (sql) => (sql.startsWith('select version()') ? [{ version: 'CockroachDB CCL v24.3.0' }] : new Error(`unscripted: ${sql}`)),
 *   introspector: (db) => new CockroachIntrospector(db),
 * })
 * ```
 */
export function scriptedKysely<DB = unknown>(options: ScriptedKyselyOptions): { db: Kysely<DB>; sent: string[] } {
  const { dialect, sent } = scriptedDialect(options)
  return { db: new Kysely<DB>({ dialect, plugins: [...(options.plugins ?? [])] }), sent }
}

/**
 * The dialect behind {@link scriptedKysely}, for tests that build several Kysely instances on one
 * dialect. `plugins` is ignored: each Kysely built on the dialect takes its own.
 */
export function scriptedDialect(options: ScriptedKyselyOptions): { dialect: Dialect; sent: string[] } {
  const sent: string[] = []
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(query.sql)
      const result = options.answer(query.sql)
      if (result instanceof Error) {
        throw result
      }
      const numAffectedRows = options.affected?.(query.sql)
      return numAffectedRows === undefined ? { rows: result as R[] } : { rows: result as R[], numAffectedRows }
    },
    // eslint-disable-next-line require-yield -- nothing scripted streams
    async *streamQuery() {
      throw new Error('scriptedKysely: streaming is not scripted')
    },
  }
  const driver: Driver = {
    async init() {},
    async acquireConnection() {
      return connection
    },
    async beginTransaction() {},
    async commitTransaction() {},
    async rollbackTransaction() {},
    async releaseConnection() {},
    async destroy() {},
  }
  const dialect: Dialect = {
    createAdapter: () => options.adapter ?? new PostgresAdapter(),
    createDriver: () => driver,
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db) => (options.introspector ?? ((k) => new PostgresIntrospector(k)))(db as Kysely<unknown>),
  }
  return { dialect, sent }
}
