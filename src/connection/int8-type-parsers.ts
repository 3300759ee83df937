import pg from 'pg'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'

/**
 * How INT8 (and INT8[]) values come back from queries.
 *
 * Plain `INT`/`INTEGER` is INT8 on CockroachDB and `unique_rowid()` values exceed 2^53, so this
 * matters for almost every id.
 *
 * - `'string'`: exact, node-postgres' default.
 * - `'bigint'`: exact, as a native `bigint`.
 * - `'number'`: a JS `number`; a value outside ±(2^53 - 1) makes the query fail with a `KyselyCockroachError`
 *   instead of being rounded silently.
 *
 * ```ts
 * import { CockroachDialect } from 'kysely-cockroachdb'
 *
 * new CockroachDialect({ connectionString, int8: 'bigint' }) // select id ... -> { id: 1048576123456789n }
 * ```
 */
export type Int8Mode = 'string' | 'bigint' | 'number'

/**
 * The shape node-postgres accepts as the `types` option of a query or cursor: the `types` of
 * {@link CockroachDriverConfig}, which {@link CockroachDialect} fills from its `int8` option.
 *
 * ```ts
 * import pg from 'pg'
 * import { CockroachDriver } from 'kysely-cockroachdb'
 * import type { PgTypeOverrides } from 'kysely-cockroachdb'
 *
 * // INT8 (OID 20) as bigint, everything else as node-postgres parses it.
 * const types: PgTypeOverrides = {
 *   getTypeParser: (oid, format) => (oid === 20 ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format)),
 * }
 * const driver = new CockroachDriver({ createPool: async () => new pg.Pool({ connectionString }), types })
 * ```
 */
export interface PgTypeOverrides {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown
}

export const INT8_MODES: readonly Int8Mode[] = Object.freeze(['string', 'bigint', 'number'])

const INT8_OID = 20
const INT8_ARRAY_OID = 1016

type Int8Parser = (text: string) => string | bigint | number

const PARSERS: Readonly<Record<Int8Mode, Int8Parser>> = Object.freeze({
  string: (text: string) => text,
  bigint: (text: string) => BigInt(text),
  number: (text: string) => {
    const value = Number(text)
    if (!Number.isSafeInteger(value)) {
      throw new KyselyCockroachError(
        `CockroachDialect: the INT8 value ${text} cannot be represented exactly as a JavaScript number (int8: 'number'). ` +
          "Configure CockroachDialect with int8: 'bigint' or int8: 'string', or cast it in SQL.",
      )
    }
    return value
  },
})

/**
 * Builds per-query type overrides that parse INT8 and INT8[] the chosen way and leave every other
 * type to node-postgres' parsers. Used per query, so pg's global parsers are never modified.
 */
export function createInt8TypeOverrides(mode: Int8Mode): PgTypeOverrides {
  const parseInt8 = PARSERS[mode]
  const parseTextArray = (pg.types.getTypeParser as (oid: number, format: 'text') => (text: string) => unknown)(INT8_ARRAY_OID, 'text')
  const mapArray = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(mapArray) : value === null ? null : parseInt8(String(value))
  const parseInt8Array = (text: string) => mapArray(parseTextArray(text))

  return Object.freeze({
    getTypeParser(oid: number, format: 'text' | 'binary' = 'text') {
      if (format === 'text') {
        if (oid === INT8_OID) return parseInt8
        if (oid === INT8_ARRAY_OID) return parseInt8Array
      }
      return (pg.types.getTypeParser as (oid: number, format: 'text' | 'binary') => (value: string) => unknown)(oid, format)
    },
  })
}
