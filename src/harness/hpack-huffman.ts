/**
 * HPACK's static Huffman code (RFC 7541, Appendix B). The code is canonical: codes of one length
 * are consecutive in symbol order and every length's first code follows the previous length's
 * last, so the bit length of each of the 257 symbols (256 octets and EOS) is all the data needed;
 * the codes are rebuilt from it below (the test checks them against the RFC's hex column).
 */
const LENGTHS: readonly number[] = [
  // 0-31: control octets
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28,
  // 32-63: ' ' ! " # $ % & ' ( ) * + , - . / 0-9 : ; < = > ?
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  // 64-95: @ A-Z [ \ ] ^ _
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  // 96-127: ` a-z { | } ~ DEL
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  // 128-159
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22,
  23, 22, 23, 23, 24,
  // 160-191
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22,
  22, 23, 22, 22, 23,
  // 192-223
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26,
  26, 28, 27, 27, 27,
  // 224-255
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27,
  27, 27, 27, 27, 26,
  // 256: EOS
  30,
];

const EOS = 256;
const MAX_LENGTH = 30;

/** The code of each symbol, right-aligned (the RFC's "code as hex" column). */
export const HUFFMAN_CODES: readonly number[] = (() => {
  const codes = new Array<number>(LENGTHS.length).fill(0);
  let code = 0;
  for (let length = 1; length <= MAX_LENGTH; length++) {
    for (let sym = 0; sym < LENGTHS.length; sym++) {
      if (LENGTHS[sym] !== length) continue;
      codes[sym] = code;
      code++;
    }
    code <<= 1;
  }
  return codes;
})();

export const HUFFMAN_LENGTHS: readonly number[] = LENGTHS;

// Canonical decoding: per length, the first code and where its symbols start in `SORTED`.
const FIRST_CODE = new Int32Array(MAX_LENGTH + 1);
const COUNT = new Int32Array(MAX_LENGTH + 1);
const OFFSET = new Int32Array(MAX_LENGTH + 1);
const SORTED = new Uint16Array(LENGTHS.length);
{
  let k = 0;
  for (let length = 1; length <= MAX_LENGTH; length++) {
    OFFSET[length] = k;
    let first = -1;
    for (let sym = 0; sym < LENGTHS.length; sym++) {
      if (LENGTHS[sym] !== length) continue;
      if (first < 0) first = HUFFMAN_CODES[sym]!;
      SORTED[k++] = sym;
      COUNT[length] = COUNT[length]! + 1;
    }
    FIRST_CODE[length] = first < 0 ? 0 : first;
  }
}

let scratch = Buffer.allocUnsafe(256);

/**
 * Decodes a Huffman-coded string literal (octets as latin1, as header values travel). Returns
 * undefined when the input is not a valid coding: EOS inside the string, or padding that is longer
 * than 7 bits or not the EOS prefix (all ones), as the RFC requires a decoder to reject.
 */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string | undefined {
  // Each octet of output takes at least 5 bits.
  const most = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.max(most, scratch.length * 2));
  let n = 0;
  let code = 0;
  let length = 0;
  for (let i = start; i < end; i++) {
    const octet = buf[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((octet >> bit) & 1);
      length++;
      const index = code - FIRST_CODE[length]!;
      if (index >= 0 && index < COUNT[length]!) {
        const sym = SORTED[OFFSET[length]! + index]!;
        if (sym === EOS) return undefined;
        scratch[n++] = sym;
        code = 0;
        length = 0;
      } else if (length === MAX_LENGTH) return undefined;
    }
  }
  if (length > 7 || code !== (1 << length) - 1) return undefined;
  return scratch.toString('latin1', 0, n);
}

/** Huffman-codes octets (used by tests to build header blocks a server might send). */
export function huffmanEncode(octets: Uint8Array): Buffer {
  let bits = 0;
  for (const o of octets) bits += LENGTHS[o]!;
  const out = Buffer.alloc(Math.ceil(bits / 8), 0xff);
  let pos = 0;
  for (const o of octets) {
    const length = LENGTHS[o]!;
    const code = HUFFMAN_CODES[o]!;
    for (let b = length - 1; b >= 0; b--) {
      const byte = pos >> 3;
      const mask = 0x80 >> (pos & 7);
      if ((code >>> b) & 1) out[byte]! |= mask;
      else out[byte]! &= ~mask;
      pos++;
    }
  }
  return out;
}
