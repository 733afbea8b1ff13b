import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { fakeClock, removeDir, tempDir } from './durable-fixture.js';
import { rejection } from './ledger-rejection.js';

describe('audit-log retention on disk', () => {
  let dir: string;
  let engine: LedgerEngine | undefined;
  const clock = fakeClock();
  beforeEach(() => {
    dir = tempDir();
    clock.ms = 1_700_000_000_000;
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    removeDir(dir);
  });
  /** Background work is off (a long pause): the tests prune explicitly. */
  const restart = async () => {
    await engine?.close();
    const storage = await LmdbStorage.open(dir, {
      nowMs: clock.nowMs,
      logRetentionMs: 60_000,
      diskSweepPauseMs: 1e9,
      diskSweepRestMs: 1e9,
    });
    engine = await LedgerEngine.open({ storage, clock, logWindowEntries: 3, txidTtlMs: 10_000 });
    return { e: engine, s: storage, retention: storage.logRetention! };
  };

  it('removes entries older than the retention from the front, with their index entries', async () => {
    let { e, s, retention } = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    for (let i = 0; i < 20; i++)
      await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: `old-${i}` });
    clock.ms += 30_000;
    for (let i = 0; i < 5; i++)
      await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: `new-${i}` });
    clock.ms += 40_000;
    expect(retention.pruneSlice(Number.POSITIVE_INFINITY)).toBe(true);
    expect(retention.stats.removed).toBe(21);
    await retention.flushed();
    expect(await s.findLogEntry('old-19')).toBeUndefined();
    expect((await rejection(e.getTransaction('old-0'))).code).toBe('NOT_FOUND');
    expect((await e.getTransaction('new-0')).position).toBe(22);
    ({ e } = await restart());
    expect(e.recovery).toMatchObject({ logEntries: 26, logEntriesOnDisk: 5, logEntriesInMemory: 3 });
    expect(e.getBalance('a')).toMatchObject({ balance: 25n, version: 25 });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'after' });
    expect((await e.getTransaction('after')).position).toBe(27);
    expect((await e.getTransaction('new-1')).position).toBe(23);
  });

  it('keeps the newest entry, which holds the last position', async () => {
    let { e, retention } = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 7n, transactionId: 'create' });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'u' });
    clock.ms += 3_600_000;
    retention.pruneSlice(Number.POSITIVE_INFINITY);
    await retention.flushed();
    ({ e } = await restart());
    expect(e.recovery).toMatchObject({ logEntries: 2, logEntriesOnDisk: 1 });
    expect(e.getSnapshot(false)).toMatchObject({ logPosition: 2, totalBalance: 8n });
    expect((await e.getTransaction('u')).position).toBe(2);
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'v' });
    expect((await e.getTransaction('v')).position).toBe(3);
  });

  it('keeps the index entry of an id used again after its record expired', async () => {
    const { e, s, retention } = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 0n });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'reused' });
    clock.ms += 20_000;
    await e.updateBalance({ accountId: 'a', delta: 2n, transactionId: 'reused' });
    await e.updateBalance({ accountId: 'a', delta: 3n, transactionId: 'last' });
    clock.ms += 50_000;
    retention.pruneSlice(Number.POSITIVE_INFINITY);
    await retention.flushed();
    expect(retention.stats.removed).toBe(2);
    expect(await s.findLogEntry('reused')).toMatchObject({ position: 3, amount: 2n });
  });
});
