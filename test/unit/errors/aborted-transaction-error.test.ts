// isCommitOutcomeUnknown recognises Kysely's AbortedTransactionError by Kysely's own brand, not by
// importing `isAbortedTransactionError` (which kysely < 0.28.19 / < 0.29.8 lacks, see
// src/errors/error-classifiers.ts): the error of whichever kysely copy threw it, and nothing else.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as kysely from 'kysely'
import { isCommitOutcomeUnknown } from '../../../src/index.js'

describe("Kysely's AbortedTransactionError", () => {
  it('is a known outcome (rolled back) for isCommitOutcomeUnknown', () => {
    const error: unknown = new kysely.AbortedTransactionError()
    assert.equal(kysely.isAbortedTransactionError(error), true)
    assert.equal(isCommitOutcomeUnknown(error), false)
  })

  it('is recognised by its brand, as Kysely recognises it, whichever kysely copy made it', () => {
    // What another copy of kysely (a second install, the other build) throws: same global symbol.
    const foreign = Object.assign(new Error('Transaction was rolled back instead of committed'), {
      name: 'AbortedTransactionError',
      [Symbol.for('kysely.AbortedTransactionError')]: true,
    })
    assert.equal(kysely.isAbortedTransactionError(foreign), true)
    assert.equal(isCommitOutcomeUnknown(foreign), false)
  })

  it('is not guessed from the name alone: an unbranded error keeps the outcome unknown', () => {
    const lookalike = Object.assign(new Error('Transaction was rolled back instead of committed'), { name: 'AbortedTransactionError' })
    assert.equal(kysely.isAbortedTransactionError(lookalike), false)
    assert.equal(isCommitOutcomeUnknown(lookalike), true)
  })
})
