// The one check for option objects: a misspelt option (`maxAttempt`, `force_index`) must fail loudly
// instead of being ignored, because an ignored option is a silently different query or policy.
// Was five loops with four wordings (withRetry, migrationLock, indexHint, explain, intervals).

import { QueryRefusedError } from '../errors/query-refused-error.js'

/**
 * Throws a {@link QueryRefusedError} for the first own enumerable key of `value` that is not in
 * `known`: `assertKnownKeys('withRetry', { maxAttempt: 3 }, ['maxAttempts'])` throws
 * `withRetry: unknown option "maxAttempt". Use only maxAttempts.`
 *
 * @param noun what a key is called in the message: `option` (default) or `property` for value
 *   objects such as intervals
 * @internal
 */
export function assertKnownKeys(api: string, value: object, known: readonly string[], noun = 'option'): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new QueryRefusedError(api, `unknown ${noun} ${JSON.stringify(key)}`, `use only ${known.join(', ')}`)
    }
  }
}
