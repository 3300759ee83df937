// How values and errors appear inside this package's error messages: one formatter, so that every
// message shows a wrong value the same way (was three local `describe`/`describeError` functions).

/**
 * A short, unambiguous description of a value the package refused: strings quoted as JSON (so
 * `''`, `' '` and `'10s'` are told apart), bigints with their `n`, objects by their tag (never their
 * contents, which may hold a password), everything else with its type: `describeValue('10s')` is
 * `"10s"`, `describeValue(10)` is `number 10`, `describeValue([])` is `[object Array]`.
 *
 * @internal
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return `${value}n`
  if (value === null) return 'null'
  if (typeof value === 'object') return Object.prototype.toString.call(value)
  return `${typeof value} ${String(value)}`
}

/**
 * The message of an error for quoting inside another message: `error.message` for an Error,
 * `String(error)` for anything else thrown.
 *
 * @internal
 */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
