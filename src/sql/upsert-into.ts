import type { InsertQueryBuilder, InsertQueryNode, InsertResult, Kysely, QueryCreator } from 'kysely'
import { QueryRefusedError } from '../errors/query-refused-error.js'

/**
 * CockroachDB's `UPSERT INTO`, with Kysely's insert typing: `values`, multi-row values,
 * `returning` and `returningAll` work as on `insertInto`. It is `db.replaceInto(table)`, which
 * {@link CockroachQueryCompiler} prints as `upsert into` (on other dialects it stays `replace into`).
 *
 * ```ts
 * import { upsertInto } from 'kysely-cockroachdb'
 *
 * const result = await upsertInto(db, 'account')
 *   .values([{ id: 1, name: 'alice', balance: 100n }, { id: 2, name: 'bob', balance: 50n }])
 *   .executeTakeFirstOrThrow()
 * // upsert into "account" ("id", "name", "balance") values ($1, $2, $3), ($4, $5, $6)
 * result.numInsertedOrUpdatedRows // 2n: inserted plus updated rows
 * ```
 *
 * UPSERT's conflict target is always the primary key, and it only overwrites the listed columns:
 * the others keep their values (unlike MySQL's REPLACE, which deletes the row and inserts a new
 * one). For a conflict on another unique index, use `insertInto(...).onConflict(...)`.
 */
export function upsertInto<DB, T extends keyof DB & string>(db: Kysely<DB>, table: T): InsertQueryBuilder<DB, T, InsertResult>
/** The same on a `QueryCreator`, e.g. `upsertInto(db.with('src', ...), 'account')`. */
export function upsertInto<DB, T extends keyof DB & string>(db: QueryCreator<DB>, table: T): InsertQueryBuilder<DB, T, InsertResult>
export function upsertInto<DB, T extends keyof DB & string>(db: QueryCreator<DB>, table: T): InsertQueryBuilder<DB, T, InsertResult> {
  if (typeof (db as { replaceInto?: unknown } | undefined)?.replaceInto !== 'function') {
    throw new QueryRefusedError(
      'upsertInto()',
      'the first argument must be a Kysely instance, a transaction or a QueryCreator',
      "call it as upsertInto(db, 'account')",
    )
  }
  if (typeof table !== 'string' || table.length === 0) {
    throw new QueryRefusedError('upsertInto()', 'the table must be a non-empty string', "give a name such as 'account'")
  }
  return db.replaceInto(table)
}

/**
 * Refuses what CockroachDB's UPSERT lacks (`opt_with_clause UPSERT INTO insert_target insert_rest
 * returning_clause`, sql.y: no ON CONFLICT, and none of the other dialects' insert variants), for
 * CockroachQueryCompiler's visitInsertQuery.
 *
 * @internal
 */
export function rejectForUpsert(node: InsertQueryNode): void {
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
