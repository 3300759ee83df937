// COPY ... FROM STDIN WITH CSV data for copyInto. Pure: no I/O.
//
// CSV, not COPY's text format: CockroachDB applies the text format's backslash unescaping only to
// some type families (bytes, dates, strings, timestamps, uuids, intervals, inet and arrays of
// them; pkg/sql/copy_from.go readTextTupleDatum / DecodeCopy), not to JSONB, enums or numbers,
// while PostgreSQL unescapes every column. A JSON value with a backslash would then need different
// data for each server. In CSV neither server processes backslashes (PostgreSQL's COPY docs, "CSV
// Format"; CockroachDB's readCSVData uses its fork of encoding/csv, pkg/util/encoding/csv).
//
// Every non-null value is quoted with `"` doubled: an unquoted empty field is NULL and a quoted
// one `""` the empty string on both servers, and a quoted `\.` cannot end the data.
import { CellRefusal, encodeArrayCell } from './column-encoding.js'
import type { ColumnType } from './column-encoding.js'
import { pgValueText } from './pg-value-text.js'

/** Characters per string handed to the COPY stream: each write() is one CopyData message. */
export const CSV_PIECE_CHARS = 1 << 20

/** One CSV field for `value` in a column of `type`, or a CellRefusal. */
export function csvField(type: ColumnType, value: unknown): string | CellRefusal {
  if (value === null || value === undefined) return ''
  let text: string
  if (typeof value === 'string' && type.kind !== 'bytea' && type.kind !== 'array') {
    text = value
  } else if (typeof value === 'number' && (type.kind === 'float' || (type.kind === 'int' && Number.isSafeInteger(value)))) {
    return String(value)
  } else {
    const element = encodeArrayCell(type, value)
    if (element instanceof CellRefusal) return element
    text = typeof element === 'string' ? element : pgValueText(element)
  }
  return quote(text)
}

const quote = (text: string) => (text.includes('"') ? `"${text.replace(/"/g, '""')}"` : `"${text}"`)

/**
 * csvField for one column type, with the common cells first: strings of text-like, json and other
 * columns, safe integers, finite floats. Chosen once per column, not per cell.
 */
export function csvEncoder(type: ColumnType): (value: unknown) => string | CellRefusal {
  const general = (value: unknown) => csvField(type, value)
  switch (type.kind) {
    case 'text':
    case 'json':
    case 'numeric':
    case 'uuid':
    case 'other':
      return (value) => (typeof value === 'string' ? quote(value) : general(value))
    case 'int':
      return (value) => (typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : general(value))
    case 'float':
      return (value) => (typeof value === 'number' ? String(value) : general(value))
    default:
      return general
  }
}

/** The CSV record of one row (with its newline), or a CellRefusal naming the column. */
export function csvRecord(
  row: Readonly<Record<string, unknown>>,
  columns: readonly string[],
  types: readonly ColumnType[],
  encoders: readonly ((value: unknown) => string | CellRefusal)[] = types.map(csvEncoder),
): string | { readonly column: string; readonly refusal: CellRefusal } {
  let line = ''
  for (let c = 0; c < columns.length; c++) {
    const value = row[columns[c]!]
    const field = value === null || value === undefined ? '' : encoders[c]!(value)
    if (typeof field !== 'string') return { column: columns[c]!, refusal: field }
    line += c === 0 ? field : `,${field}`
  }
  return `${line}\n`
}

/** Joins records into strings of about `pieceChars` characters (one record is never split). */
export function joinIntoPieces(records: readonly string[], pieceChars = CSV_PIECE_CHARS): string[] {
  const pieces: string[] = []
  let current: string[] = []
  let length = 0
  for (const record of records) {
    if (length > 0 && length + record.length > pieceChars) {
      pieces.push(current.join(''))
      current = []
      length = 0
    }
    current.push(record)
    length += record.length
  }
  if (current.length > 0) pieces.push(current.join(''))
  return pieces
}
