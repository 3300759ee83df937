import { QueryRefusedError } from '../../errors/query-refused-error.js'
import { describeValue } from '../../util/describe-value.js'
import { assertKnownKeys } from '../../util/known-keys.js'
// Renders AS OF SYSTEM TIME values as SQL literals. Internal: not exported from the package.
//
// CockroachDB does not accept placeholders in AS OF SYSTEM TIME (`SELECT * FROM t AS OF SYSTEM TIME $1`
// fails with "no value provided for placeholder", cockroach pkg/sql/logictest/testdata/logic_test/as_of;
// docs /docs/stable/known-limitations), so every value is validated here and rendered from validated
// parts only: nothing the caller passed is ever copied into the SQL text unchecked.

/** What the helpers put in front of the literal; the compiler recognises its markers by this text. */
export const AS_OF_SYSTEM_TIME_PREFIX = 'as of system time '

/**
 * A duration given as parts, e.g. `{ minutes: 1, seconds: 30 }`. Every part is a non-negative safe
 * integer; use a smaller unit instead of fractions.
 */
export interface IntervalParts {
  readonly days?: number
  readonly hours?: number
  readonly minutes?: number
  readonly seconds?: number
  readonly milliseconds?: number
  readonly microseconds?: number
}

/** `follower_read_timestamp()`, made by {@link followerReadTimestamp}. */
export interface FollowerReadTimestamp {
  readonly kind: 'followerReadTimestamp'
}

/** `with_max_staleness(...)`, made by {@link withMaxStaleness}. */
export interface MaxStaleness {
  readonly kind: 'maxStaleness'
  readonly interval: string | IntervalParts
  readonly nearestOnly: boolean
}

/** `with_min_timestamp(...)`, made by {@link withMinTimestamp}. */
export interface MinTimestamp {
  readonly kind: 'minTimestamp'
  readonly timestamp: Date
  readonly nearestOnly: boolean
}

/** Options of the bounded staleness functions. */
export interface BoundedStalenessOptions {
  /**
   * `true` makes the read fail instead of going to the leaseholder when the nearest replica cannot
   * serve it (the function's `nearest_only` argument).
   */
  readonly nearestOnly?: boolean
}

/** Bounded staleness reads: only single-statement read-only queries accept them. */
export type BoundedStaleness = MaxStaleness | MinTimestamp

/** An interval in the past: `'-10s'`, `'-1m30s'`, `'-2h'`, `'-500ms'`. */
export type NegativeInterval = `-${string}`

/**
 * Every value `asOfSystemTime()` accepts: a `Date`, an interval in the past (`'-10s'` or
 * `{ seconds: 10 }`, meaning ten seconds ago), nanoseconds since the Unix epoch as a `bigint`,
 * `followerReadTimestamp()`, or a bounded staleness function.
 */
export type AsOfSystemTimeValue = Date | NegativeInterval | IntervalParts | bigint | FollowerReadTimestamp | BoundedStaleness

// Units of the compact interval syntax, largest first. CockroachDB's interval parser knows them all
// (`d`, `h`, `m`, `s`, `ms`, `us` in pkg/util/duration/parse.go, unitMap).
const UNITS = ['d', 'h', 'm', 's', 'ms', 'us'] as const
const UNIT_MICROS: Readonly<Record<(typeof UNITS)[number], number>> = Object.freeze({
  d: 86_400_000_000,
  h: 3_600_000_000,
  m: 60_000_000,
  s: 1_000_000,
  ms: 1_000,
  us: 1,
})
const PART_UNITS: ReadonlyArray<readonly [keyof IntervalParts, (typeof UNITS)[number]]> = Object.freeze([
  ['days', 'd'],
  ['hours', 'h'],
  ['minutes', 'm'],
  ['seconds', 's'],
  ['milliseconds', 'ms'],
  ['microseconds', 'us'],
] as const)
const COMPONENT = /(\d{1,15}(?:\.\d{1,9})?)(ms|us|d|h|m|s)/y
const MAX_INT64 = 9_223_372_036_854_775_807n

interface Component {
  readonly amount: string
  readonly unit: (typeof UNITS)[number]
}

/**
 * Validates `value` and renders it. `where` names the caller in error messages; `allowBounded` is
 * false where CockroachDB refuses bounded staleness (transactions).
 */
export function renderAsOfSystemTime(value: unknown, where: string, allowBounded: boolean): string {
  if (value instanceof Date) {
    return quote(renderTimestamp(value, where))
  }
  if (typeof value === 'bigint') {
    if (value <= 0n || value > MAX_INT64) {
      throw new QueryRefusedError(
        where,
        `a bigint is nanoseconds since the Unix epoch and must be between 1 and 2^63-1, got ${value}n`,
        'give a positive bigint such as 1700000000000000000n, or a Date',
      )
    }
    // An INT constant: CockroachDB reads it as nanoseconds since the epoch (pkg/sql/sem/asof/as_of.go,
    // DatumToHLC, case *tree.DInt). Quoted, it would first be tried as a timestamp string.
    return value.toString()
  }
  if (typeof value === 'string') {
    return quote(renderNegativeInterval(value, where))
  }
  if (typeof value === 'object' && value !== null) {
    const kind = (value as { kind?: unknown }).kind
    if (kind === 'followerReadTimestamp') {
      assertKnownKeys(where, value, ['kind'], 'property')
      return 'follower_read_timestamp()'
    }
    if (kind === 'maxStaleness' || kind === 'minTimestamp') {
      if (!allowBounded) {
        throw new QueryRefusedError(
          where,
          'bounded staleness (withMaxStaleness/withMinTimestamp) only works in single-statement read-only queries, not ' +
            'in transactions (CockroachDB docs /docs/stable/follower-reads#bounded-staleness-reads)',
          'use asOfSystemTime() on the query instead, or followerReadTimestamp() for the transaction',
        )
      }
      return renderBounded(value as BoundedStaleness, where)
    }
    if (kind === undefined) {
      return quote(renderIntervalParts(value as IntervalParts, where, '-'))
    }
  }
  throw new QueryRefusedError(
    where,
    `expected a Date, a negative interval such as '-10s', an interval object such as { seconds: 10 }, ` +
      `a bigint of nanoseconds, followerReadTimestamp(), withMaxStaleness() or withMinTimestamp(); got ${describeValue(value)}`,
    'give one of those',
  )
}

function renderBounded(value: BoundedStaleness, where: string): string {
  if (typeof value.nearestOnly !== 'boolean') {
    throw new QueryRefusedError(where, `nearestOnly must be a boolean, got ${describeValue(value.nearestOnly)}`, 'use nearestOnly: true')
  }
  const nearestOnly = value.nearestOnly ? ', true' : ''
  if (value.kind === 'maxStaleness') {
    assertKnownKeys(where, value, ['kind', 'interval', 'nearestOnly'], 'property')
    return `with_max_staleness(${quote(renderPositiveInterval(value.interval, where))}${nearestOnly})`
  }
  assertKnownKeys(where, value, ['kind', 'timestamp', 'nearestOnly'], 'property')
  if (!(value.timestamp instanceof Date)) {
    throw new QueryRefusedError(where, `withMinTimestamp() takes a Date, got ${describeValue(value.timestamp)}`, 'give a Date')
  }
  return `with_min_timestamp(${quote(renderTimestamp(value.timestamp, where))}${nearestOnly})`
}

/**
 * A positive interval for `with_max_staleness`: `'10s'`, `'1m30s'` or parts. Exported for
 * withMaxStaleness() to validate eagerly.
 */
export function renderPositiveInterval(interval: unknown, where: string): string {
  if (typeof interval === 'string') {
    if (interval.startsWith('-')) {
      throw new QueryRefusedError(
        where,
        `the maximum staleness is a positive interval such as '10s', got ${JSON.stringify(interval)}`,
        'drop the minus sign',
      )
    }
    return renderComponents(parseComponents(interval, interval, where), '')
  }
  if (typeof interval === 'object' && interval !== null) {
    return renderIntervalParts(interval as IntervalParts, where, '')
  }
  throw new QueryRefusedError(where, `expected an interval, got ${describeValue(interval)}`, "give one such as '10s' or { seconds: 10 }")
}

/** A timestamp literal in UTC with an explicit offset, which CockroachDB parses as TIMESTAMPTZ. */
export function renderTimestamp(date: Date, where: string): string {
  const time = date.getTime()
  if (Number.isNaN(time)) {
    throw new QueryRefusedError(where, 'the Date is invalid (NaN)', 'give a valid Date')
  }
  // CockroachDB refuses timestamps before the epoch ("timestamp before 1970-01-01T00:00:00Z is
  // invalid", pkg/sql/sem/asof/as_of.go); years past 9999 have no ISO form without a sign.
  if (time <= 0 || date.getUTCFullYear() > 9999) {
    throw new QueryRefusedError(
      where,
      `the Date must be after 1970-01-01 and before year 10000, got ${date.toISOString()}`,
      'give a Date in that range',
    )
  }
  const iso = date.toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}+00:00`
}

function renderNegativeInterval(text: string, where: string): string {
  if (!text.startsWith('-')) {
    throw new QueryRefusedError(
      where,
      `an interval must be negative, i.e. in the past, such as '-10s'; got ${JSON.stringify(text)}`,
      'CockroachDB refuses future timestamps: write the interval with a minus sign',
    )
  }
  // CockroachDB's default interval parser applies a sign to one component only: '-1m30s' is
  // -1 minute + 30 seconds = -30s (pkg/util/duration/parse.go, parseDuration). Read the whole
  // string as negative, as people do, and render every component with its own sign.
  return renderComponents(parseComponents(text.slice(1), text, where), '-')
}

function parseComponents(body: string, original: string, where: string): Component[] {
  const components: Component[] = []
  COMPONENT.lastIndex = 0
  let rank = -1
  while (COMPONENT.lastIndex < body.length) {
    const start = COMPONENT.lastIndex
    const match = COMPONENT.exec(body)
    if (match === null || match.index !== start) {
      throw invalidInterval(original, where)
    }
    const unit = match[2] as Component['unit']
    const unitRank = UNITS.indexOf(unit)
    if (unitRank <= rank) {
      throw new QueryRefusedError(
        where,
        `interval ${JSON.stringify(original)} repeats a unit or lists units out of order`,
        "write them once each, largest first, as in '-1h30m'",
      )
    }
    rank = unitRank
    components.push({ amount: match[1]!, unit })
  }
  if (components.length === 0) {
    throw invalidInterval(original, where)
  }
  const micros = components.reduce((sum, c) => sum + Number(c.amount) * UNIT_MICROS[c.unit], 0)
  if (micros < 1) {
    throw new QueryRefusedError(
      where,
      `interval ${JSON.stringify(original)} is shorter than 1 microsecond, which CockroachDB refuses`,
      "give 1us or more, such as '-1us'",
    )
  }
  return components
}

function renderComponents(components: readonly Component[], sign: '' | '-'): string {
  return components.map((c) => `${sign}${c.amount}${c.unit}`).join('')
}

function renderIntervalParts(parts: IntervalParts, where: string, sign: '' | '-'): string {
  assertKnownKeys(
    where,
    parts,
    PART_UNITS.map(([key]) => key),
    'property',
  )
  const components: Component[] = []
  for (const [key, unit] of PART_UNITS) {
    const amount = parts[key]
    if (amount === undefined) {
      continue
    }
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
      throw new QueryRefusedError(
        where,
        `interval part ${key} must be a non-negative integer, got ${describeValue(amount)}`,
        'use a smaller unit instead of a fraction',
      )
    }
    if (amount > 0) {
      components.push({ amount: String(amount), unit })
    }
  }
  if (components.length === 0) {
    throw new QueryRefusedError(where, 'the interval is zero', 'give at least one part above 0, e.g. { seconds: 10 }')
  }
  return renderComponents(components, sign)
}

function invalidInterval(text: string, where: string): QueryRefusedError {
  return new QueryRefusedError(
    where,
    `${JSON.stringify(text)} is not an interval this package accepts`,
    "write numbers with units d, h, m, s, ms, us, largest first, such as '-10s', '-1m30s' or '-250ms'",
  )
}

function quote(text: string): string {
  // Every string reaching here was rebuilt from validated digits, units and separators.
  return `'${text}'`
}

const RENDERED_TIMESTAMP = /^'(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3})\+00:00'$/
const RENDERED_NANOS = /^\d{1,19}$/

/**
 * What a rendered AS OF SYSTEM TIME clause reads at, for comparing two clauses of one statement:
 * an absolute instant (a `Date` or a `bigint`) as nanoseconds since the epoch, a negative interval by
 * its length (days and microseconds), anything else (functions) as its text. CockroachDB compares the evaluated timestamps, so a `Date` and
 * the `bigint` of the same instant agree ("cannot specify AS OF SYSTEM TIME with different
 * timestamps" in pkg/sql/conn_executor_exec.go compares `asOf.Timestamp`). Only parses what
 * {@link renderAsOfSystemTime} produces.
 */
export function asOfSystemTimeInstant(clause: string): bigint | string {
  const literal = literalOf(clause)
  if (RENDERED_NANOS.test(literal)) {
    return BigInt(literal)
  }
  const timestamp = RENDERED_TIMESTAMP.exec(literal)
  if (timestamp !== null) {
    return BigInt(Date.parse(`${timestamp[1]}T${timestamp[2]}Z`)) * 1_000_000n
  }
  return negativeIntervalLength(literal) ?? literal
}

// A negative interval as renderNegativeInterval writes it: every component with its own sign.
const RENDERED_NEGATIVE_INTERVAL = /^'((?:-\d{1,15}(?:\.\d{1,9})?(?:ms|us|d|h|m|s))+)'$/
const SIGNED_COMPONENT = /-(\d{1,15})(?:\.(\d{1,9}))?(ms|us|d|h|m|s)/g

/**
 * The normal form of a rendered negative interval, for comparing two of them: every interval of a
 * statement is added to the one statement timestamp (pkg/sql/sem/asof/as_of.go, DatumToHLC:
 * `duration.Add(stmtTimestamp, iv.Duration)`), so `'-90s'` and `'-1m-30s'` read at the same time.
 * Days stay apart: duration.Duration keeps them in a field of their own, which Add applies as a
 * calendar day (pkg/util/duration/duration.go, Add: `t.AddDate(0, months, days)`, then the nanos).
 * An interval with a fraction of a microsecond, or of a day, has no normal form here (how CockroachDB
 * rounds it is not modelled) and compares as text.
 */
function negativeIntervalLength(literal: string): string | undefined {
  const body = RENDERED_NEGATIVE_INTERVAL.exec(literal)?.[1]
  if (body === undefined) return undefined
  let days = 0n
  let micros = 0n
  for (const [, whole, fraction = '', unit] of body.matchAll(SIGNED_COMPONENT)) {
    if (unit === 'd') {
      if (fraction !== '') return undefined
      days += BigInt(whole!)
      continue
    }
    const perUnit = BigInt(UNIT_MICROS[unit as Component['unit']])
    const scaled = BigInt(fraction.padEnd(9, '0')) * perUnit
    if (scaled % 1_000_000_000n !== 0n) return undefined
    micros += BigInt(whole!) * perUnit + scaled / 1_000_000_000n
  }
  return `interval -${days}d -${micros}us`
}

/** Whether a rendered clause is a bounded staleness read (`with_max_staleness(...)`, `with_min_timestamp(...)`). */
export function isBoundedStalenessClause(clause: string): boolean {
  const literal = literalOf(clause)
  return literal.startsWith('with_max_staleness(') || literal.startsWith('with_min_timestamp(')
}

function literalOf(clause: string): string {
  return clause.startsWith(AS_OF_SYSTEM_TIME_PREFIX) ? clause.slice(AS_OF_SYSTEM_TIME_PREFIX.length) : clause
}

/** Reads the options of withMaxStaleness()/withMinTimestamp(). */
export function readNearestOnly(options: BoundedStalenessOptions, where: string): boolean {
  if (typeof options !== 'object' || options === null) {
    throw new QueryRefusedError(where, `options must be an object, got ${describeValue(options)}`, 'give one such as { nearestOnly: true }')
  }
  assertKnownKeys(where, options, ['nearestOnly'])
  if (options.nearestOnly !== undefined && typeof options.nearestOnly !== 'boolean') {
    throw new QueryRefusedError(where, `nearestOnly must be a boolean, got ${describeValue(options.nearestOnly)}`, 'use nearestOnly: true')
  }
  return options.nearestOnly === true
}
