// withRetry's control flow, statement by statement, against a scripted pg pool: the real
// CockroachDialect, CockroachDriver and Kysely transaction code run on top of a fake pg client that
// records every statement and fails the ones a test tells it to. Deterministic: no server, no timers
// unless a test asks for them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Kysely, sql } from 'kysely'
import {
  AmbiguousCommitError,
  CockroachDialect,
  DEFAULT_RETRY_OPTIONS,
  RetryExhaustedError,
  getSqlState,
  isAmbiguousCommitError,
  isCommitOutcomeUnknown,
  isQueryRefusedError,
  isConnectionError,
  isRetryExhaustedError,
  isRetryableError,
  isSerializationFailure,
  withRetry,
} from '../../../src/index.js'
import { resolveRetryOptions, retryDelay } from '../../../src/retry/with-retry-options.js'
import { ScriptedPool, pgError } from '../../harness/scripted-pool.js'
import type { RetryEvent, WithRetryOptions } from '../../../src/index.js'

interface DB {
  account: { id: number; balance: number }
}

const serializationFailure = () => pgError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError: WriteTooOldError')
const connectionLost = () => new Error('Connection terminated unexpectedly')

function kyselyOn(pool: ScriptedPool): Kysely<DB> {
  return new Kysely<DB>({ dialect: new CockroachDialect({ pool: pool.asPool() }) })
}

/** Options that never sleep for real and record what withRetry would have waited. */
function recorded(extra: WithRetryOptions = {}): { options: WithRetryOptions; events: RetryEvent[]; sleeps: number[] } {
  const events: RetryEvent[] = []
  const sleeps: number[] = []
  return {
    events,
    sleeps,
    options: {
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms)
      },
      onRetry: (event) => {
        events.push(event)
      },
      ...extra,
    },
  }
}

const update = (trx: Kysely<DB>) => trx.updateTable('account').set({ balance: 1 }).where('id', '=', 1).execute()
const UPDATE = 'update "account" set "balance" = $1 where "id" = $2'

describe('withRetry options', () => {
  it('rejects bad counts, delays and values with errors that name the option', () => {
    const cases: [WithRetryOptions, RegExp][] = [
      [{ maxAttempts: 0 }, /maxAttempts must be a positive integer/],
      [{ maxAttempts: -3 }, /maxAttempts must be a positive integer/],
      [{ maxAttempts: 2.5 }, /maxAttempts must be a positive integer/],
      [{ maxAttempts: Number.NaN }, /maxAttempts must be a positive integer/],
      [{ maxAttempts: Infinity }, /Infinity needs maxElapsedMs or signal/],
      [{ maxElapsedMs: 0 }, /maxElapsedMs must be a positive, finite number/],
      [{ maxElapsedMs: Infinity }, /maxElapsedMs must be a positive, finite number/],
      [{ baseDelayMs: -1 }, /baseDelayMs must be a finite number of milliseconds >= 0/],
      [{ maxDelayMs: Number.NaN }, /maxDelayMs must be a finite number/],
      [{ baseDelayMs: 50, maxDelayMs: 10 }, /maxDelayMs \(10\) must not be smaller than baseDelayMs \(50\)/],
      [{ strategy: 'immediate' as never }, /strategy must be 'restart' or 'savepoint'/],
      [{ priority: 'urgent' as never }, /priority must be one of 'low', 'normal', 'high'/],
      [{ priority: 'HIGH' as never }, /priority must be one of .*lower case.*"HIGH"/],
      [{ isolationLevel: 'chaos' as never }, /isolationLevel must be one of/],
      [{ accessMode: 'write only' as never }, /accessMode must be 'read only' or 'read write'/],
      [{ signal: {} as never }, /signal must be an AbortSignal/],
      [{ idempotent: 'yes' as never }, /idempotent must be true or false/],
      [{ sleep: 5 as never }, /sleep must be a function/],
      [{ retryOn: [() => true, 'x'] as never }, /retryOn must be a function/],
      [{ maxAttempt: 3 } as never, /^withRetry: unknown option "maxAttempt"\. Use only maxAttempts, /],
    ]
    for (const [options, message] of cases) {
      assert.throws(
        () => resolveRetryOptions(options),
        (e: unknown) => isQueryRefusedError(e) && e.api === 'withRetry' && message.test(e.message),
        JSON.stringify(options),
      )
    }
  })

  it('fills in the defaults and freezes the result', () => {
    const resolved = resolveRetryOptions({ maxAttempts: Infinity, maxElapsedMs: 500, retryOn: () => false })
    assert.ok(Object.isFrozen(resolved))
    assert.ok(Object.isFrozen(resolved.retryOn))
    assert.ok(Object.isFrozen(DEFAULT_RETRY_OPTIONS))
    assert.equal(resolved.maxAttempts, Infinity)
    assert.equal(resolved.strategy, DEFAULT_RETRY_OPTIONS.strategy)
    assert.equal(resolved.baseDelayMs, DEFAULT_RETRY_OPTIONS.baseDelayMs)
    assert.equal(resolved.maxDelayMs, DEFAULT_RETRY_OPTIONS.maxDelayMs)
    assert.equal(resolved.idempotent, false)
    // A base delay above the default cap raises the cap instead of failing.
    assert.equal(resolveRetryOptions({ baseDelayMs: 5000 }).maxDelayMs, 5000)
  })

  it('validates the options before touching the database', async () => {
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    await assert.rejects(
      withRetry(db, async () => 1, { maxAttempts: -1 }),
      { name: 'QueryRefusedError', message: /^withRetry: maxAttempts must be a positive integer/ },
    )
    assert.equal(pool.connects, 0)
    await db.destroy()
  })

  it('computes exponential backoff with full jitter, capped, deterministic with an injected random', () => {
    const limits = { baseDelayMs: 10, maxDelayMs: 100 }
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, limits, () => 0.5)),
      [5, 10, 20, 40, 50, 50],
    )
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => retryDelay(n, limits, () => 0)),
      [0, 0, 0, 0, 0],
    )
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => retryDelay(n, limits, () => 0.999)),
      [10, 20, 40, 80, 100],
    )
    // Huge retry numbers neither overflow nor exceed the cap.
    assert.equal(
      retryDelay(10_000, limits, () => 0.999),
      100,
    )
    assert.throws(() => retryDelay(1, limits, () => 1), {
      name: 'QueryRefusedError',
      message: /^retryDelay: random\(\) must return a number in \[0, 1\)/,
    })
    assert.throws(() => retryDelay(0, limits), /retry must be a positive integer/)
  })
})

describe('withRetry control flow (scripted connection)', () => {
  it('restarts the transaction after a 40001 from a statement, with the backoff schedule', async () => {
    const pool = new ScriptedPool((text, n) => (text === UPDATE && n <= 2 ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    const { options, events, sleeps } = recorded({ baseDelayMs: 10, maxDelayMs: 1000 })
    const attempts: number[] = []
    const result = await withRetry(
      db,
      async (trx, { attempt }) => {
        attempts.push(attempt)
        await update(trx)
        return 'done'
      },
      options,
    )
    assert.equal(result, 'done')
    assert.deepEqual(attempts, [1, 2, 3])
    assert.deepEqual(pool.log, [
      '1: begin',
      `1: ${UPDATE}`,
      '1: rollback',
      '2: begin',
      `2: ${UPDATE}`,
      '2: rollback',
      '3: begin',
      `3: ${UPDATE}`,
      '3: commit',
    ])
    assert.deepEqual(
      events.map((e) => [e.attempt, getSqlState(e.error), e.delayMs]),
      [
        [1, '40001', 5],
        [2, '40001', 10],
      ],
    )
    assert.deepEqual(sleeps, [5, 10])
    assert.equal(pool.checkedOut, 0)
    assert.deepEqual(pool.releases, [false, false, false])
    await db.destroy()
  })

  it('retries a 40001 raised by COMMIT, and the legacy CR000 and 40P01', async () => {
    for (const code of ['40001', 'CR000', '40P01']) {
      const pool = new ScriptedPool((text, n) => (text === 'commit' && n === 1 ? pgError(code, `failed with ${code}`) : undefined))
      const db = kyselyOn(pool)
      let calls = 0
      await withRetry(
        db,
        async (trx) => {
          calls++
          await update(trx)
        },
        recorded().options,
      )
      assert.equal(calls, 2, code)
      // COMMIT failed, so the transaction is over: BEGIN gives the releasing ROLLBACK a
      // transaction to end, and the healthy connection goes back to the pool.
      assert.deepEqual(pool.statements.slice(2, 6), ['commit', 'begin', 'rollback', 'begin'], code)
      assert.deepEqual(pool.releases, [false, false], code)
      assert.equal(pool.checkedOut, 0)
      await db.destroy()
    }
  })

  it('retries a connection lost before COMMIT: at BEGIN and in the middle of the callback', async () => {
    for (const failAt of ['begin', UPDATE]) {
      const pool = new ScriptedPool((text, n) => (text === failAt && n === 1 ? connectionLost() : undefined))
      const db = kyselyOn(pool)
      const { options, events } = recorded()
      await withRetry(db, (trx) => update(trx), options)
      assert.equal(events.length, 1)
      assert.match(String(events[0]!.error), /Connection terminated/)
      // The broken client was destroyed, the next attempt used a new one, and none is left out.
      assert.deepEqual(pool.releases, [true, false], failAt)
      assert.equal(pool.checkedOut, 0)
      assert.equal(pool.statements.at(-1), 'commit')
      await db.destroy()
    }
  })

  it('raises AmbiguousCommitError when the connection is lost while COMMIT is in flight, and does not retry', async () => {
    const pool = new ScriptedPool((text) => (text === 'commit' ? connectionLost() : undefined))
    const db = kyselyOn(pool)
    const { options, events } = recorded()
    let calls = 0
    const error = await withRetry(
      db,
      async (trx) => {
        calls++
        await update(trx)
      },
      options,
    ).then(
      () => assert.fail('expected AmbiguousCommitError'),
      (e: unknown) => e,
    )
    assert.ok(error instanceof AmbiguousCommitError)
    assert.ok(isAmbiguousCommitError(error))
    assert.equal(error.attempt, 1)
    assert.equal(error.statement, 'commit')
    assert.match(String((error.cause as Error).message), /Connection terminated/)
    assert.match(error.message, /may or may not have committed/)
    assert.equal(calls, 1)
    assert.equal(events.length, 0)
    assert.deepEqual(pool.releases, [true])
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('treats 40003 (result is ambiguous) at COMMIT as ambiguous, and retries it when idempotent', async () => {
    const ambiguous = () => pgError('40003', 'result is ambiguous: error=rpc error')
    {
      const pool = new ScriptedPool((text, n) => (text === 'commit' && n === 1 ? ambiguous() : undefined))
      const db = kyselyOn(pool)
      await assert.rejects(
        withRetry(db, (trx) => update(trx), recorded().options),
        (e: unknown) => {
          assert.ok(e instanceof AmbiguousCommitError)
          assert.equal(getSqlState(e.cause), '40003')
          return true
        },
      )
      assert.equal(pool.checkedOut, 0)
      await db.destroy()
    }
    {
      const pool = new ScriptedPool((text, n) => (text === 'commit' && n === 1 ? ambiguous() : undefined))
      const db = kyselyOn(pool)
      const { options, events } = recorded({ idempotent: true })
      await withRetry(db, (trx) => update(trx), options)
      assert.equal(events.length, 1)
      assert.deepEqual(
        pool.statements.filter((s) => s === 'commit'),
        ['commit', 'commit'],
      )
      assert.equal(pool.checkedOut, 0)
      await db.destroy()
    }
  })

  it('passes other errors straight through: the same object, its original stack, after a rollback', async () => {
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    const original = new Error('insufficient funds')
    const stack = original.stack
    let calls = 0
    await assert.rejects(
      withRetry(
        db,
        async (trx) => {
          calls++
          await update(trx)
          throw original
        },
        recorded().options,
      ),
      (e: unknown) => {
        assert.equal(e, original)
        assert.equal((e as Error).stack, stack)
        return true
      },
    )
    assert.equal(calls, 1)
    assert.deepEqual(pool.statements, ['begin', UPDATE, 'rollback'])
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('never lets a failing ROLLBACK hide the error that caused it', async () => {
    const unique = pgError('23505', 'duplicate key value violates unique constraint "account_pkey"')
    const pool = new ScriptedPool((text) =>
      text === UPDATE ? unique : text === 'rollback' ? pgError('XX000', 'internal error during rollback') : undefined,
    )
    const db = kyselyOn(pool)
    await assert.rejects(
      withRetry(db, (trx) => update(trx), recorded().options),
      (e: unknown) => e === unique,
    )
    // Kysely marks a connection whose ROLLBACK failed for destruction.
    assert.deepEqual(pool.releases, [true])
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('gives up with RetryExhaustedError carrying the attempts and the last error', async () => {
    const failures: Error[] = []
    const pool = new ScriptedPool((text) => {
      if (text !== UPDATE) return undefined
      const failure = serializationFailure()
      failures.push(failure)
      return failure
    })
    const db = kyselyOn(pool)
    const { options, events } = recorded({ maxAttempts: 3 })
    const error = await withRetry(db, (trx) => update(trx), options).then(
      () => assert.fail('expected RetryExhaustedError'),
      (e: unknown) => e,
    )
    assert.ok(error instanceof RetryExhaustedError)
    assert.ok(isRetryExhaustedError(error))
    assert.equal(error.attempts, 3)
    assert.equal(error.limit, 'maxAttempts')
    assert.equal(error.cause, failures[2])
    assert.match(error.message, /gave up after 3 attempts \(maxAttempts is 3\); nothing was committed/)
    assert.equal(events.length, 2)
    assert.equal(pool.checkedOut, 0)
    // A RetryExhaustedError is final: an outer classifier does not see the 40001 inside it.
    assert.equal(isRetryableError(error), false)
    await db.destroy()
  })

  it('stops at maxElapsedMs, measured with the injected clock', async () => {
    let clock = 0
    const pool = new ScriptedPool((text) => (text === UPDATE ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    const { options, sleeps } = recorded({
      maxAttempts: 100,
      maxElapsedMs: 100,
      baseDelayMs: 10,
      maxDelayMs: 1000,
      random: () => 0.999,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms)
        clock += ms
      },
    })
    await assert.rejects(
      withRetry(db, (trx) => update(trx), options),
      (e: unknown) => {
        assert.ok(e instanceof RetryExhaustedError)
        assert.equal(e.limit, 'maxElapsedMs')
        // Waits 10, 20, 40 (70 ms in all); the next, 80, would end past 100.
        assert.equal(e.attempts, 4)
        assert.equal(e.elapsedMs, 70)
        return true
      },
    )
    assert.deepEqual(sleeps, [10, 20, 40])
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('retries what retryOn accepts, and only that', async () => {
    const lockNotAvailable = () => pgError('55P03', 'could not obtain lock on row')
    const pool = new ScriptedPool((text, n) => (text === UPDATE && n === 1 ? lockNotAvailable() : undefined))
    const db = kyselyOn(pool)
    await withRetry(db, (trx) => update(trx), recorded({ retryOn: (e) => getSqlState(e) === '55P03' }).options)
    assert.equal(pool.statements.filter((s) => s === UPDATE).length, 2)
    await db.destroy()

    const pool2 = new ScriptedPool((text, n) => (text === UPDATE && n === 1 ? lockNotAvailable() : undefined))
    const db2 = kyselyOn(pool2)
    await assert.rejects(
      withRetry(db2, (trx) => update(trx), recorded().options),
      (e: unknown) => getSqlState(e) === '55P03',
    )
    await db2.destroy()
  })

  it('retries errors the callback wrapped, following `cause`', async () => {
    const pool = new ScriptedPool((text, n) => (text === UPDATE && n === 1 ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    let calls = 0
    await withRetry(
      db,
      async (trx) => {
        calls++
        try {
          await update(trx)
        } catch (error) {
          throw new Error('updating the account failed', { cause: error })
        }
      },
      recorded().options,
    )
    assert.equal(calls, 2)
    await db.destroy()
  })

  it('ends with the error onRetry throws, after rolling back', async () => {
    const pool = new ScriptedPool((text) => (text === UPDATE ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    const stop = new Error('metrics backend down')
    await assert.rejects(
      withRetry(db, (trx) => update(trx), recorded({ onRetry: () => Promise.reject(stop) }).options),
      (e: unknown) => e === stop,
    )
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('sets isolation level, access mode and priority before anything else', async () => {
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    await withRetry(db, (trx) => update(trx), {
      isolationLevel: 'serializable',
      accessMode: 'read write',
      priority: 'high',
    })
    assert.deepEqual(pool.statements, [
      'start transaction isolation level serializable read write',
      'set transaction priority high',
      UPDATE,
      'commit',
    ])
    await db.destroy()
  })

  it('refuses a Kysely instance that is already a transaction', async () => {
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    await db.transaction().execute(async (trx) => {
      await assert.rejects(
        withRetry(trx as never, async () => 1),
        /`db` is already a transaction.*must own the transaction/s,
      )
    })
    const controlled = await db.startTransaction().execute()
    await assert.rejects(
      withRetry(controlled as never, async () => 1),
      /already a transaction/,
    )
    await controlled.rollback().execute()
    await assert.rejects(
      withRetry({} as never, async () => 1),
      /must be a Kysely instance/,
    )
    await assert.rejects(withRetry(db, 'not a function' as never), /second argument must be the callback/)
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('refuses a callback that commits the transaction itself', async () => {
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    await assert.rejects(
      withRetry(db, async (trx) => {
        await (trx as unknown as { commit(): { execute(): Promise<void> } }).commit().execute()
      }),
      /committed or rolled back the transaction itself/,
    )
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })
})

describe('withRetry with an AbortSignal (scripted connection)', () => {
  it('stops in the middle of a backoff wait, with the abort reason', async () => {
    const pool = new ScriptedPool((text) => (text === UPDATE ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    const controller = new AbortController()
    const reason = new Error('request cancelled')
    let sleeping = 0
    const pending = withRetry(db, (trx) => update(trx), {
      signal: controller.signal,
      baseDelayMs: 3_600_000,
      random: () => 0.5,
      // A sleep that ignores the signal: withRetry must stop waiting anyway.
      sleep: () => {
        sleeping++
        controller.abort(reason)
        return new Promise(() => {})
      },
    })
    await assert.rejects(pending, (e: unknown) => e === reason)
    assert.equal(sleeping, 1)
    assert.equal(pool.statements.filter((s) => s === UPDATE).length, 1)
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('stops the default timer of a long backoff as soon as the signal aborts', async () => {
    const pool = new ScriptedPool((text) => (text === UPDATE ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    const controller = new AbortController()
    const pending = withRetry(db, (trx) => update(trx), {
      signal: controller.signal,
      baseDelayMs: 3_600_000,
      random: () => 0.5,
      onRetry: () => {
        setImmediate(() => controller.abort())
      },
    })
    await assert.rejects(pending, { name: 'AbortError' })
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('does not start when the signal is already aborted', async () => {
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    await assert.rejects(
      withRetry(db, async () => 1, { signal: AbortSignal.abort() }),
      { name: 'AbortError' },
    )
    assert.equal(pool.connects, 0)
    await db.destroy()
  })

  it('rolls back instead of committing when aborted while the callback runs', async () => {
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    const controller = new AbortController()
    await assert.rejects(
      withRetry(
        db,
        async (trx, { signal }) => {
          assert.equal(signal, controller.signal)
          await update(trx)
          controller.abort(new Error('shutting down'))
          return 1
        },
        { signal: controller.signal },
      ),
      /shutting down/,
    )
    assert.deepEqual(pool.statements, ['begin', UPDATE, 'rollback'])
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })
})

describe('withRetry savepoint strategy (scripted connection)', () => {
  it('runs the protocol: SAVEPOINT, ROLLBACK TO SAVEPOINT on 40001, RELEASE, COMMIT, on one connection', async () => {
    const pool = new ScriptedPool((text, n) => (text === UPDATE && n <= 2 ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    const { options, events } = recorded({ strategy: 'savepoint', priority: 'low' })
    const attempts: number[] = []
    await withRetry(
      db,
      async (trx, { attempt }) => {
        attempts.push(attempt)
        await update(trx)
      },
      options,
    )
    assert.deepEqual(attempts, [1, 2, 3])
    assert.deepEqual(pool.log, [
      '1: begin',
      '1: set transaction priority low',
      '1: savepoint cockroach_restart',
      `1: ${UPDATE}`,
      '1: rollback to savepoint cockroach_restart',
      `1: ${UPDATE}`,
      '1: rollback to savepoint cockroach_restart',
      `1: ${UPDATE}`,
      '1: release savepoint cockroach_restart',
      '1: commit',
    ])
    assert.equal(events.length, 2)
    assert.equal(pool.connects, 1)
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('retries a 40001 from RELEASE in place, like cockroach-go', async () => {
    const release = 'release savepoint cockroach_restart'
    const pool = new ScriptedPool((text, n) => (text === release && n === 1 ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    await withRetry(db, (trx) => update(trx), recorded({ strategy: 'savepoint' }).options)
    assert.deepEqual(pool.statements, [
      'begin',
      'savepoint cockroach_restart',
      UPDATE,
      release,
      'rollback to savepoint cockroach_restart',
      UPDATE,
      release,
      'commit',
    ])
    await db.destroy()
  })

  it('raises AmbiguousCommitError naming RELEASE when the connection is lost during it', async () => {
    const release = 'release savepoint cockroach_restart'
    const pool = new ScriptedPool((text) => (text === release ? connectionLost() : undefined))
    const db = kyselyOn(pool)
    await assert.rejects(
      withRetry(db, (trx) => update(trx), recorded({ strategy: 'savepoint' }).options),
      (e: unknown) => {
        assert.ok(e instanceof AmbiguousCommitError)
        assert.equal(e.statement, release)
        return true
      },
    )
    assert.deepEqual(pool.releases, [true])
    await db.destroy()
  })

  it('starts over in a new transaction after a 40001 at the COMMIT that follows RELEASE', async () => {
    const pool = new ScriptedPool((text, n) => (text === 'commit' && n === 1 ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    await withRetry(db, (trx) => update(trx), recorded({ strategy: 'savepoint' }).options)
    assert.deepEqual(pool.log, [
      '1: begin',
      '1: savepoint cockroach_restart',
      `1: ${UPDATE}`,
      '1: release savepoint cockroach_restart',
      '1: commit',
      '1: begin',
      '1: rollback',
      '2: begin',
      '2: savepoint cockroach_restart',
      `2: ${UPDATE}`,
      '2: release savepoint cockroach_restart',
      '2: commit',
    ])
    await db.destroy()
  })

  it('starts over when ROLLBACK TO SAVEPOINT fails, and after a lost connection', async () => {
    const pool = new ScriptedPool((text, n) => {
      if (text === UPDATE && n === 1) return serializationFailure()
      if (text === 'rollback to savepoint cockroach_restart' && n === 1) return pgError('XX000', 'cannot roll back')
      if (text === UPDATE && n === 2) return connectionLost()
      return undefined
    })
    const db = kyselyOn(pool)
    await withRetry(db, (trx) => update(trx), recorded({ strategy: 'savepoint' }).options)
    assert.deepEqual(pool.log, [
      '1: begin',
      '1: savepoint cockroach_restart',
      `1: ${UPDATE}`, // 40001
      '1: rollback to savepoint cockroach_restart', // fails: start over
      '1: rollback',
      '2: begin',
      '2: savepoint cockroach_restart',
      `2: ${UPDATE}`, // connection lost: start over on a new connection
      '2: rollback',
      '3: begin',
      '3: savepoint cockroach_restart',
      `3: ${UPDATE}`,
      '3: release savepoint cockroach_restart',
      '3: commit',
    ])
    assert.deepEqual(pool.releases, [false, true, false])
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })

  it('rolls the open transaction back when exhausted or aborted between in-place attempts', async () => {
    const pool = new ScriptedPool((text) => (text === UPDATE ? serializationFailure() : undefined))
    const db = kyselyOn(pool)
    await assert.rejects(
      withRetry(db, (trx) => update(trx), recorded({ strategy: 'savepoint', maxAttempts: 2 }).options),
      RetryExhaustedError,
    )
    assert.deepEqual(pool.statements.slice(-4), [UPDATE, 'rollback to savepoint cockroach_restart', UPDATE, 'rollback'])
    assert.equal(pool.checkedOut, 0)

    const controller = new AbortController()
    await assert.rejects(
      withRetry(db, (trx) => update(trx), {
        strategy: 'savepoint',
        signal: controller.signal,
        onRetry: () => controller.abort(),
        sleep: () => new Promise(() => {}),
      }),
      { name: 'AbortError' },
    )
    assert.deepEqual(pool.statements.slice(-2), ['rollback to savepoint cockroach_restart', 'rollback'])
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })
})

describe('retry classifiers', () => {
  it('classify SQLSTATEs and cause chains', () => {
    assert.equal(isSerializationFailure(pgError('40001', 'x')), true)
    assert.equal(isSerializationFailure(pgError('CR000', 'x')), true)
    assert.equal(isRetryableError(pgError('40P01', 'deadlock detected')), true)
    assert.equal(isRetryableError(pgError('23505', 'x')), false)
    assert.equal(isRetryableError(new Error('outer', { cause: new Error('middle', { cause: pgError('40001', 'x') }) })), true)
    assert.equal(isRetryableError(new AmbiguousCommitError(pgError('40001', 'x'), { attempt: 1, statement: 'commit' })), false)
    assert.equal(isConnectionError(new Error('wrapped', { cause: Object.assign(new Error('read'), { code: 'ECONNRESET' }) })), true)
    // is<ClassName> is a brand check: a raw 40003 is not an AmbiguousCommitError, it is what
    // isCommitOutcomeUnknown answers for.
    assert.equal(isAmbiguousCommitError(pgError('40003', 'result is ambiguous')), false)
    assert.equal(isCommitOutcomeUnknown(pgError('40003', 'result is ambiguous')), true)
    assert.equal(isAmbiguousCommitError(new AmbiguousCommitError(pgError('40003', 'x'), { attempt: 1, statement: 'commit' })), true)
    assert.equal(isAmbiguousCommitError(pgError('40001', 'x')), false)
    // A cyclic cause chain terminates.
    const cyclic: Error & { cause?: unknown } = new Error('a')
    cyclic.cause = cyclic
    assert.equal(isRetryableError(cyclic), false)
  })

  it('know which COMMIT errors leave the outcome unknown', () => {
    const unknown = [
      connectionLost(),
      pgError('40003', 'result is ambiguous'),
      pgError('57014', 'canceled'),
      pgError('XX000', 'internal'),
      new Error('?'),
    ]
    const known = [pgError('40001', 'x'), pgError('40P01', 'x'), pgError('40002', 'x'), pgError('23505', 'x'), pgError('25P01', 'x')]
    for (const error of unknown) assert.equal(isCommitOutcomeUnknown(error), true, error.message)
    for (const error of known) assert.equal(isCommitOutcomeUnknown(error), false, error.message)
  })

  it('a Kysely AbortedTransactionError at COMMIT is a known rollback, passed through', async () => {
    // PostgreSQL answers COMMIT of an aborted transaction with the ROLLBACK tag.
    const pool = new ScriptedPool()
    const db = kyselyOn(pool)
    await assert.rejects(
      withRetry(db, async (trx) => {
        // As if the callback had swallowed a statement error, leaving the transaction aborted.
        await sql`select 1`.execute(trx)
        pool.commitAnswersRollback = true
      }),
      { name: 'AbortedTransactionError' },
    )
    assert.equal(pool.checkedOut, 0)
    await db.destroy()
  })
})
