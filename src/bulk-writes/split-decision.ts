// Whether a failed batch should be split in half and retried. Pure: no I/O. Codes and messages
// read in CockroachDB's source (design-14 §1.4):
//
// - 53400 configuration_limit_exceeded "the transaction is locking too many rows and exceeded its
//   lock-tracking memory budget" (pkg/kv/kvclient/kvcoord/txn_interceptor_pipeliner.go,
//   pgerror.WithCandidateCode(..., pgcode.ConfigurationLimitExceeded); only when
//   kv.transaction.reject_over_max_intents_budget.enabled or kv.transaction.max_intents_and_locks
//   is set);
// - 54000 program_limit_exceeded "txn has written N rows, which is above the limit" / "txn has
//   read" (pkg/sql/conn_executor_exec.go, the transaction_rows_written_err / _read_err guardrails);
//   not "row larger than max row size" (54000 too: one row cannot be split smaller);
// - "command is too large: N bytes (max: M)" with no code (pkg/kv/kvserver/replica_raft.go,
//   errors.Errorf; the Raft proposal over kv.raft.command.max_size);
// - "bigger than maximum allowed message size" (pkg/sql/pgwire read buffer: a Bind or CopyData
//   over sql.conn.max_read_buffer_message_size; its SQLSTATE is not confirmed in source);
// - "transaction is too large to complete; try splitting into pieces": old CockroachDB versions'
//   refresh-span limit (now condensed, surfacing as an ordinary 40001); matched anyway;
// - 40001 with RETRY_COMMIT_DEADLINE_EXCEEDED or "transaction deadline exceeded": the docs
//   (/docs/stable/performance-best-practices-overview) say to break a multi-row INSERT that gets
//   it into smaller batches. Retrying the same size would hit it again, so it splits at once.
import { getSqlState } from '../errors/error-classifiers.js'
import { SqlState } from '../errors/sqlstate.js'

export type SplitDecision = 'split' | 'split-now' | false

const SPLIT_MESSAGES = ['command is too large', 'transaction is too large to complete', 'bigger than maximum allowed message size']

function messagesOf(error: unknown): string {
  const parts: string[] = []
  let current = error
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const message = (current as { message?: unknown }).message
    if (typeof message === 'string') parts.push(message)
    current = (current as { cause?: unknown }).cause
  }
  return parts.join('\n')
}

/**
 * 'split-now' for a commit deadline error (a 40001 withRetry would retry at the same size),
 * 'split' for a batch the server found too large, false otherwise.
 */
export function isBatchTooLarge(error: unknown): SplitDecision {
  const state = getSqlState(error)
  const message = messagesOf(error)
  if (state === SqlState.SerializationFailure) {
    return /RETRY_COMMIT_DEADLINE_EXCEEDED|transaction deadline exceeded/.test(message) ? 'split-now' : false
  }
  if (state === SqlState.ConfigurationLimitExceeded) return 'split'
  if (state === SqlState.ProgramLimitExceeded) return /txn has (written|read)/.test(message) ? 'split' : false
  return SPLIT_MESSAGES.some((text) => message.includes(text)) ? 'split' : false
}
