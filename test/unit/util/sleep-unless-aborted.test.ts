// sleepUnlessAborted, the one sleep of the package (withRetry's default and its abortable wrapper
// around a user's `sleep`, and the migration lock's backoff), against recorded timers: no real
// timer runs, so nothing here waits or depends on how fast the machine is.
import assert from 'node:assert/strict'
import { afterEach, describe, it, mock } from 'node:test'
import { sleepUnlessAborted } from '../../../src/util/sleep-unless-aborted.js'

/** Replaces setTimeout/clearTimeout with recorders; `fire()` runs the callbacks still pending. */
function fakeTimers() {
  const pending = new Map<number, () => void>()
  let nextId = 1
  const set = mock.method(globalThis, 'setTimeout', ((callback: () => void) => {
    const id = nextId++
    pending.set(id, callback)
    return id
  }) as unknown as typeof setTimeout)
  const clear = mock.method(globalThis, 'clearTimeout', ((id: number) => {
    pending.delete(id)
  }) as unknown as typeof clearTimeout)
  return {
    set,
    clear,
    pending,
    fire(): void {
      for (const [id, callback] of [...pending]) {
        pending.delete(id)
        callback()
      }
    },
  }
}

/** Whether `promise` has settled once the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

afterEach(() => mock.restoreAll())

describe('sleepUnlessAborted on its own timer', () => {
  it('waits on one timer of `ms` milliseconds and resolves when it fires', async () => {
    const timers = fakeTimers()
    const sleeping = sleepUnlessAborted(250)
    assert.equal(timers.set.mock.callCount(), 1)
    assert.equal(timers.set.mock.calls[0]!.arguments[1], 250)
    assert.equal(await settled(sleeping), false)
    timers.fire()
    await sleeping
  })

  it('rejects with signal.reason when the signal aborts, and clears the timer', async () => {
    const timers = fakeTimers()
    const controller = new AbortController()
    const reason = new Error('stop')
    const sleeping = sleepUnlessAborted(60_000, { signal: controller.signal })
    controller.abort(reason)
    await assert.rejects(sleeping, (error) => error === reason)
    assert.equal(timers.clear.mock.callCount(), 1)
    assert.equal(timers.pending.size, 0)
  })

  it('rejects at once, starting no timer, when the signal has already aborted', async () => {
    const timers = fakeTimers()
    const reason = new Error('already')
    await assert.rejects(sleepUnlessAborted(10, { signal: AbortSignal.abort(reason) }), (error) => error === reason)
    assert.equal(timers.set.mock.callCount(), 0)
  })

  it('stops listening to the signal once the timer has fired', async () => {
    const timers = fakeTimers()
    const controller = new AbortController()
    const removed = mock.method(controller.signal, 'removeEventListener')
    const sleeping = sleepUnlessAborted(10, { signal: controller.signal })
    timers.fire()
    await sleeping
    assert.equal(removed.mock.callCount(), 1)
    assert.equal(removed.mock.calls[0]!.arguments[0], 'abort')
  })
})

describe('sleepUnlessAborted around a given sleep', () => {
  it('calls the sleep with `ms` alone when there is no signal, and resolves with it', async () => {
    const calls: unknown[][] = []
    await sleepUnlessAborted(100, {
      sleep: async (...args: unknown[]) => {
        calls.push(args)
      },
    })
    assert.deepEqual(calls, [[100]])
  })

  it('passes the signal on, and cuts a sleep that ignores it short when it aborts', async () => {
    const controller = new AbortController()
    const reason = new Error('stop')
    let given: AbortSignal | undefined
    const sleeping = sleepUnlessAborted(100, {
      signal: controller.signal,
      sleep: (_ms, signal) => {
        given = signal
        return new Promise<void>(() => {})
      },
    })
    assert.equal(given, controller.signal)
    controller.abort(reason)
    await assert.rejects(sleeping, (error) => error === reason)
  })

  it('never calls the sleep when the signal has already aborted', async () => {
    let called = false
    const reason = new Error('already')
    const sleeping = sleepUnlessAborted(100, {
      signal: AbortSignal.abort(reason),
      sleep: async () => {
        called = true
      },
    })
    await assert.rejects(sleeping, (error) => error === reason)
    assert.equal(called, false)
  })

  it("passes the sleep's own rejection through, and then stops listening to the signal", async () => {
    const controller = new AbortController()
    const removed = mock.method(controller.signal, 'removeEventListener')
    const failure = new Error('sleep failed')
    const sleeping = sleepUnlessAborted(100, { signal: controller.signal, sleep: () => Promise.reject(failure) })
    await assert.rejects(sleeping, (error) => error === failure)
    assert.equal(removed.mock.callCount(), 1)
  })
})
