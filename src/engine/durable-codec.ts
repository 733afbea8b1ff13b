import type { ErrorCode } from '../domain/errors.js';
import type { AccountState, LogEntry, Operation } from '../domain/types.js';
import type { Outcome, TxRecord } from './outcome.js';

/*
 * Values as stored (msgpack tuples, format version 1). Money and nanosecond timestamps are exact
 * decimal strings: msgpack has no portable int64 <-> bigint mapping, and a float would round.
 * Decoders validate shape and types, so a damaged value is reported, never believed.
 */
export type StoredAccount = [balance: string, version: number];
export type StoredLogEntry = [
  transactionId: string,
  timestampNs: string,
  operation: Operation,
  accountIds: string[],
  amount: string,
  balancesAfter: string[],
  /** Absent in entries written before principals were recorded (they read back as ''). */
  principal?: string,
];
type StoredAccountInResult = [id: string, balance: string, version: number];
type StoredOutcome =
  | [ok: 1, transactionId: string, accounts: StoredAccountInResult[]]
  | [ok: 0, code: ErrorCode, message: string];
export type StoredTxRecord = [fingerprint: string, expiresAtMs: number, outcome: StoredOutcome];

/** A stored value that does not decode: the data file is damaged. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

export function encodeAccount(account: AccountState): StoredAccount {
  return [account.balance.toString(), account.version];
}

export function decodeAccount(id: unknown, value: unknown): AccountState {
  if (typeof id !== 'string' || !Array.isArray(value) || value.length !== 2) throw bad('account', id);
  return { id, balance: money(value[0], 'account', id), version: count(value[1], 'account', id) };
}

export function encodeLogEntry(entry: LogEntry): StoredLogEntry {
  const stored: StoredLogEntry = [
    entry.transactionId,
    entry.timestampNs.toString(),
    entry.operation,
    [...entry.accountIds],
    entry.amount.toString(),
    entry.balancesAfter.map((b) => b.toString()),
  ];
  // No principal, no element: an unauthenticated ledger's entries stay as small as before.
  if (entry.principal !== '') stored.push(entry.principal);
  return stored;
}

const OPERATIONS: ReadonlySet<unknown> = new Set<Operation>(['create', 'update', 'transfer']);

export function decodeLogEntry(position: unknown, value: unknown): LogEntry {
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 1)
    throw bad('log entry', position);
  if (!Array.isArray(value) || (value.length !== 6 && value.length !== 7)) throw bad('log entry', position);
  const [transactionId, timestampNs, operation, accountIds, amount, balancesAfter, principal = ''] =
    value as unknown[];
  if (typeof transactionId !== 'string' || !OPERATIONS.has(operation) || typeof principal !== 'string') {
    throw bad('log entry', position);
  }
  if (
    !isStringArray(accountIds) ||
    !isStringArray(balancesAfter) ||
    accountIds.length !== balancesAfter.length
  ) {
    throw bad('log entry', position);
  }
  return {
    position,
    transactionId,
    timestampNs: money(timestampNs, 'log entry', position),
    operation: operation as Operation,
    accountIds,
    amount: money(amount, 'log entry', position),
    balancesAfter: balancesAfter.map((b) => money(b, 'log entry', position)),
    status: 'OK',
    principal,
  };
}

export function encodeTxRecord(record: TxRecord): StoredTxRecord {
  return [record.fingerprint, record.expiresAtMs, encodeOutcome(record.outcome)];
}

/** A stored record's expiry alone (the disk sweep reads every record, it needs nothing else). */
export function storedTxRecordExpiry(value: unknown): number | undefined {
  const expiresAtMs = Array.isArray(value) ? (value[1] as unknown) : undefined;
  return typeof expiresAtMs === 'number' ? expiresAtMs : undefined;
}

/** A stored log entry's id and time alone (the retention pruner needs nothing else). */
export function storedLogEntryHead(
  value: unknown,
): { transactionId: string; timestampNs: bigint } | undefined {
  if (!Array.isArray(value)) return undefined;
  const [transactionId, timestampNs] = value as unknown[];
  if (typeof transactionId !== 'string' || typeof timestampNs !== 'string' || !/^\d+$/.test(timestampNs)) {
    return undefined;
  }
  return { transactionId, timestampNs: BigInt(timestampNs) };
}

export function decodeTxRecord(transactionId: unknown, value: unknown): TxRecord {
  if (typeof transactionId !== 'string' || !Array.isArray(value) || value.length !== 3) {
    throw bad('idempotency record', transactionId);
  }
  const [fingerprint, expiresAtMs, outcome] = value as unknown[];
  if (typeof fingerprint !== 'string' || typeof expiresAtMs !== 'number' || !Number.isFinite(expiresAtMs)) {
    throw bad('idempotency record', transactionId);
  }
  return { transactionId, fingerprint, expiresAtMs, outcome: decodeOutcome(transactionId, outcome) };
}

function encodeOutcome(outcome: Outcome): StoredOutcome {
  if (!outcome.ok) return [0, outcome.code, outcome.message];
  const accounts = outcome.result.accounts.map(
    (a): StoredAccountInResult => [a.id, a.balance.toString(), a.version],
  );
  return [1, outcome.result.transactionId, accounts];
}

const RECORDED_CODES: ReadonlySet<unknown> = new Set<ErrorCode>([
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'FAILED_PRECONDITION',
  'OUT_OF_RANGE',
]);

function decodeOutcome(txid: string, value: unknown): Outcome {
  if (!Array.isArray(value) || value.length !== 3) throw bad('idempotency record', txid);
  const [ok, a, b] = value as unknown[];
  if (ok === 0 && RECORDED_CODES.has(a) && typeof b === 'string') {
    return { ok: false, code: a as ErrorCode, message: b };
  }
  if (ok !== 1 || typeof a !== 'string' || !Array.isArray(b)) throw bad('idempotency record', txid);
  const accounts = b.map((item: unknown): AccountState => {
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string')
      throw bad('idempotency record', txid);
    return {
      id: item[0],
      balance: money(item[1], 'idempotency record', txid),
      version: count(item[2], 'idempotency record', txid),
    };
  });
  return { ok: true, result: { transactionId: a, accounts } };
}

const INTEGER = /^-?(0|[1-9][0-9]{0,19})$/;

function money(value: unknown, what: string, key: unknown): bigint {
  if (typeof value !== 'string' || !INTEGER.test(value)) throw bad(what, key);
  return BigInt(value);
}

function count(value: unknown, what: string, key: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(what, key);
  return value;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function bad(what: string, key: unknown): DecodeError {
  return new DecodeError(`${what} ${JSON.stringify(String(key))} does not decode`);
}
