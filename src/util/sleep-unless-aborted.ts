/** A wait of `ms` milliseconds that may be told to stop early, the shape of withRetry's `sleep` option. @internal */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>

/** What {@link sleepUnlessAborted} waits with and for. @internal */
export interface SleepUnlessAbortedOptions {
  /** Aborting ends the wait at once, rejecting with `signal.reason`. */
  readonly signal?: AbortSignal | undefined
  /** Does the waiting; a timer when absent. */
  readonly sleep?: Sleep | undefined
}

/**
 * The package's one sleep: waits `ms` milliseconds, and rejects with `signal.reason` as soon as
 * `signal` aborts (at once if it already has, without starting to wait). The wait is a timer,
 * cleared on abort, or the given `sleep` (withRetry's option), which is then cut short on abort
 * whatever it does, and is called without a signal when there is none. Without a signal, a plain
 * wait: the migration lock's backoff uses it so.
 *
 * @internal
 */
export function sleepUnlessAborted(ms: number, options: SleepUnlessAbortedOptions = {}): Promise<void> {
  const { signal, sleep } = options
  if (sleep === undefined) {
    return timer(ms, signal)
  }
  if (signal === undefined) {
    return sleep(ms)
  }
  if (signal.aborted) {
    return Promise.reject(signal.reason)
  }
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    sleep(ms, signal).then(
      () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
      (sleepError: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(sleepError)
      },
    )
  })
}

/** A timer that rejects with `signal.reason` as soon as `signal` aborts. */
function timer(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
