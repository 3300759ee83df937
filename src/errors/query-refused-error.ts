import { classBrand, KyselyCockroachError } from './kysely-cockroach-error.js'

const { brand, hasBrand } = classBrand<QueryRefusedError>('QueryRefusedError')

/**
 * Thrown when kysely-cockroachdb refuses a query, an option or a value before sending anything to
 * the server: a clause CockroachDB's grammar rejects, a value that cannot be written into SQL text
 * safely, an option that does not exist. Nothing was sent, so nothing needs to be undone; the
 * message starts with the API that refused (`asOfSystemTime():`, `indexHint():`, ...) and ends with
 * the fix. An application can catch it apart from database errors.
 *
 * ```ts
 * import { asOfSystemTime, isQueryRefusedError } from 'kysely-cockroachdb'
 *
 * try {
 *   await db.selectFrom('account').selectAll().$call(asOfSystemTime(new Date(Date.now() - 10_000))).execute()
 * } catch (error) {
 *   if (isQueryRefusedError(error)) {
 *     // a programming or input error, not a database outage: do not retry
 *   }
 *   throw error
 * }
 * ```
 */
export class QueryRefusedError extends KyselyCockroachError {
  override readonly name = 'QueryRefusedError'
  /** The API that refused, as the message starts: `asOfSystemTime()`, `withRetry`, ... */
  readonly api: string

  /**
   * @param api the API the user called, e.g. `asOfSystemTime()`
   * @param problem what is wrong, e.g. `the interval "5 parsecs" has an unknown unit`
   * @param fix what to do, e.g. `use one of us, ms, s, m, h, d`
   */
  constructor(api: string, problem: string, fix: string, options?: { readonly cause?: unknown }) {
    // The fix is a sentence of its own: capitalised here, so call sites write it as they would after a colon.
    const sentence = `${fix.charAt(0).toUpperCase()}${fix.slice(1)}`
    super(`${api}: ${problem}. ${sentence.endsWith('.') ? sentence : `${sentence}.`}`, options)
    this.api = api
    brand(this)
  }
}

/**
 * Whether `error` is a {@link QueryRefusedError}, also one from another copy of the package (its
 * CommonJS build next to the ESM one). A brand check, like every `is<ClassName>` of the package.
 *
 * ```ts
 * import { isQueryRefusedError } from 'kysely-cockroachdb'
 *
 * const isClientBug = (error: unknown) => isQueryRefusedError(error)
 * ```
 */
export function isQueryRefusedError(error: unknown): error is QueryRefusedError {
  return hasBrand(error)
}
