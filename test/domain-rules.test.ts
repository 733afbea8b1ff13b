import { describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import { LIMITS } from '../src/domain/limits.js';
import { INT64_MAX, INT64_MIN, parseInt64 } from '../src/domain/money.js';
import { applyCreate, applyTransfer, applyUpdate, fingerprint } from '../src/domain/transitions.js';
import { validateCreate, validateTransfer, validateUpdate } from '../src/domain/validate.js';

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof LedgerError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a LedgerError');
}

describe('validation follows the contract order: the first failing check wins', () => {
  it.each([
    [
      'empty id before negative balance',
      () => validateCreate({ accountId: '', initialBalance: -1n }),
      'account_id is required',
    ],
    [
      'negative initial balance',
      () => validateCreate({ accountId: 'a', initialBalance: -1n }),
      'Initial balance cannot be negative',
    ],
    [
      'update: account id before transaction id',
      () => validateUpdate({ accountId: '', delta: 1n, transactionId: '' }),
      'account_id is required',
    ],
    [
      'update: transaction id',
      () => validateUpdate({ accountId: 'a', delta: 1n, transactionId: '' }),
      'transaction_id is required',
    ],
    [
      'transfer: from before to',
      () => validateTransfer({ fromId: '', toId: '', amount: 0n, transactionId: '' }),
      'from_account_id is required',
    ],
    [
      'transfer: to before transaction id',
      () => validateTransfer({ fromId: 'a', toId: '', amount: 0n, transactionId: '' }),
      'to_account_id is required',
    ],
    [
      'transfer: transaction id before same account',
      () => validateTransfer({ fromId: 'a', toId: 'a', amount: 0n, transactionId: '' }),
      'transaction_id is required',
    ],
    [
      'transfer: same account before amount',
      () => validateTransfer({ fromId: 'a', toId: 'a', amount: 0n, transactionId: 't' }),
      'Cannot transfer to the same account',
    ],
    [
      'transfer: non-positive amount',
      () => validateTransfer({ fromId: 'a', toId: 'b', amount: 0n, transactionId: 't' }),
      'Transfer amount must be positive',
    ],
    [
      'ids longer than the limit',
      () =>
        validateUpdate({
          accountId: 'x'.repeat(LIMITS.maxAccountIdBytes + 1),
          delta: 1n,
          transactionId: 't',
        }),
      `account_id is longer than ${LIMITS.maxAccountIdBytes} bytes`,
    ],
    [
      'length counts UTF-8 bytes, not characters',
      () =>
        validateUpdate({
          accountId: 'é'.repeat(LIMITS.maxAccountIdBytes / 2 + 1),
          delta: 1n,
          transactionId: 't',
        }),
      `account_id is longer than ${LIMITS.maxAccountIdBytes} bytes`,
    ],
  ])('%s', (_name, fn, message) => {
    expect(failure(fn)).toEqual({ code: 'INVALID_ARGUMENT', message });
  });

  it('accepts an id of exactly the limit and treats an empty create txid as absent', () => {
    const cmd = validateCreate({
      accountId: 'x'.repeat(LIMITS.maxAccountIdBytes),
      initialBalance: 0n,
      transactionId: '',
    });
    expect(cmd.transactionId).toBeUndefined();
  });
});

describe('transitions', () => {
  const acc = (balance: bigint, version = 0) => ({ id: 'a', balance, version });
  const update = (delta: bigint) => ({ op: 'update', accountId: 'a', delta, transactionId: 't' }) as const;
  const transfer = (amount: bigint) =>
    ({ op: 'transfer', fromId: 'a', toId: 'b', amount, transactionId: 't' }) as const;

  it('update moves the balance and the version', () => {
    expect(applyUpdate(acc(10n, 4), update(-10n))).toEqual({ id: 'a', balance: 0n, version: 5 });
  });

  it('refuses overdraft, missing accounts and int64 overflow with the contract messages', () => {
    expect(failure(() => applyUpdate(acc(5n), update(-6n)))).toEqual({
      code: 'FAILED_PRECONDITION',
      message: 'Insufficient balance: current=5, delta=-6',
    });
    expect(failure(() => applyUpdate(undefined, update(1n)))).toEqual({
      code: 'NOT_FOUND',
      message: 'Account a not found',
    });
    expect(failure(() => applyUpdate(acc(INT64_MAX), update(1n))).code).toBe('OUT_OF_RANGE');
    expect(
      failure(() =>
        applyCreate(acc(0n), { op: 'create', accountId: 'a', initialBalance: 0n, transactionId: undefined }),
      ),
    ).toEqual({ code: 'ALREADY_EXISTS', message: 'Account a already exists' });
  });

  it('transfer checks from, then to, then funds, then overflow', () => {
    const b = { id: 'b', balance: 0n, version: 0 };
    expect(failure(() => applyTransfer(undefined, undefined, transfer(1n))).message).toBe(
      'Account a not found',
    );
    expect(failure(() => applyTransfer(acc(1n), undefined, transfer(1n))).message).toBe(
      'Account b not found',
    );
    expect(failure(() => applyTransfer(acc(1n), b, transfer(2n)))).toEqual({
      code: 'FAILED_PRECONDITION',
      message: 'Insufficient balance in account a: current=1, required=2',
    });
    expect(failure(() => applyTransfer(acc(1n), { ...b, balance: INT64_MAX }, transfer(1n))).code).toBe(
      'OUT_OF_RANGE',
    );
    expect(applyTransfer(acc(3n, 1), b, transfer(2n))).toEqual([
      { id: 'a', balance: 1n, version: 2 },
      { id: 'b', balance: 2n, version: 1 },
    ]);
  });

  it('fingerprints differ by method, accounts and amount', () => {
    const prints = new Set([
      fingerprint(update(1n)),
      fingerprint(update(2n)),
      fingerprint(transfer(1n)),
      fingerprint({ op: 'create', accountId: 'a', initialBalance: 1n, transactionId: 't' }),
    ]);
    expect(prints.size).toBe(4);
  });
});

describe('parseInt64 is exact and refuses anything that is not an int64', () => {
  it.each([
    ['9007199254740993', 9007199254740993n],
    ['-9223372036854775808', INT64_MIN],
    ['9223372036854775807', INT64_MAX],
    ['0', 0n],
  ])('%s', (text, value) => {
    expect(parseInt64(text)).toBe(value);
  });
  it.each(['9223372036854775808', '-9223372036854775809', '1.5', 'abc', '', '1e3', ' 1'])(
    'refuses %j',
    (text) => {
      expect(parseInt64(text)).toBeUndefined();
    },
  );
});
