import type { BatchItemOutcome, BatchOperationInput } from '../domain/batch.js';
import { Errors } from '../domain/errors.js';
import type { AccountState } from '../domain/types.js';

/**
 * ExecuteBatch's own codec: requests decoded straight into domain inputs and responses encoded
 * straight from domain outcomes, without protobufjs's intermediate objects (a message object, a
 * plain-object copy, a Long and a decimal string per int64: about 15 short-lived objects per
 * operation, which made garbage collection 40% of a batch's CPU). Field numbers are those of
 * proto/ledger/v1/ledger.proto; the strict wire check (wire-check.ts) has already refused
 * malformed bytes, so this reader only has to be exact on well-formed input.
 */

const TWO_32 = 0x1_0000_0000;

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A varint that fits a double exactly (tags, lengths, bools). */
  private byte(): number {
    // The strict check ran first; past the end can only be a bug, never a loop.
    if (this.pos >= this.buf.length) throw new Error('batch request: read past the end');
    return this.buf[this.pos++]!;
  }

  uint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  }

  /** An int64 varint, exact: read as two 32-bit halves. */
  int64(): bigint {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      const bits = byte & 0x7f;
      if (shift < 28) lo += bits * 2 ** shift;
      else if (shift === 28) {
        lo += (bits & 0x0f) * 2 ** 28;
        hi += bits >>> 4;
      } else hi += bits * 2 ** (shift - 32);
      if (byte < 0x80) break;
      shift += 7;
    }
    hi %= TWO_32;
    if (hi === 0 && lo <= Number.MAX_SAFE_INTEGER) return BigInt(lo);
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  string(): string {
    const length = this.uint();
    const start = this.pos;
    this.pos += length;
    return this.buf.toString('utf8', start, this.pos);
  }

  /** Skips an unknown field; `tag` is needed for groups (skipped up to their own end tag). */
  skip(tag: number): void {
    const wire = tag & 7;
    if (wire === 0) this.uint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      // Not `this.pos += this.uint()`: that adds to the position from before the length was read.
      const length = this.uint();
      this.pos += length;
    } else if (wire === 5) this.pos += 4;
    else if (wire === 3) {
      const end = tag + 1;
      for (let inner = this.uint(); inner !== end; inner = this.uint()) this.skip(inner);
    } else throw new Error(`unexpected wire type ${wire}`);
  }
}

interface Fields {
  s1: string;
  s2: string;
  s4: string;
  n2: bigint;
  n3: bigint;
  s3: string;
}

/** The fields of Create/Update/TransferFunds requests by number; strings default '' and ints 0. */
function readRequest(r: Reader, end: number): Fields {
  const f: Fields = { s1: '', s2: '', s3: '', s4: '', n2: 0n, n3: 0n };
  while (r.pos < end) {
    const tag = r.uint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) f.s1 = r.string();
    else if (field === 2 && wire === 2) f.s2 = r.string();
    else if (field === 2 && wire === 0) f.n2 = r.int64();
    else if (field === 3 && wire === 2) f.s3 = r.string();
    else if (field === 3 && wire === 0) f.n3 = r.int64();
    else if (field === 4 && wire === 2) f.s4 = r.string();
    else r.skip(tag);
  }
  return f;
}

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

// --- encoding

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** int64 as protobuf writes it: negative values take 10 bytes (two's complement). */
function int64Size(n: bigint): number {
  if (n >= 0n && n <= 9_007_199_254_740_991n) return varintSize(Number(n));
  let u = BigInt.asUintN(64, n);
  let size = 1;
  while (u >= 128n) {
    u >>= 7n;
    size++;
  }
  return size;
}

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  uint(n: number): void {
    const buf = this.buf;
    while (n >= 128) {
      buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[this.pos++] = n;
  }

  int64(n: bigint): void {
    if (n >= 0n && n <= 9_007_199_254_740_991n) {
      this.uint(Number(n));
      return;
    }
    let u = BigInt.asUintN(64, n);
    while (u >= 128n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  /** A string field whose UTF-8 length is known. */
  string(tag: number, value: string, bytes: number): void {
    const buf = this.buf;
    buf[this.pos++] = tag;
    this.uint(bytes);
    if (bytes === value.length) {
      // ASCII (one byte per UTF-16 unit): copied here, cheaper than a native write of a short id.
      let pos = this.pos;
      for (let i = 0; i < bytes; i++) buf[pos++] = value.charCodeAt(i);
      this.pos = pos;
    } else this.pos += buf.write(value, this.pos, bytes, 'utf8');
  }
}

/** UTF-8 length; ids are short and mostly ASCII, counted here without a native call. */
function utf8Length(s: string): number {
  const length = s.length;
  for (let i = 0; i < length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return length;
}

/** Account{account_id=1, balance=2, version=3}; zero scalars omitted as proto3 does. */
function accountSize(a: AccountState, idBytes: number): number {
  let size = 1 + varintSize(idBytes) + idBytes;
  if (a.balance !== 0n) size += 1 + int64Size(a.balance);
  if (a.version !== 0) size += 1 + varintSize(a.version);
  return size;
}

function writeAccount(w: Writer, tag: number, a: AccountState, idBytes: number): void {
  w.buf[w.pos++] = tag;
  w.uint(accountSize(a, idBytes));
  w.string(0x0a, a.id, idBytes);
  if (a.balance !== 0n) {
    w.buf[w.pos++] = 0x10;
    w.int64(a.balance);
  }
  if (a.version !== 0) {
    w.buf[w.pos++] = 0x18;
    w.uint(a.version);
  }
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
