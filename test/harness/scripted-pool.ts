// A pg.Pool stand-in with CockroachDB's transaction states, for tests of the real CockroachDialect,
// CockroachDriver and Kysely transaction code statement by statement, without a server.
import assert from 'node:assert/strict'
import type { PostgresPool, PostgresPoolClient } from 'kysely'

/** What a script answers for a statement: an error to throw, or undefined to succeed. */
export type ScriptedFailure = Error | undefined

/**
 * Decides the fate of statement `sql`, the `n`th statement with exactly this text on the pool (from
 * 1): return an error to fail it, undefined to let it succeed.
 */
export type PoolScript = (sql: string, n: number) => ScriptedFailure

/** An error shaped as node-postgres builds it from an ErrorResponse: `code` is the SQLSTATE. */
export function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' })
}

/**
 * A pg.Pool stand-in whose clients answer every statement with no rows, unless the script fails it,
 * and keep each session's transaction state the way CockroachDB does, as far as a driver can see it:
 *
 * - `begin` / `start transaction ...` opens a transaction, unless the script fails it;
 * - `commit` ends the transaction even when the script fails it (CockroachDB ends a transaction
 *   whose COMMIT failed, also with a retry error);
 * - `rollback` ends it too, and outside a transaction fails with 25P01 "there is no transaction in
 *   progress" (cockroachdb/cockroach pkg/sql/conn_executor_exec.go, execStmtInNoTxnState;
 *   PostgreSQL only warns);
 * - with {@link commitAnswersRollback}, a successful COMMIT answers with the ROLLBACK tag, as
 *   PostgreSQL does for a transaction that was aborted.
 *
 * Scripting: pass a {@link PoolScript} that returns the error for the statements to fail, by text and
 * by count (`n`), e.g. a serialization failure on the first COMMIT only. What Kysely and the driver
 * then send is the test's subject (test/unit/dialect/driver-rollback.test.ts):
 *
 * ```ts
 * const pool = new ScriptedPool((sql, n) => (sql === 'commit' && n === 1 ? pgError('40001', 'restart transaction') : undefined))
 * const db = new Kysely<DB>({ dialect: new CockroachDialect({ pool: pool.asPool() }) })
 * await assert.rejects(db.transaction().execute((trx) => trx.selectFrom('account').selectAll().execute()))
 * assert.deepEqual(pool.statements, ['begin', 'select * from "account"', 'commit', 'rollback'])
 * assert.deepEqual(pool.releases, [false]) // the client went back to the pool
 * ```
 *
 * Then read what happened: {@link log} (`"<client>: <sql>"`, clients numbered from 1 by checkout),
 * {@link statements} (the same without the prefix), {@link releases} (one entry per release: true
 * when the client was destroyed instead of pooled), {@link connects} and {@link checkedOut}. A client
 * released twice fails the test.
 */
export class ScriptedPool {
  /** Every statement as `"<client>: <sql>"`, in order. */
  readonly log: string[] = []
  /** One entry per release: whether the client was destroyed instead of pooled. */
  readonly releases: boolean[] = []
  readonly options = {}
  /** Clients handed out so far; also the number of the last one. */
  connects = 0
  /** Clients handed out and not yet released. */
  checkedOut = 0
  /** Answer COMMIT with the ROLLBACK tag, as PostgreSQL does for an aborted transaction. */
  commitAnswersRollback = false
  readonly #counts = new Map<string, number>()
  readonly #script: PoolScript

  constructor(script: PoolScript = () => undefined) {
    this.#script = script
  }

  /** This stand-in typed as the pool `CockroachDialect({ pool })` takes. */
  asPool(): PostgresPool {
    return this as unknown as PostgresPool
  }

  async connect(): Promise<PostgresPoolClient> {
    const id = ++this.connects
    this.checkedOut++
    let released = false
    let inTransaction = false
    const run = (statement: string): ScriptedFailure => {
      this.log.push(`${id}: ${statement}`)
      const n = (this.#counts.get(statement) ?? 0) + 1
      this.#counts.set(statement, n)
      const failure = this.#script(statement, n)
      if (/^(begin|start transaction)/.test(statement)) {
        inTransaction ||= failure === undefined
      } else if (statement === 'commit') {
        inTransaction = false
      } else if (statement === 'rollback') {
        const wasInTransaction = inTransaction
        inTransaction = false
        if (failure === undefined && !wasInTransaction) {
          return pgError('25P01', 'there is no transaction in progress')
        }
      }
      return failure
    }
    const answersRollback = () => this.commitAnswersRollback
    const onRelease = (destroy: boolean) => {
      this.checkedOut--
      this.releases.push(destroy)
    }
    return {
      processID: id,
      async query(text: unknown) {
        const statement = String(text)
        const failure = run(statement)
        if (failure !== undefined) {
          throw failure
        }
        const command = statement === 'commit' && answersRollback() ? 'ROLLBACK' : statement.split(' ')[0]!.toUpperCase()
        return { command, rowCount: 0, rows: [] }
      },
      release(destroy?: boolean) {
        assert.equal(released, false, 'released twice')
        released = true
        onRelease(destroy === true)
      },
    } as unknown as PostgresPoolClient
  }

  async end(): Promise<void> {}

  /** Statements without the client prefix. */
  get statements(): string[] {
    return this.log.map((line) => line.slice(line.indexOf(': ') + 2))
  }
}
