// The marker table is set up once per Kysely and everything derived from it (review of issue 12,
// finding 4), and its PostgreSQL cleanup (finding 3): db.withSchema(), withPlugin() and withoutPlugins() return new Kysely instances that
// share the dialect's adapter and connections. A recording driver stands in for the server.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CamelCasePlugin, Kysely } from 'kysely'
import type { Dialect } from 'kysely'
import { ensureMarkerTable } from '../../../src/retry/marker-table.js'
import { pollUntil } from '../../harness/cluster.js'
import { scriptedDialect } from '../../harness/scripted-kysely.js'

/** A dialect whose connection records every statement (`sent`) and answers version() as PostgreSQL 16. */
function recordingDialect(affected?: (text: string) => bigint | undefined): { dialect: Dialect; sent: string[] } {
  return scriptedDialect({ answer: (text) => (text.startsWith('select version()') ? [{ version: 'PostgreSQL 16.4' }] : []), affected })
}

describe('ensureMarkerTable', () => {
  it('creates the table once for a Kysely and the instances derived from it', async () => {
    const { dialect, sent } = recordingDialect()
    const db = new Kysely<unknown>({ dialect })
    await ensureMarkerTable(db)
    await ensureMarkerTable(db.withSchema('other'))
    await ensureMarkerTable(db.withPlugin(new CamelCasePlugin()))
    await ensureMarkerTable(db.withoutPlugins())
    await ensureMarkerTable(db)
    assert.equal(sent.filter((text) => text.startsWith('create table')).length, 1, sent.join('\n'))
    await db.destroy()
  })

  it('a separate Kysely sets it up again', async () => {
    const { dialect, sent } = recordingDialect()
    const first = new Kysely<unknown>({ dialect })
    const second = new Kysely<unknown>({ dialect })
    await ensureMarkerTable(first)
    await ensureMarkerTable(second)
    assert.equal(sent.filter((text) => text.startsWith('create table')).length, 2)
  })
})

// The batch size of marker-table.ts's cleanup DELETE.
const CLEANUP_BATCH = 10_000

describe('marker table cleanup on PostgreSQL', () => {
  it('runs at first use and keeps deleting while a batch comes back full', async () => {
    const { dialect, sent } = recordingDialect((text) => {
      if (!text.startsWith('delete')) return undefined
      // Two full batches, then a short one.
      const deletes = sent.filter((t) => t.startsWith('delete')).length
      return deletes <= 2 ? BigInt(CLEANUP_BATCH) : 3n
    })
    const db = new Kysely<unknown>({ dialect })
    await ensureMarkerTable(db)
    await pollUntil(() => sent.filter((text) => text.startsWith('delete')).length === 3, 'three cleanup batches')
    // The short batch ended it: no fourth.
    await ensureMarkerTable(db)
    assert.equal(sent.filter((text) => text.startsWith('delete')).length, 3)
  })
})
