import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  decodeLogEntry,
  decodeV1LogEntry,
  encodeLogEntry,
  encodeRecord,
  recordPayload,
} from '../src/engine/durable-codec.js';

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
    expect(recordPayload('log entry', 7, encodeLogEntry(signed))).toHaveLength(7);
    expect(decodeLogEntry(7, encodeLogEntry(signed))).toEqual(signed);
    const anonymous = { ...entry, principal: '' };
    expect(recordPayload('log entry', 7, encodeLogEntry(anonymous))).toHaveLength(6);
    expect(decodeLogEntry(7, encodeLogEntry(anonymous))).toEqual(anonymous);
  });

  it('reads entries written before principals were recorded (six elements) with principal ""', () => {
    const old = ['t7', '1700000000000000123', 'transfer', ['a', 'b'], '5', ['95', '5']];
    expect(decodeLogEntry(7, encodeRecord('log entry', 7, old))).toEqual({ ...entry, principal: '' });
    // Format version 1 (msgpack without a checksum frame), as the migration reads it.
    expect(decodeV1LogEntry(7, new Packr({ useRecords: false }).pack(old))).toEqual({
      ...entry,
      principal: '',
    });
  });

  it('refuses a principal that is not a string, and an eighth element', () => {
    const stored = recordPayload(
      'log entry',
      7,
      encodeLogEntry({ ...entry, principal: 'alice' }),
    ) as unknown[];
    const framed = (tuple: unknown[]) => encodeRecord('log entry', 7, tuple);
    expect(() => decodeLogEntry(7, framed([...stored.slice(0, 6), 42]))).toThrow(DecodeError);
    expect(() => decodeLogEntry(7, framed([...stored, 'extra']))).toThrow(DecodeError);
  });
});
