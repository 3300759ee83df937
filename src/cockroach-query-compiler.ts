import { PostgresQueryCompiler } from 'kysely'

/**
 * Kysely's Postgres compiler with CockroachDB's SQL.
 */
export class CockroachQueryCompiler extends PostgresQueryCompiler {}
