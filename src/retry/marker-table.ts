// The table of commit markers that withRetry's resolveAmbiguousCommits writes into: one row per
// attempt, with a random UUID, written as the transaction's last statement. Created on first use,
// outside any transaction, like the migration lock table. Markers only need to outlive the
// settling of their commit (resolveTimeoutMs, seconds): CockroachDB expires them itself with
// row-level TTL (ttl_expire_after, docs /docs/stable/row-level-ttl, v22.2 and later); on
// PostgreSQL a background delete removes day-old rows: at first use (so short-lived processes clean
// up too), then at most once an hour per process, in batches of CLEANUP_BATCH until a batch comes
// back short.
import { CompiledQuery } from 'kysely'
import type { Kysely } from 'kysely'
import { detectServer } from '../introspection/introspection-rows.js'
import { QueryRefusedError } from '../errors/query-refused-error.js'
import { getSqlState } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'
import { quoteIdentifier } from '../util/sql-quoting.js'

/** The table withRetry's commit markers go into, in the connection's current schema. @internal */
export const COMMIT_MARKER_TABLE = 'kysely_cockroachdb_commit_marker'

const TABLE = quoteIdentifier(COMMIT_MARKER_TABLE)
const COLUMNS = `("id" uuid primary key, "created_at" timestamptz not null default now())`
const CLEANUP_INTERVAL_MS = 60 * 60 * 1000
/** Rows per cleanup DELETE (a bounded statement; the next batch follows while one comes back full). @internal */
export const CLEANUP_BATCH = 10_000

/** The DDL per server: row-level TTL on CockroachDB. @internal */
export function markerTableDdl(server: 'cockroachdb' | 'postgres'): string {
  return server === 'cockroachdb'
    ? `create table if not exists ${TABLE} ${COLUMNS} with (ttl_expire_after = '1 day')`
    : `create table if not exists ${TABLE} ${COLUMNS}`
}

/**
 * The marker insert: the transaction's last statement (so its transaction record stays anchored on
 * the user's first write, not on this shared table), and the fence that settles an unknown commit.
 *
 * @internal
 */
export function markerInsert(marker: string): CompiledQuery {
  return CompiledQuery.raw(`insert into ${TABLE} ("id") values ($1)`, [marker])
}

interface MarkerTableState {
  readonly ready: Promise<'cockroachdb' | 'postgres'>
  lastCleanup: number
}

// One creation per Kysely and the instances derived from it (and one cleanup clock for them), keyed
// on the dialect's adapter: db.withSchema(), withPlugin() and withoutPlugins() return new Kysely
// instances whose executors keep the adapter (kysely DefaultQueryExecutor.withPlugin and friends
// pass it on) and share the connections. The raw statements here are not changed by plugins, so
// the derived instances mean the same table.
const tables = new WeakMap<object, MarkerTableState>()

/** Creates the marker table once per Kysely instance; starts the PostgreSQL cleanup when due. @internal */
export async function ensureMarkerTable<DB>(db: Kysely<DB>): Promise<void> {
  const key = db.getExecutor().adapter
  let state = tables.get(key)
  if (state === undefined) {
    const ready = createMarkerTable(db)
    // 0: the first use cleans up (review of issue 12, finding 3: an hour's wait meant a process
    // that lives less than an hour never did).
    state = { ready, lastCleanup: 0 }
    tables.set(key, state)
    ready.catch(() => tables.delete(key))
  }
  const server = await state.ready
  if (server === 'postgres' && Date.now() - state.lastCleanup >= CLEANUP_INTERVAL_MS) {
    state.lastCleanup = Date.now()
    void cleanUp(db)
  }
}

/**
 * Whether a failed `CREATE TABLE IF NOT EXISTS` of the marker table lost a race with another
 * process creating it, pure. IF NOT EXISTS sees only committed catalog entries, so the loser fails
 * once the winner commits, and changed nothing: running the DDL again finds the table. PostgreSQL
 * reports it as 23505 on pg_type_typname_nsp_index (the table's row type, heap.c
 * heap_create_with_catalog), 42710 "type ... already exists" or 42P07; "tuple concurrently updated"
 * (XX000, heapam.c simple_heap_update) is the same race on a catalog row. CockroachDB: 42P07
 * (pkg/sql/sqlerrors/errors.go NewRelationAlreadyExistsError) or a 40001 from the concurrent schema
 * change. The same cases as the migration lock's table (src/migration/migration-lock-retry.ts).
 *
 * @internal
 */
export function isCreationRace(error: unknown): boolean {
  const state = getSqlState(error)
  if (state === SqlState.DuplicateTable || state === SqlState.UniqueViolation || state === SqlState.DuplicateObject) return true
  if (state === SqlState.SerializationFailure) return true
  return state === SqlState.InternalError && error instanceof Error && /tuple concurrently updated/.test(error.message)
}

// Each lost race means another process's CREATE committed, so the next IF NOT EXISTS finds the
// table; a few tries cover several racers finishing one after another.
const CREATE_ATTEMPTS = 5

async function createMarkerTable<DB>(db: Kysely<DB>): Promise<'cockroachdb' | 'postgres'> {
  const { rows } = await db.executeQuery<{ version: string }>(CompiledQuery.raw('select version() as version'))
  const server = detectServer(String(rows[0]?.version)).kind
  const ddl = markerTableDdl(server)
  for (let attempt = 1; ; attempt++) {
    try {
      await db.executeQuery(CompiledQuery.raw(ddl))
      return server
    } catch (error) {
      if (attempt < CREATE_ATTEMPTS && isCreationRace(error)) continue
      throw refused(error, ddl)
    }
  }
}

function refused(error: unknown, ddl: string): QueryRefusedError {
  return new QueryRefusedError(
    'withRetry',
    `resolveAmbiguousCommits needs the table ${COMMIT_MARKER_TABLE}, and creating it failed: ${error instanceof Error ? error.message : String(error)}`,
    `create it as the table owner (${ddl}) or grant CREATE on the schema`,
    { cause: error },
  )
}

let warned = false

async function cleanUp<DB>(db: Kysely<DB>): Promise<void> {
  try {
    for (;;) {
      const result = await db.executeQuery(
        CompiledQuery.raw(
          `delete from ${TABLE} where "id" in (select "id" from ${TABLE} where "created_at" < now() - interval '1 day' limit ${CLEANUP_BATCH})`,
        ),
      )
      if (Number(result.numAffectedRows ?? 0n) < CLEANUP_BATCH) return
    }
  } catch (error) {
    if (!warned) {
      warned = true
      process.emitWarning(
        `withRetry: cleaning up old rows of ${COMMIT_MARKER_TABLE} failed: ${error instanceof Error ? error.message : String(error)}`,
      )
    }
  }
}
