// Polling instead of fixed sleeps: a test waits for the state it needs, not for a guess at how long
// the machine takes to get there.
import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitForOptions {
  /**
   * How long to wait before failing, generous so that a slow or loaded machine never fails a test
   * that would pass. It bounds a hang; it is not a performance threshold. Default 30 s.
   */
  readonly timeoutMs?: number
  /** The pause between two checks. Default 10 ms. */
  readonly intervalMs?: number
  /** What the test waited for, for the error message: "the backend to be gone". */
  readonly what?: string
}

/**
 * Resolves as soon as `condition` returns true (checked at once, then every `intervalMs`); rejects
 * with an error naming `what` once `timeoutMs` passed without it. An error thrown by `condition`
 * fails the wait at once.
 *
 * ```ts
 * await waitFor(async () => (await adminQuery(postgresTarget, 'select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 0, {
 *   what: `backend ${pid} to exit`,
 * })
 * ```
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitForOptions = {}): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 10, what = 'the condition' } = options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: gave up waiting for ${what} after ${timeoutMs} ms (a generous bound: check what the test waits for)`)
    }
    await sleep(intervalMs)
  }
}
