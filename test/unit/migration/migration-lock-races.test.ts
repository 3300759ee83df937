// Races in CockroachAdapter's migration lock that only CockroachDB raises, driven through the real
// adapter on a scripted connection (no server): the SQL the lock sends is answered by a script,
// and the script's errors are built field by field as node-postgres builds them from the wire.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type pg from 'pg'
import type { MigrationLockOptions } from 'kysely'
import { CockroachAdapter } from '../../../src/index.js'
import { cockroachErrors, wireError } from '../../fixtures/migrations/cockroach-errors.js'
import { scriptedKysely } from '../../harness/scripted-kysely.js'
import type { ScriptedAnswer as Answer } from '../../harness/scripted-kysely.js'

const lockOptions: MigrationLockOptions = Object.freeze({ lockTable: 'kysely_migration_lock', lockRowId: 'migration_lock' })

/**
 * The lock's statements on a CockroachDB whose lock table does not have the lease columns yet.
 * `state` is changed by the script to model another migrator's schema change job.
 */
function lockServer(overrides: {
  addColumn?: (column: string, attempt: number) => Answer
  hasColumns?: (attempt: number) => boolean
  acquire?: (attempt: number) => Answer
  readHolder?: (attempt: number) => Answer
  release?: (attempt: number) => Answer
}) {
  const counts = { addColumn: 0, hasColumns: 0, acquire: 0, readHolder: 0, release: 0 }
  // The lease columns appear once both ADD COLUMN statements went through, unless hasColumns says otherwise.
  const added = new Set<string>()
  const answer = (sql: string): Answer => {
    if (sql.startsWith('select current_database()')) {
      return [{ database: 'defaultdb', schema: 'public', version: 'CockroachDB CCL v24.3.0 (x86_64-pc-linux-gnu)' }]
    }
    if (sql.startsWith('select lease_owner, lease_expires_at from')) {
      const has = overrides.hasColumns?.(counts.hasColumns++) ?? added.size === 2
      return has ? [] : cockroachErrors.undefinedColumn('lease_owner')
    }
    const column = /^alter table .* add column if not exists (\w+)/.exec(sql)?.[1]
    if (column !== undefined) {
      const result = overrides.addColumn?.(column, counts.addColumn++) ?? []
      if (!(result instanceof Error)) {
        added.add(column)
      }
      return result
    }
    if (sql.startsWith('update') && sql.includes('set is_locked = 1')) {
      return overrides.acquire?.(counts.acquire++) ?? [{ id: 'migration_lock' }]
    }
    if (sql.startsWith('select lease_owner as owner')) {
      return (
        overrides.readHolder?.(counts.readHolder++) ?? [
          { owner: 'other', expires_at: new Date(Date.now() + 60_000), server_now: new Date() },
        ]
      )
    }
    if (sql.startsWith('update') && sql.includes('set is_locked = 0')) {
      return overrides.release?.(counts.release++) ?? [{ id: 'migration_lock' }]
    }
    if (sql.startsWith('update') && sql.includes('lease_expires_at = now()')) {
      return [{ id: 'migration_lock' }]
    }
    return new Error(`unscripted statement: ${sql}`)
  }
  return { answer, counts }
}

async function takeAndRelease(server: ReturnType<typeof lockServer>, options = { acquireTimeoutMs: 60_000 }): Promise<string[]> {
  const adapter = new CockroachAdapter({ leaseDurationMs: 60_000, ...options })
  const { db, sent } = scriptedKysely({ adapter, answer: server.answer })
  try {
    await adapter.acquireMigrationLock(db, lockOptions)
    await adapter.releaseMigrationLock(db, lockOptions)
    return sent
  } finally {
    await db.destroy()
  }
}

describe('CockroachAdapter migration lock on CockroachDB-only races (scripted connection)', () => {
  it('waits out a concurrent ADD COLUMN of the lease column that is still being added (42701)', async () => {
    // Another migrator's ADD COLUMN job is running: the column is not public (42703 on select),
    // our ADD COLUMN IF NOT EXISTS sees the pending mutation (42701); two looks later the job is done.
    const server = lockServer({
      hasColumns: (attempt) => attempt >= 2,
      addColumn: (column, attempt) => (attempt < 1 ? cockroachErrors.columnBeingAdded(column) : []),
    })
    const sent = await takeAndRelease(server)
    assert.equal(server.counts.addColumn, 1, 'one ADD COLUMN failed, then the column became public')
    assert.ok(
      sent.some((s) => s.includes('set is_locked = 1')),
      'the lease was taken',
    )
  })

  it('waits out a lease column that is being dropped (55000), then adds it', async () => {
    const server = lockServer({
      addColumn: (column, attempt) => (attempt < 2 ? cockroachErrors.columnBeingDropped(column) : []),
    })
    await takeAndRelease(server)
    assert.equal(server.counts.addColumn, 4, 'two refused ADD COLUMNs, then one for each lease column')
  })

  it('retries a 40001 on the lock row while reading the holder and while releasing', async () => {
    const server = lockServer({
      hasColumns: () => true,
      acquire: (attempt) => (attempt === 0 ? [] : [{ id: 'migration_lock' }]),
      readHolder: (attempt) =>
        attempt === 0 ? cockroachErrors.retryOnLockRow() : [{ owner: 'other', expires_at: new Date(), server_now: new Date() }],
      release: (attempt) => (attempt === 0 ? cockroachErrors.retryOnLockRow() : [{ id: 'migration_lock' }]),
    })
    await takeAndRelease(server)
    assert.equal(server.counts.release, 2, 'release was tried again after the 40001')
  })

  it('counts a release that went through before an ambiguous result (40003) as released', async () => {
    const ambiguous = wireError({
      S: 'ERROR',
      V: 'ERROR',
      C: '40003',
      M: 'result is ambiguous: error=rpc error: EOF',
      F: 'conn_executor.go',
      L: '2340',
      R: 'execCmd',
    })
    const free = { owner: null, expires_at: null, server_now: new Date() }
    const server = lockServer({
      hasColumns: () => true,
      // The first release cleared the lease but its answer was lost; the retry finds nothing to clear.
      release: (attempt) => (attempt === 0 ? ambiguous : []),
      readHolder: () => [free],
    })
    await takeAndRelease(server)
    assert.equal(server.counts.release, 2)
  })

  it('still reports a lost lease when, after an ambiguous release, someone else holds it', async () => {
    const ambiguous = wireError({
      S: 'ERROR',
      V: 'ERROR',
      C: '40003',
      M: 'result is ambiguous: error=rpc error: EOF',
      F: 'conn_executor.go',
      L: '2340',
      R: 'execCmd',
    })
    const server = lockServer({
      hasColumns: () => true,
      release: (attempt) => (attempt === 0 ? ambiguous : []),
      readHolder: () => [{ owner: 'intruder', expires_at: new Date(Date.now() + 60_000), server_now: new Date() }],
    })
    await assert.rejects(takeAndRelease(server), (error: Error) => {
      assert.equal(error.name, 'MigrationLeaseLostError')
      assert.match(error.message, /^CockroachAdapter\.releaseMigrationLock: .*it is now held by 'intruder'/)
      return true
    })
  })

  it('does not retry an error that is not a race, and names the API and the fix', async () => {
    const denied = wireError({
      S: 'ERROR',
      V: 'ERROR',
      C: '42501',
      M: 'user migrator does not have CREATE privilege on relation kysely_migration_lock',
      F: 'authorization.go',
      L: '170',
      R: 'CheckPrivilegeForUser',
    })
    const server = lockServer({ hasColumns: () => false, addColumn: () => denied })
    await assert.rejects(takeAndRelease(server), (error: Error) => {
      assert.match(error.message, /^CockroachAdapter\.acquireMigrationLock: could not add the migration lease columns/)
      assert.match(
        error.message,
        /have an administrator run: alter table .* add column if not exists lease_owner varchar\(255\); .*lease_expires_at timestamptz$/,
      )
      assert.equal(error.cause, denied)
      return true
    })
    assert.equal(server.counts.addColumn, 1, 'a privilege error is not retried')
  })

  it('gives up on a race that outlasts acquireTimeoutMs, with the last error as the cause', async () => {
    const server = lockServer({ hasColumns: () => false, addColumn: (column) => cockroachErrors.columnBeingAdded(column) })
    await assert.rejects(takeAndRelease(server, { acquireTimeoutMs: 200 }), (error: Error) => {
      assert.match(error.message, /^CockroachAdapter\.acquireMigrationLock: could not add the migration lease columns/)
      assert.match(error.message, /in the middle of being added/)
      assert.equal((error.cause as pg.DatabaseError).code, '42701')
      return true
    })
    assert.ok(server.counts.addColumn > 1, 'it was retried until the deadline')
  })
})
