import { join } from 'node:path';
import protobuf from 'protobufjs';
import { LEDGER_PROTO_FILE, LEDGER_SERVICE_NAME, protoRoot } from '../wire/ledger-proto.js';
import type { SeededRandom } from './seeded-random.js';

/**
 * A seeded mutation fuzzer over ledger.v1 requests, and an independent reference judge of what a
 * strict protobuf parser accepts. The judge is written apart from the server's own check
 * (src/wire/wire-check.ts): BigInt varints, a fatal TextDecoder, recursion by the proto's
 * reflection types. Both follow the same rules: truncated or overlong lengths, unterminated or
 * over-64-bit varints, field number 0, wire types 6/7, stray or unclosed groups, a known field
 * with the wrong wire type and invalid UTF-8 in a string are refused; unknown fields that are
 * well formed are accepted.
 */

export interface FuzzMethod {
  /** Full method path, e.g. /ledger.v1.Ledger/GetBalance. */
  path: string;
  name: string;
  requestType: protobuf.Type;
}

let methods: FuzzMethod[] | undefined;

/** Every method of ledger.v1.Ledger with its request type (read from the .proto, so new methods join in). */
export function fuzzMethods(): FuzzMethod[] {
  if (methods !== undefined) return methods;
  const root = new protobuf.Root();
  root.loadSync(join(protoRoot(), LEDGER_PROTO_FILE), { keepCase: true });
  root.resolveAll();
  const service = root.lookupService(LEDGER_SERVICE_NAME);
  methods = service.methodsArray.map((m) => ({
    path: `/${LEDGER_SERVICE_NAME}/${m.name}`,
    name: m.name,
    requestType: m.resolvedRequestType!,
  }));
  return methods;
}

/** Where valid requests draw their ids: accounts that exist, so writes can succeed. */
export interface FuzzIds {
  accounts: readonly string[];
  /** A fresh transaction id (unique per request). */
  transactionId: () => string;
}

function fieldValue(field: protobuf.Field, rng: SeededRandom, ids: FuzzIds, depth: number): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return validObject(resolved, rng, ids, depth + 1);
  if (resolved instanceof protobuf.Enum)
    return Object.values(resolved.values)[rng.below(Object.keys(resolved.values).length)];
  switch (field.type) {
    case 'string':
      if (field.name.includes('account')) return ids.accounts[rng.below(ids.accounts.length)];
      if (field.name.includes('transaction')) return ids.transactionId();
      return `s${rng.below(1000)}`;
    case 'bool':
      return rng.below(2) === 1;
    case 'bytes':
      return Buffer.from([rng.below(256)]);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      // Mostly small positive amounts (so writes succeed), sometimes negative.
      return String(rng.below(10) === 0 ? -rng.below(5) : 1 + rng.below(5));
    default:
      return 1 + rng.below(5);
  }
}

function validObject(
  type: protobuf.Type,
  rng: SeededRandom,
  ids: FuzzIds,
  depth: number,
): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  if (depth > 3) return object;
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.map) continue;
    object[field.name] = field.repeated
      ? Array.from({ length: 1 + rng.below(2) }, () => fieldValue(field, rng, ids, depth))
      : fieldValue(field, rng, ids, depth);
  }
  return object;
}

/** A valid encoding of a request of this type, every field set. */
export function validRequest(type: protobuf.Type, rng: SeededRandom, ids: FuzzIds): Uint8Array {
  return type.encode(type.fromObject(validObject(type, rng, ids, 0))).finish();
}

const pick = <T>(rng: SeededRandom, items: readonly T[]): T => items[rng.below(items.length)]!;

/** One mutation of `bytes`, named so a failing case can be read. */
export function mutate(bytes: Uint8Array, rng: SeededRandom): { bytes: Uint8Array; mutation: string } {
  const b = Buffer.from(bytes);
  const at = b.length === 0 ? 0 : rng.below(b.length);
  const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
  switch (rng.below(12)) {
    case 0: {
      const value = rng.below(256);
      if (b.length > 0) b[at] = value;
      return { bytes: b, mutation: `byte ${at} = 0x${value.toString(16)}` };
    }
    case 1:
      return { bytes: b.subarray(0, at), mutation: `truncated to ${at} bytes` };
    case 2: {
      const extra = Buffer.from(Array.from({ length: 1 + rng.below(4) }, () => rng.below(256)));
      return { bytes: cat(b, extra), mutation: `appended ${extra.toString('hex')}` };
    }
    case 3: {
      const value = rng.below(256);
      return {
        bytes: cat(b.subarray(0, at), Buffer.from([value]), b.subarray(at)),
        mutation: `inserted 0x${value.toString(16)} at ${at}`,
      };
    }
    case 4:
      return { bytes: cat(b.subarray(0, at), b.subarray(at + 1)), mutation: `deleted byte ${at}` };
    case 5: {
      const bad = pick(rng, [0xff, 0xfe, 0xc0, 0x80, 0xed]);
      // Aim inside a string: after a length-delimited tag, most bytes are id characters.
      if (b.length > 0) b[at] = bad;
      return { bytes: b, mutation: `byte ${at} = 0x${bad.toString(16)} (UTF-8 breaker)` };
    }
    case 6: {
      if (b.length > 0) b[0] = (b[0]! & ~7) | rng.below(8);
      return { bytes: b, mutation: `wire type of the first tag = ${b.length > 0 ? b[0]! & 7 : '-'}` };
    }
    case 7: {
      const tail = pick(rng, [
        '00',
        '0c',
        '80',
        '0a',
        '0aff',
        '0affffffff0f',
        '0b',
        '0f',
        '1c',
        'ffffffffffffffffffff01',
        '0880',
      ]);
      return { bytes: cat(b, Buffer.from(tail, 'hex')), mutation: `appended ${tail}` };
    }
    case 8: {
      // A declared length grown past the end (the first length-delimited field).
      const tagAt = b.findIndex((x) => (x & 7) === 2);
      if (tagAt >= 0 && tagAt + 1 < b.length) b[tagAt + 1] = (b[tagAt + 1]! + 1 + rng.below(3)) & 0x7f;
      return { bytes: b, mutation: `length after byte ${tagAt} grown` };
    }
    case 9: {
      const end = at + rng.below(b.length - at + 1);
      return { bytes: cat(b, b.subarray(at, end)), mutation: `repeated bytes ${at}..${end}` };
    }
    case 10: {
      // A well-formed unknown field: strict parsers accept it.
      const unknown = pick(rng, [
        'a806 01',
        'b206 0161',
        'bd06 00000000',
        'b906 0000000000000000',
        'ab06 b006 01 ac06',
      ]);
      return {
        bytes: cat(b, Buffer.from(unknown.replace(/ /g, ''), 'hex')),
        mutation: `appended unknown field ${unknown}`,
      };
    }
    default: {
      const bit = 1 << rng.below(8);
      if (b.length > 0) b[at] = b[at]! ^ bit;
      return { bytes: b, mutation: `bit ${bit} flipped at ${at}` };
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const INT32_FIELD_LIMIT = (1n << 29n) - 1n;

class Refused extends Error {}

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new Refused('unterminated varint');
      const byte = this.bytes[this.pos++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (value >= 1n << 64n) throw new Refused('varint over 64 bits');
        return value;
      }
    }
    throw new Refused('varint over 10 bytes');
  }
  skip(n: bigint): number {
    if (n > BigInt(this.end - this.pos)) throw new Refused('length past the end');
    const start = this.pos;
    this.pos += Number(n);
    return start;
  }
}

function expectedWireType(field: protobuf.Field): number {
  if (field.map || field.resolvedType instanceof protobuf.Type) return 2;
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  switch (field.type) {
    case 'string':
    case 'bytes':
      return 2;
    case 'fixed64':
    case 'sfixed64':
    case 'double':
      return 1;
    case 'fixed32':
    case 'sfixed32':
    case 'float':
      return 5;
    default:
      return 0;
  }
}

function judge(r: Reader, type: protobuf.Type | undefined, depth: number, group: bigint): void {
  if (depth > 100) throw new Refused('too deep');
  while (r.pos < r.end) {
    const tag = r.varint();
    const number = tag >> 3n;
    const wire = Number(tag & 7n);
    if (number === 0n || number > INT32_FIELD_LIMIT) throw new Refused('bad field number');
    if (wire === 4) {
      if (number !== group) throw new Refused('stray end group');
      return;
    }
    const field = type?.fieldsById[Number(number)];
    if (field !== undefined) {
      const expected = expectedWireType(field);
      const packed = wire === 2 && field.repeated && expected !== 2;
      if (wire !== expected && !packed) throw new Refused('wrong wire type');
    }
    switch (wire) {
      case 0:
        r.varint();
        break;
      case 1:
        r.skip(8n);
        break;
      case 5:
        r.skip(4n);
        break;
      case 3:
        judge(r, undefined, depth + 1, number);
        break;
      case 2: {
        const length = r.varint();
        const start = r.skip(length);
        if (field === undefined || field.map) break;
        const expected = expectedWireType(field);
        if (expected !== 2) {
          const inner = new Reader(r.bytes, start, r.pos);
          if (expected === 0) while (inner.pos < inner.end) inner.varint();
          else if ((r.pos - start) % (expected === 1 ? 8 : 4) !== 0)
            throw new Refused('packed ends inside a value');
        } else if (field.type === 'string') {
          try {
            utf8.decode(r.bytes.subarray(start, r.pos));
          } catch {
            throw new Refused('invalid UTF-8');
          }
        } else if (field.resolvedType instanceof protobuf.Type) {
          judge(new Reader(r.bytes, start, r.pos), field.resolvedType, depth + 1, 0n);
        }
        break;
      }
      default:
        throw new Refused('bad wire type');
    }
  }
  if (group !== 0n) throw new Refused('unclosed group');
}

/** What a strict parser makes of `bytes` as a `type`: accepted, or refused and why. */
export function referenceVerdict(
  bytes: Uint8Array,
  type: protobuf.Type,
): { accepted: true } | { accepted: false; why: string } {
  try {
    judge(new Reader(bytes, 0, bytes.length), type, 0, 0n);
    return { accepted: true };
  } catch (err) {
    if (err instanceof Refused) return { accepted: false, why: err.message };
    throw err;
  }
}
