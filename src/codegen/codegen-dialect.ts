import { ColumnTypeNode, IdentifierNode, PostgresDialect, UnionExpressionNode } from 'kysely-codegen'
import type { PostgresDialectOptions } from 'kysely-codegen'
import { CockroachCodegenIntrospector } from './codegen-introspector.js'
import type { Int8Mode } from '../connection/int8-type-parsers.js'

/**
 * Options of {@link CockroachCodegenDialect}: kysely-codegen's Postgres options and the `int8` mode
 * the application's `CockroachDialect` uses, e.g. `{ int8: 'bigint', defaultSchemas: ['public'] }`
 * (what `--int8 bigint` gives). Whether hidden columns are generated is the `introspection` option of
 * the `CockroachDialect` that kysely-codegen's `db` runs on.
 *
 * @internal
 */
export interface CockroachCodegenDialectOptions extends PostgresDialectOptions {
  /** Must match `CockroachDialect`'s `int8` option, so `Int8` is the type queries return. Default `'string'`. */
  readonly int8?: Int8Mode
}

/**
 * kysely-codegen's PostgreSQL generator dialect, introspecting through {@link CockroachCodegenIntrospector}
 * and typing INT8 as the `int8` mode returns it. It stays a kysely-codegen `PostgresDialect`, so
 * kysely-codegen's schema-qualified overrides and type mappings keep working. Internal: the
 * `kysely-cockroachdb codegen` command passes it to kysely-codegen's `generate()` as `dialect`.
 *
 * @internal
 */
export class CockroachCodegenDialect extends PostgresDialect {
  override readonly introspector: CockroachCodegenIntrospector

  constructor(options: CockroachCodegenDialectOptions = {}) {
    const { int8 = 'string', ...postgresOptions } = options
    super(postgresOptions)
    this.introspector = new CockroachCodegenIntrospector({
      defaultSchemas: postgresOptions.defaultSchemas,
      domains: postgresOptions.domains,
      partitions: postgresOptions.partitions,
    })
    this.adapter.definitions.Int8 = int8Definition(int8)
  }
}

// What a query returns for INT8 under each mode (src/connection/int8-type-parsers.ts); what may be written stays
// as broad as node-postgres accepts.
function int8Definition(mode: Int8Mode): ColumnTypeNode {
  const writable = () => new UnionExpressionNode([new IdentifierNode('string'), new IdentifierNode('number'), new IdentifierNode('bigint')])
  return new ColumnTypeNode(new IdentifierNode(mode), writable(), writable())
}
