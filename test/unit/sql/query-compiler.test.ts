// Exact SQL of every CockroachDB feature of CockroachQueryCompiler and its helpers, and every
// rejection, with and without CamelCasePlugin and WithSchemaPlugin. Compile only: no server.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CamelCasePlugin, ExplainNode, Kysely, PostgresQueryCompiler, sql, WithSchemaPlugin } from 'kysely'
import type { Compilable, Generated, KyselyPlugin } from 'kysely'
import {
  asOfSystemTime,
  CockroachDialect,
  CockroachQueryCompiler,
  followerReadTimestamp,
  indexHint,
  joinHint,
  upsertInto,
  withMaxStaleness,
  withMinTimestamp,
} from '../../../src/index.js'
import type { AsOfSystemTimeValue } from '../../../src/index.js'

interface DB {
  person: { id: Generated<number>; firstName: string; tags: string[] }
  pet: { id: Generated<number>; ownerId: number; name: string }
}

interface Variant {
  readonly label: string
  readonly plugins: readonly KyselyPlugin[]
  readonly camel: boolean
  readonly schema: boolean
}

const VARIANTS: readonly Variant[] = [
  { label: 'no plugins', plugins: [], camel: false, schema: false },
  { label: 'CamelCasePlugin', plugins: [new CamelCasePlugin()], camel: true, schema: false },
  { label: 'WithSchemaPlugin', plugins: [new WithSchemaPlugin('app')], camel: false, schema: true },
  {
    label: 'CamelCasePlugin + WithSchemaPlugin',
    plugins: [new CamelCasePlugin(), new WithSchemaPlugin('app')],
    camel: true,
    schema: true,
  },
]

function createDb(plugins: readonly KyselyPlugin[] = []): Kysely<DB> {
  // The real dialect: compile() never connects.
  return new Kysely<DB>({
    dialect: new CockroachDialect({ connectionString: 'postgresql://root@localhost:26257/defaultdb?sslmode=disable' }),
    plugins: [...plugins],
  })
}

function expectSql(query: Compilable, sqlText: string, parameters: readonly unknown[] = []): void {
  const compiled = query.compile()
  assert.equal(compiled.sql, sqlText)
  assert.deepEqual(compiled.parameters, parameters)
}

const DATE = new Date('2024-05-01T12:00:00.000Z')

for (const variant of VARIANTS) {
  const db = createDb(variant.plugins)
  // Column and alias names as the plugins print them; `T` also qualifies tables with the schema.
  const C = (name: string): string => `"${variant.camel ? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : name}"`
  const T = (name: string): string => (variant.schema ? `"app".${C(name)}` : C(name))

  describe(`CockroachQueryCompiler (${variant.label})`, () => {
    describe('UPSERT', () => {
      it('compiles replaceInto() to upsert into', () => {
        expectSql(
          db.replaceInto('pet').values({ id: 1, ownerId: 2, name: 'Rex' }),
          `upsert into ${T('pet')} (${C('id')}, ${C('ownerId')}, ${C('name')}) values ($1, $2, $3)`,
          [1, 2, 'Rex'],
        )
      })

      it('upsertInto() takes multi-row values and returning', () => {
        const query = upsertInto(db, 'pet')
          .values([
            { id: 1, ownerId: 2, name: 'Rex' },
            { id: 3, ownerId: 2, name: 'Tom' },
          ])
          .returning(['id', 'name'])
        expectSql(
          query,
          `upsert into ${T('pet')} (${C('id')}, ${C('ownerId')}, ${C('name')}) values ($1, $2, $3), ($4, $5, $6) ` +
            `returning ${C('id')}, ${C('name')}`,
          [1, 2, 'Rex', 3, 2, 'Tom'],
        )
      })

      it('upsertInto() with returningAll and default values', () => {
        expectSql(upsertInto(db, 'person').defaultValues().returningAll(), `upsert into ${T('person')} default values returning *`)
      })

      it('upserts the rows of a select, under a CTE', () => {
        const query = db
          .with('src', (qc) => qc.selectFrom('person').select(['id', 'firstName']))
          .replaceInto('pet')
          .columns(['ownerId', 'name'])
          .expression((eb) => eb.selectFrom('src').select(['src.id', 'src.firstName']))
        expectSql(
          query,
          `with ${C('src')} as (select ${C('id')}, ${C('firstName')} from ${T('person')}) ` +
            `upsert into ${T('pet')} (${C('ownerId')}, ${C('name')}) select ${C('src')}.${C('id')}, ${C('src')}.${C('firstName')} from ${C('src')}`,
        )
      })

      it('refuses onConflict() on an upsert', () => {
        const query = upsertInto(db, 'pet')
          .values({ id: 1, ownerId: 2, name: 'Rex' })
          .onConflict((oc) => oc.column('id').doNothing())
        assert.throws(() => query.compile(), {
          name: 'QueryRefusedError',
          message: /^upsertInto\(\): UPSERT does not support onConflict\(\) \(UPSERT always resolves conflicts on the primary key/,
        })
      })

      it('leaves insertInto().onConflict() as PostgreSQL writes it', () => {
        const query = db
          .insertInto('pet')
          .values({ id: 1, ownerId: 2, name: 'Rex' })
          .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ name: eb.ref('excluded.name') })))
        expectSql(
          query,
          `insert into ${T('pet')} (${C('id')}, ${C('ownerId')}, ${C('name')}) values ($1, $2, $3) ` +
            `on conflict (${C('id')}) do update set ${C('name')} = "excluded".${C('name')}`,
          [1, 2, 'Rex'],
        )
      })
    })

    describe('AS OF SYSTEM TIME', () => {
      it('goes right after FROM, before WHERE', () => {
        expectSql(
          db.selectFrom('person').selectAll().where('id', '=', 1).$call(asOfSystemTime('-10s')),
          `select * from ${T('person')} as of system time '-10s' where ${C('id')} = $1`,
          [1],
        )
      })

      it('goes after the joins, before WHERE, ORDER BY and LIMIT', () => {
        const query = db
          .selectFrom('person')
          .innerJoin('pet', 'pet.ownerId', 'person.id')
          .select(['person.firstName', 'pet.name'])
          .where('person.id', '=', 1)
          .orderBy('pet.name')
          .limit(5)
          .$call(asOfSystemTime('-1m30s'))
        expectSql(
          query,
          `select ${T('person')}.${C('firstName')}, ${T('pet')}.${C('name')} from ${T('person')} ` +
            `inner join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')} ` +
            `as of system time '-1m-30s' where ${T('person')}.${C('id')} = $1 order by ${T('pet')}.${C('name')} limit $2`,
          [1, 5],
        )
      })

      it('is placed the same whether $call comes first or last', () => {
        const query = db.selectFrom('person').$call(asOfSystemTime('-5s')).select('id').where('id', '>', 3).limit(1)
        expectSql(query, `select ${C('id')} from ${T('person')} as of system time '-5s' where ${C('id')} > $1 limit $2`, [3, 1])
      })

      it('repeats the same value in a subquery', () => {
        const query = db
          .selectFrom('person')
          .selectAll()
          .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').$call(asOfSystemTime('-10s')))
          .$call(asOfSystemTime('-10s'))
        expectSql(
          query,
          `select * from ${T('person')} as of system time '-10s' where ${C('id')} in ` +
            `(select ${C('ownerId')} from ${T('pet')} as of system time '-10s')`,
        )
      })

      it('works with CTEs', () => {
        const query = db
          .with('owners', (qc) => qc.selectFrom('pet').select('ownerId').$call(asOfSystemTime('-10s')))
          .selectFrom('owners')
          .selectAll()
          .$call(asOfSystemTime('-10s'))
        expectSql(
          query,
          `with ${C('owners')} as (select ${C('ownerId')} from ${T('pet')} as of system time '-10s') ` +
            `select * from ${C('owners')} as of system time '-10s'`,
        )
      })

      it('works with a UNION wrapped in FROM, each branch carrying the clause too', () => {
        const union = db
          .selectFrom('person')
          .select('id')
          .$call(asOfSystemTime(DATE))
          .union(db.selectFrom('pet').select('id').$call(asOfSystemTime(DATE)))
        const query = db.selectFrom(union.as('u')).selectAll().$call(asOfSystemTime(DATE))
        const clause = "as of system time '2024-05-01 12:00:00.000+00:00'"
        expectSql(
          query,
          `select * from (select ${C('id')} from ${T('person')} ${clause} union select ${C('id')} from ${T('pet')} ${clause}) ` +
            `as ${C('u')} ${clause}`,
        )
      })

      it('keeps FOR UPDATE-free end modifiers where they were', () => {
        const query = db
          .selectFrom('person')
          .select('id')
          .$call(asOfSystemTime('-10s'))
          .modifyEnd(sql`-- audit`)
        expectSql(query, `select ${C('id')} from ${T('person')} as of system time '-10s' -- audit`)
      })

      const values: ReadonlyArray<readonly [string, AsOfSystemTimeValue, string]> = [
        ['a Date', DATE, "'2024-05-01 12:00:00.000+00:00'"],
        ['a bigint of nanoseconds', 1714564800000000000n, '1714564800000000000'],
        ['milliseconds', '-250ms', "'-250ms'"],
        ['a fraction', '-1.5s', "'-1.5s'"],
        ['hours and minutes', '-1h30m', "'-1h-30m'"],
        ['days', '-2d', "'-2d'"],
        ['microseconds', '-1us', "'-1us'"],
        ['interval parts', { minutes: 1, seconds: 30 }, "'-1m-30s'"],
        ['all interval parts', { days: 1, hours: 2, minutes: 3, seconds: 4, milliseconds: 5, microseconds: 6 }, "'-1d-2h-3m-4s-5ms-6us'"],
        ['zero parts skipped', { hours: 0, seconds: 10 }, "'-10s'"],
        ['followerReadTimestamp()', followerReadTimestamp(), 'follower_read_timestamp()'],
        ['withMaxStaleness()', withMaxStaleness('10s'), "with_max_staleness('10s')"],
        ['withMaxStaleness() nearest only', withMaxStaleness('1m30s', { nearestOnly: true }), "with_max_staleness('1m30s', true)"],
        ['withMaxStaleness() parts', withMaxStaleness({ seconds: 5 }, { nearestOnly: false }), "with_max_staleness('5s')"],
        ['withMinTimestamp()', withMinTimestamp(DATE), "with_min_timestamp('2024-05-01 12:00:00.000+00:00')"],
        [
          'withMinTimestamp() nearest only',
          withMinTimestamp(DATE, { nearestOnly: true }),
          "with_min_timestamp('2024-05-01 12:00:00.000+00:00', true)",
        ],
      ]
      for (const [label, value, literal] of values) {
        it(`renders ${label} as ${literal}`, () => {
          expectSql(
            db.selectFrom('person').select('id').$call(asOfSystemTime(value)),
            `select ${C('id')} from ${T('person')} as of system time ${literal}`,
          )
        })
      }

      it('refuses FOR UPDATE and FOR SHARE, whatever the order', () => {
        const message = /^asOfSystemTime\(\): AS OF SYSTEM TIME cannot be combined with FOR UPDATE\/FOR SHARE/
        assert.throws(() => db.selectFrom('person').selectAll().$call(asOfSystemTime('-1s')).forUpdate().compile(), { message })
        assert.throws(() => db.selectFrom('person').selectAll().forShare().$call(asOfSystemTime('-1s')).compile(), { message })
        assert.throws(() => db.selectFrom('person').selectAll().forNoKeyUpdate().$call(asOfSystemTime('-1s')).compile(), { message })
        assert.throws(() => db.selectFrom('person').selectAll().forKeyShare().$call(asOfSystemTime('-1s')).compile(), { message })
      })

      it('refuses the clause on a subquery when the top level has none', () => {
        const query = db
          .selectFrom('person')
          .selectAll()
          .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').$call(asOfSystemTime('-10s')))
        assert.throws(() => query.compile(), {
          name: 'QueryRefusedError',
          message: /^asOfSystemTime\(\): AS OF SYSTEM TIME must be on the top-level SELECT/,
        })
      })

      it('refuses different values in one statement', () => {
        const query = db
          .selectFrom('person')
          .selectAll()
          .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').$call(asOfSystemTime('-20s')))
          .$call(asOfSystemTime('-10s'))
        assert.throws(() => query.compile(), {
          message: `asOfSystemTime(): all AS OF SYSTEM TIME clauses of a statement must read at the same time: the top level has "as of system time '-10s'", a subquery "as of system time '-20s'". Give the subquery the same value as the outer query, or drop it there.`,
        })
      })

      it('accepts the same instant given as a Date and as a bigint of nanoseconds', () => {
        // CockroachDB compares the evaluated timestamps, not the text (Builder.validateAsOf in
        // pkg/sql/opt/optbuilder: "cannot specify AS OF SYSTEM TIME with different timestamps").
        const query = db
          .selectFrom('person')
          .selectAll()
          .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').$call(asOfSystemTime(1714564800000000000n)))
          .$call(asOfSystemTime(DATE))
        expectSql(
          query,
          `select * from ${T('person')} as of system time '2024-05-01 12:00:00.000+00:00' where ${C('id')} in ` +
            `(select ${C('ownerId')} from ${T('pet')} as of system time 1714564800000000000)`,
        )
        const different = db
          .selectFrom('person')
          .selectAll()
          .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').$call(asOfSystemTime(1714564800000000001n)))
          .$call(asOfSystemTime(DATE))
        assert.throws(() => different.compile(), {
          name: 'QueryRefusedError',
          message: /^asOfSystemTime\(\): all AS OF SYSTEM TIME clauses of a statement must read at the same time/,
        })
      })

      it('accepts negative intervals of the same length however they are spelled', () => {
        // Every interval is added to the one statement timestamp (pkg/sql/sem/asof/as_of.go,
        // DatumToHLC: `duration.Add(stmtTimestamp, iv.Duration)`), so equal lengths read at one time.
        const nested = (outer: `-${string}`, inner: `-${string}`) =>
          db
            .selectFrom('person')
            .selectAll()
            .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').$call(asOfSystemTime(inner)))
            .$call(asOfSystemTime(outer))
        for (const [outer, inner] of [
          ['-90s', '-1m30s'],
          ['-10s', '-10000ms'],
          ['-1.5s', '-1500000us'],
          ['-1h', '-60m'],
          ['-0.5ms', '-500us'],
          ['-1d1h', '-1d60m'],
        ] as const) {
          assert.doesNotThrow(() => nested(outer, inner).compile(), `${outer} and ${inner}`)
        }
        expectSql(
          nested('-90s', '-1m30s'),
          `select * from ${T('person')} as of system time '-90s' where ${C('id')} in ` +
            `(select ${C('ownerId')} from ${T('pet')} as of system time '-1m-30s')`,
        )
        // Different lengths still differ; a day is kept apart from 24 hours (CockroachDB keeps days in
        // an interval field of their own, pkg/util/duration), so those are refused as before.
        for (const [outer, inner] of [
          ['-90s', '-1m31s'],
          ['-10s', '-10001ms'],
          ['-1d', '-24h'],
          ['-1us', '-2us'],
        ] as const) {
          assert.throws(
            () => nested(outer, inner).compile(),
            {
              name: 'QueryRefusedError',
              message: /^asOfSystemTime\(\): all AS OF SYSTEM TIME clauses of a statement must read at the same time/,
            },
            `${outer} and ${inner}`,
          )
        }
        // An interval and an absolute instant never agree.
        const mixed = db
          .selectFrom('person')
          .selectAll()
          .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').$call(asOfSystemTime(DATE)))
          .$call(asOfSystemTime('-10s'))
        assert.throws(() => mixed.compile(), {
          name: 'QueryRefusedError',
          message: /^asOfSystemTime\(\): all AS OF SYSTEM TIME clauses of a statement must read at the same time/,
        })
      })

      it('refuses bounded staleness with limit(), as CockroachDB does', () => {
        // scanParams (called from buildScan), pkg/sql/opt/exec/execbuilder/relational.go: a scan with
        // a hard limit "can span multiple ranges", so bounded staleness refuses it even with LIMIT 1.
        const message = /^asOfSystemTime\(\): bounded staleness \(withMaxStaleness\/withMinTimestamp\) cannot be combined with limit\(\)/
        for (const value of [withMaxStaleness('10s'), withMinTimestamp(DATE, { nearestOnly: true })]) {
          const query = db.selectFrom('person').selectAll().where('id', '=', 1).limit(1).$call(asOfSystemTime(value))
          assert.throws(() => query.compile(), { message })
        }
        // Exact staleness with a limit is fine.
        expectSql(
          db.selectFrom('person').select('id').limit(1).$call(asOfSystemTime('-10s')),
          `select ${C('id')} from ${T('person')} as of system time '-10s' limit $1`,
          [1],
        )
      })

      it('refuses bounded staleness with a join or a subquery: a second scan, as CockroachDB does', () => {
        // scanParams (called from buildScan), pkg/sql/opt/exec/execbuilder/relational.go: once a
        // bounded staleness scan is planned (containsBoundedStalenessScan), another scan is refused:
        // "We already planned a scan, perhaps as part of a subquery."
        const second =
          '("cannot use bounded staleness for queries that may touch more than one range or require an index join"). ' +
          'Read each table in a query of its own, or use an exact staleness such as asOfSystemTime(followerReadTimestamp()).'
        const join =
          'asOfSystemTime(): bounded staleness (withMaxStaleness/withMinTimestamp) cannot be combined with a join: ' +
          'CockroachDB plans one scan for a bounded staleness read and refuses a second ' +
          second
        const subquery =
          'asOfSystemTime(): bounded staleness (withMaxStaleness/withMinTimestamp) cannot be combined with a subquery: ' +
          'CockroachDB plans one scan for a bounded staleness read and refuses a second ' +
          second
        for (const value of [withMaxStaleness('10s'), withMinTimestamp(DATE, { nearestOnly: true })]) {
          const joined = db
            .selectFrom('person')
            .innerJoin('pet', 'pet.ownerId', 'person.id')
            .select(['person.id', 'pet.name'])
            .where('person.id', '=', 1)
            .$call(asOfSystemTime(value))
          assert.throws(() => joined.compile(), { message: join })
          const inWhere = db
            .selectFrom('person')
            .selectAll()
            .where('id', 'in', (eb) => eb.selectFrom('pet').select('ownerId').where('id', '=', 1))
            .$call(asOfSystemTime(value))
          assert.throws(() => inWhere.compile(), { message: subquery })
          const inSelect = db
            .selectFrom('person')
            .select((eb) => ['id', eb.selectFrom('pet').select('name').where('id', '=', 1).as('petName')])
            .where('id', '=', 1)
            .$call(asOfSystemTime(value))
          assert.throws(() => inSelect.compile(), { message: subquery })
          const inCte = db
            .with('p', (qb) => qb.selectFrom('pet').select('ownerId').where('id', '=', 1))
            .selectFrom('person')
            .selectAll()
            .where('id', '=', 1)
            .$call(asOfSystemTime(value))
          assert.throws(() => inCte.compile(), { message: subquery })
        }
        // One table, no subquery: compiled as before.
        expectSql(
          db
            .selectFrom('person')
            .select('id')
            .where('id', '=', 1)
            .$call(asOfSystemTime(withMaxStaleness('10s'))),
          `select ${C('id')} from ${T('person')} as of system time with_max_staleness('10s') where ${C('id')} = $1`,
          [1],
        )
        // Exact staleness keeps joins and subqueries.
        expectSql(
          db
            .selectFrom('person')
            .innerJoin('pet', 'pet.ownerId', 'person.id')
            .select('person.id')
            .where('person.id', 'in', (eb) => eb.selectFrom('pet').select('ownerId'))
            .$call(asOfSystemTime('-10s')),
          `select ${T('person')}.${C('id')} from ${T('person')} inner join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')} ` +
            `as of system time '-10s' where ${T('person')}.${C('id')} in (select ${C('ownerId')} from ${T('pet')})`,
        )
      })

      it('refuses the clause on a top-level UNION', () => {
        const onOuter = db.selectFrom('person').select('id').union(db.selectFrom('pet').select('id')).$call(asOfSystemTime('-1s'))
        assert.throws(() => onOuter.compile(), {
          name: 'QueryRefusedError',
          message: /^asOfSystemTime\(\): AS OF SYSTEM TIME cannot be on a top-level UNION/,
        })
        const onBranch = db
          .selectFrom('person')
          .select('id')
          .union(db.selectFrom('pet').select('id').$call(asOfSystemTime('-1s')))
        assert.throws(() => onBranch.compile(), {
          name: 'QueryRefusedError',
          message: /^asOfSystemTime\(\): AS OF SYSTEM TIME must be on the top-level SELECT/,
        })
      })

      it('refuses a SELECT without FROM', () => {
        const query = db.selectNoFrom(sql<number>`1`.as('one')).$call(asOfSystemTime('-1s'))
        assert.throws(() => query.compile(), { name: 'QueryRefusedError', message: /^asOfSystemTime\(\): the query has no FROM clause/ })
      })

      it('refuses being applied twice', () => {
        const query = db.selectFrom('person').selectAll().$call(asOfSystemTime('-1s')).$call(asOfSystemTime('-1s'))
        assert.throws(() => query.compile(), { name: 'QueryRefusedError', message: /^asOfSystemTime\(\): it was applied twice/ })
      })

      it('refuses INSERT, UPDATE and DELETE', () => {
        // The helper is typed for selects; a cast is the only way to reach a write with it.
        const onWrite = asOfSystemTime('-1s') as unknown as (qb: object) => Compilable
        assert.throws(() => onWrite(db.updateTable('person').set({ firstName: 'x' })).compile(), {
          message:
            'asOfSystemTime(): AS OF SYSTEM TIME is for reads only; CockroachDB refuses it on UPDATE. Drop asOfSystemTime() from the write.',
        })
        assert.throws(() => onWrite(db.deleteFrom('person')).compile(), {
          message:
            'asOfSystemTime(): AS OF SYSTEM TIME is for reads only; CockroachDB refuses it on DELETE. Drop asOfSystemTime() from the write.',
        })
        assert.throws(() => onWrite(db.insertInto('person').values({ firstName: 'x', tags: [] })).compile(), {
          message:
            'asOfSystemTime(): AS OF SYSTEM TIME is for reads only; CockroachDB refuses it on INSERT. Drop asOfSystemTime() from the write.',
        })
        const withWrite = db
          .with('added', (qc) => qc.insertInto('pet').values({ ownerId: 1, name: 'x' }).returning('id'))
          .selectFrom('person')
          .selectAll()
          .$call(asOfSystemTime('-1s'))
        assert.throws(() => withWrite.compile(), {
          message:
            'asOfSystemTime(): AS OF SYSTEM TIME statements are read-only: INSERT cannot appear in them. Run the write as a statement of its own.',
        })
      })
    })

    describe('index hints', () => {
      it('an index name: table@index', () => {
        expectSql(
          db.selectFrom(indexHint(db, 'person', 'person_first_name_idx')).select('person.firstName'),
          `select ${T('person')}.${C('firstName')} from ${T('person')}@"person_first_name_idx"`,
        )
      })

      it('FORCE_INDEX with a direction, aliased', () => {
        const query = db
          .selectFrom(indexHint(db, 'person', { forceIndex: 'person_first_name_idx', direction: 'desc' }).as('p'))
          .select('p.firstName')
          .where('p.id', '>', 10)
        expectSql(
          query,
          `select ${C('p')}.${C('firstName')} from ${T('person')}@{FORCE_INDEX="person_first_name_idx",DESC} as ${C('p')} ` +
            `where ${C('p')}.${C('id')} > $1`,
          [10],
        )
      })

      it('NO_FULL_SCAN on a joined table', () => {
        const query = db
          .selectFrom('pet')
          .innerJoin(indexHint(db, 'person', { noFullScan: true }), 'person.id', 'pet.ownerId')
          .select(['pet.name', 'person.firstName'])
        expectSql(
          query,
          `select ${T('pet')}.${C('name')}, ${T('person')}.${C('firstName')} from ${T('pet')} ` +
            `inner join ${T('person')}@{NO_FULL_SCAN} on ${T('person')}.${C('id')} = ${T('pet')}.${C('ownerId')}`,
        )
      })

      const flags: ReadonlyArray<readonly [string, Parameters<typeof indexHint<DB, 'pet'>>[2], string]> = [
        ['AVOID_FULL_SCAN', { avoidFullScan: true }, '{AVOID_FULL_SCAN}'],
        ['NO_INDEX_JOIN', { noIndexJoin: true }, '{NO_INDEX_JOIN}'],
        ['NO_ZIGZAG_JOIN', { noZigzagJoin: true }, '{NO_ZIGZAG_JOIN}'],
        ['FORCE_ZIGZAG', { forceZigzag: true }, '{FORCE_ZIGZAG}'],
        [
          'FORCE_ZIGZAG with index names',
          { forceZigzag: ['pet_owner_idx', 'pet_name_idx'] },
          '{FORCE_ZIGZAG="pet_owner_idx",FORCE_ZIGZAG="pet_name_idx"}',
        ],
        ['FORCE_INDEX=primary,ASC', { forceIndex: 'primary', direction: 'asc' }, '{FORCE_INDEX="primary",ASC}'],
        [
          'several flags',
          { noIndexJoin: true, noZigzagJoin: true, noFullScan: true, avoidFullScan: false },
          '{NO_INDEX_JOIN,NO_ZIGZAG_JOIN,NO_FULL_SCAN}',
        ],
        ['a quote in the index name', 'we"ird idx', '"we""ird idx"'],
        ['SQL in the index name', 'x"; drop table pet; --', '"x""; drop table pet; --"'],
      ]
      for (const [label, hint, rendered] of flags) {
        it(label, () => {
          expectSql(
            db.selectFrom(indexHint(db, 'pet', hint)).select('pet.name'),
            `select ${T('pet')}.${C('name')} from ${T('pet')}@${rendered}`,
          )
        })
      }

      it('on UPDATE', () => {
        const query = db
          .updateTable(indexHint(db, 'person', 'person_first_name_idx'))
          .set({ firstName: 'Ann' })
          .where('id', '=', 1)
        expectSql(query, `update ${T('person')}@"person_first_name_idx" set ${C('firstName')} = $1 where ${C('id')} = $2`, ['Ann', 1])
      })

      it('together with AS OF SYSTEM TIME', () => {
        const query = db
          .selectFrom(indexHint(db, 'person', { noFullScan: true }).as('p'))
          .select('p.id')
          .$call(asOfSystemTime('-10s'))
        expectSql(query, `select ${C('p')}.${C('id')} from ${T('person')}@{NO_FULL_SCAN} as ${C('p')} as of system time '-10s'`)
      })
    })

    describe('join hints', () => {
      it('inner hash join', () => {
        const query = db
          .selectFrom('person')
          .innerJoin(joinHint('hash', db, 'pet'), 'pet.ownerId', 'person.id')
          .select('pet.name')
        expectSql(
          query,
          `select ${T('pet')}.${C('name')} from ${T('person')} inner hash join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
      })

      it('left merge join, full hash join, cross hash join', () => {
        expectSql(
          db
            .selectFrom('person')
            .leftJoin(joinHint('merge', db, 'pet'), 'pet.ownerId', 'person.id')
            .select('person.id'),
          `select ${T('person')}.${C('id')} from ${T('person')} left merge join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
        expectSql(
          db
            .selectFrom('person')
            .fullJoin(joinHint('hash', db, 'pet'), 'pet.ownerId', 'person.id')
            .select('person.id'),
          `select ${T('person')}.${C('id')} from ${T('person')} full hash join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
        expectSql(
          db
            .selectFrom('person')
            .crossJoin(joinHint('hash', db, 'pet'))
            .select('person.id'),
          `select ${T('person')}.${C('id')} from ${T('person')} cross hash join ${T('pet')}`,
        )
      })

      it('inner lookup join on an index-hinted, aliased table', () => {
        const query = db
          .selectFrom('person')
          .innerJoin(joinHint('lookup', indexHint(db, 'pet', 'pet_owner_idx').as('p')), 'p.ownerId', 'person.id')
          .select('p.name')
        expectSql(
          query,
          `select ${C('p')}.${C('name')} from ${T('person')} inner lookup join ${T('pet')}@"pet_owner_idx" as ${C('p')} ` +
            `on ${C('p')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
      })

      it('left inverted join', () => {
        const query = db
          .selectFrom('pet')
          .leftJoin(joinHint('inverted', indexHint(db, 'person', 'person_tags_idx').as('o')), (join) =>
            join.on(sql<boolean>`${sql.ref('o.tags')} @> array[${sql.ref('pet.name')}]`),
          )
          .select('o.id')
        expectSql(
          query,
          `select ${C('o')}.${C('id')} from ${T('pet')} left inverted join ${T('person')}@"person_tags_idx" as ${C('o')} ` +
            `on ${C('o')}.${C('tags')} @> array[${T('pet')}.${C('name')}]`,
        )
      })

      it('a hash join on a subquery', () => {
        const owners = db.selectFrom('pet').select('ownerId').distinct().as('o')
        const query = db.selectFrom('person').innerJoin(joinHint('hash', owners), 'o.ownerId', 'person.id').select('person.id')
        expectSql(
          query,
          `select ${T('person')}.${C('id')} from ${T('person')} inner hash join (select distinct ${C('ownerId')} from ${T('pet')}) as ${C('o')} ` +
            `on ${C('o')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
      })

      it('refuses a merge join hint on a cross join', () => {
        // A merge join needs equality columns; a cross join has none, so the optimizer cannot honour
        // the hint (GenerateMergeJoins in pkg/sql/opt/xform/join_funcs.go returns without any) and
        // execbuilder fails with "could not produce a query plan conforming to the MERGE JOIN hint".
        assert.throws(
          () =>
            db
              .selectFrom('person')
              .crossJoin(joinHint('merge', db, 'pet'))
              .selectAll()
              .compile(),
          {
            message:
              /^joinHint\(\): joinHint\('merge', \.\.\.\) cannot be used with a cross join: a merge join needs an equality condition/,
          },
        )
      })

      it('inner, left and right straight joins', () => {
        expectSql(
          db
            .selectFrom('person')
            .innerJoin(joinHint('straight', db, 'pet'), 'pet.ownerId', 'person.id')
            .select('pet.name'),
          `select ${T('pet')}.${C('name')} from ${T('person')} inner straight join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
        expectSql(
          db
            .selectFrom('person')
            .leftJoin(joinHint('straight', db, 'pet'), 'pet.ownerId', 'person.id')
            .select('person.id'),
          `select ${T('person')}.${C('id')} from ${T('person')} left straight join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
        expectSql(
          db
            .selectFrom('person')
            .rightJoin(joinHint('straight', db, 'pet'), 'pet.ownerId', 'person.id')
            .select('pet.id'),
          `select ${T('pet')}.${C('id')} from ${T('person')} right straight join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')}`,
        )
        assert.throws(
          () =>
            db
              .selectFrom('person')
              .fullJoin(joinHint('straight', db, 'pet'), 'pet.ownerId', 'person.id')
              .selectAll()
              .compile(),
          {
            message:
              "joinHint(): joinHint('straight', ...) works with inner, left and right joins only, not with a full join. Use innerJoin, leftJoin or rightJoin.",
          },
        )
      })

      it('refuses lookup and inverted joins other than inner and left', () => {
        const query = db
          .selectFrom('person')
          .rightJoin(joinHint('lookup', db, 'pet'), 'pet.ownerId', 'person.id')
          .selectAll()
        assert.throws(() => query.compile(), {
          name: 'QueryRefusedError',
          message:
            "joinHint(): joinHint('lookup', ...) works with inner and left joins only, not with a right join. Use innerJoin or leftJoin.",
        })
      })

      it('refuses a join hint in FROM and on a lateral join', () => {
        assert.throws(
          () =>
            db
              .selectFrom(joinHint('hash', db, 'pet'))
              .selectAll()
              .compile(),
          {
            message:
              "joinHint(): joinHint('hash', ...) is only valid as the table of a join (innerJoin, leftJoin, ...), not in FROM. Pass it to a join instead of selectFrom.",
          },
        )
        const lateral = db
          .selectFrom('person')
          .innerJoinLateral(joinHint('hash', db.selectFrom('pet').select('name').as('p')), (join) => join.onTrue())
          .selectAll()
        assert.throws(() => lateral.compile(), {
          name: 'QueryRefusedError',
          message: /^joinHint\(\): joinHint\('hash', \.\.\.\) cannot be used with a LateralInnerJoin/,
        })
      })
    })

    describe('UPDATE and DELETE with ORDER BY, LIMIT and RETURNING', () => {
      // sql.y: delete_stmt: opt_with_clause DELETE FROM table_expr_opt_alias_idx opt_using_clause
      // opt_where_clause opt_sort_clause opt_limit_clause returning_clause; update_stmt likewise ends
      // in opt_sort_clause opt_limit_clause returning_clause. RETURNING goes last.
      it('DELETE ... ORDER BY ... LIMIT ... RETURNING (the batch-delete shape)', () => {
        const query = db.deleteFrom('pet').where('ownerId', '=', 1).orderBy('id').limit(100).returning(['id', 'name'])
        expectSql(
          query,
          `delete from ${T('pet')} where ${C('ownerId')} = $1 order by ${C('id')} limit $2 returning ${C('id')}, ${C('name')}`,
          [1, 100],
        )
      })

      it('UPDATE ... ORDER BY ... LIMIT ... RETURNING', () => {
        const query = db.updateTable('pet').set({ name: 'x' }).where('ownerId', '=', 1).orderBy('id', 'desc').limit(5).returningAll()
        expectSql(
          query,
          `update ${T('pet')} set ${C('name')} = $1 where ${C('ownerId')} = $2 order by ${C('id')} desc limit $3 returning *`,
          ['x', 1, 5],
        )
      })

      it('ORDER BY alone, LIMIT alone', () => {
        expectSql(db.deleteFrom('pet').orderBy('id').returning('id'), `delete from ${T('pet')} order by ${C('id')} returning ${C('id')}`)
        expectSql(
          db.updateTable('pet').set({ name: 'x' }).limit(2).returning('id'),
          `update ${T('pet')} set ${C('name')} = $1 limit $2 returning ${C('id')}`,
          ['x', 2],
        )
      })

      it('inside a CTE, and with end modifiers after it', () => {
        const query = db
          .with('gone', (qc) => qc.deleteFrom('pet').where('ownerId', '=', 1).orderBy('id').limit(10).returning('id'))
          .selectFrom('gone')
          .selectAll()
        expectSql(
          query,
          `with ${C('gone')} as (delete from ${T('pet')} where ${C('ownerId')} = $1 order by ${C('id')} limit $2 returning ${C('id')}) ` +
            `select * from ${C('gone')}`,
          [1, 10],
        )
        expectSql(
          db
            .deleteFrom('pet')
            .limit(1)
            .returning('id')
            .modifyEnd(sql`-- audit`),
          `delete from ${T('pet')} limit $1 returning ${C('id')} -- audit`,
          [1],
        )
      })
    })

    describe('row locks', () => {
      it('FOR UPDATE NOWAIT and SKIP LOCKED as CockroachDB parses them', () => {
        // sql.y: for_locking_item: for_locking_strength opt_locked_rels opt_nowait_or_skip
        expectSql(
          db.selectFrom('person').select('id').where('id', '=', 1).forUpdate().noWait(),
          `select ${C('id')} from ${T('person')} where ${C('id')} = $1 for update nowait`,
          [1],
        )
        expectSql(
          db.selectFrom('person').select('id').forUpdate().skipLocked().limit(1),
          `select ${C('id')} from ${T('person')} limit $1 for update skip locked`,
          [1],
        )
        expectSql(
          db.selectFrom('person').innerJoin('pet', 'pet.ownerId', 'person.id').select('person.id').forShare(['person']).noWait(),
          `select ${T('person')}.${C('id')} from ${T('person')} inner join ${T('pet')} on ${T('pet')}.${C('ownerId')} = ${T('person')}.${C('id')} ` +
            `for share of ${C('person')} nowait`,
        )
      })
    })
  })
}

describe('AS OF SYSTEM TIME values refused before any SQL exists', () => {
  const refused: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
    [
      'a positive interval',
      () => asOfSystemTime('10s' as `-${string}`),
      /an interval must be negative, i\.e\. in the past, such as '-10s'; got "10s"/,
    ],
    ['a zero interval', () => asOfSystemTime('-0s'), /"-0s" is shorter than 1 microsecond/],
    ['less than a microsecond', () => asOfSystemTime('-0.1us'), /shorter than 1 microsecond/],
    ['Postgres interval words', () => asOfSystemTime('-10 seconds'), /"-10 seconds" is not an interval this package accepts/],
    ['a unit out of order', () => asOfSystemTime('-30s1m'), /lists units out of order/],
    ['a repeated unit', () => asOfSystemTime('-1s2s'), /repeats a unit/],
    ['a sign inside', () => asOfSystemTime('-1m-30s'), /is not an interval this package accepts/],
    ['SQL injection', () => asOfSystemTime("-10s'; drop table person; --"), /is not an interval this package accepts/],
    ['a timestamp string', () => asOfSystemTime('-2024-01-01' as `-${string}`), /is not an interval this package accepts/],
    ['an empty interval', () => asOfSystemTime('-'), /"-" is not an interval this package accepts/],
    ['a NaN Date', () => asOfSystemTime(new Date(Number.NaN)), /the Date is invalid \(NaN\)/],
    ['a Date before 1970', () => asOfSystemTime(new Date('1969-12-31T00:00:00Z')), /must be after 1970-01-01/],
    ['a zero bigint', () => asOfSystemTime(0n), /must be between 1 and 2\^63-1, got 0/],
    ['a negative bigint', () => asOfSystemTime(-5n), /got -5/],
    ['a bigint above INT8', () => asOfSystemTime(2n ** 63n), /must be between 1 and 2\^63-1/],
    ['a number', () => asOfSystemTime(10 as unknown as bigint), /expected a Date, a negative interval .* got number 10/],
    ['null', () => asOfSystemTime(null as unknown as bigint), /got null/],
    ['a negative part', () => asOfSystemTime({ seconds: -1 }), /seconds must be a non-negative integer, got number -1/],
    ['a fractional part', () => asOfSystemTime({ seconds: 1.5 }), /Use a smaller unit instead of a fraction/],
    ['an empty object', () => asOfSystemTime({}), /the interval is zero/],
    ['an unknown part', () => asOfSystemTime({ weeks: 1 } as never), /unknown property "weeks"/],
    ['an unknown kind', () => asOfSystemTime({ kind: 'now' } as never), /expected a Date/],
    [
      'a forged descriptor',
      () => asOfSystemTime({ kind: 'maxStaleness', interval: "1s'); drop table x; --", nearestOnly: false }),
      /not an interval this package accepts/,
    ],
    ['a negative max staleness', () => withMaxStaleness('-10s'), /the maximum staleness is a positive interval such as '10s'/],
    [
      'a non-boolean nearestOnly',
      () => withMaxStaleness('10s', { nearestOnly: 'yes' as unknown as boolean }),
      /nearestOnly must be a boolean/,
    ],
    ['an unknown option', () => withMinTimestamp(DATE, { nearest: true } as never), /unknown option "nearest"/],
    ['an invalid min timestamp', () => withMinTimestamp(new Date('x')), /withMinTimestamp\(\): the Date is invalid/],
    ['a string min timestamp', () => withMinTimestamp('2024-01-01' as unknown as Date), /withMinTimestamp\(\): expected a Date/],
  ]
  for (const [label, make, message] of refused) {
    it(`refuses ${label}`, () => {
      assert.throws(make, message)
    })
  }
})

describe('index and join hints refused before any SQL exists', () => {
  const db = createDb()
  const refused: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
    ['a direction without an index', () => indexHint(db, 'pet', { direction: 'desc' }), /direction needs forceIndex/],
    [
      'forceIndex with noIndexJoin',
      () => indexHint(db, 'pet', { forceIndex: 'a', noIndexJoin: true }),
      /forceIndex and noIndexJoin cannot be combined/,
    ],
    [
      'forceZigzag with forceIndex',
      () => indexHint(db, 'pet', { forceIndex: 'a', forceZigzag: true }),
      /forceZigzag cannot be combined with forceIndex/,
    ],
    [
      'forceZigzag with noZigzagJoin',
      () => indexHint(db, 'pet', { noZigzagJoin: true, forceZigzag: 'a' }),
      /forceZigzag cannot be combined with noZigzagJoin/,
    ],
    ['no hint', () => indexHint(db, 'pet', {}), /no hint given/],
    ['only false flags', () => indexHint(db, 'pet', { noFullScan: false }), /no hint given/],
    ['an unknown option', () => indexHint(db, 'pet', { force_index: 'a' } as never), /unknown option "force_index"/],
    ['an empty index name', () => indexHint(db, 'pet', ''), /the index name must be a non-empty string/],
    ['a NUL in the index name', () => indexHint(db, 'pet', 'a\0b'), /without NUL characters/],
    ['a bad direction', () => indexHint(db, 'pet', { forceIndex: 'a', direction: 'up' as 'asc' }), /direction must be 'asc' or 'desc'/],
    ['a non-boolean flag', () => indexHint(db, 'pet', { noFullScan: 1 as unknown as boolean }), /noFullScan must be a boolean/],
    ['an aliased table string', () => indexHint(db, 'pet as p' as 'pet', 'a'), /alias with \.as\('p'\)/],
    ['an unknown join algorithm', () => joinHint('nested' as 'hash', db, 'pet'), /unknown join algorithm "nested"/],
    ['two join hints', () => joinHint('hash', joinHint('merge', db, 'pet').as('p')), /already has the join hint merge/],
    ['a join hint on a plain string', () => joinHint('hash', 'pet' as never), /Give \(algorithm, db, 'table'\)/],
  ]
  for (const [label, make, message] of refused) {
    it(`refuses ${label}`, () => {
      assert.throws(make, message)
    })
  }
})

describe('queries without CockroachDB features', () => {
  it('compile exactly as with PostgresQueryCompiler', () => {
    const db = createDb()
    const queries: Compilable[] = [
      db.selectFrom('person').selectAll(),
      db
        .selectFrom('person')
        .innerJoin('pet', 'pet.ownerId', 'person.id')
        .select(['person.id', 'pet.name as petName'])
        .where('pet.name', 'like', 'R%'),
      db.selectFrom('person').select('id').union(db.selectFrom('pet').select('id')).orderBy('id').limit(3),
      db
        .selectFrom('person')
        .select((eb) => eb.selectFrom('pet').select('name').whereRef('pet.ownerId', '=', 'person.id').limit(1).as('pet')),
      db
        .insertInto('pet')
        .values({ ownerId: 1, name: 'Rex' })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id'),
      db.updateTable('person').set({ firstName: 'Ann' }).where('id', '=', 1),
      db.deleteFrom('pet').where('ownerId', 'in', [1, 2]),
      // RETURNING moves only when ORDER BY or LIMIT follows it; these stay as Kysely prints them.
      db.deleteFrom('pet').where('ownerId', '=', 1).returning(['id', 'name']),
      db.deleteFrom('pet').orderBy('id').limit(10),
      db.updateTable('person').set({ firstName: 'Ann' }).where('id', '=', 1).returningAll(),
      db.updateTable('person').set({ firstName: 'Ann' }).orderBy('id').limit(1),
      db.selectFrom('person').select('id').orderBy('id').limit(2),
      db.selectFrom('person').selectAll().forUpdate().skipLocked(),
      db.selectFrom('person as p').select(sql<string>`upper(${sql.ref('p.firstName')})`.as('u')),
    ]
    const nodes = queries.map((query) => query.compile().query)
    // Plain EXPLAIN is the same on both servers.
    const plainExplain = db.deleteFrom('pet').where('id', '=', 1).compile().query
    nodes.push({ ...plainExplain, explain: ExplainNode.create() } as typeof plainExplain)
    for (const node of nodes) {
      const expected = new PostgresQueryCompiler().compileQuery(node, { queryId: 'q' } as never)
      const actual = new CockroachQueryCompiler().compileQuery(node, { queryId: 'q' } as never)
      assert.equal(actual.sql, expected.sql)
      assert.deepEqual(actual.parameters, expected.parameters)
    }
  })
})
