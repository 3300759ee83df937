// The migration lock's classification of real errors from the throwaway PostgreSQL, including the
// 23505 that racing CREATE TABLE IF NOT EXISTS raise there (CockroachDB's errors as node-postgres
// builds them: test/unit/migration/migration-lock-retry-unit.test.ts).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { classifyMigrationLockError } from '../../../src/migration/migration-lock-retry.js'
import { createTestDatabase, postgresTarget } from '../../harness/targets.js'
import type { TestDatabase } from '../../harness/targets.js'
import { waitFor } from '../../harness/wait-for.js'
import { cockroachErrors } from '../../fixtures/migrations/cockroach-errors.js'

describe('classifyMigrationLockError on real PostgreSQL errors', () => {
  let database: TestDatabase
  const clients: pg.Client[] = []
  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    clients.push(client)
    return client
  }
  const failure = async (promise: Promise<unknown>): Promise<pg.DatabaseError> => {
    try {
      await promise
    } catch (error) {
      assert.ok(error instanceof pg.DatabaseError, `expected a DatabaseError, got ${String(error)}`)
      return error
    }
    assert.fail('the statement succeeded')
  }

  before(async () => {
    database = await createTestDatabase(postgresTarget, 'lock_retry_classes')
  })

  after(async () => {
    await Promise.all(clients.map((client) => client.end()))
    await database?.drop()
  })

  it('racing CREATE TABLE IF NOT EXISTS fails with 23505 on pg_type, and that is retried', { timeout: 30_000 }, async () => {
    const [first, second, observer] = [await connect(), await connect(), await connect()]
    await first.query('begin')
    await first.query('create table if not exists raced (id int primary key)')
    // The second does not see the uncommitted table, so it creates one too and waits on pg_type's
    // unique index for the first transaction to end.
    const racing = failure(second.query('create table if not exists raced (id int primary key)'))
    // Watched from a third session: inside the first one's transaction, pg_stat_activity would
    // keep returning the snapshot it took at its first read.
    const waiting = async (): Promise<boolean> => {
      const { rows } = await observer.query<{ n: number }>(
        "select count(*)::int4 as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'create table if not exists raced%'",
      )
      return rows[0]?.n === 1
    }
    await waitFor(waiting, { what: 'the second CREATE TABLE to wait on a lock' })
    await first.query('commit')
    const error = await racing
    assert.equal(error.code, '23505')
    assert.equal(error.constraint, 'pg_type_typname_nsp_index')
    assert.equal(classifyMigrationLockError(error, 'lease-columns').retry, true)
    // The fixtures above have exactly the properties node-postgres gives a server error.
    assert.deepEqual(Object.keys(cockroachErrors.columnBeingAdded('x')).sort(), Object.keys(error).sort())
  })

  it('a real duplicate column (42701) and a real 55000 of another kind are not retried', async () => {
    const client = await connect()
    await client.query('create table dup (id int primary key, x int)')
    const duplicate = await failure(client.query('alter table dup add column x int'))
    assert.equal(duplicate.code, '42701')
    assert.equal(classifyMigrationLockError(duplicate, 'lease-columns').retry, false)
    await client.query('create sequence s')
    const notYet = await failure(client.query("select currval('s')"))
    assert.equal(notYet.code, '55000')
    assert.equal(classifyMigrationLockError(notYet, 'lease-columns').retry, false)
  })
})
