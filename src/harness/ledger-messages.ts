import {
  type Account,
  type LogEntryResult,
  type SnapshotResult,
  toLogEntry,
  toSnapshot,
} from '../client/ledger-client.js';
import { ledgerServiceDefinition, type WireLogEntry, type WireSnapshot } from '../wire/ledger-proto.js';
import type { OpArgs, OpKind } from './history.js';

/**
 * ledger.v1 requests encoded by hand straight into their gRPC frame (5-byte prefix included):
 * one exact-size buffer per call, no intermediate objects. The common answers (Account,
 * UpdateBalanceResponse, TransferFundsResponse) are decoded by hand too; snapshots and log
 * entries are rare and go through proto-loader's decoder.
 */

export const METHOD_PATHS: Record<OpKind, string> = {
  create: '/ledger.v1.Ledger/CreateAccount',
  get: '/ledger.v1.Ledger/GetBalance',
  update: '/ledger.v1.Ledger/UpdateBalance',
  transfer: '/ledger.v1.Ledger/TransferFunds',
  snapshot: '/ledger.v1.Ledger/GetSnapshot',
  query: '/ledger.v1.Ledger/GetTransaction',
};

const varintSize = (n: number): number =>
  n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
const U64 = (1n << 64n) - 1n;

/** int64 as protobuf encodes it: two's complement in 64 bits, 7 bits a byte. */
function int64Size(v: bigint): number {
  let u = v & U64;
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

class FrameWriter {
  readonly buf: Buffer;
  pos = 5;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(5 + size);
    this.buf[0] = 0;
    this.buf.writeUInt32BE(size, 1);
  }
  tag(field: number, wireType: number): void {
    this.buf[this.pos++] = (field << 3) | wireType;
  }
  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }
  int64(v: bigint): void {
    let u = v & U64;
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }
  string(field: number, s: string, bytes: number): void {
    this.tag(field, 2);
    this.varint(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }
}

type Field = { n: number; s: string } | { n: number; i: bigint } | { n: number; b: boolean };

/** proto3: default values (empty string, 0, false) are not sent. */
function encode(fields: readonly Field[]): Buffer {
  let size = 0;
  const lengths: number[] = [];
  for (const f of fields) {
    if ('s' in f) {
      const len = Buffer.byteLength(f.s, 'utf8');
      lengths.push(len);
      if (len > 0) size += 1 + varintSize(len) + len;
    } else if ('i' in f) {
      lengths.push(0);
      if (f.i !== 0n) size += 1 + int64Size(f.i);
    } else {
      lengths.push(0);
      if (f.b) size += 2;
    }
  }
  const w = new FrameWriter(size);
  for (const [k, f] of fields.entries()) {
    if ('s' in f) {
      if (lengths[k]! > 0) w.string(f.n, f.s, lengths[k]!);
    } else if ('i' in f) {
      if (f.i !== 0n) {
        w.tag(f.n, 0);
        w.int64(f.i);
      }
    } else if (f.b) {
      w.tag(f.n, 0);
      w.varint(1);
    }
  }
  return w.buf;
}

/** The framed request of one call. */
export function encodeRequest(op: OpKind, a: OpArgs): Buffer {
  switch (op) {
    case 'create':
      return encode([
        { n: 1, s: a.accountId ?? '' },
        { n: 2, i: a.amount ?? 0n },
        { n: 3, s: a.transactionId ?? '' },
      ]);
    case 'get':
      return encode([{ n: 1, s: a.accountId ?? '' }]);
    case 'update':
      return encode([
        { n: 1, s: a.accountId ?? '' },
        { n: 2, i: a.amount ?? 0n },
        { n: 3, s: a.transactionId ?? '' },
      ]);
    case 'transfer':
      return encode([
        { n: 1, s: a.fromId ?? '' },
        { n: 2, s: a.toId ?? '' },
        { n: 3, i: a.amount ?? 0n },
        { n: 4, s: a.transactionId ?? '' },
      ]);
    case 'snapshot':
      return encode([{ n: 1, b: a.includeAccounts ?? false }]);
    case 'query':
      return encode([{ n: 1, s: a.transactionId ?? '' }]);
  }
}

/** A protobuf reader over one message; throws on anything malformed (the call becomes INTERNAL). */
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end || shift > 63n) throw new Error('malformed varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
      shift += 7n;
    }
  }
  small(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end || shift > 28) throw new Error('malformed length');
      const byte = this.buf[this.pos++]!;
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80) return result >>> 0;
      shift += 7;
    }
  }
  bytes(): [number, number] {
    const len = this.small();
    const start = this.pos;
    if (start + len > this.end) throw new Error('length past the end of the message');
    this.pos += len;
    return [start, this.pos];
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new Error('field past the end of the message');
  }
}

const asInt64 = (u: bigint): bigint => BigInt.asIntN(64, u);

function readAccount(r: Reader, start: number, end: number): Account {
  const sub = new Reader(r.buf, start, end);
  let accountId = '';
  let balance = 0n;
  let version = 0n;
  while (sub.pos < end) {
    const key = sub.small();
    const field = key >>> 3;
    if (field === 1 && (key & 7) === 2) {
      const [s, e] = sub.bytes();
      accountId = sub.buf.toString('utf8', s, e);
    } else if (field === 2 && (key & 7) === 0) balance = asInt64(sub.varint());
    else if (field === 3 && (key & 7) === 0) version = BigInt.asUintN(64, sub.varint());
    else sub.skip(key & 7);
  }
  return { accountId, balance, version };
}

const EMPTY_ACCOUNT: Account = Object.freeze({ accountId: '', balance: 0n, version: 0n }) as Account;

/** Account (create, get). */
export function decodeAccount(buf: Buffer): Account {
  return readAccount(new Reader(buf), 0, buf.length);
}

/** UpdateBalanceResponse and TransferFundsResponse: a transaction id and one or two accounts. */
export function decodeWriteResponse(buf: Buffer): { transactionId: string; accounts: [Account, Account] } {
  const r = new Reader(buf);
  let transactionId = '';
  let first = EMPTY_ACCOUNT;
  let second = EMPTY_ACCOUNT;
  while (r.pos < buf.length) {
    const key = r.small();
    const field = key >>> 3;
    if ((key & 7) !== 2) {
      r.skip(key & 7);
      continue;
    }
    const [s, e] = r.bytes();
    if (field === 1) transactionId = buf.toString('utf8', s, e);
    else if (field === 2) first = readAccount(r, s, e);
    else if (field === 3) second = readAccount(r, s, e);
  }
  return { transactionId, accounts: [first, second] };
}

let definition: ReturnType<typeof ledgerServiceDefinition> | undefined;
const deserialize = <W>(method: string, buf: Buffer): W => {
  definition ??= ledgerServiceDefinition();
  return definition[method]!.responseDeserialize(buf) as W;
};

export function decodeSnapshot(buf: Buffer): SnapshotResult {
  return toSnapshot(deserialize<WireSnapshot>('GetSnapshot', buf));
}

export function decodeLogEntry(buf: Buffer): LogEntryResult {
  return toLogEntry(deserialize<WireLogEntry>('GetTransaction', buf));
}
