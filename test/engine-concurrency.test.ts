import { describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import type { LockingMode, UnsafeLocking } from '../src/engine/account-locks.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { DelayedCommitStorage } from '../src/engine/storage.js';

/** An engine whose every commit awaits 0-3 ms, independently, so writes truly interleave. */
function delayedEngine(locking: LockingMode = 'account', unsafeLocking?: UnsafeLocking) {
  return LedgerEngine.open({
    storage: new DelayedCommitStorage({ minMs: 0, maxMs: 3 }),
    locking,
    unsafeLocking,
  });
}

/** Resolves 'timeout' if `work` has not settled within `ms` (how a deadlock shows itself). */
async function within<T>(ms: number, work: Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function abStorm(engine: LedgerEngine, each: number) {
  await engine.createAccount({ accountId: 'A', initialBalance: 1_000_000n });
  await engine.createAccount({ accountId: 'B', initialBalance: 1_000_000n });
  const calls = [];
  for (let i = 0; i < each; i++) {
    calls.push(engine.transferFunds({ fromId: 'A', toId: 'B', amount: 1n, transactionId: `ab-${i}` }));
    calls.push(engine.transferFunds({ fromId: 'B', toId: 'A', amount: 2n, transactionId: `ba-${i}` }));
  }
  return Promise.all(calls);
}

describe.each<LockingMode>(['account', 'global'])('engine with %s locking and async commits', (locking) => {
  it('100 concurrent +10 on 1000 end at exactly 2000 (no lost update)', async () => {
    const engine = await delayedEngine(locking);
    await engine.createAccount({ accountId: 'acc', initialBalance: 1000n });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        engine.updateBalance({ accountId: 'acc', delta: 10n, transactionId: `u-${i}` }),
      ),
    );
    expect(engine.getBalance('acc')).toEqual({ id: 'acc', balance: 2000n, version: 100 });
    const versions = results.map((r) => r.result.accounts[0]!.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('50 A->B and 50 B->A finish (no deadlock) and conserve money', async () => {
    const engine = await delayedEngine(locking);
    expect(await within(5000, abStorm(engine, 50))).not.toBe('timeout');
    const a = engine.getBalance('A').balance;
    const b = engine.getBalance('B').balance;
    expect(a + b).toBe(2_000_000n);
    expect(a).toBe(1_000_000n + 50n);
    expect(engine.getSnapshot(false).logPosition).toBe(102);
  });

  it('10 concurrent calls with one transaction id: one applies, nine replay the same body', async () => {
    const engine = await delayedEngine(locking);
    await engine.createAccount({ accountId: 'acc', initialBalance: 0n });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        engine.updateBalance({ accountId: 'acc', delta: 5n, transactionId: 'same' }),
      ),
    );
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    expect(
      new Set(outcomes.map((o) => JSON.stringify(o.result, (_, v) => (typeof v === 'bigint' ? `${v}` : v))))
        .size,
    ).toBe(1);
    expect(engine.getBalance('acc').balance).toBe(5n);
  });

  it('snapshots taken during a transfer storm are never torn', async () => {
    const engine = await delayedEngine(locking);
    const ids = Array.from({ length: 10 }, (_, i) => `acc-${i}`);
    for (const id of ids) await engine.createAccount({ accountId: id, initialBalance: 1000n });
    let stop = false;
    const torn: string[] = [];
    const reader = (async () => {
      while (!stop) {
        const snap = engine.getSnapshot(true);
        const sum = snap.accounts!.reduce((s, a) => s + a.balance, 0n);
        if (sum !== 10_000n || snap.totalBalance !== 10_000n) torn.push(`${sum}/${snap.totalBalance}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        engine
          .transferFunds({
            fromId: ids[i % 10]!,
            toId: ids[(i * 7 + 3) % 10]!,
            amount: 7n,
            transactionId: `t-${i}`,
          })
          .catch((err: unknown) => {
            if (!(err instanceof LedgerError)) throw err;
          }),
      ),
    );
    stop = true;
    await reader;
    expect(torn).toEqual([]);
  });
});

describe('the test doubles prove the locks matter', () => {
  it('without locking, concurrent updates lose money', async () => {
    const engine = await delayedEngine('account', 'none');
    await engine.createAccount({ accountId: 'acc', initialBalance: 1000n });
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        engine.updateBalance({ accountId: 'acc', delta: 10n, transactionId: `u-${i}` }),
      ),
    );
    expect(engine.getBalance('acc').balance).toBeLessThan(2000n);
  });

  it('locking in request order instead of id order deadlocks the A<->B storm', async () => {
    const engine = await delayedEngine('account', 'unordered');
    expect(await within(2000, abStorm(engine, 50))).toBe('timeout');
  });
});
