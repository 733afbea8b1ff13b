import type { AccountState } from '../domain/types.js';

/**
 * Protobuf reading and writing for the ledger's own codecs (batch-codec.ts, unary-codec.ts):
 * straight between bytes and domain values, without protobufjs's intermediate objects. Field
 * numbers are those of proto/ledger/v1/ledger.proto. The strict wire check (wire-check.ts) runs
 * before any of this reads a request, so the reader only has to be exact on well-formed input.
 */

const TWO_32 = 0x1_0000_0000;

export class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A varint that fits a double exactly (tags, lengths, bools). */
  private byte(): number {
    // The strict check ran first; past the end can only be a bug, never a loop.
    if (this.pos >= this.buf.length) throw new Error('request: read past the end');
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

export interface Fields {
  s1: string;
  s2: string;
  s4: string;
  n2: bigint;
  n3: bigint;
  s3: string;
}

/** The fields of Create/Update/TransferFunds requests by number; strings default '' and ints 0. */
export function readRequest(r: Reader, end: number): Fields {
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

export function varintSize(n: number): number {
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

export class Writer {
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
export function utf8Length(s: string): number {
  const length = s.length;
  for (let i = 0; i < length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return length;
}

/** Account{account_id=1, balance=2, version=3}; zero scalars omitted as proto3 does. */
export function accountSize(a: AccountState, idBytes: number): number {
  let size = 1 + varintSize(idBytes) + idBytes;
  if (a.balance !== 0n) size += 1 + int64Size(a.balance);
  if (a.version !== 0) size += 1 + varintSize(a.version);
  return size;
}

/** An Account as a field `tag` of the message being written (`accountSize` bytes after its length). */
export function writeAccount(w: Writer, tag: number, a: AccountState, idBytes: number): void {
  w.buf[w.pos++] = tag;
  w.uint(accountSize(a, idBytes));
  writeAccountFields(w, a, idBytes);
}

/** An Account's fields (the whole message when an Account is the answer). */
export function writeAccountFields(w: Writer, a: AccountState, idBytes: number): void {
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
