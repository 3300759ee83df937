// How each column travels in the array form of insertMany / upsertMany (one array parameter per
// column, `insert into t (c1, c2) select u.c1, u.c2 from unnest($1::int8[], $2::text[]) as u(c1, c2)`)
// and which cells a column type accepts. Pure: no I/O.
//
// - Built-in scalar types go as an array of their own type (`$1::int8[]`); INSERT's assignment
//   cast turns it into the column's exact type (text into varchar(5) fails with 22001 as for
//   insertInto, it is not truncated as an explicit cast would).
// - json/jsonb go as text[] with a cast in the select list: pg turns a JS array inside a jsonb[]
//   parameter into an array dimension and sends a string element as is, which is not JSON text
//   (design-14 §1.2, verified on PostgreSQL 15).
// - Array columns go as text[] of array literals, cast to the column's array type in the select
//   list: unnest() flattens a 2-D array parameter into its elements (PostgreSQL 15, checked), so an
//   int8[] column cannot travel as an int8[][] parameter. CockroachDB has no nested arrays at all.
// - Enums, domains and any other type go as text[] and are cast to the quoted `"schema"."name"`.
// Every parameter carries a cast: without one CockroachDB answers "could not determine data type
// of placeholder" (cockroach#41558) and PostgreSQL "could not determine polymorphic type".
import { quoteIdentifier } from '../util/sql-quoting.js'
import { pgArrayLiteral, pgValueText } from './pg-value-text.js'

export type ColumnKind = 'int' | 'float' | 'numeric' | 'text' | 'bool' | 'uuid' | 'datetime' | 'bytea' | 'json' | 'array' | 'other'

/** One column's type as the bulk helpers use it. */
export interface ColumnType {
  readonly kind: ColumnKind
  /** SQL type of the array parameter's elements: `$n::<parameter>[]`. */
  readonly parameter: string
  /** Cast in the select list (`u.cN::<cast>`), or undefined for none. */
  readonly cast: string | undefined
  /** The type as written in messages. */
  readonly display: string
}

/** What a column's catalog row says (see src/introspection/column-types-query.ts). */
export interface CatalogColumnType {
  readonly type: string
  readonly typeSchema: string
  readonly category: string
  readonly element: string | null
  readonly elementSchema: string | null
}

const INTEGERS = new Set(['int2', 'int4', 'int8'])
const FLOATS = new Set(['float4', 'float8'])
const TEXTS = new Set(['text', 'varchar', 'bpchar', 'name', 'char'])
const DATETIMES = new Set(['date', 'timestamp', 'timestamptz', 'time', 'timetz', 'interval'])
// Spellings the `types` option accepts for the built-in types above (names of pg_type.typname
// plus the SQL standard aliases and CockroachDB's STRING, INT, FLOAT).
const ALIASES: Readonly<Record<string, string>> = Object.freeze({
  smallint: 'int2',
  integer: 'int4',
  int: 'int8',
  bigint: 'int8',
  real: 'float4',
  float: 'float8',
  decimal: 'numeric',
  boolean: 'bool',
  string: 'text',
  character: 'bpchar',
  bytes: 'bytea',
})
// CockroachDB's INT is INT8 by default (default_int_size = 8); PostgreSQL's is int4. int8[] is a
// superset parameter for both, and the assignment cast narrows it (an out-of-range value fails
// with the server's 22003, as with insertInto).

const builtin = (kind: ColumnKind, parameter: string, cast?: string): ColumnType =>
  Object.freeze({ kind, parameter, cast, display: cast ?? parameter })

function builtinScalar(typname: string): ColumnType | undefined {
  if (INTEGERS.has(typname)) return builtin('int', typname)
  if (FLOATS.has(typname)) return builtin('float', typname)
  if (typname === 'numeric') return builtin('numeric', 'numeric')
  if (TEXTS.has(typname)) return Object.freeze({ kind: 'text', parameter: 'text', cast: undefined, display: typname })
  if (typname === 'bool') return builtin('bool', 'bool')
  if (typname === 'uuid') return builtin('uuid', 'uuid')
  if (DATETIMES.has(typname)) return builtin('datetime', typname)
  if (typname === 'bytea') return builtin('bytea', 'bytea')
  if (typname === 'json' || typname === 'jsonb') return Object.freeze({ kind: 'json', parameter: 'text', cast: typname, display: typname })
  return undefined
}

const SIMPLE_NAME = /^[a-z_][a-z0-9_]*$/

/** A type name for SQL text: built-ins (pg_catalog) by their bare name, anything else as "schema"."name". */
function typeName(name: string, schema: string): string {
  if (schema === 'pg_catalog' && SIMPLE_NAME.test(name)) return name
  return `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`
}

/** The column type of a catalog row. */
export function columnTypeFromCatalog(row: CatalogColumnType): ColumnType {
  // typcategory 'A' is an array type (pg_type docs, "typcategory"); its element is typelem.
  if (row.category === 'A' && row.element !== null && row.elementSchema !== null) {
    const element = typeName(row.element, row.elementSchema)
    return Object.freeze({ kind: 'array', parameter: 'text', cast: `${element}[]`, display: `${element}[]` })
  }
  if (row.typeSchema === 'pg_catalog') {
    const known = builtinScalar(row.type)
    if (known !== undefined) return known
  }
  const name = typeName(row.type, row.typeSchema)
  return Object.freeze({ kind: 'other', parameter: 'text', cast: name, display: name })
}

// A type name of the `types` option: an identifier or a quoted one, optionally schema-qualified,
// optionally with a type modifier and a trailing [] (design-14 §2.2). Only names that match are
// rendered into SQL text.
const TYPE_NAME = /^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_]*))?(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?$/

/** The column type the `types` option names, or undefined if the name is not one it accepts. */
export function columnTypeFromName(name: string): ColumnType | undefined {
  if (typeof name !== 'string' || !TYPE_NAME.test(name)) return undefined
  const isArray = name.endsWith('[]')
  const base = isArray ? name.slice(0, -2) : name
  const unmodified = base.replace(/\(.*\)$/, '')
  const qualified = unmodified.includes('.') || unmodified.includes('"')
  if (isArray) {
    return Object.freeze({ kind: 'array', parameter: 'text', cast: name, display: name })
  }
  if (!qualified) {
    const lower = unmodified.toLowerCase()
    const known = builtinScalar(ALIASES[lower] ?? lower)
    if (known !== undefined) return known
  }
  return Object.freeze({ kind: 'other', parameter: 'text', cast: base, display: base })
}

/** Why a cell cannot be encoded for its column: the problem and the fix, for a QueryRefusedError. */
export class CellRefusal {
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {}
}

const describe = (value: unknown) =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? (value.constructor?.name ?? 'an object')
        : typeof value

/**
 * The element the array parameter gets for `value` (not null/undefined), as pg will serialise it
 * inside the array (pg 8.23.1 utils.js arrayString: null → NULL, Buffers as \\x hex, anything else
 * quoted after prepareValue). Returns a CellRefusal for a value the column cannot take without a
 * silent change.
 */
export function encodeArrayCell(type: ColumnType, value: unknown): unknown {
  switch (type.kind) {
    case 'int':
      if (typeof value === 'number' && !Number.isSafeInteger(value)) {
        return new CellRefusal(
          `${String(value)} is not a safe integer for the ${type.display} column`,
          'Pass integers beyond 2^53 as bigint or as a string of digits',
        )
      }
      return scalar(type, value)
    case 'numeric':
      // Infinity, -Infinity and NaN go as pg sends them ('Infinity', ...), as insertInto does:
      // PostgreSQL's numeric takes them since 14 (release notes 14, "Allow the numeric data type
      // to store infinity"), CockroachDB's DECIMAL takes them too (pkg/sql/sem/tree eval tests:
      // 'Infinity'::decimal, 'NaN'::decimal). A numeric(p,s) column refuses infinity server-side.
      return scalar(type, value)
    case 'datetime':
      if (value instanceof Date && Number.isNaN(value.getTime())) {
        return new CellRefusal(`an invalid Date for the ${type.display} column`, 'Pass a valid Date or a string')
      }
      return scalar(type, value)
    case 'bytea':
      if (Buffer.isBuffer(value)) return value
      if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      return new CellRefusal(`${describe(value)} for the bytea column`, 'Pass a Buffer or a Uint8Array')
    case 'json':
      return jsonText(value)
    case 'array':
      if (!Array.isArray(value)) {
        return new CellRefusal(`${describe(value)} for the ${type.display} column`, 'Pass a JS array (null for NULL)')
      }
      return pgArrayLiteral(value)
    default:
      return scalar(type, value)
  }
}

/**
 * encodeArrayCell for one column type, with the common cells first (chosen once per column): a
 * string goes as it is for every kind but bytea and arrays (pg sends strings unchanged; for json it
 * is JSON text), safe integers for integer columns, numbers for floats, valid Dates for date/time.
 */
export function arrayEncoder(type: ColumnType): (value: unknown) => unknown {
  const general = (value: unknown) => encodeArrayCell(type, value)
  switch (type.kind) {
    case 'bytea':
    case 'array':
      return general
    case 'int':
      return (value) => (typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value)) ? value : general(value))
    case 'float':
      return (value) => (typeof value === 'string' || typeof value === 'number' ? value : general(value))
    case 'datetime':
      return (value) => (typeof value === 'string' || (value instanceof Date && !Number.isNaN(value.getTime())) ? value : general(value))
    default:
      return (value) => (typeof value === 'string' ? value : general(value))
  }
}

/** A scalar cell: what pg would send for it as a parameter of its own. */
function scalar(_type: ColumnType, value: unknown): unknown {
  // Arrays and plain objects inside an array parameter would become dimensions or be quoted as
  // JSON by pg's arrayString; as a parameter of their own pg sends prepareValue's text. Keep that.
  if (Array.isArray(value)) return pgArrayLiteral(value)
  return value
}

/**
 * JSON text for a json/jsonb cell, with insertInto()'s meaning: a string is JSON text as given
 * (pg sends strings unchanged, so `JSON.stringify(obj)` cells are not encoded twice), numbers and
 * booleans as written, objects and arrays JSON.stringify'd. Arrays work here, where pg's
 * insertInto sends them as a PostgreSQL array literal and the server refuses them.
 */
export function jsonText(value: unknown): string | CellRefusal {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return new CellRefusal(
      `${String(value)} is not JSON (JSON has no NaN or Infinity)`,
      'Pass null, a finite number, or a string such as "NaN"',
    )
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value === 'object' && value !== null && !(value instanceof Date) && !ArrayBuffer.isView(value)) {
    if (typeof (value as { toPostgres?: unknown }).toPostgres === 'function') return pgValueText(value)
    try {
      return JSON.stringify(value)
    } catch (error) {
      return new CellRefusal(
        `a value JSON.stringify cannot encode for the json column (${error instanceof Error ? error.message : String(error)})`,
        'Pass plain JSON data (no bigint, no cycles), or a string of JSON text',
      )
    }
  }
  if (typeof value === 'bigint') {
    return new CellRefusal('a bigint for the json column', 'Pass it as a number or as a string of JSON text')
  }
  return pgValueText(value)
}
