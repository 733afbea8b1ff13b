import { describe, expect, it } from 'vitest';
import { InvariantViolation } from '../src/domain/errors.js';
import { INT64_MAX } from '../src/domain/money.js';
import type { LogEntry } from '../src/domain/types.js';
import { AuditLogWindow } from '../src/engine/audit-log.js';
import { CommitSequencer } from '../src/engine/commit-sequencer.js';
import { IdempotencyStore } from '../src/engine/idempotency-store.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import type { TxRecord } from '../src/engine/outcome.js';
import { type CommitBatch, MemoryStorage } from '../src/engine/storage.js';
import { rejection } from './ledger-rejection.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('IdempotencyStore', () => {
  const store = (
    now: { ms: number },
    overrides: Partial<ConstructorParameters<typeof IdempotencyStore>[0]> = {},
  ) =>
    new IdempotencyStore({
      ttlMs: 1000,
      sweepThreshold: 10,
      maxRecords: 100,
      sliceMs: 0,
      nowMs: () => now.ms,
      ...overrides,
    });
  const settled = (id: string, expiresAtMs: number): TxRecord => ({
    transactionId: id,
    fingerprint: 'fp',
    outcome: { ok: false, code: 'NOT_FOUND', message: 'gone' },
    expiresAtMs,
  });

  it('replays the same fingerprint, refuses another, and forgets after the TTL', () => {
    const now = { ms: 0 };
    const s = store(now);
    const claim = s.claim('t', 'fp');
    expect(claim.kind).toBe('execute');
    s.settle(settled('t', 1000));
    expect(s.claim('t', 'fp')).toEqual({ kind: 'replay', outcome: settled('t', 1000).outcome });
    expect(() => s.claim('t', 'other')).toThrow('Transaction t already exists with different parameters');
    now.ms = 1000;
    expect(s.claim('t', 'other').kind).toBe('execute');
  });

  it('settles at the slot its claim handed back, and finds the id when that slot holds another', () => {
    const s = store({ ms: 0 });
    const a = s.claim('a', 'fp');
    const b = s.claim('b', 'fp');
    if (a.kind !== 'execute' || b.kind !== 'execute') throw new Error('unreachable');
    s.settle(settled('b', 1000), a.slot);
    expect(s.isPending('a')).toBe(true);
    expect(s.isPending('b')).toBe(false);
    s.settle(settled('a', 1000), a.slot);
    expect(s.claim('a', 'fp')).toEqual({ kind: 'replay', outcome: settled('a', 1000).outcome });
  });

  it('duplicates of a pending claim wait for its outcome', async () => {
    const s = store({ ms: 0 });
    s.claim('t', 'fp');
    const dup = s.claim('t', 'fp');
    expect(dup.kind).toBe('replay');
    s.settle(settled('t', 1000));
    if (dup.kind !== 'replay') throw new Error('unreachable');
    expect(await dup.outcome).toEqual(settled('t', 1000).outcome);
  });

  it('an abandoned claim leaves the id unused', () => {
    const s = store({ ms: 0 });
    s.claim('t', 'fp');
    s.abandon('t', { ok: false, code: 'RESOURCE_EXHAUSTED', message: 'busy', transient: true });
    expect(s.claim('t', 'another').kind).toBe('execute');
  });

  it('sweeps expired records in slices above the threshold, keeping live ones', async () => {
    const now = { ms: 0 };
    const expired: string[] = [];
    const s = store(now, { onExpired: (ids) => expired.push(...ids) });
    for (let i = 0; i < 12; i++) {
      s.claim(`old-${i}`, 'fp');
      s.settle(settled(`old-${i}`, 1000));
    }
    now.ms = 500;
    for (let i = 0; i < 3; i++) {
      s.claim(`new-${i}`, 'fp');
      s.settle(settled(`new-${i}`, 1500));
    }
    now.ms = 1200;
    s.claim('trigger', 'fp');
    for (let i = 0; i < 10; i++) await tick();
    expect(expired).toEqual(Array.from({ length: 12 }, (_, i) => `old-${i}`));
    expect(s.size).toBe(4);
    expect(s.sweepStats.removed).toBe(12);
  });

  it('yields the event loop between sweep slices', async () => {
    const now = { ms: 0 };
    const batches: number[] = [];
    const s = store(now, { maxRecords: 1000, onExpired: (ids) => batches.push(ids.length) });
    for (let i = 0; i < 200; i++) {
      s.claim(`old-${i}`, 'fp');
      s.settle(settled(`old-${i}`, 1000));
    }
    now.ms = 2000;
    s.claim('trigger', 'fp');
    await tick();
    // A zero time budget ends a slice at the first clock check (every 64 removals).
    expect(batches).toEqual([64]);
    for (let i = 0; i < 10; i++) await tick();
    expect(batches).toEqual([64, 64, 64, 8]);
    expect(s.size).toBe(1);
  });

  it('with a backing store, keeps a bounded cache, never evicts a pending claim, and asks the store', () => {
    const disk = new Map<string, TxRecord>();
    const s = store(
      { ms: 0 },
      { cacheRecords: 8, sweepThreshold: 1000, backing: { findTxRecord: (id) => disk.get(id) } },
    );
    s.claim('pending', 'fp');
    for (let i = 0; i < 20; i++) {
      s.claim(`r${i}`, 'fp');
      const record = settled(`r${i}`, 1000);
      disk.set(record.transactionId, record);
      s.settle(record);
    }
    expect(s.size).toBeLessThanOrEqual(8);
    expect(s.isPending('pending')).toBe(true);
    expect(s.claim('r0', 'fp')).toEqual({ kind: 'replay', outcome: settled('r0', 1000).outcome });
    expect(() => s.claim('r0', 'other')).toThrow('Transaction r0 already exists with different parameters');
    expect(s.claim('never-seen', 'fp').kind).toBe('execute');
  });

  it('replays successes kept in columns exactly, across chunks, after sweeps reuse them', async () => {
    const now = { ms: 0 };
    const s = store(now, { maxRecords: 100_000, sweepThreshold: 1 });
    const success = (id: string, i: number): TxRecord => ({
      transactionId: id,
      fingerprint: `fp-${i}`,
      outcome: {
        ok: true,
        result: {
          transactionId: id,
          accounts:
            i % 2 === 0
              ? [{ id: `a${i}`, balance: BigInt(i) * 1_000_000_007n, version: i }]
              : [
                  { id: `a${i}`, balance: INT64_MAX - BigInt(i), version: 0 },
                  { id: `b${i}`, balance: 0n, version: 2 ** 40 + i },
                ],
        },
      },
      expiresAtMs: now.ms + 1000,
    });
    for (let round = 0; round < 3; round++) {
      const records = Array.from({ length: 10_000 }, (_, i) => success(`r${round}-${i}`, i));
      for (const record of records) {
        expect(s.claim(record.transactionId, record.fingerprint).kind).toBe('execute');
        s.settle(record);
      }
      for (const i of [0, 1, 4095, 4096, 4097, 9999]) {
        const r = records[i]!;
        expect(s.claim(r.transactionId, r.fingerprint)).toEqual({ kind: 'replay', outcome: r.outcome });
        expect(() => s.claim(r.transactionId, 'other')).toThrow('already exists with different parameters');
      }
      expect(s.size).toBe(10_000);
      // Everything expires; the next claim starts the sweep, which frees every chunk for reuse.
      now.ms += 1000;
      s.claim(`trigger-${round}`, 'fp');
      for (let i = 0; i < 200 && s.size > 1; i++) await tick();
      expect(s.size).toBe(1);
      s.abandon(`trigger-${round}`, { ok: false, code: 'UNAVAILABLE', message: 'x', transient: true });
      expect(s.size).toBe(0);
    }
  });

  it('a failure, and a success outside the columns (a balance beyond int64), replay as recorded', () => {
    const s = store({ ms: 0 });
    const odd: TxRecord = {
      transactionId: 'odd',
      fingerprint: 'fp',
      outcome: {
        ok: true,
        result: { transactionId: 'odd', accounts: [{ id: 'a', balance: INT64_MAX + 1n, version: 1 }] },
      },
      expiresAtMs: 1000,
    };
    s.claim('odd', 'fp');
    s.settle(odd);
    s.claim('t', 'fp');
    s.settle(settled('t', 1000));
    expect(s.claim('odd', 'fp')).toEqual({ kind: 'replay', outcome: odd.outcome });
    expect(s.claim('t', 'fp')).toEqual({ kind: 'replay', outcome: settled('t', 1000).outcome });
  });

  it('refuses new ids beyond the hard cap', () => {
    const s = store({ ms: 0 }, { maxRecords: 2, sweepThreshold: 100 });
    s.claim('a', 'fp');
    s.claim('b', 'fp');
    expect(() => s.claim('c', 'fp')).toThrow('Too many live transaction ids');
  });
});

describe('CommitSequencer', () => {
  it('applies in submission order even when commits finish out of order', async () => {
    const resolvers: (() => void)[] = [];
    const storage = new (class extends MemoryStorage {
      override commit(): Promise<void> {
        return new Promise((resolve) => resolvers.push(resolve));
      }
    })();
    const sequencer = new CommitSequencer(storage, (err) => {
      throw err;
    });
    const applied: number[] = [];
    const batch: CommitBatch = {
      accounts: [],
      logEntries: [],
      txRecords: [],
      totalDelta: 0n,
      accountsCreated: 0,
    };
    const done = [1, 2, 3].map((n) => sequencer.submit(batch, () => applied.push(n)));
    resolvers[2]!();
    resolvers[1]!();
    await tick();
    expect(applied).toEqual([]);
    resolvers[0]!();
    await Promise.all(done);
    expect(applied).toEqual([1, 2, 3]);
  });

  it('reports a failed commit once and refuses that write, the ones queued behind it and later ones', async () => {
    const fatal: unknown[] = [];
    const commits: { resolve: () => void; reject: (err: Error) => void }[] = [];
    const storage = new (class extends MemoryStorage {
      override commit(): Promise<void> {
        return new Promise((resolve, reject) => commits.push({ resolve, reject }));
      }
    })();
    const refused = new Error('refused');
    const sequencer = new CommitSequencer(storage, (err) => {
      fatal.push(err);
      return refused;
    });
    const batch: CommitBatch = {
      accounts: [],
      logEntries: [],
      txRecords: [],
      totalDelta: 0n,
      accountsCreated: 0,
    };
    const applied: number[] = [];
    const first = sequencer.submit(batch, () => applied.push(1))!;
    const second = sequencer.submit(batch, () => applied.push(2))!;
    commits[1]!.resolve();
    commits[0]!.reject(new Error('disk gone'));
    await expect(first).rejects.toBe(refused);
    await expect(second).rejects.toBe(refused);
    await expect(sequencer.submit(batch, () => applied.push(3))!).rejects.toBe(refused);
    expect(fatal).toHaveLength(1);
    expect(applied).toEqual([]);
  });
});

describe('AuditLogWindow', () => {
  const entry = (position: number): LogEntry => ({
    position,
    transactionId: `t${position}`,
    timestampNs: 0n,
    operation: 'update',
    accountIds: ['a'],
    amount: 1n,
    balancesAfter: [1n],
    status: 'OK',
    principal: '',
  });

  it('keeps the newest entries and finds them by id', () => {
    const log = new AuditLogWindow(2);
    for (const p of [1, 2, 3]) log.append(entry(p));
    expect(log.get('t1')).toBeUndefined();
    expect(log.get('t3')?.position).toBe(3);
    expect(log.lastPosition).toBe(3);
  });

  it('an id reused after its TTL answers with its newest entry, and eviction of the old one keeps it', () => {
    const log = new AuditLogWindow(2);
    log.append(entry(1));
    log.append({ ...entry(2), transactionId: 't1' });
    expect(log.get('t1')?.position).toBe(2);
    log.append(entry(3));
    expect(log.get('t1')?.position).toBe(2);
    log.append(entry(4));
    expect(log.get('t1')).toBeUndefined();
  });

  it('rebuilds every entry exactly across chunks and wraps, keeping entries outside the columns as they are', () => {
    const make = (position: number): LogEntry => {
      const transfer = position % 3 === 0;
      return {
        position,
        transactionId: `tx-${position}`,
        timestampNs: 1_700_000_000_000_000_000n + BigInt(position),
        operation: transfer ? 'transfer' : position % 3 === 1 ? 'update' : 'create',
        accountIds: transfer ? [`a${position}`, `b${position}`] : [`a${position}`],
        amount: BigInt(-position),
        balancesAfter: transfer ? [INT64_MAX, BigInt(position)] : [BigInt(position)],
        status: 'OK',
        principal: position % 2 === 0 ? 'alice' : '',
      };
    };
    const log = new AuditLogWindow(5_000);
    const outside: LogEntry = { ...make(12_001), timestampNs: INT64_MAX + 1n };
    for (let p = 1; p <= 12_000; p++) log.append(make(p));
    log.append(outside);
    expect(log.size).toBe(5_000);
    expect(log.get('tx-7001')).toBeUndefined();
    for (const p of [7002, 8191, 8192, 8193, 12_000]) expect(log.get(`tx-${p}`)).toEqual(make(p));
    expect(log.get('tx-12001')).toBe(outside);
    log.restore([make(3), make(4)], 4);
    expect([log.size, log.lastPosition, log.get('tx-12000')]).toEqual([2, 4, undefined]);
    expect(log.get('tx-4')).toEqual(make(4));
  });

  it('treats a gap in positions as a broken invariant', () => {
    const log = new AuditLogWindow(10);
    log.append(entry(1));
    expect(() => log.append(entry(3))).toThrow(InvariantViolation);
  });
});

describe('LedgerEngine outcomes', () => {
  it('records a failure decided by state and replays it flagged', async () => {
    const engine = await LedgerEngine.open();
    const first = await rejection(engine.updateBalance({ accountId: 'nope', delta: 1n, transactionId: 't' }));
    expect([first.code, first.message, first.replayed]).toEqual([
      'NOT_FOUND',
      'Account nope not found',
      false,
    ]);
    await engine.createAccount({ accountId: 'nope', initialBalance: 0n });
    const again = await rejection(engine.updateBalance({ accountId: 'nope', delta: 1n, transactionId: 't' }));
    expect([again.code, again.message, again.replayed]).toEqual([
      'NOT_FOUND',
      'Account nope not found',
      true,
    ]);
    expect(engine.getBalance('nope').balance).toBe(0n);
    expect((await rejection(engine.getTransaction('t'))).message).toBe('Transaction t not found');
  });

  it('does not record INVALID_ARGUMENT: the id stays usable', async () => {
    const engine = await LedgerEngine.open();
    await engine.createAccount({ accountId: 'a', initialBalance: 0n });
    await engine.createAccount({ accountId: 'b', initialBalance: 0n });
    await rejection(engine.transferFunds({ fromId: 'a', toId: 'b', amount: 0n, transactionId: 't' }));
    const ok = await engine.updateBalance({ accountId: 'a', delta: 5n, transactionId: 't' });
    expect(ok.replayed).toBe(false);
  });

  it('refuses one id reused with other parameters or another method', async () => {
    const engine = await LedgerEngine.open();
    await engine.createAccount({ accountId: 'a', initialBalance: 10n, transactionId: 'c' });
    const conflict = 'Transaction c already exists with different parameters';
    expect(
      (await rejection(engine.createAccount({ accountId: 'a', initialBalance: 11n, transactionId: 'c' })))
        .message,
    ).toBe(conflict);
    expect(
      (await rejection(engine.updateBalance({ accountId: 'a', delta: 10n, transactionId: 'c' }))).message,
    ).toBe(conflict);
    expect(engine.getBalance('a')).toEqual({ id: 'a', balance: 10n, version: 0 });
  });

  it('keeps the total of all balances inside int64', async () => {
    const engine = await LedgerEngine.open();
    await engine.createAccount({ accountId: 'a', initialBalance: INT64_MAX });
    const err = await rejection(engine.createAccount({ accountId: 'b', initialBalance: 1n }));
    expect(err.code).toBe('OUT_OF_RANGE');
    expect(engine.getSnapshot(false)).toMatchObject({ totalBalance: INT64_MAX, accountCount: 1 });
  });

  it('generates a transaction id for a create without one and logs it', async () => {
    const engine = await LedgerEngine.open();
    const { result } = await engine.createAccount({ accountId: 'a', initialBalance: 7n });
    const entry = await engine.getTransaction(result.transactionId);
    expect(entry).toMatchObject({
      position: 1,
      operation: 'create',
      accountIds: ['a'],
      amount: 7n,
      balancesAfter: [7n],
    });
  });

  it('bounds snapshot size and refuses writes once closing', async () => {
    const engine = await LedgerEngine.open({ maxSnapshotAccounts: 1 });
    await engine.createAccount({ accountId: 'a', initialBalance: 1n });
    await engine.createAccount({ accountId: 'b', initialBalance: 1n });
    expect(() => engine.getSnapshot(true)).toThrow('include_accounts is limited to 1');
    expect(engine.getSnapshot(false).accountCount).toBe(2);
    await engine.close();
    expect(
      (await rejection(engine.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'x' }))).code,
    ).toBe('UNAVAILABLE');
  });
});
