// One statement on a connection of its own: for setup and checks from outside the code under test.
import pg from 'pg'

/**
 * Opens a client on `url`, runs `text` with `values`, and ends the client, also when the statement
 * fails. `text` may hold several statements when `values` is empty (the simple query protocol).
 *
 * ```ts
 * const { rows } = await queryOnce<{ n: number }>(database.url, 'select count(*)::int4 as n from account')
 * ```
 */
export async function queryOnce<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query<R>(text, values)
  } finally {
    await client.end()
  }
}
