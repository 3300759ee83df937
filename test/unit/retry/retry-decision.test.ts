// decideRetry, the pure decision withRetry takes after a failed attempt, called directly: every
// branch (abort, retryOn, ambiguous, fail, exhaustion, retry) and the order between them. No
// transaction, no timers: the clock and the random source are the options'.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AmbiguousCommitError, RetryExhaustedError } from '../../../src/index.js'
import { decideRetry } from '../../../src/retry/retry-decision.js'
import type { AttemptPhase, RetryStep } from '../../../src/retry/retry-decision.js'
import { resolveRetryOptions, retryDelay } from '../../../src/retry/with-retry-options.js'
import type { ResolvedRetryOptions, WithRetryOptions } from '../../../src/retry/with-retry-options.js'

function pgError(code: string, message = `error ${code}`): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' })
}

const serializationFailure = () => pgError('40001', 'restart transaction: TransactionRetryWithProtoRefreshError')
const connectionLost = () => new Error('Connection terminated unexpectedly')
const uniqueViolation = () => pgError('23505', 'duplicate key value violates unique constraint')
const plainError = () => new Error('boom')

/** Options with a fixed clock (advanced by hand) and a counted random source. */
function options(overrides: WithRetryOptions = {}): ResolvedRetryOptions & { clock: { ms: number }; randomCalls: () => number } {
  const clock = { ms: 1_000 }
  let calls = 0
  const resolved = resolveRetryOptions({
    now: () => clock.ms,
    random: () => {
      calls++
      return 0.5
    },
    ...overrides,
  })
  return { ...resolved, clock, randomCalls: () => calls }
}

function decide(error: unknown, phase: AttemptPhase, attempt: number, opts: ResolvedRetryOptions): RetryStep {
  return decideRetry({ error, phase, attempt, startedMs: 1_000 }, opts)
}

function thrown(step: RetryStep): unknown {
  assert.equal(step.action, 'throw')
  return step.action === 'throw' ? step.error : undefined
}

function delay(step: RetryStep): number {
  assert.equal(step.action, 'retry')
  return step.action === 'retry' ? step.delayMs : NaN
}

describe('decideRetry: each branch', () => {
  it('retries a retryable error before COMMIT after retryDelay(attempt)', () => {
    const opts = options()
    for (const phase of ['begin', 'fn'] as const) {
      assert.equal(
        delay(decide(serializationFailure(), phase, 2, opts)),
        retryDelay(2, opts, () => 0.5),
      )
    }
  })

  it('retries a 40001 at COMMIT, at RELEASE and in the COMMIT after RELEASE', () => {
    assert.equal(decide(serializationFailure(), 'commit', 1, options()).action, 'retry')
    assert.equal(decide(serializationFailure(), 'commit', 1, options({ strategy: 'savepoint' })).action, 'retry')
    assert.equal(decide(serializationFailure(), 'finish', 1, options({ strategy: 'savepoint' })).action, 'retry')
  })

  it('retries a connection failure before COMMIT was sent', () => {
    assert.equal(decide(connectionLost(), 'begin', 1, options()).action, 'retry')
    assert.equal(decide(connectionLost(), 'fn', 1, options()).action, 'retry')
  })

  it('rethrows any other error itself, before and at COMMIT', () => {
    const before = plainError()
    assert.equal(thrown(decide(before, 'fn', 1, options())), before)
    const atCommit = uniqueViolation()
    assert.equal(thrown(decide(atCommit, 'commit', 1, options())), atCommit)
  })

  it('retries what retryOn accepts, before and at COMMIT', () => {
    const opts = options({ retryOn: (error) => error instanceof Error && error.message === 'boom' })
    assert.equal(decide(plainError(), 'fn', 1, opts).action, 'retry')
    const mine = Object.assign(uniqueViolation(), { message: 'boom' })
    assert.equal(decide(mine, 'commit', 1, opts).action, 'retry')
  })

  it('throws the error of a retryOn predicate that throws', () => {
    const failure = new Error('predicate failed')
    const opts = options({
      retryOn: () => {
        throw failure
      },
    })
    assert.equal(thrown(decide(plainError(), 'fn', 1, opts)), failure)
  })

  it('throws AmbiguousCommitError for an unknown COMMIT outcome, naming the statement that was in flight', () => {
    const lost = connectionLost()
    const atCommit = thrown(decide(lost, 'commit', 3, options()))
    assert.ok(atCommit instanceof AmbiguousCommitError)
    assert.equal(atCommit.cause, lost)
    assert.equal(atCommit.attempt, 3)
    assert.equal(atCommit.statement, 'commit')
    const atRelease = thrown(decide(pgError('40003'), 'commit', 1, options({ strategy: 'savepoint' })))
    assert.ok(atRelease instanceof AmbiguousCommitError)
    assert.equal(atRelease.statement, 'release savepoint cockroach_restart')
    const afterRelease = thrown(decide(connectionLost(), 'finish', 1, options({ strategy: 'savepoint' })))
    assert.ok(afterRelease instanceof AmbiguousCommitError)
    assert.equal(afterRelease.statement, 'commit')
  })

  it('retries an unknown COMMIT outcome when idempotent', () => {
    assert.equal(decide(connectionLost(), 'commit', 1, options({ idempotent: true })).action, 'retry')
    assert.equal(decide(pgError('40003'), 'finish', 1, options({ idempotent: true, strategy: 'savepoint' })).action, 'retry')
  })

  it('throws the abort reason when the error is it', () => {
    const controller = new AbortController()
    controller.abort()
    const step = decide(controller.signal.reason, 'fn', 1, options({ signal: controller.signal }))
    assert.equal(thrown(step), controller.signal.reason)
  })

  it('throws the abort reason instead of retrying once the signal aborted', () => {
    const controller = new AbortController()
    const reason = new Error('stopped')
    controller.abort(reason)
    assert.equal(thrown(decide(serializationFailure(), 'fn', 1, options({ signal: controller.signal }))), reason)
  })

  it('throws RetryExhaustedError at maxAttempts, without drawing a delay', () => {
    const opts = options({ maxAttempts: 3 })
    const error = serializationFailure()
    opts.clock.ms = 1_250
    const exhausted = thrown(decide(error, 'fn', 3, opts))
    assert.ok(exhausted instanceof RetryExhaustedError)
    assert.equal(exhausted.cause, error)
    assert.equal(exhausted.attempts, 3)
    assert.equal(exhausted.limit, 'maxAttempts')
    assert.equal(exhausted.elapsedMs, 250)
    assert.equal(opts.randomCalls(), 0)
    assert.equal(decide(error, 'fn', 2, opts).action, 'retry')
  })

  it('a random option returning 1 is refused in the name of withRetry, the API the user called', () => {
    const opts = { ...options(), random: () => 1 }
    assert.throws(() => decide(serializationFailure(), 'fn', 1, opts), {
      name: 'QueryRefusedError',
      message: /^withRetry: random\(\) must return a number in \[0, 1\)/,
    })
  })

  it('throws RetryExhaustedError when the delay would reach maxElapsedMs', () => {
    const opts = options({ maxElapsedMs: 1_000, baseDelayMs: 100, maxDelayMs: 100 })
    const wait = retryDelay(1, opts, () => 0.5)
    opts.clock.ms = 1_000 + 1_000 - wait - 1
    assert.equal(delay(decide(serializationFailure(), 'fn', 1, opts)), wait)
    opts.clock.ms += 1
    const exhausted = thrown(decide(serializationFailure(), 'fn', 1, opts))
    assert.ok(exhausted instanceof RetryExhaustedError)
    assert.equal(exhausted.limit, 'maxElapsedMs')
    assert.equal(exhausted.elapsedMs, 1_000 - wait)
  })
})

describe('decideRetry: the order', () => {
  it('abort reason first: retryOn is not consulted for it', () => {
    const controller = new AbortController()
    controller.abort()
    let consulted = 0
    const opts = options({
      signal: controller.signal,
      retryOn: () => {
        consulted++
        return true
      },
    })
    assert.equal(thrown(decide(controller.signal.reason, 'commit', 1, opts)), controller.signal.reason)
    assert.equal(consulted, 0)
  })

  it('retryOn only for errors the built-in rules do not retry', () => {
    let consulted = 0
    const opts = options({
      retryOn: () => {
        consulted++
        return false
      },
    })
    decide(serializationFailure(), 'fn', 1, opts)
    decide(connectionLost(), 'fn', 1, opts)
    assert.equal(consulted, 0)
    decide(plainError(), 'fn', 1, opts)
    assert.equal(consulted, 1)
  })

  it('an unknown COMMIT outcome is ambiguous before retryOn is consulted', () => {
    let consulted = 0
    const opts = options({
      retryOn: () => {
        consulted++
        return true
      },
    })
    assert.ok(thrown(decide(connectionLost(), 'commit', 1, opts)) instanceof AmbiguousCommitError)
    assert.equal(consulted, 0)
  })

  it('ambiguous and fail before the signal: the error the attempt met wins over a later abort', () => {
    const controller = new AbortController()
    controller.abort(new Error('stopped'))
    const signal = controller.signal
    assert.ok(thrown(decide(connectionLost(), 'commit', 1, options({ signal }))) instanceof AmbiguousCommitError)
    const own = plainError()
    assert.equal(thrown(decide(own, 'fn', 1, options({ signal }))), own)
  })

  it('the signal before exhaustion: an aborted signal at maxAttempts throws its reason', () => {
    const controller = new AbortController()
    const reason = new Error('stopped')
    controller.abort(reason)
    assert.equal(thrown(decide(serializationFailure(), 'fn', 2, options({ signal: controller.signal, maxAttempts: 2 }))), reason)
  })

  it('maxAttempts before maxElapsedMs', () => {
    const opts = options({ maxAttempts: 2, maxElapsedMs: 10 })
    opts.clock.ms = 1_000_000
    const exhausted = thrown(decide(serializationFailure(), 'fn', 2, opts))
    assert.ok(exhausted instanceof RetryExhaustedError)
    assert.equal(exhausted.limit, 'maxAttempts')
  })

  it('an idempotent ambiguous commit goes on to the exhaustion check', () => {
    const exhausted = thrown(decide(connectionLost(), 'commit', 2, options({ idempotent: true, maxAttempts: 2 })))
    assert.ok(exhausted instanceof RetryExhaustedError)
    assert.equal(exhausted.limit, 'maxAttempts')
  })
})
