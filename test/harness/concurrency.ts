// Small tools for tests (and the retry benchmark) that run many workers at once.
import type pg from 'pg'

/** A statement a pool's client sent, with its error if it failed. */
export interface SentStatement {
  readonly sql: string
  readonly error?: unknown
}

/**
 * Records every statement the pool's clients send, with its error if it failed. Recorded at the pg
 * client, below the dialect, so BEGIN, COMMIT and ROLLBACK show too.
 */
export function recordStatements(pool: pg.Pool): SentStatement[] {
  const sent: SentStatement[] = []
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string }
      const text = typeof first === 'string' ? first : first.text
      const result = query(...args)
      if (text === undefined || !(result instanceof Promise)) return result
      return result.then(
        (value: unknown) => {
          sent.push({ sql: text })
          return value
        },
        (error: unknown) => {
          sent.push({ sql: text, error })
          throw error
        },
      )
    }
  })
  return sent
}

/** Resolves every waiter once `parties` have arrived. */
export function barrier(parties: number): () => Promise<void> {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return () => {
    if (++arrived === parties) open()
    return opened
  }
}

/** A deterministic pseudo-random sequence (mulberry32), so runs are reproducible. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
