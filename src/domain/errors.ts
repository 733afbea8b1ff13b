/**
 * Operating errors are values: a code from the contract and its exact message.
 * Broken invariants are not: they throw InvariantViolation via `invariant()` and crash loudly.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'OUT_OF_RANGE'
  | 'RESOURCE_EXHAUSTED'
  | 'DEADLINE_EXCEEDED'
  | 'ABORTED'
  | 'UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED';

export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** True when this is the recorded outcome of an earlier request with the same transaction id. */
    readonly replayed = false,
  ) {
    // A value, not a crash: nobody reads its stack, and capturing one was 12% of the server's CPU
    // under a flood of refused calls (node --cpu-prof, BENCHMARKS.md "Abuse").
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
  }

  asReplay(): LedgerError {
    return new LedgerError(this.code, this.message, true);
  }
}

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(`invariant violated: ${message}`);
}

const invalid = (message: string) => new LedgerError('INVALID_ARGUMENT', message);

/** The contract's messages, word for word: clients match on them. */
export const Errors = {
  required: (field: string) => invalid(`${field} is required`),
  /** The request's bytes are not a well-formed protobuf encoding (see src/wire/wire-check.ts). */
  malformedRequest: (reason: string) => invalid(`Malformed request: ${reason}`),
  tooLong: (field: string, maxBytes: number) => invalid(`${field} is longer than ${maxBytes} bytes`),
  notInt64: (field: string) => invalid(`${field} is not a 64-bit integer`),
  negativeInitialBalance: () => invalid('Initial balance cannot be negative'),
  sameAccount: () => invalid('Cannot transfer to the same account'),
  nonPositiveAmount: () => invalid('Transfer amount must be positive'),
  accountNotFound: (id: string) => new LedgerError('NOT_FOUND', `Account ${id} not found`),
  accountExists: (id: string) => new LedgerError('ALREADY_EXISTS', `Account ${id} already exists`),
  insufficientBalance: (current: bigint, delta: bigint) =>
    new LedgerError('FAILED_PRECONDITION', `Insufficient balance: current=${current}, delta=${delta}`),
  insufficientTransferBalance: (from: string, balance: bigint, amount: bigint) =>
    new LedgerError(
      'FAILED_PRECONDITION',
      `Insufficient balance in account ${from}: current=${balance}, required=${amount}`,
    ),
  transactionNotFound: (txid: string) => new LedgerError('NOT_FOUND', `Transaction ${txid} not found`),
  transactionConflict: (txid: string) =>
    new LedgerError('ALREADY_EXISTS', `Transaction ${txid} already exists with different parameters`),
  balanceOverflow: (id: string, balance: bigint, change: bigint) =>
    new LedgerError(
      'OUT_OF_RANGE',
      `Balance of account ${id} would leave the int64 range: current=${balance}, change=${change}`,
    ),
  totalOverflow: (id: string, change: bigint) =>
    new LedgerError(
      'OUT_OF_RANGE',
      `Change of ${change} to account ${id} would take the total of all balances out of the int64 range`,
    ),
  snapshotTooLarge: (count: number, max: number) =>
    new LedgerError(
      'RESOURCE_EXHAUSTED',
      `Snapshot has ${count} accounts; include_accounts is limited to ${max} (ask without accounts)`,
    ),
  tooManyTransactionIds: (max: number) =>
    new LedgerError('RESOURCE_EXHAUSTED', `Too many live transaction ids (limit ${max}); retry later`),
  lockQueueFull: (id: string) =>
    new LedgerError('RESOURCE_EXHAUSTED', `Too many writes waiting for account ${id}; retry later`),
  batchEmpty: () => invalid('Batch has no operations'),
  batchTooLarge: (count: number, max: number) =>
    invalid(`Batch has ${count} operations; the limit is ${max}`),
  batchChainOpen: () =>
    invalid('The last operation of the batch is linked: the linked chain is never closed'),
  batchDuplicateTransaction: (txid: string) =>
    invalid(`Transaction ${txid} appears more than once in the batch`),
  operationRequired: () => invalid('operation is required'),
  linkedOperationFailed: () => new LedgerError('ABORTED', 'Linked operation failed'),
  shuttingDown: () => new LedgerError('UNAVAILABLE', 'Ledger is shutting down'),
  storageFailed: () =>
    new LedgerError(
      'UNAVAILABLE',
      'Ledger storage failed; writes are refused and this one was not acknowledged (retry it with the same transaction_id once the server is back)',
    ),
  storageUnavailable: () => new LedgerError('UNAVAILABLE', 'Ledger storage is unavailable; retry later'),
  /** The request is larger than its method accepts (LIMITS.maxRequestBytes, maxBatchRequestBytes). */
  requestTooLarge: (method: string, bytes: number, max: number) =>
    new LedgerError(
      'RESOURCE_EXHAUSTED',
      `Request of ${bytes} bytes is larger than ${method} accepts (${max} bytes)`,
    ),
  tooManyCalls: (max: number) =>
    new LedgerError('RESOURCE_EXHAUSTED', `Too many calls in flight (limit ${max}); retry later`),
  // The two refusals name no account and no token: they tell a caller only what it sent wrong.
  missingCredentials: () =>
    new LedgerError(
      'UNAUTHENTICATED',
      'Missing credentials: send authorization: Bearer <token> or a client certificate this server accepts',
    ),
  unknownCredentials: () => new LedgerError('UNAUTHENTICATED', 'Unknown bearer token or client certificate'),
  /** The connection failed authentication too often (server/guessing-guard.ts): its calls are no longer checked. */
  tooManyAuthFailures: () =>
    new LedgerError(
      'RESOURCE_EXHAUSTED',
      'Too many failed authentications on this connection; it is being closed',
    ),
  permissionDenied: (principal: string, role: string, action: string) =>
    new LedgerError('PERMISSION_DENIED', `Principal ${principal} (role ${role}) may not ${action}`),
  tooManyStreams: (max: number) =>
    new LedgerError('RESOURCE_EXHAUSTED', `Too many streaming calls open (limit ${max}); retry later`),
  tooManyConnectionStreams: (max: number) =>
    new LedgerError(
      'RESOURCE_EXHAUSTED',
      `Too many streaming calls open on this connection (limit ${max}); retry later`,
    ),
  tooManySnapshotReads: (max: number, budgetAccounts: number) =>
    new LedgerError(
      'RESOURCE_EXHAUSTED',
      `Too many snapshot reads with accounts in flight (limit ${max} calls, ${budgetAccounts} accounts); retry later`,
    ),
  tooManyPendingCalls: (max: number) =>
    new LedgerError(
      'RESOURCE_EXHAUSTED',
      `Too many calls waiting for their request (limit ${max}); this one waited longest`,
    ),
  requestNotReceived: (timeoutMs: number) =>
    new LedgerError(
      'DEADLINE_EXCEEDED',
      `Request message not received within ${timeoutMs} ms of the call's headers`,
    ),
} as const;

/** Codes whose outcome was decided by ledger state: an idempotency record keeps them. */
export function isRecordedOutcome(code: ErrorCode): boolean {
  return (
    code === 'NOT_FOUND' ||
    code === 'ALREADY_EXISTS' ||
    code === 'FAILED_PRECONDITION' ||
    code === 'OUT_OF_RANGE'
  );
}
