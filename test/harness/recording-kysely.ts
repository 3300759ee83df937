// A Kysely that sends nothing anywhere: for tests of the exact statements a helper sends, in order,
// and of what a refused call never sends.
import type { CompiledQuery, DatabaseConnection, Driver, Kysely, QueryResult } from 'kysely'
import { CockroachConnection } from '../../src/dialect/cockroach-connection.js'
import { kyselyOnDriver } from './driver-dialect.js'

export interface RecordingKyselyOptions {
  /**
   * Wrap the recorder in the package's own `CockroachConnection`, which knows whether it is in a
   * transaction (BEGIN until the connection is released), so its guards run as on a real pool:
   * `asOfSystemTime()` inside a transaction is refused before it reaches the recorder.
   */
  readonly cockroachConnection?: boolean
}

/**
 * A Kysely on CockroachDB's query compiler whose one connection answers every query with no rows
 * and pushes the SQL of everything it would send onto `sent`: queries (also streamed ones, which
 * end at once), and the driver's own `begin`, `commit`, `rollback`, `savepoint <name>`,
 * `rollback to savepoint <name>` and `release savepoint <name>`.
 *
 * ```ts
 * const sent: string[] = []
 * const db = recordingKysely<DB>(sent)
 * await db.transaction().execute((trx) => setTransactionPriority(trx, 'high'))
 * assert.deepEqual(sent, ['begin', 'set transaction priority high', 'commit'])
 * ```
 */
export function recordingKysely<DB>(sent: string[], options: RecordingKyselyOptions = {}): Kysely<DB> {
  const recorder: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(query.sql)
      return { rows: [] }
    },
    // eslint-disable-next-line require-yield -- records and ends
    async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
      sent.push(query.sql)
    },
  }
  const cockroach = options.cockroachConnection
    ? new CockroachConnection(recorder, { client: undefined, controlQuery: async () => {} })
    : undefined
  const run = async (text: string) => void sent.push(text)
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => cockroach ?? recorder,
    beginTransaction: async () => {
      await run('begin')
      if (cockroach) cockroach.inTransaction = true
    },
    commitTransaction: async () => run('commit'),
    rollbackTransaction: async () => run('rollback'),
    savepoint: async (_c, name) => run(`savepoint ${name}`),
    rollbackToSavepoint: async (_c, name) => run(`rollback to savepoint ${name}`),
    releaseSavepoint: async (_c, name) => run(`release savepoint ${name}`),
    releaseConnection: async () => {
      if (cockroach) cockroach.inTransaction = false
    },
    destroy: async () => {},
  }
  return kyselyOnDriver<DB>(driver)
}
