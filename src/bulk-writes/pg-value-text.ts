// The text node-postgres sends for a parameter value, computed here because the bulk helpers put
// values where pg would not convert them: inside the array literal of an array-typed column (sent
// as one text element of a text[] parameter) and into COPY's CSV data.
//
// A copy of `prepareValue` and `arrayString` of pg 8.23.1 (packages/pg/lib/utils.js), so a value
// means the same through insertMany / copyInto as through insertInto().values(): Dates as local
// time with the offset (UTC when pg.defaults.parseInputDatesAsUTC is set), Buffers and other
// ArrayBuffer views as \x hex, `toPostgres()` objects by that method, other objects as JSON.
// pg exports these as `pg.utils` only from 8.x versions later than the 8.11.0 floor of the peer
// range, hence the copy; test/unit/bulk-writes/pg-value-text.test.ts compares it with pg's own.
// The two errors of a misbehaving toPostgres() keep pg's own class (Error) and words: the same value
// fails the same way through insertInto().values().
import pg from 'pg'
import { KyselyCockroachError } from '../errors/kysely-cockroach-error.js'

/** pg's prepareValue for a non-null value, as text (Buffers as `\x<hex>`, bytea's hex format). */
export function pgValueText(value: unknown): string {
  return prepare(value, undefined)
}

function prepare(value: unknown, seen: unknown[] | undefined): string {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value)
    case 'object': {
      if (value === null)
        throw new KyselyCockroachError('pgValueText: null has no text; the caller writes NULL itself. This is a bug: please report it.')
      if (ArrayBuffer.isView(value)) return `\\x${viewHex(value)}`
      if (value instanceof Date) {
        return (pg.defaults as { parseInputDatesAsUTC?: boolean }).parseInputDatesAsUTC ? dateToStringUTC(value) : dateToString(value)
      }
      if (Array.isArray(value)) return pgArrayLiteral(value)
      const toPostgres = (value as { toPostgres?: unknown }).toPostgres
      if (typeof toPostgres === 'function') {
        const chain = seen ?? []
        if (chain.includes(value)) throw new Error(`circular reference detected while preparing "${String(value)}" for query`)
        chain.push(value)
        const prepared = (toPostgres as (prepareValue: (v: unknown) => unknown) => unknown).call(value, (v: unknown) =>
          v == null ? null : prepare(v, undefined),
        )
        if (prepared == null) throw new TypeError('toPostgres() returned null')
        return prepare(prepared, chain)
      }
      return JSON.stringify(value)
    }
    default:
      return String(value)
  }
}

function viewHex(view: ArrayBufferView): string {
  const buffer = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength)
  return buffer.toString('hex')
}

/** pg's arrayString: a PostgreSQL array literal, `{"a",NULL,{"b"}}`. */
export function pgArrayLiteral(array: readonly unknown[]): string {
  let result = '{'
  for (let i = 0; i < array.length; i++) {
    if (i > 0) result += ','
    const item = array[i]
    if (item === null || item === undefined) {
      result += 'NULL'
    } else if (Array.isArray(item)) {
      result += pgArrayLiteral(item)
    } else if (ArrayBuffer.isView(item)) {
      // pg writes `\\x`: the literal's escape of one backslash.
      result += `\\\\x${viewHex(item)}`
    } else {
      result += `"${prepare(item, undefined).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
    }
  }
  return `${result}}`
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

function dateToString(date: Date): string {
  let offset = -date.getTimezoneOffset()
  let year = date.getFullYear()
  const isBCYear = year < 1
  if (isBCYear) year = Math.abs(year) + 1
  let text =
    `${pad(year, 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  if (offset < 0) {
    text += '-'
    offset *= -1
  } else {
    text += '+'
  }
  text += `${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`
  return isBCYear ? `${text} BC` : text
}

function dateToStringUTC(date: Date): string {
  let year = date.getUTCFullYear()
  const isBCYear = year < 1
  if (isBCYear) year = Math.abs(year) + 1
  const text =
    `${pad(year, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`
  return `${text}+00:00${isBCYear ? ' BC' : ''}`
}
