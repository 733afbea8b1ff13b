import CRC32 from 'crc-32';
import { Packr } from 'msgpackr';
import type { ErrorCode } from '../domain/errors.js';
import type { AccountState, LogEntry, Operation } from '../domain/types.js';
import type { Outcome, TxRecord } from './outcome.js';

/*
 * Every value the durable storage keeps, as bytes (format version 2):
 *
 *   [crc32 of (kind, key, payload): 4 bytes little-endian][payload: a msgpack tuple]
 *
 * The checksum covers the key and the kind of record too, so a value that lands under another key
 * or in another sub-database (a damaged page, a misdirected write) fails like a flipped bit does.
 * Every read checks it before anything is decoded: a mismatch is a DamagedRecordError, never a
 * value. CRC-32 (the crc-32 package, pure JS; the same IEEE CRC as zlib's) of a ~100-byte record
 * costs a fraction of a microsecond: it is there to find damage, not to resist an attacker who
 * can write the file.
 *
 * Payloads: money and nanosecond timestamps are exact decimal strings (msgpack has no portable
 * int64 <-> bigint mapping, and a float would round). Decoders also validate shape and types.
 * Format version 1 stored the same tuples without the checksum frame (lmdb-js msgpack values);
 * `decodeV1*` read them for the migration (durable-migrate.ts).
 *
 * This module is the one place that knows the byte layout: encode* / decode* pairs per record.
 */

/** A record kind: part of every checksum. */
export type RecordKind = 'account' | 'log entry' | 'index entry' | 'idempotency record' | 'head';
const KIND_TAG: Record<RecordKind, string> = {
  account: 'a',
  'log entry': 'l',
  'index entry': 'i',
  'idempotency record': 't',
  head: 'h',
};
/** CRC-32 of each kind's tag and separator: where the checksum of a key starts. */
const KIND_SEED = Object.fromEntries(
  Object.entries(KIND_TAG).map(([kind, tag]) => [kind, CRC32.str(`${tag}\0`)]),
) as Record<RecordKind, number>;
const CHECKSUM_BYTES = 4;

/** Plain msgpack (no record extension): the payload bytes depend on the value alone. */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** A stored value that fails its checksum or does not decode: the data file is damaged. */
export class DamagedRecordError extends Error {
  override readonly name = 'DamagedRecordError';
  constructor(
    readonly kind: RecordKind | 'log',
    readonly key: unknown,
    readonly why: string,
  ) {
    super(`${kind} ${JSON.stringify(String(key))} ${why}`);
  }
}

/** The older name: decoding and cross-check failures of stored data. */
export { DamagedRecordError as DecodeError };

/** CRC-32 (IEEE, as zlib's) of tag, NUL, key (UTF-8), then the payload: one unsigned 32-bit value. */
function checksum(kind: RecordKind, key: string | number, payload: Uint8Array): number {
  return CRC32.buf(payload, CRC32.str(typeof key === 'string' ? key : String(key), KIND_SEED[kind])) >>> 0;
}

/** Any tuple in a valid frame (tests build damaged-but-checksummed records with it). */
export function encodeRecord(kind: RecordKind, key: string | number, tuple: unknown): Buffer {
  return frame(kind, key, tuple);
}

/** The checked, undecoded payload of a stored value. */
export function recordPayload(kind: RecordKind, key: unknown, value: unknown): unknown {
  return unframe(kind, key, value);
}

function frame(kind: RecordKind, key: string | number, tuple: unknown): Buffer {
  const payload = packr.pack(tuple);
  const out = Buffer.allocUnsafe(CHECKSUM_BYTES + payload.length);
  out.writeUInt32LE(checksum(kind, key, payload), 0);
  out.set(payload, CHECKSUM_BYTES);
  return out;
}

/** The checked payload of a stored value; throws DamagedRecordError on any mismatch. */
function unframe(kind: RecordKind, key: unknown, value: unknown): unknown {
  checkRecord(kind, key, value);
  try {
    const bytes = value as Uint8Array;
    // A start offset instead of a subarray: msgpackr builds a DataView per source object.
    return packr.unpack(bytes, { start: CHECKSUM_BYTES, end: bytes.length });
  } catch {
    throw new DamagedRecordError(kind, key, 'does not decode');
  }
}

/** Checks a stored value's checksum without decoding it (the start-up walk over every record). */
export function checkRecord(kind: RecordKind, key: unknown, value: unknown): void {
  if (typeof key !== 'string' && typeof key !== 'number')
    throw new DamagedRecordError(kind, key, 'has a damaged key');
  if (!(value instanceof Uint8Array) || value.length <= CHECKSUM_BYTES) {
    throw new DamagedRecordError(kind, key, 'is missing or truncated');
  }
  const stored = (value[0]! | (value[1]! << 8) | (value[2]! << 16) | (value[3]! << 24)) >>> 0;
  if (stored !== checksum(kind, key, value.subarray(CHECKSUM_BYTES))) {
    throw new DamagedRecordError(kind, key, 'fails its checksum');
  }
}

/** msgpack bytes of format version 1 (no checksum: only the shape checks can catch damage). */
function unpackV1(kind: RecordKind, key: unknown, value: unknown): unknown {
  if (!(value instanceof Uint8Array)) throw new DamagedRecordError(kind, key, 'is missing');
  try {
    return packr.unpack(value);
  } catch {
    throw new DamagedRecordError(kind, key, 'does not decode');
  }
}

// ---- accounts: id -> [balance, version]

export function encodeAccount(account: AccountState): Buffer {
  return frame('account', account.id, [account.balance.toString(), account.version]);
}

export function decodeAccount(id: unknown, value: unknown): AccountState {
  return accountFromTuple(id, unframe('account', id, value));
}

export function decodeV1Account(id: unknown, value: unknown): AccountState {
  return accountFromTuple(id, unpackV1('account', id, value));
}

function accountFromTuple(id: unknown, value: unknown): AccountState {
  if (typeof id !== 'string' || !Array.isArray(value) || value.length !== 2) throw bad('account', id);
  return { id, balance: money(value[0], 'account', id), version: count(value[1], 'account', id) };
}

// ---- log: position -> [txid, timestampNs, operation, accountIds, amount, balancesAfter, principal?]

export function encodeLogEntry(entry: LogEntry): Buffer {
  const tuple: unknown[] = [
    entry.transactionId,
    entry.timestampNs.toString(),
    entry.operation,
    [...entry.accountIds],
    entry.amount.toString(),
    entry.balancesAfter.map((b) => b.toString()),
  ];
  // No principal, no element: an unauthenticated ledger's entries stay as small as before.
  if (entry.principal !== '') tuple.push(entry.principal);
  return frame('log entry', entry.position, tuple);
}

export function decodeLogEntry(position: unknown, value: unknown): LogEntry {
  return logEntryFromTuple(position, unframe('log entry', position, value));
}

export function decodeV1LogEntry(position: unknown, value: unknown): LogEntry {
  return logEntryFromTuple(position, unpackV1('log entry', position, value));
}

const OPERATIONS: ReadonlySet<unknown> = new Set<Operation>(['create', 'update', 'transfer']);

function logEntryFromTuple(position: unknown, value: unknown): LogEntry {
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
    accountIds.length !== balancesAfter.length ||
    accountIds.length === 0
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

// ---- logIndex: transaction id -> position

export function encodeIndexEntry(transactionId: string, position: number): Buffer {
  return frame('index entry', transactionId, position);
}

export function decodeIndexEntry(transactionId: unknown, value: unknown): number {
  return positionOf(transactionId, unframe('index entry', transactionId, value));
}

export function decodeV1IndexEntry(transactionId: unknown, value: unknown): number {
  return positionOf(transactionId, unpackV1('index entry', transactionId, value));
}

function positionOf(transactionId: unknown, value: unknown): number {
  if (
    typeof transactionId !== 'string' ||
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1
  ) {
    throw bad('index entry', transactionId);
  }
  return value;
}

// ---- txids: transaction id -> [fingerprint, expiresAtMs, outcome]

type StoredAccountInResult = [id: string, balance: string, version: number];
type StoredOutcome =
  | [ok: 1, transactionId: string, accounts: StoredAccountInResult[]]
  | [ok: 0, code: ErrorCode, message: string];

export function encodeTxRecord(record: TxRecord): Buffer {
  return frame('idempotency record', record.transactionId, [
    record.fingerprint,
    record.expiresAtMs,
    encodeOutcome(record.outcome),
  ]);
}

export function decodeTxRecord(transactionId: unknown, value: unknown): TxRecord {
  return txRecordFromTuple(transactionId, unframe('idempotency record', transactionId, value));
}

export function decodeV1TxRecord(transactionId: unknown, value: unknown): TxRecord {
  return txRecordFromTuple(transactionId, unpackV1('idempotency record', transactionId, value));
}

function txRecordFromTuple(transactionId: unknown, value: unknown): TxRecord {
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

// ---- meta: 'head' -> [accounts, totalBalance, lastPosition]; 'formatVersion' -> n

/**
 * What the scans at recovery must agree with: written in the same transaction as every write
 * that changes it, so it is exactly the state of the last committed transaction.
 */
export interface LedgerHead {
  readonly accounts: number;
  readonly totalBalance: bigint;
  readonly lastPosition: number;
}

export const HEAD_KEY = 'head';
export const FORMAT_VERSION_KEY = 'formatVersion';

export function encodeHead(head: LedgerHead): Buffer {
  return frame('head', HEAD_KEY, [head.accounts, head.totalBalance.toString(), head.lastPosition]);
}

export function decodeHead(value: unknown): LedgerHead {
  const tuple = unframe('head', HEAD_KEY, value);
  if (!Array.isArray(tuple) || tuple.length !== 3) throw bad('head', HEAD_KEY);
  return {
    accounts: count(tuple[0], 'head', HEAD_KEY),
    totalBalance: money(tuple[1], 'head', HEAD_KEY),
    lastPosition: count(tuple[2], 'head', HEAD_KEY),
  };
}

/** Plain msgpack in every version, so any version can read which version a file is. */
export function encodeFormatVersion(version: number): Buffer {
  return packr.pack(version);
}

export function decodeFormatVersion(value: unknown): unknown {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    return packr.unpack(value) as unknown;
  } catch {
    return undefined;
  }
}

const INTEGER = /^-?(0|[1-9][0-9]{0,19})$/;

function money(value: unknown, what: RecordKind, key: unknown): bigint {
  if (typeof value !== 'string' || !INTEGER.test(value)) throw bad(what, key);
  return BigInt(value);
}

function count(value: unknown, what: RecordKind, key: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(what, key);
  return value;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function bad(what: RecordKind, key: unknown): DamagedRecordError {
  return new DamagedRecordError(what, key, 'does not decode');
}
