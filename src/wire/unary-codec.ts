import type { AccountState } from '../domain/types.js';
import {
  accountSize,
  Reader,
  readRequest,
  utf8Length,
  varintSize,
  Writer,
  writeAccount,
  writeAccountFields,
} from './protobuf-primitives.js';

/**
 * The unary write and balance RPCs' own codec, as ExecuteBatch has one (batch-codec.ts): requests
 * decoded with their int64 straight into bigint, answers encoded straight from the engine's
 * account states. proto-loader made a message object, a Long and a decimal string per int64 on
 * the way in, and on the way out a decimal string per int64 that protobufjs parsed back into a
 * Long; answer encoding was 6.1% of the server's CPU and request decoding 2.3% (BENCHMARKS.md,
 * "Unary, third pass"). Field numbers are those of proto/ledger/v1/ledger.proto; the strict wire
 * check runs first (strict-service.ts wraps these deserializers), so only well-formed bytes get here.
 */

export interface DecodedGetBalanceRequest {
  account_id: string;
}
export interface DecodedCreateAccountRequest {
  account_id: string;
  initial_balance: bigint;
  transaction_id: string;
}
export interface DecodedUpdateBalanceRequest {
  account_id: string;
  delta: bigint;
  transaction_id: string;
}
export interface DecodedTransferFundsRequest {
  from_account_id: string;
  to_account_id: string;
  amount: bigint;
  transaction_id: string;
}

/** GetBalanceRequest{account_id=1}. */
export function decodeGetBalanceRequest(bytes: Buffer): DecodedGetBalanceRequest {
  return { account_id: readRequest(new Reader(bytes), bytes.length).s1 };
}

/** CreateAccountRequest{account_id=1, initial_balance=2, transaction_id=3}. */
export function decodeCreateAccountRequest(bytes: Buffer): DecodedCreateAccountRequest {
  const f = readRequest(new Reader(bytes), bytes.length);
  return { account_id: f.s1, initial_balance: f.n2, transaction_id: f.s3 };
}

/** UpdateBalanceRequest{account_id=1, delta=2, transaction_id=3}. */
export function decodeUpdateBalanceRequest(bytes: Buffer): DecodedUpdateBalanceRequest {
  const f = readRequest(new Reader(bytes), bytes.length);
  return { account_id: f.s1, delta: f.n2, transaction_id: f.s3 };
}

/** TransferFundsRequest{from_account_id=1, to_account_id=2, amount=3, transaction_id=4}. */
export function decodeTransferFundsRequest(bytes: Buffer): DecodedTransferFundsRequest {
  const f = readRequest(new Reader(bytes), bytes.length);
  return { from_account_id: f.s1, to_account_id: f.s2, amount: f.n3, transaction_id: f.s4 };
}

/** Account (the answer of GetBalance and CreateAccount). */
export function encodeAccount(account: AccountState): Buffer {
  const idBytes = utf8Length(account.id);
  const size = accountSize(account, idBytes);
  const w = new Writer(Buffer.allocUnsafe(size));
  writeAccountFields(w, account, idBytes);
  return written(w, size);
}

/** A size computed wrong would send garbage (or throw mid-write): a bug, crash loudly. */
function written(w: Writer, size: number): Buffer {
  if (w.pos !== size) throw new Error(`unary response: wrote ${w.pos} bytes, sized ${size}`);
  return w.buf;
}

/**
 * UpdateBalanceResponse{transaction_id=1, account=2} (`second` undefined) or
 * TransferFundsResponse{transaction_id=1, from=2, to=3}.
 */
export function encodeWriteResponse(
  transactionId: string,
  first: AccountState,
  second?: AccountState | undefined,
): Buffer {
  const txidBytes = utf8Length(transactionId);
  const id0 = utf8Length(first.id);
  const size0 = accountSize(first, id0);
  let size = 1 + varintSize(txidBytes) + txidBytes + 1 + varintSize(size0) + size0;
  let id1 = 0;
  if (second !== undefined) {
    id1 = utf8Length(second.id);
    const size1 = accountSize(second, id1);
    size += 1 + varintSize(size1) + size1;
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  w.string(0x0a, transactionId, txidBytes);
  writeAccount(w, 0x12, first, id0);
  if (second !== undefined) writeAccount(w, 0x1a, second, id1);
  return written(w, size);
}
