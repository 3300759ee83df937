// The one base class of every error this package throws. The brand is a registered symbol
// (Symbol.for), so an application that loads both the ESM and the CommonJS build (two copies of
// every class, where `instanceof` fails across them) still recognises the errors of either.

const BRAND = Symbol.for('kysely-cockroachdb.KyselyCockroachError')

/**
 * The base class of every error kysely-cockroachdb throws. Its message starts with the API that was
 * called (`withRetry:`, `asOfSystemTime():`, ...) and ends with what to do about it. Subclasses say
 * what went wrong: {@link QueryRefusedError} (refused before anything was sent),
 * {@link AmbiguousCommitError}, {@link RetryExhaustedError}, {@link MigrationLockTimeoutError},
 * {@link MigrationLeaseLostError}. Errors from the database itself are node-postgres' own, untouched.
 *
 * ```ts
 * import { isKyselyCockroachError } from 'kysely-cockroachdb'
 *
 * try {
 *   await db.selectFrom('account').selectAll().execute()
 * } catch (error) {
 *   if (isKyselyCockroachError(error)) {
 *     console.error(`kysely-cockroachdb refused or gave up: ${error.message}`)
 *   }
 *   throw error
 * }
 * ```
 */
export class KyselyCockroachError extends Error {
  override readonly name: string = 'KyselyCockroachError'

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options)
    Object.defineProperty(this, BRAND, { value: true })
  }
}

/**
 * Whether `error` was thrown by kysely-cockroachdb: a brand check, true also for errors of another
 * copy of the package (its CommonJS build next to the ESM one), where `instanceof` fails.
 *
 * ```ts
 * import { isKyselyCockroachError } from 'kysely-cockroachdb'
 *
 * process.on('unhandledRejection', (reason) => {
 *   if (isKyselyCockroachError(reason)) console.error(reason.message)
 * })
 * ```
 */
export function isKyselyCockroachError(error: unknown): error is KyselyCockroachError {
  return typeof error === 'object' && error !== null && BRAND in error
}

/**
 * Makes the brand check of one subclass: `hasBrand(error)` is true for instances of the class the
 * brand was made for, from any copy of the package. Each subclass calls `brand(this)` in its
 * constructor.
 *
 * @internal
 */
export function classBrand<T extends KyselyCockroachError>(
  className: string,
): { readonly brand: (error: T) => void; readonly hasBrand: (error: unknown) => error is T } {
  const symbol = Symbol.for(`kysely-cockroachdb.${className}`)
  return Object.freeze({
    brand: (error: T) => {
      Object.defineProperty(error, symbol, { value: true })
    },
    hasBrand: (error: unknown): error is T => typeof error === 'object' && error !== null && symbol in error,
  })
}
