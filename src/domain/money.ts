/** Money is integer minor units in a bigint, exact end to end, bounded by int64 like the wire. */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

const INTEGER = /^-?\d{1,19}$/;

/**
 * Parses an exact decimal int64 (as proto-loader hands int64 over with `longs: String`).
 * Returns undefined for anything else: fractions, exponents, junk, out-of-range values.
 */
export function parseInt64(text: string | number | bigint): bigint | undefined {
  if (typeof text === 'bigint') return isInt64(text) ? text : undefined;
  if (typeof text === 'number') {
    return Number.isSafeInteger(text) ? BigInt(text) : undefined;
  }
  if (!INTEGER.test(text)) return undefined;
  const value = BigInt(text);
  return isInt64(value) ? value : undefined;
}
