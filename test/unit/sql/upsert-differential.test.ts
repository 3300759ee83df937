// CockroachQueryCompiler prints an upsert (replaceInto / upsertInto) by handing it to Kysely's own
// visitInsertQuery and changing the one keyword. This holds it to that: over a corpus of replaceInto
// queries, with and without CamelCasePlugin and WithSchemaPlugin, the CockroachDB SQL is Kysely's
// PostgresQueryCompiler SQL with `replace into` -> `upsert into`, and the parameters are the same.
// It runs on both kysely minors the suite runs (kysely 0.28 through scripts/lib/kysely-0.28.mjs), so
// a field a later Kysely prints for an insert shows up here if the upsert lost it.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CamelCasePlugin,
  DummyDriver,
  ExplainNode,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  WithSchemaPlugin,
} from 'kysely'
import type { Compilable, Generated, KyselyPlugin, RootOperationNode } from 'kysely'
import { CockroachDialect, CockroachQueryCompiler, upsertInto } from '../../../src/index.js'

interface DB {
  person: { id: Generated<number>; firstName: string; replace: string | null }
  pet: { id: Generated<number>; ownerId: number; name: string }
}

const PLUGINS: readonly (readonly [string, () => KyselyPlugin[]])[] = [
  ['no plugins', () => []],
  ['CamelCasePlugin', () => [new CamelCasePlugin()]],
  ['WithSchemaPlugin', () => [new WithSchemaPlugin('app')]],
  ['CamelCasePlugin + WithSchemaPlugin', () => [new CamelCasePlugin(), new WithSchemaPlugin('app')]],
]

function cockroachDb(plugins: KyselyPlugin[]): Kysely<DB> {
  // The real dialect: compile() never connects.
  return new Kysely<DB>({
    dialect: new CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable' }),
    plugins,
  })
}

function postgresDb(plugins: KyselyPlugin[]): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    plugins,
  })
}

/** Each entry builds the same query on the db it is given. */
const CORPUS: readonly (readonly [string, (db: Kysely<DB>) => Compilable])[] = [
  ['one row', (db) => db.replaceInto('pet').values({ id: 1, ownerId: 2, name: 'Rex' })],
  [
    'several rows, returning',
    (db) =>
      db
        .replaceInto('pet')
        .values([
          { id: 1, ownerId: 2, name: 'Rex' },
          { id: 2, ownerId: 2, name: 'Fido' },
        ])
        .returning(['id', 'name']),
  ],
  ['upsertInto(), returningAll', (db) => upsertInto(db, 'pet').values({ ownerId: 2, name: 'Rex' }).returningAll()],
  ['default values', (db) => db.replaceInto('person').defaultValues()],
  ['default values, returning', (db) => db.replaceInto('person').defaultValues().returning('id')],
  [
    'columns and a select',
    (db) =>
      db
        .replaceInto('pet')
        .columns(['ownerId', 'name'])
        .expression(db.selectFrom('person').select(['person.id', 'person.firstName'])),
  ],
  [
    'subquery values',
    (db) =>
      db.replaceInto('pet').values((eb) => ({
        ownerId: eb.selectFrom('person').select('person.id').where('person.firstName', '=', 'Ann').limit(1),
        name: eb.val('Rex'),
      })),
  ],
  [
    'under a CTE',
    (db) =>
      db
        .with('src', (qb) => qb.selectFrom('person').select(['id', 'firstName']))
        .replaceInto('pet')
        .columns(['ownerId', 'name'])
        .expression((eb) => eb.selectFrom('src').select(['src.id', 'src.firstName'])),
  ],
  [
    'upsertInto() on a QueryCreator with a CTE, returning',
    (db) =>
      upsertInto(
        db.with('n', (qb) => qb.selectFrom('person').select('firstName').limit(1)),
        'pet',
      )
        .values((eb) => ({ ownerId: 1, name: eb.selectFrom('n').select('n.firstName') }))
        .returning('id'),
  ],
  [
    'as a CTE of a select (parenthesised by Kysely)',
    (db) =>
      db
        .with('u', (qb) => qb.replaceInto('pet').values({ ownerId: 1, name: 'Rex' }).returning('id'))
        .selectFrom('u')
        .selectAll(),
  ],
  [
    'as a CTE of another upsert',
    (db) =>
      db
        .with('u', (qb) => qb.replaceInto('person').values({ firstName: 'Ann' }).returning('id'))
        .replaceInto('pet')
        .columns(['ownerId', 'name'])
        .expression((eb) => eb.selectFrom('u').select(['u.id', sql.lit('Rex').as('name')])),
  ],
  ['inside a raw sql template', (db) => ({ compile: () => sql`${db.replaceInto('pet').values({ ownerId: 1, name: 'Rex' })}`.compile(db) })],
  [
    'with an end modifier',
    (db) =>
      db
        .replaceInto('pet')
        .values({ ownerId: 1, name: 'Rex' })
        .modifyEnd(sql`-- end`),
  ],
  [
    "a column, a literal and a raw fragment spelled 'replace'",
    (db) =>
      db
        .replaceInto('person')
        .values({ firstName: sql.lit('replace'), replace: sql<string>`${sql.raw('replace')}(${'a'}, 'b', 'c')` })
        .returning('replace'),
  ],
  ['a value spelled replace', (db) => db.replaceInto('person').values({ firstName: 'replace', replace: 'replace into' })],
]

for (const [label, plugins] of PLUGINS) {
  describe(`upsert into = Kysely's replace into (${label})`, () => {
    const cockroach = cockroachDb(plugins())
    const postgres = postgresDb(plugins())
    for (const [name, build] of CORPUS) {
      it(name, () => {
        const expected = build(postgres).compile()
        const actual = build(cockroach).compile()
        assert.match(expected.sql, /\breplace into\b/, 'the corpus query must be a replaceInto')
        assert.equal(actual.sql, expected.sql.replaceAll('replace into "', 'upsert into "'))
        assert.deepEqual(actual.parameters, expected.parameters)
      })
    }

    it('under explain (an ExplainNode on the insert)', () => {
      for (const [, build] of CORPUS.slice(0, 6)) {
        const expected = compileWith(new PostgresQueryCompiler(), build(postgres))
        const actual = compileWith(new CockroachQueryCompiler(), build(cockroach))
        assert.match(expected.sql, /^explain replace into "/)
        assert.equal(actual.sql, expected.sql.replace('replace into "', 'upsert into "'))
        assert.deepEqual(actual.parameters, expected.parameters)
      }
    })
  })
}

/** The query's node (after the plugins, as compile() gives it) with `explain` set, compiled by `compiler`. */
function compileWith(compiler: PostgresQueryCompiler, query: Compilable): { sql: string; parameters: readonly unknown[] } {
  const { query: node, queryId } = query.compile()
  return compiler.compileQuery({ ...node, explain: ExplainNode.create() } as RootOperationNode, queryId)
}

describe('what UPSERT has no form for is refused, not dropped', () => {
  const db = cockroachDb([])
  const refused: readonly (readonly [string, Compilable, RegExp])[] = [
    [
      'onConflict()',
      db
        .replaceInto('pet')
        .values({ ownerId: 1, name: 'Rex' })
        .onConflict((oc) => oc.column('id').doNothing()),
      /UPSERT does not support onConflict\(\)/,
    ],
    [
      'onDuplicateKeyUpdate()',
      db.replaceInto('pet').values({ ownerId: 1, name: 'Rex' }).onDuplicateKeyUpdate({ name: 'Rex' }),
      /UPSERT does not support onDuplicateKeyUpdate\(\)/,
    ],
    ['orIgnore()', db.replaceInto('pet').values({ ownerId: 1, name: 'Rex' }).orIgnore(), /UPSERT does not support or ignore/],
    ['top()', db.replaceInto('pet').top(1).values({ ownerId: 1, name: 'Rex' }), /UPSERT does not support top\(\)/],
    ['output()', db.replaceInto('pet').output('inserted.id').values({ ownerId: 1, name: 'Rex' }), /UPSERT does not support output\(\)/],
  ]
  for (const [name, query, message] of refused) {
    it(name, () => {
      assert.throws(() => query.compile(), message)
    })
  }

  it('an insert keeps them: only upserts are refused', () => {
    const compiled = db
      .insertInto('pet')
      .values({ ownerId: 1, name: 'Rex' })
      .onConflict((oc) => oc.column('id').doNothing())
      .compile()
    assert.equal(compiled.sql, 'insert into "pet" ("ownerId", "name") values ($1, $2) on conflict ("id") do nothing')
  })
})
