import { huffmanDecode } from './hpack-huffman.js';

/**
 * HPACK (RFC 7541) for the lean caller: a complete decoder (static and dynamic table, table size
 * updates, Huffman) for what servers send, and an encoder that only writes literals without
 * indexing, so the server's decoder never has to keep a table for us and our requests can be
 * encoded once per method and reused byte for byte.
 */

/** RFC 7541 Appendix A, index 1..61. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length;

/** The table size we never raise from the default (so we never send SETTINGS_HEADER_TABLE_SIZE). */
export const HPACK_TABLE_BYTES = 4096;
/** Every entry costs at least 32 octets, so the default table holds at most this many. */
const SLOTS = HPACK_TABLE_BYTES / 32;

/** Receives the decoded fields of one header block. */
export interface HeaderSink {
  header(name: string, value: string): void;
}

/** A header block the server sent cannot be decoded: an HTTP/2 COMPRESSION_ERROR (connection error). */
export class HpackError extends Error {}

/** Integer decoding result lives here (no per-call tuples). */
let intValue = 0;

/** Decodes an HPACK integer with an N-bit prefix at `pos`; returns the position after it, or -1. */
function readInt(buf: Buffer, pos: number, end: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let value = buf[pos]! & max;
  pos++;
  if (value < max) {
    intValue = value;
    return pos;
  }
  let shift = 0;
  for (;;) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (value > 0x7fffffff) return -1;
    if ((b & 0x80) === 0) break;
  }
  intValue = value;
  return pos;
}

let strValue = '';

/** Decodes a string literal at `pos`; returns the position after it, or -1. */
function readString(buf: Buffer, pos: number, end: number): number {
  if (pos >= end) return -1;
  const huffman = (buf[pos]! & 0x80) !== 0;
  pos = readInt(buf, pos, end, 7);
  if (pos < 0) return -1;
  const stop = pos + intValue;
  if (stop > end) return -1;
  if (huffman) {
    const s = huffmanDecode(buf, pos, stop);
    if (s === undefined) return -1;
    strValue = s;
  } else strValue = buf.toString('latin1', pos, stop);
  return stop;
}

/** One connection's decoding context: the dynamic table persists from block to block. */
export class HpackDecoder {
  private readonly names: string[] = new Array<string>(SLOTS).fill('');
  private readonly values: string[] = new Array<string>(SLOTS).fill('');
  /** Slot of the newest entry; entries run backwards (mod SLOTS) from it. */
  private head = SLOTS - 1;
  private count = 0;
  private bytes = 0;
  private maxBytes = HPACK_TABLE_BYTES;

  /** Decodes one complete header block into `sink`; throws HpackError on malformed input. */
  decode(buf: Buffer, start: number, end: number, sink: HeaderSink): void {
    let pos = start;
    let first = true;
    while (pos < end) {
      const b = buf[pos]!;
      if (b & 0x80) {
        pos = readInt(buf, pos, end, 7);
        if (pos < 0 || intValue === 0) throw new HpackError('bad indexed header field');
        this.emitIndexed(intValue, sink);
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update: only at the start of a block, within our SETTINGS.
        pos = readInt(buf, pos, end, 5);
        if (pos < 0 || !first || intValue > HPACK_TABLE_BYTES)
          throw new HpackError('bad dynamic table size update');
        this.maxBytes = intValue;
        this.evict(0);
        continue;
      } else {
        const indexing = (b & 0xc0) === 0x40;
        pos = readInt(buf, pos, end, indexing ? 6 : 4);
        if (pos < 0) throw new HpackError('bad literal header field');
        let name: string;
        if (intValue === 0) {
          pos = readString(buf, pos, end);
          if (pos < 0) throw new HpackError('bad header name');
          name = strValue;
        } else name = this.nameAt(intValue);
        pos = readString(buf, pos, end);
        if (pos < 0) throw new HpackError('bad header value');
        const value = strValue;
        if (indexing) this.insert(name, value);
        sink.header(name, value);
      }
      first = false;
    }
  }

  private slotOf(index: number): number {
    const i = index - STATIC_COUNT - 1;
    if (i >= this.count) throw new HpackError(`header index ${index} beyond the table`);
    return (this.head - i + SLOTS) % SLOTS;
  }

  private nameAt(index: number): string {
    if (index <= STATIC_COUNT) return STATIC_TABLE[index - 1]![0];
    return this.names[this.slotOf(index)]!;
  }

  private emitIndexed(index: number, sink: HeaderSink): void {
    if (index <= STATIC_COUNT) {
      const entry = STATIC_TABLE[index - 1]!;
      sink.header(entry[0], entry[1]);
      return;
    }
    const slot = this.slotOf(index);
    sink.header(this.names[slot]!, this.values[slot]!);
  }

  /** Evicts the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.count > 0 && this.bytes + room > this.maxBytes) {
      const oldest = (this.head - this.count + 1 + SLOTS) % SLOTS;
      this.bytes -= 32 + this.names[oldest]!.length + this.values[oldest]!.length;
      this.names[oldest] = '';
      this.values[oldest] = '';
      this.count--;
    }
  }

  private insert(name: string, value: string): void {
    const size = 32 + name.length + value.length;
    this.evict(size);
    // An entry larger than the whole table empties it and is not added (RFC 7541 4.4).
    if (size > this.maxBytes) return;
    this.head = (this.head + 1) % SLOTS;
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.count++;
    this.bytes += size;
  }

  /** Entries in the dynamic table (for tests). */
  get tableEntries(): number {
    return this.count;
  }
}

function intBytes(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  value -= max;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/**
 * A header block of literals without indexing (no Huffman), names by static index where the
 * static table has them. Values are written as latin1 octets.
 */
export function encodeHeaderBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const exact = STATIC_TABLE.findIndex(([n, v]) => n === name && v === value);
    if (exact >= 0) {
      parts.push(Buffer.from(intBytes(exact + 1, 7, 0x80)));
      continue;
    }
    const nameIndex = STATIC_TABLE.findIndex(([n]) => n === name);
    if (nameIndex >= 0) parts.push(Buffer.from(intBytes(nameIndex + 1, 4, 0x00)));
    else {
      const n = Buffer.from(name, 'latin1');
      parts.push(Buffer.from([0x00, ...intBytes(n.length, 7, 0x00)]), n);
    }
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from(intBytes(v.length, 7, 0x00)), v);
  }
  return Buffer.concat(parts);
}
