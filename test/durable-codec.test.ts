import { describe, expect, it } from 'vitest';
import { DecodeError, decodeLogEntry, encodeLogEntry } from '../src/engine/durable-codec.js';

describe('durable log-entry codec', () => {
  const entry = {
    position: 7,
    transactionId: 't7',
    timestampNs: 1_700_000_000_000_000_123n,
    operation: 'transfer' as const,
    accountIds: ['a', 'b'],
    amount: 5n,
    balancesAfter: [95n, 5n],
    status: 'OK' as const,
  };

  it('round-trips the principal, and stores none for an unauthenticated write', () => {
    const signed = { ...entry, principal: 'alice' };
    expect(encodeLogEntry(signed)).toHaveLength(7);
    expect(decodeLogEntry(7, encodeLogEntry(signed))).toEqual(signed);
    const anonymous = { ...entry, principal: '' };
    expect(encodeLogEntry(anonymous)).toHaveLength(6);
    expect(decodeLogEntry(7, encodeLogEntry(anonymous))).toEqual(anonymous);
  });

  it('reads entries written before principals were recorded (six elements) with principal ""', () => {
    const old = ['t7', '1700000000000000123', 'transfer', ['a', 'b'], '5', ['95', '5']];
    expect(decodeLogEntry(7, old)).toEqual({ ...entry, principal: '' });
  });

  it('refuses a principal that is not a string, and an eighth element', () => {
    const stored = encodeLogEntry({ ...entry, principal: 'alice' }) as unknown[];
    expect(() => decodeLogEntry(7, [...stored.slice(0, 6), 42])).toThrow(DecodeError);
    expect(() => decodeLogEntry(7, [...stored, 'extra'])).toThrow(DecodeError);
  });
});
