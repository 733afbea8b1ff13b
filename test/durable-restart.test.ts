import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import type { LedgerEngine } from '../src/engine/ledger-engine.js';
import { SeededRandom } from '../src/harness/seeded-random.js';
import { openDurable, removeDir, tempDir } from './durable-fixture.js';
import { rejection } from './ledger-rejection.js';

/** Deterministic random numbers so a failing interleaving can be rerun. */
function seeded(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

describe('durable ledger across restarts', () => {
  let dir: string;
  let engine: LedgerEngine | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    removeDir(dir);
  });
  const restart = async (options: Parameters<typeof openDurable>[1] = {}) => {
    await engine?.close();
    engine = await openDurable(dir, options);
    return engine;
  };

  it('recovers accounts with their exact balances and versions', async () => {
    let e = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 9007199254740993n });
    await e.createAccount({ accountId: 'b', initialBalance: 0n, transactionId: 'create-b' });
    await e.updateBalance({ accountId: 'a', delta: -3n, transactionId: 'u1' });
    await e.transferFunds({ fromId: 'a', toId: 'b', amount: 40n, transactionId: 't1' });
    const before = e.getSnapshot(true);
    e = await restart();
    expect(e.getSnapshot(true)).toEqual(before);
    expect(e.getBalance('a')).toEqual({ id: 'a', balance: 9007199254740950n, version: 2 });
    expect(e.getBalance('b')).toEqual({ id: 'b', balance: 40n, version: 1 });
    expect(e.recovery).toMatchObject({ accounts: 2, logEntries: 4, txRecords: 3 });
    expect(e.recovery!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('keeps the principal of every log entry across a restart, beyond the memory window', async () => {
    let e = await restart({ recentLogEntries: 2 });
    await e.createAccount({ accountId: 'a', initialBalance: 100n, transactionId: 'c-a' }, 'alice');
    await e.createAccount({ accountId: 'b', initialBalance: 0n, transactionId: 'c-b' });
    await e.transferFunds({ fromId: 'a', toId: 'b', amount: 5n, transactionId: 't1' }, 'CN=ops,O=bank');
    await e.updateBalance({ accountId: 'b', delta: 1n, transactionId: 'u1' }, 'bob');
    e = await restart({ recentLogEntries: 2 });
    expect((await e.getTransaction('c-a')).principal).toBe('alice');
    expect((await e.getTransaction('c-b')).principal).toBe('');
    expect((await e.getTransaction('t1')).principal).toBe('CN=ops,O=bank');
    expect((await e.getTransaction('u1')).principal).toBe('bob');
  });

  it('serves log entries after a restart, also those older than the memory window', async () => {
    let e = await restart({ recentLogEntries: 5 });
    await e.createAccount({ accountId: 'a', initialBalance: 1000n });
    await e.createAccount({ accountId: 'b', initialBalance: 0n });
    const logged = [];
    for (let i = 0; i < 20; i++) {
      await e.transferFunds({ fromId: 'a', toId: 'b', amount: BigInt(i + 1), transactionId: `t${i}` });
      logged.push(await e.getTransaction(`t${i}`));
    }
    e = await restart({ recentLogEntries: 5 });
    expect(e.stats().logWindowEntries).toBe(5);
    for (let i = 0; i < 20; i++) expect(await e.getTransaction(`t${i}`)).toEqual(logged[i]);
    expect(logged[0]).toMatchObject({
      position: 3,
      operation: 'transfer',
      accountIds: ['a', 'b'],
      amount: 1n,
    });
    expect(logged[0]!.balancesAfter).toEqual([999n, 1n]);
    expect((await rejection(e.getTransaction('never'))).code).toBe('NOT_FOUND');
  });

  it('continues log positions densely after a restart', async () => {
    let e = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 5n });
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'u1' });
    e = await restart();
    expect(e.getSnapshot(false).logPosition).toBe(2);
    await e.updateBalance({ accountId: 'a', delta: 1n, transactionId: 'u2' });
    expect((await e.getTransaction('u2')).position).toBe(3);
    e = await restart();
    expect(e.getSnapshot(false).logPosition).toBe(3);
  });

  it('replays a transaction id after a restart instead of applying it again', async () => {
    let e = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 100n });
    const first = await e.updateBalance({ accountId: 'a', delta: 25n, transactionId: 'once' });
    e = await restart();
    const again = await e.updateBalance({ accountId: 'a', delta: 25n, transactionId: 'once' });
    expect(again).toEqual({ result: first.result, replayed: true });
    expect(e.getBalance('a').balance).toBe(125n);
    const conflict = await rejection(e.updateBalance({ accountId: 'a', delta: 26n, transactionId: 'once' }));
    expect(conflict.code).toBe('ALREADY_EXISTS');
    expect(e.getSnapshot(false).logPosition).toBe(2);
  });

  it('replays a recorded error outcome after a restart, even when the state changed since', async () => {
    let e = await restart();
    await e.createAccount({ accountId: 'a', initialBalance: 10n });
    const failed = await rejection(
      e.updateBalance({ accountId: 'a', delta: -50n, transactionId: 'too-much' }),
    );
    expect(failed.code).toBe('FAILED_PRECONDITION');
    const missing = await rejection(
      e.updateBalance({ accountId: 'ghost', delta: 1n, transactionId: 'ghost-1' }),
    );
    e = await restart();
    await e.updateBalance({ accountId: 'a', delta: 100n, transactionId: 'top-up' });
    const replayed = await rejection(
      e.updateBalance({ accountId: 'a', delta: -50n, transactionId: 'too-much' }),
    );
    expect({ code: replayed.code, message: replayed.message, replayed: replayed.replayed }).toEqual({
      code: failed.code,
      message: failed.message,
      replayed: true,
    });
    const ghost = await rejection(
      e.updateBalance({ accountId: 'ghost', delta: 1n, transactionId: 'ghost-1' }),
    );
    expect([ghost.message, ghost.replayed]).toEqual([missing.message, true]);
    expect(e.getBalance('a').balance).toBe(110n);
    expect((await rejection(e.getTransaction('too-much'))).code).toBe('NOT_FOUND');
  });

  it('conserves money across many concurrent transfers and a restart', async () => {
    let e = await restart({ recentLogEntries: 100 });
    const ids = Array.from({ length: 20 }, (_, i) => `acct-${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id) => e.createAccount({ accountId: id, initialBalance: 1000n })));
    const random = seeded(7);
    const pick = () => ids[Math.floor(random() * ids.length)]!;
    let applied = 0;
    await Promise.all(
      Array.from({ length: 2000 }, async (_, i) => {
        const from = pick();
        let to = pick();
        while (to === from) to = pick();
        try {
          await e.transferFunds({
            fromId: from,
            toId: to,
            amount: BigInt(1 + Math.floor(random() * 200)),
            transactionId: `x${i}`,
          });
          applied++;
        } catch (err) {
          if (!(err instanceof LedgerError) || err.code !== 'FAILED_PRECONDITION') throw err;
        }
      }),
    );
    const before = e.getSnapshot(true);
    expect(before.totalBalance).toBe(20_000n);
    expect(before.logPosition).toBe(20 + applied);
    e = await restart({ recentLogEntries: 100 });
    expect(e.getSnapshot(true)).toEqual(before);
    const versions = e.getSnapshot(true).accounts!.reduce((sum, a) => sum + a.version, 0);
    expect(versions).toBe(2 * applied);
    expect(e.recovery).toMatchObject({ logEntries: 20 + applied, logEntriesInMemory: 100, txRecords: 2000 });
  });
});
