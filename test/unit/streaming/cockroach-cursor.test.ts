// The cursor wrapper's control flow against a scripted cursor and connection: the cases a real
// server cannot be made to produce on demand (a read pending when the connection dies right after
// CommandComplete, which pg-cursor itself never answers). test/integration/connection/connection-loss.test.ts runs the
// real thing.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, it } from 'node:test'
import type { PostgresCursorConstructor } from 'kysely'
import { cursorClass } from '../../../src/streaming/cockroach-cursor.js'
import { isConnectionError } from '../../../src/index.js'

/** Like pg-cursor once its portal is `done`: reads and closes that wait for replies that never come. */
class SilentCursor {
  readonly config: unknown
  connection: EventEmitter | undefined
  constructor(_sql: string, _parameters: unknown[], config?: unknown) {
    this.config = config
  }
  submit(connection: EventEmitter): void {
    this.connection = connection
  }
  read(_rows: number): Promise<unknown[]> {
    return new Promise(() => {})
  }
  close(): Promise<void> {
    return new Promise(() => {})
  }
}

function submitted(types?: object) {
  const Cursor = cursorClass(SilentCursor as unknown as PostgresCursorConstructor, types as never)!
  const cursor = new Cursor('select 1', []) as unknown as SilentCursor
  const connection = new EventEmitter()
  cursor.submit(connection)
  return { cursor, connection }
}

describe('the cursor class CockroachDriver gives Kysely', () => {
  it('rejects a pending read with a connection error once the connection ends', async () => {
    const { cursor, connection } = submitted()
    const read = cursor.read(10)
    connection.emit('end')
    await assert.rejects(read, (error: Error) => {
      assert.ok(isConnectionError(error), error.message)
      assert.match(error.message, /^stream\(\): Connection terminated unexpectedly/)
      return true
    })
  })

  it("lets the cursor's own error win: pg hands it over in a nextTick after the connection's end", async () => {
    let reject!: (error: Error) => void
    class AnsweringCursor extends SilentCursor {
      override read(): Promise<unknown[]> {
        return new Promise((_resolve, r) => (reject = r))
      }
    }
    const Cursor = cursorClass(AnsweringCursor as unknown as PostgresCursorConstructor, undefined)!
    const cursor = new Cursor('select 1', []) as unknown as SilentCursor
    const connection = new EventEmitter()
    cursor.submit(connection)
    const read = cursor.read(10)
    connection.emit('end')
    const own = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })
    process.nextTick(() => reject(own))
    await assert.rejects(read, (error: unknown) => error === own)
  })

  it('resolves close() when the connection ends, or at once when it already has, and leaves no listener', async () => {
    const first = submitted()
    const closing = first.cursor.close()
    assert.equal(first.connection.listenerCount('end'), 1)
    first.connection.emit('end')
    await closing
    assert.equal(first.connection.listenerCount('end'), 0)

    const second = submitted()
    second.connection.emit('end')
    await second.cursor.close()
    assert.equal(second.connection.listenerCount('end'), 0)
  })

  it('passes the type parsers as the third constructor argument, and only then', () => {
    const types = { getTypeParser: () => String }
    assert.deepEqual(submitted(types).cursor.config, { types })
    assert.equal(submitted().cursor.config, undefined)
    assert.equal(cursorClass(undefined, undefined), undefined)
  })
})
