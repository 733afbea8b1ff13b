import type { BatchItemOutcome, BatchOperationInput } from '../domain/batch.js';
import { Errors } from '../domain/errors.js';
import {
  accountSize,
  type Fields,
  Reader,
  readRequest,
  utf8Length,
  varintSize,
  Writer,
  writeAccount,
} from './protobuf-primitives.js';

/**
 * ExecuteBatch's own codec: requests decoded straight into domain inputs and responses encoded
 * straight from domain outcomes, without protobufjs's intermediate objects (a message object, a
 * plain-object copy, a Long and a decimal string per int64: about 15 short-lived objects per
 * operation, which made garbage collection 40% of a batch's CPU). Field numbers are those of
 * proto/ledger/v1/ledger.proto; the strict wire check (wire-check.ts) has already refused
 * malformed bytes, so the reader (protobuf-primitives.ts) only has to be exact on well-formed input.
 */

/** ExecuteBatchRequest bytes -> the engine's operations, in order. */
export function decodeExecuteBatchRequest(bytes: Buffer): BatchOperationInput[] {
  const r = new Reader(bytes);
  const operations: BatchOperationInput[] = [];
  while (r.pos < bytes.length) {
    const tag = r.uint();
    if (tag !== 0x0a) {
      r.skip(tag);
      continue;
    }
    const end = r.uint() + r.pos;
    let kind = 0;
    let fields: Fields | undefined;
    let linked = false;
    while (r.pos < end) {
      const opTag = r.uint();
      const field = Math.floor(opTag / 8);
      const wire = opTag & 7;
      if (field >= 1 && field <= 3 && wire === 2) {
        // A oneof: the last member on the wire wins.
        kind = field;
        const length = r.uint();
        fields = readRequest(r, r.pos + length);
      } else if (field === 4 && wire === 0) linked = r.uint() !== 0;
      else r.skip(opTag);
    }
    if (kind === 1) {
      const input = { accountId: fields!.s1, initialBalance: fields!.n2, transactionId: fields!.s3 };
      operations.push({ kind: 'create', input, linked });
    } else if (kind === 2) {
      const input = { accountId: fields!.s1, delta: fields!.n2, transactionId: fields!.s3 };
      operations.push({ kind: 'update', input, linked });
    } else if (kind === 3) {
      const f = fields!;
      const input = { fromId: f.s1, toId: f.s2, amount: f.n3, transactionId: f.s4 };
      operations.push({ kind: 'transfer', input, linked });
    } else operations.push({ kind: 'invalid', error: Errors.operationRequired(), linked });
  }
  return operations;
}

/**
 * ExecuteBatchResponse bytes for these outcomes: results[i] is operations[i]'s create_account
 * Account, update_balance or transfer_funds response, or error {code, message}; replayed set when
 * true. `statusOf` maps a domain code to its gRPC status number. Sizes are computed in a first
 * pass into typed arrays (no object per result: a full batch is 8,190 of them).
 */
export function encodeExecuteBatchResponse(
  operations: readonly BatchOperationInput[],
  outcomes: readonly BatchItemOutcome[],
  statusOf: (code: BatchItemErrorCode) => number,
): Buffer {
  const count = outcomes.length;
  /** BatchResult size, its oneof member's size, and the UTF-8 lengths it writes (id or message, id, txid). */
  const sizes = new Int32Array(count);
  const inners = new Int32Array(count);
  const lengths = new Int32Array(3 * count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const outcome = outcomes[i]!;
    let size: number;
    let inner: number;
    if (!outcome.ok) {
      const code = statusOf(outcome.error.code);
      const messageBytes = utf8Length(outcome.error.message);
      lengths[3 * i] = messageBytes;
      inner = 1 + varintSize(code) + 1 + varintSize(messageBytes) + messageBytes;
      size = 1 + varintSize(inner) + inner;
      if (outcome.error.replayed) size += 2;
    } else {
      const accounts = outcome.result.accounts;
      if (operations[i]!.kind === 'create') {
        const idBytes = utf8Length(accounts[0]!.id);
        lengths[3 * i] = idBytes;
        inner = accountSize(accounts[0]!, idBytes);
      } else {
        const txidBytes = utf8Length(outcome.result.transactionId);
        lengths[3 * i + 2] = txidBytes;
        inner = 1 + varintSize(txidBytes) + txidBytes;
        for (let k = 0; k < accounts.length; k++) {
          const idBytes = utf8Length(accounts[k]!.id);
          lengths[3 * i + k] = idBytes;
          const accountBytes = accountSize(accounts[k]!, idBytes);
          inner += 1 + varintSize(accountBytes) + accountBytes;
        }
      }
      size = 1 + varintSize(inner) + inner;
      if (outcome.replayed) size += 2;
    }
    sizes[i] = size;
    inners[i] = inner;
    total += 1 + varintSize(size) + size;
  }
  const w = new Writer(Buffer.allocUnsafe(total));
  for (let i = 0; i < count; i++) {
    const outcome = outcomes[i]!;
    w.buf[w.pos++] = 0x0a;
    w.uint(sizes[i]!);
    let replayed: boolean;
    if (!outcome.ok) {
      w.buf[w.pos++] = 0x22;
      w.uint(inners[i]!);
      w.buf[w.pos++] = 0x08;
      w.uint(statusOf(outcome.error.code));
      w.string(0x12, outcome.error.message, lengths[3 * i]!);
      replayed = outcome.error.replayed;
    } else {
      const accounts = outcome.result.accounts;
      const kind = operations[i]!.kind;
      if (kind === 'create') writeAccount(w, 0x0a, accounts[0]!, lengths[3 * i]!);
      else {
        w.buf[w.pos++] = kind === 'update' ? 0x12 : 0x1a;
        w.uint(inners[i]!);
        w.string(0x0a, outcome.result.transactionId, lengths[3 * i + 2]!);
        for (let k = 0; k < accounts.length; k++)
          writeAccount(w, 0x12 + 8 * k, accounts[k]!, lengths[3 * i + k]!);
      }
      replayed = outcome.replayed;
    }
    if (replayed) {
      w.buf[w.pos++] = 0x28;
      w.buf[w.pos++] = 0x01;
    }
  }
  if (w.pos !== total) throw new Error(`batch response: wrote ${w.pos} bytes, sized ${total}`);
  return w.buf;
}

type BatchItemErrorCode = Extract<BatchItemOutcome, { ok: false }>['error']['code'];
