import { Errors, LedgerError } from './errors.js';
import { LIMITS } from './limits.js';
import type { WriteCommand, WriteResult } from './types.js';
import {
  type CreateInput,
  type TransferInput,
  type UpdateInput,
  validateCreate,
  validateTransfer,
  validateUpdate,
} from './validate.js';

/** One operation of an ExecuteBatch request; `linked`: it succeeds or fails with the next one. */
export type BatchOperationInput =
  | { readonly kind: 'create'; readonly input: CreateInput; readonly linked: boolean }
  | { readonly kind: 'update'; readonly input: UpdateInput; readonly linked: boolean }
  | { readonly kind: 'transfer'; readonly input: TransferInput; readonly linked: boolean }
  /** Refused before it reached the ledger (no operation named, a malformed field). */
  | { readonly kind: 'invalid'; readonly error: LedgerError; readonly linked: boolean };

/** A validated operation: its command, or the INVALID_ARGUMENT it gets as a unary call. */
export type BatchItem =
  | { readonly cmd: WriteCommand; readonly invalid?: undefined; readonly linked: boolean }
  | { readonly cmd?: undefined; readonly invalid: LedgerError; readonly linked: boolean };

/** What one operation of a batch answered, exactly as its unary call would have. */
export type BatchItemOutcome =
  | { readonly ok: true; readonly result: WriteResult; readonly replayed: boolean }
  /** `error.replayed`: the recorded failure of an earlier request with the same id. */
  | { readonly ok: false; readonly error: LedgerError };

/**
 * The batch's own checks, in this order (the whole call fails with INVALID_ARGUMENT and nothing
 * runs): empty, too many operations, a linked chain left open by the last operation, a
 * transaction id used by two operations. Then each operation is validated on its own.
 */
export function validateBatch(
  operations: readonly BatchOperationInput[],
  maxOperations: number = LIMITS.maxBatchOperations,
): BatchItem[] {
  if (operations.length === 0) throw Errors.batchEmpty();
  if (operations.length > maxOperations) throw Errors.batchTooLarge(operations.length, maxOperations);
  if (operations[operations.length - 1]!.linked) throw Errors.batchChainOpen();
  const seen = new Set<string>();
  for (const op of operations) {
    const txid = op.kind === 'invalid' ? '' : (op.input.transactionId ?? '');
    if (txid === '') continue;
    if (seen.has(txid)) throw Errors.batchDuplicateTransaction(txid);
    seen.add(txid);
  }
  return operations.map(validateItem);
}

function validateItem(op: BatchOperationInput): BatchItem {
  try {
    switch (op.kind) {
      case 'create':
        return { cmd: validateCreate(op.input), linked: op.linked };
      case 'update':
        return { cmd: validateUpdate(op.input), linked: op.linked };
      case 'transfer':
        return { cmd: validateTransfer(op.input), linked: op.linked };
      case 'invalid':
        return { invalid: op.error, linked: op.linked };
    }
  } catch (err) {
    if (!(err instanceof LedgerError)) throw err;
    return { invalid: err, linked: op.linked };
  }
}

/**
 * A linked chain failed at `failedAt`: every member from `chainStart` to the chain's end changes
 * nothing; the failing one answers its own error, the others `Linked operation failed`.
 * Returns the index of the chain's last member.
 */
export function failLinkedChain(
  items: readonly { readonly linked: boolean }[],
  chainStart: number,
  failedAt: number,
  failure: LedgerError,
  afters: unknown[],
  outcomes: (BatchItemOutcome | undefined)[],
): number {
  let end = failedAt;
  while (items[end]!.linked) end++;
  for (let j = chainStart; j <= end; j++) {
    afters[j] = undefined;
    outcomes[j] =
      j === failedAt ? { ok: false, error: failure } : { ok: false, error: Errors.linkedOperationFailed() };
  }
  return end;
}
