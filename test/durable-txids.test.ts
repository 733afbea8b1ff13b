import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { fakeClock, removeDir, tempDir } from './durable-fixture.js';
import { rejection } from './ledger-rejection.js';

/** Idempotency records in durable mode: on disk, a bounded cache in memory, swept on disk. */
describe('durable idempotency records', () => {
  let dir: string;
  let storage: LmdbStorage | undefined;
  let engine: LedgerEngine | undefined;
  const clock = fakeClock();
  beforeEach(() => {
    dir = tempDir();
    clock.ms = 1_700_000_000_000;
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    storage = undefined;
    removeDir(dir);
  });
  /** The background sweep is off (a long pause) unless a test asks for it. */
  const restart = async (options: { cache?: number; sweepPauseMs?: number } = {}) => {
    await engine?.close();
    storage = await LmdbStorage.open(dir, {
      nowMs: clock.nowMs,
      diskSweepPauseMs: options.sweepPauseMs ?? 1e9,
      diskSweepRestMs: options.sweepPauseMs ?? 1e9,
    });
    engine = await LedgerEngine.open({
      storage,
      clock,
      txidTtlMs: 60_000,
      txidCacheRecords: options.cache ?? 8,
    });
    return { e: engine, s: storage };
  };

  it('keeps only a bounded cache in memory and answers older ids from disk', async () => {
    const { e } = await restart({ cache: 8 });
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    const first = await e.updateBalance({ accountId: 'a', delta: 5n, transactionId: 'id-0' });
    for (let i = 1; i < 100; i++)
      await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: `id-${i}` });
    expect(e.stats().txidsHeld).toBeLessThanOrEqual(8);
    expect(await e.updateBalance({ accountId: 'a', delta: 5n, transactionId: 'id-0' })).toEqual({
      result: first.result,
      replayed: true,
    });
    const conflict = await rejection(e.updateBalance({ accountId: 'a', delta: 6n, transactionId: 'id-0' }));
    expect(conflict.code).toBe('ALREADY_EXISTS');
    expect(e.getBalance('a')).toMatchObject({ balance: 104n, version: 100 });
    expect(e.getSnapshot(false).logPosition).toBe(101);
  });

  it('loads no records at recovery and still replays every one of them', async () => {
    let { e } = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 10n });
    const failed = await rejection(e.updateBalance({ accountId: 'a', delta: -50n, transactionId: 'over' }));
    const ok = await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'ok' });
    ({ e } = await restart());
    expect(e.recovery).toMatchObject({ txRecords: 2 });
    expect(e.stats().txidsHeld).toBe(0);
    expect(await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'ok' })).toEqual({
      result: ok.result,
      replayed: true,
    });
    const again = await rejection(e.updateBalance({ accountId: 'a', delta: -50n, transactionId: 'over' }));
    expect([again.code, again.message, again.replayed]).toEqual([failed.code, failed.message, true]);
    expect(e.getBalance('a').balance).toBe(11n);
  });

  it('refuses to replay ids that expired while the server was down, and sweeps them from disk', async () => {
    let { e, s } = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'old' });
    clock.ms += 30_000;
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'young' });
    clock.ms += 40_000;
    ({ e, s } = await restart());
    expect(s.txRecords.sweepSlice(Number.POSITIVE_INFINITY)).toBe(true);
    expect(s.txRecords.sweepStats).toMatchObject({ passes: 1, removed: 1 });
    await s.txRecords.flushed();
    expect(s.txRecords.findTxRecord('old')).toBeUndefined();
    expect(s.txRecords.findTxRecord('young')?.expiresAtMs).toBe(clock.ms + 20_000);
    expect((await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'young' })).replayed).toBe(
      true,
    );
    // The expired id is free again: it executes as a new write, and that record is kept.
    expect((await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'old' })).replayed).toBe(false);
    ({ e } = await restart());
    expect((await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'old' })).replayed).toBe(true);
    expect(e.getBalance('a')).toMatchObject({ balance: 3n, version: 3 });
  });

  it('an expired id being executed again keeps its new record through a sweep', async () => {
    const { e, s } = await restart({ cache: 1 });
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'reused' });
    clock.ms += 61_000;
    // The new write is pending (its put queued, not visible) while the sweep sees the old record.
    const again = e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'reused' });
    s.txRecords.sweepSlice(Number.POSITIVE_INFINITY);
    expect(s.txRecords.sweepStats.removed).toBe(0);
    expect((await again).replayed).toBe(false);
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'pushes-it-out-of-the-cache' });
    expect(s.txRecords.findTxRecord('reused')?.expiresAtMs).toBe(clock.ms + 60_000);
    expect((await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'reused' })).replayed).toBe(
      true,
    );
  });

  it('sweeps in slices that resume where the last one stopped', async () => {
    const { e, s } = await restart({ cache: 1 });
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        e.updateBalance({ accountId: 'a', delta: 1n, transactionId: `t-${String(i).padStart(3, '0')}` }),
      ),
    );
    clock.ms += 61_000;
    let slices = 1;
    // A zero budget stops at the first clock check, every 64 records.
    while (!s.txRecords.sweepSlice(0)) slices++;
    expect(slices).toBe(5);
    expect(s.txRecords.sweepStats).toMatchObject({ passes: 1, removed: 300 });
    await s.txRecords.flushed();
    const { e: reopened } = await restart();
    expect(reopened.recovery).toMatchObject({ txRecords: 0 });
  });

  it('counts a record removed once, however many passes see it before its removal commits', async () => {
    const { e, s } = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'x' });
    clock.ms += 61_000;
    // Two whole passes before the first one's remove is committed (LMDB commits writes later).
    expect(s.txRecords.sweepSlice(1e9)).toBe(true);
    expect(s.txRecords.sweepSlice(1e9)).toBe(true);
    await s.txRecords.flushed();
    expect(s.txRecords.sweepStats.removed).toBe(1);
    expect(s.txRecords.findTxRecord('x')).toBeUndefined();
  });

  it('runs the sweep in the background', async () => {
    const { e, s } = await restart({ sweepPauseMs: 1 });
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'x' });
    clock.ms += 61_000;
    await expect.poll(() => s.txRecords.sweepStats.removed, { timeout: 5_000 }).toBe(1);
  });
});
