import { PostgresIntrospector } from 'kysely'

export class CockroachIntrospector extends PostgresIntrospector {}
