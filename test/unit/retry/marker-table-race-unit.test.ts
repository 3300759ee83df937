// Which failures of the marker table's CREATE TABLE IF NOT EXISTS are a race lost to another
// process (review of issue 12, finding 2), without a server.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isCreationRace } from '../../../src/retry/marker-table.js'

const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code })

describe('isCreationRace', () => {
  it('a race: 42P07, 23505 on pg_type, 42710, 40001, XX000 tuple concurrently updated', () => {
    assert.equal(isCreationRace(pgError('42P07')), true)
    assert.equal(isCreationRace(pgError('23505', 'duplicate key value violates unique constraint "pg_type_typname_nsp_index"')), true)
    assert.equal(isCreationRace(pgError('42710', 'type "kysely_cockroachdb_commit_marker" already exists')), true)
    assert.equal(isCreationRace(pgError('40001')), true)
    assert.equal(isCreationRace(pgError('XX000', 'tuple concurrently updated')), true)
  })

  it('not a race: no privilege, another internal error, no SQLSTATE', () => {
    assert.equal(isCreationRace(pgError('42501')), false)
    assert.equal(isCreationRace(pgError('XX000', 'something else')), false)
    assert.equal(isCreationRace(new Error('Connection terminated unexpectedly')), false)
  })
})
