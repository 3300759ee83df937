// Quoting for the few places that must write names and values into SQL text: where CockroachDB takes
// no placeholders (SET, hints, the lock table's name) or where SQL is shown for an operator to run.

/**
 * Quotes an identifier: double quotes, embedded double quotes doubled.
 *
 * @internal
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * Quotes a string literal: single quotes, embedded single quotes doubled.
 *
 * @internal
 */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}
