// What the migration check reads out of raw SQL (sql`...`.execute(db)): the statements of a
// string (split on top-level `;`), and the primary key of a raw CREATE TABLE. Pure functions, no
// SQL is built from their results. Internal.
//
// The scanner follows CockroachDB's lexer (pkg/sql/scanner/scan.go) where it matters for finding
// statement and element boundaries: `'...'` strings with `''` (and `e'...'` with backslash
// escapes), `"..."` identifiers with `""`, `$tag$...$tag$` dollar quotes (a tag never starts with a
// digit, so `$1` placeholders are not quotes), `--` line comments and nested `/* */` comments.

/** One statement of a raw string: `sql` as written, `code` the same text with comments blanked
 * and the insides of strings and quoted identifiers masked, so patterns see only the structure. */
export interface RawStatement {
  readonly sql: string
  readonly code: string
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/

/** `text` with comments as spaces and the contents of quotes as `_` (same length, same offsets). */
export function maskSql(text: string): string {
  const out = text.split('')
  const blank = (from: number, to: number, filler: string) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = filler
  }
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    const next = text[i + 1]
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i)
      const stop = end === -1 ? text.length : end
      blank(i, stop, ' ')
      i = stop
    } else if (c === '/' && next === '*') {
      let depth = 1
      let k = i + 2
      while (k < text.length && depth > 0) {
        if (text[k] === '/' && text[k + 1] === '*') {
          depth++
          k += 2
        } else if (text[k] === '*' && text[k + 1] === '/') {
          depth--
          k += 2
        } else k++
      }
      blank(i, k, ' ')
      i = k
    } else if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(text[i - 1]!) && (i < 2 || !IDENT_PART.test(text[i - 2]!))
      let k = i + 1
      while (k < text.length) {
        if (escapes && text[k] === '\\') k += 2
        else if (text[k] === "'" && text[k + 1] === "'") k += 2
        else if (text[k] === "'") break
        else k++
      }
      blank(i + 1, Math.min(k, text.length), '_')
      i = k + 1
    } else if (c === '"') {
      let k = i + 1
      while (k < text.length) {
        if (text[k] === '"' && text[k + 1] === '"') k += 2
        else if (text[k] === '"') break
        else k++
      }
      blank(i + 1, Math.min(k, text.length), '_')
      i = k + 1
    } else if (c === '$' && (i === 0 || !IDENT_PART.test(text[i - 1]!))) {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i))
      if (tag === null || (tag[0].length > 2 && !IDENT_START.test(tag[0][1]!))) {
        i++
        continue
      }
      const end = text.indexOf(tag[0], i + tag[0].length)
      const stop = end === -1 ? text.length : end
      blank(i + tag[0].length, stop, '_')
      i = stop + tag[0].length
    } else {
      i++
    }
  }
  return out.join('')
}

/** The statements of `text`, split on `;` outside quotes and comments; empty ones dropped. */
export function splitStatements(text: string): RawStatement[] {
  const code = maskSql(text)
  const statements: RawStatement[] = []
  let start = 0
  for (let i = 0; i <= code.length; i++) {
    if (i < code.length && code[i] !== ';') continue
    const part = code.slice(start, i)
    const lead = part.length - part.trimStart().length
    const trimmed = part.trim()
    if (trimmed !== '') {
      const from = start + lead
      statements.push({ sql: text.slice(from, from + trimmed.length), code: code.slice(from, from + trimmed.length) })
    }
    start = i + 1
  }
  return statements
}

/** Splits `code` (masked) on commas at parenthesis depth 0; returns [start, end) ranges. */
function topLevelCommas(code: string): [number, number][] {
  const ranges: [number, number][] = []
  let depth = 0
  let start = 0
  for (let i = 0; i <= code.length; i++) {
    const c = code[i]
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (i === code.length || (c === ',' && depth === 0)) {
      ranges.push([start, i])
      start = i + 1
    }
  }
  return ranges
}

/** The index just after the `)` matching the `(` at `open` in masked `code`, or -1. */
function closing(code: string, open: number): number {
  let depth = 0
  for (let i = open; i < code.length; i++) {
    if (code[i] === '(') depth++
    else if (code[i] === ')' && --depth === 0) return i + 1
  }
  return -1
}

/** A written name as CockroachDB resolves it: quoted parts verbatim, the rest lowercased. */
export function identifierName(written: string): string {
  return (written.trim().match(/"(?:[^"]|"")*"|[^.\s]+/g) ?? [])
    .map((part) => (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part.toLowerCase()))
    .join('.')
}

const NAME = String.raw`(?:"(?:[^"]|"")*"|[^\s(.,;"]+)(?:\.(?:"(?:[^"]|"")*"|[^\s(.,;"]+))*`
const CREATE_TABLE = new RegExp(
  String.raw`^\s*create\s+(?:(?:global|local)\s+)?(?:temp(?:orary)?\s+|unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?(${NAME})\s*\(`,
  'i',
)
const CREATE_INDEX = new RegExp(
  String.raw`^\s*create\s+(?:unique\s+)?(?:inverted\s+|vector\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?(?:(?!on\s)${NAME}\s+)?on\s+(?:only\s+)?(${NAME})`,
  'i',
)
// Table elements that are not column definitions (sql.y table_elem: index_def, family_def,
// table_constraint, LIKE table_name).
const NOT_A_COLUMN = /^(?:constraint|primary\s+key|unique|check|foreign\s+key|index|inverted|vector|family|exclude|like)\b/i
const SERIAL_TYPE = /^(?:small|big)?serial[248]?$/i

/** A primary key column of a raw CREATE TABLE that takes its values from a sequence. */
export interface RawSequentialKey {
  readonly name: string
  readonly kind: 'serial' | 'sequence'
  readonly how: string
}

/** A raw CREATE TABLE: its name, and its sequential key columns unless the key is hash-sharded. */
export interface RawCreateTable {
  readonly table: string
  readonly sequentialKeys: readonly RawSequentialKey[]
}

/** Reads a raw CREATE TABLE (masked `code`, the original `sql`); undefined for anything else. */
export function readRawCreateTable(statement: RawStatement): RawCreateTable | undefined {
  const { code, sql } = statement
  const match = CREATE_TABLE.exec(code)
  if (match === null) return undefined
  const nameStart = match.index + match[0].indexOf(match[1]!)
  const table = identifierName(sql.slice(nameStart, nameStart + match[1]!.length))
  const open = match.index + match[0].length - 1
  const close = closing(code, open)
  if (close === -1) return { table, sequentialKeys: [] }
  const bodyStart = open + 1
  const body = code.slice(bodyStart, close - 1)
  const columns: { name: string; type: string; rest: string }[] = []
  const keyNames = new Set<string>()
  let hashSharded = false
  for (const [from, to] of topLevelCommas(body)) {
    const element = body.slice(from, to).trim()
    const offset = bodyStart + from + (body.slice(from, to).length - body.slice(from, to).trimStart().length)
    const original = sql.slice(offset, offset + element.length)
    // `[CONSTRAINT name] PRIMARY KEY (cols) [USING HASH ...]` (sql.y constraint_elem).
    const pk = /^(?:constraint\s+\S+\s+)?primary\s+key\s*\(/i.exec(element)
    if (pk !== null) {
      const end = closing(element, pk[0].length - 1)
      const list = original.slice(pk[0].length, end === -1 ? undefined : end - 1)
      for (const [a, b] of topLevelCommas(element.slice(pk[0].length, end === -1 ? undefined : end - 1))) {
        const first = /^\s*("(?:[^"]|"")*"|[^\s]+)/.exec(list.slice(a, b))
        if (first !== null) keyNames.add(identifierName(first[1]!))
      }
      if (end !== -1 && /^\s*using\s+hash\b/i.test(element.slice(end))) hashSharded = true
      continue
    }
    if (NOT_A_COLUMN.test(element)) continue
    const column = /^("(?:[^"]|"")*"|\S+)\s+(\S+)([\s\S]*)$/.exec(element)
    if (column === null) continue
    const name = identifierName(original.slice(0, column[1]!.length))
    // `col_qualification_elem: PRIMARY KEY opt_with_storage_parameter_list | PRIMARY KEY USING HASH ...`
    if (/\bprimary\s+key\b/i.test(column[3]!)) keyNames.add(name)
    if (/\bprimary\s+key\s+using\s+hash\b/i.test(column[3]!)) hashSharded = true
    columns.push({ name, type: column[2]!, rest: column[3]! })
  }
  if (hashSharded) return { table, sequentialKeys: [] }
  const sequentialKeys: RawSequentialKey[] = []
  for (const column of columns) {
    if (!keyNames.has(column.name)) continue
    if (SERIAL_TYPE.test(column.type)) sequentialKeys.push({ name: column.name, kind: 'serial', how: column.type.toUpperCase() })
    else if (/\bas\s+identity\b/i.test(column.rest)) sequentialKeys.push({ name: column.name, kind: 'sequence', how: 'an identity column' })
    else if (/\bnextval\s*\(/i.test(column.rest)) sequentialKeys.push({ name: column.name, kind: 'sequence', how: 'a nextval() default' })
  }
  return { table, sequentialKeys }
}

/** The table of a raw CREATE INDEX, and whether it writes PostgreSQL's `USING HASH (...)` access method. */
export function readRawCreateIndex(statement: RawStatement): { readonly table: string; readonly usingHashMethod: boolean } | undefined {
  const match = CREATE_INDEX.exec(statement.code)
  if (match === null) return undefined
  const nameStart = match.index + match[0].length - match[1]!.length
  const table = identifierName(statement.sql.slice(nameStart, nameStart + match[1]!.length))
  // opt_index_access_method sits between the table and the column list: `USING HASH (` there is
  // the access method (`unimplemented(sqllex, "index using " + $2)` in sql.y), not opt_hash_sharded.
  const usingHashMethod = /^\s*using\s+hash\s*\(/i.test(statement.code.slice(match.index + match[0].length))
  return { table, usingHashMethod }
}
