import type { BatchItemOutcome, BatchOperationInput } from '../../domain/batch.js';
import { type ErrorCode, InvariantViolation, LedgerError } from '../../domain/errors.js';
import type { AccountState, LogEntry, Snapshot, WriteCommand } from '../../domain/types.js';
import type { WriteOutcome } from '../ledger.js';
import { DatabaseError, type DatabaseProblem } from './database-error.js';
import type { PgMetrics } from './pg-ledger.js';

/**
 * Messages between the server's main thread and its database worker (pg-worker.ts,
 * pg-worker-ledger.ts). Every message is structured-cloned: plain objects, arrays, strings and
 * bigints only. Calls made in one event-loop turn travel as one message, and so do answers.
 */
export type WorkerCall =
  /** Validated on the main thread (the checks before any database access stay there). */
  | { readonly id: number; readonly kind: 'write'; readonly cmd: WriteCommand; readonly principal: string }
  | {
      readonly id: number;
      readonly kind: 'batch';
      readonly operations: readonly BatchOperationInput[];
      readonly principal: string;
    }
  | { readonly id: number; readonly kind: 'balance'; readonly accountId: string }
  | { readonly id: number; readonly kind: 'snapshot'; readonly includeAccounts: boolean }
  | { readonly id: number; readonly kind: 'transaction'; readonly transactionId: string };

export type ToWorker =
  | { readonly type: 'calls'; readonly calls: readonly WorkerCall[] }
  | { readonly type: 'close' };

/** A thrown error as data: LedgerError keeps its code and replay flag, anything else its kind. */
export type EncodedError =
  | {
      readonly kind: 'ledger';
      readonly code: ErrorCode;
      readonly message: string;
      readonly replayed: boolean;
    }
  | { readonly kind: 'database'; readonly problem: DatabaseProblem; readonly message: string }
  | {
      readonly kind: 'invariant' | 'other';
      readonly name: string;
      readonly message: string;
      readonly stack: string;
    };

export type EncodedItemOutcome =
  | { readonly ok: true; readonly result: WriteOutcome['result']; readonly replayed: boolean }
  | { readonly ok: false; readonly error: EncodedError };

export type AnswerValue = WriteOutcome | EncodedItemOutcome[] | AccountState | Snapshot | LogEntry;

/** [call id, true, value] or [call id, false, error]. */
export type Answer = readonly [number, true, AnswerValue] | readonly [number, false, EncodedError];

export type FromWorker =
  | { readonly type: 'opened' }
  | { readonly type: 'open-failed'; readonly error: EncodedError }
  | { readonly type: 'answers'; readonly answers: readonly Answer[] }
  | { readonly type: 'serving'; readonly serving: boolean; readonly reason?: string | undefined }
  /** Every LIMITS.pgWorkerMetricsIntervalMs: what the metrics endpoint shows (a scrape reads the last). */
  | { readonly type: 'metrics'; readonly metrics: PgMetrics }
  | { readonly type: 'closed' };

export function encodeError(err: unknown): EncodedError {
  if (err instanceof LedgerError)
    return { kind: 'ledger', code: err.code, message: err.message, replayed: err.replayed };
  if (err instanceof DatabaseError) return { kind: 'database', problem: err.problem, message: err.message };
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    kind: err instanceof InvariantViolation ? 'invariant' : 'other',
    name: e.name,
    message: e.message,
    stack: e.stack ?? '',
  };
}

export function decodeError(encoded: EncodedError): Error {
  switch (encoded.kind) {
    case 'ledger':
      return new LedgerError(encoded.code, encoded.message, encoded.replayed);
    case 'database':
      return new DatabaseError(encoded.problem, encoded.message);
    case 'invariant': {
      const err = new InvariantViolation(encoded.message);
      err.stack = `${encoded.stack}\n    (in the database worker thread)`;
      return err;
    }
    default: {
      const err = new Error(encoded.message);
      err.name = encoded.name;
      err.stack = `${encoded.stack}\n    (in the database worker thread)`;
      return err;
    }
  }
}

export function encodeItemOutcomes(outcomes: readonly BatchItemOutcome[]): EncodedItemOutcome[] {
  return outcomes.map((o) => (o.ok ? o : { ok: false, error: encodeError(o.error) }));
}

export function decodeItemOutcomes(outcomes: readonly EncodedItemOutcome[]): BatchItemOutcome[] {
  return outcomes.map((o) => (o.ok ? o : { ok: false, error: decodeError(o.error) as LedgerError }));
}
