import { afterEach, describe, expect, test } from 'vitest';
import { LedgerCallError, type LedgerClient } from '../src/client/ledger-client.js';
import { SeededRandom } from '../src/harness/seeded-random.js';
import { inParallel, startTestServer, type TestServer } from './server-fixture.js';

/** Deterministic random numbers so a failing interleaving can be rerun. */
function seeded(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function settle<T>(
  call: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; err: LedgerCallError }> {
  try {
    return { ok: true, value: await call };
  } catch (err) {
    if (!(err instanceof LedgerCallError)) throw err;
    return { ok: false, err };
  }
}

async function snapshotIsConsistent(client: LedgerClient): Promise<bigint> {
  const snap = (await client.getSnapshot(true)).value;
  expect(snap.totalBalance).toBe(snap.accounts.reduce((sum, a) => sum + a.balance, 0n));
  expect(snap.accountCount).toBe(BigInt(snap.accounts.length));
  return snap.totalBalance;
}

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

describe('concurrent calls through gRPC', () => {
  test('100 concurrent creates of distinct ids', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 3 });
    const replies = await Promise.all(range(100).map((i) => t!.client.createAccount(`acct-${i}`, BigInt(i))));
    expect(replies.every((r) => !r.replayed && r.value.version === 0n)).toBe(true);
    const snap = (await t.client.getSnapshot(true)).value;
    expect(snap.accountCount).toBe(100n);
    expect(snap.logPosition).toBe(100n);
    expect(snap.totalBalance).toBe(BigInt((99 * 100) / 2));
  });

  test('2 concurrent creates of one id: one OK, one ALREADY_EXISTS (20 rounds)', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 3 });
    for (let round = 0; round < 20; round++) {
      const id = `twin-${round}`;
      const outcomes = await Promise.all([
        settle(t.client.createAccount(id, 5n)),
        settle(t.client.createAccount(id, 5n)),
      ]);
      const ok = outcomes.filter((o) => o.ok);
      const refused = outcomes.flatMap((o) => (o.ok ? [] : [o.err]));
      expect(ok).toHaveLength(1);
      expect(refused.map((e) => [e.codeName, e.details])).toEqual([
        ['ALREADY_EXISTS', `Account ${id} already exists`],
      ]);
    }
    expect((await t.client.getSnapshot(false)).value.totalBalance).toBe(100n);
  });

  test('100 x +10 on 1000 -> 2000', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 3 });
    await t.client.createAccount('acc', 1000n);
    const replies = await Promise.all(
      range(100).map((i) => t!.client.updateBalance('acc', 10n, `plus10-${i}`)),
    );
    expect((await t.client.getBalance('acc')).value).toEqual({
      accountId: 'acc',
      balance: 2000n,
      version: 100n,
    });
    const seen = replies.map((r) => r.value.account.balance).sort((a, b) => (a < b ? -1 : 1));
    expect(seen).toEqual(range(100).map((i) => 1010n + BigInt(i) * 10n));
  });

  test('100 x +1 on 0 -> 100, each caller sees its own version', async () => {
    t = await startTestServer();
    await t.client.createAccount('acc', 0n);
    const replies = await Promise.all(
      range(100).map((i) => t!.client.updateBalance('acc', 1n, `plus1-${i}`)),
    );
    const versions = replies.map((r) => r.value.account.version).sort((a, b) => (a < b ? -1 : 1));
    expect(versions).toEqual(range(100).map((i) => BigInt(i + 1)));
    expect(replies.every((r) => r.value.account.balance === r.value.account.version)).toBe(true);
    expect((await t.client.getBalance('acc')).value.balance).toBe(100n);
  });

  test('1000 concurrent GetBalance on one account and on 1000 accounts', async () => {
    t = await startTestServer();
    await inParallel(range(1000), 100, (i) => t!.client.createAccount(`r-${i}`, BigInt(i)));
    const one = await Promise.all(range(1000).map(() => t!.client.getBalance('r-7')));
    expect(one.every((r) => r.value.balance === 7n && r.value.accountId === 'r-7')).toBe(true);
    const many = await Promise.all(range(1000).map((i) => t!.client.getBalance(`r-${i}`)));
    expect(many.map((r) => r.value.balance)).toEqual(range(1000).map(BigInt));
  });

  test('50 A->B + 50 B->A finish within 5 s (no deadlock), money conserved', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 3 });
    await t.client.createAccount('A', 1000n);
    await t.client.createAccount('B', 1000n);
    const calls = range(100).map((i) =>
      i % 2 === 0
        ? t!.client.transferFunds('A', 'B', 3n, `ab-${i}`, { deadlineMs: 5_000 })
        : t!.client.transferFunds('B', 'A', 5n, `ba-${i}`, { deadlineMs: 5_000 }),
    );
    await Promise.all(calls);
    const a = (await t.client.getBalance('A')).value;
    const b = (await t.client.getBalance('B')).value;
    expect([a.balance, b.balance]).toEqual([1000n - 150n + 250n, 1000n + 150n - 250n]);
    expect([a.version, b.version]).toEqual([100n, 100n]);
  });

  test('100 transfers among 10 accounts: every balance equals its committed ins and outs', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 3 });
    const random = seeded(10);
    await Promise.all(range(10).map((i) => t!.client.createAccount(`p-${i}`, 100n)));
    const plans = range(100).map((i) => {
      const from = Math.floor(random() * 10);
      const to = (from + 1 + Math.floor(random() * 9)) % 10;
      return {
        from: `p-${from}`,
        to: `p-${to}`,
        amount: BigInt(1 + Math.floor(random() * 60)),
        txid: `mix-${i}`,
      };
    });
    const outcomes = await Promise.all(
      plans.map((p) => settle(t!.client.transferFunds(p.from, p.to, p.amount, p.txid))),
    );
    const expected = new Map(range(10).map((i) => [`p-${i}`, 100n]));
    outcomes.forEach((o, i) => {
      const p = plans[i]!;
      if (o.ok) {
        expected.set(p.from, expected.get(p.from)! - p.amount);
        expected.set(p.to, expected.get(p.to)! + p.amount);
      } else {
        expect(o.err.codeName).toBe('FAILED_PRECONDITION');
      }
    });
    const snap = (await t.client.getSnapshot(true)).value;
    expect(new Map(snap.accounts.map((a) => [a.accountId, a.balance]))).toEqual(expected);
    expect(snap.totalBalance).toBe(1000n);
    expect(snap.accounts.every((a) => a.balance >= 0n)).toBe(true);
  });

  test('write skew: concurrent transfers out of one account never exceed its balance', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 3 });
    await t.client.createAccount('src', 100n);
    await Promise.all(range(50).map((i) => t!.client.createAccount(`dst-${i}`, 0n)));
    const outcomes = await Promise.all(
      range(50).map((i) => settle(t!.client.transferFunds('src', `dst-${i}`, 10n, `skew-${i}`))),
    );
    const ok = outcomes.filter((o) => o.ok).length;
    expect(ok).toBe(10);
    for (const o of outcomes)
      if (!o.ok)
        expect(o.err.details).toMatch(/^Insufficient balance in account src: current=\d+, required=10$/);
    expect((await t.client.getBalance('src')).value.balance).toBe(0n);
    expect(await snapshotIsConsistent(t.client)).toBe(100n);
  });

  test('10 concurrent calls with one transaction id: 1 applied, 9 replayed, one change', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 5 });
    await t.client.createAccount('x', 0n);
    await t.client.createAccount('y', 0n);
    const replies = await Promise.all(range(10).map(() => t!.client.updateBalance('x', 7n, 'once')));
    expect(replies.filter((r) => !r.replayed)).toHaveLength(1);
    expect(replies.filter((r) => r.replayed)).toHaveLength(9);
    expect(
      new Set(replies.map((r) => JSON.stringify(r.value, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))))
        .size,
    ).toBe(1);
    expect((await t.client.getBalance('x')).value).toEqual({ accountId: 'x', balance: 7n, version: 1n });

    const failures = await Promise.all(
      range(10).map(() => settle(t!.client.transferFunds('y', 'x', 1n, 'once-fail'))),
    );
    const errs = failures.flatMap((o) => (o.ok ? [] : [o.err]));
    expect(errs).toHaveLength(10);
    expect(errs.filter((e) => e.replayed)).toHaveLength(9);
    expect(new Set(errs.map((e) => `${e.codeName}:${e.details}`))).toEqual(
      new Set(['FAILED_PRECONDITION:Insufficient balance in account y: current=0, required=1']),
    );
  });

  test('200 concurrent writes -> 200 log entries at dense positions', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 3 });
    await Promise.all(range(4).map((i) => t!.client.createAccount(`w-${i}`, 1000n, `w-create-${i}`)));
    const txids = range(200).map((i) => `dense-${i}`);
    await Promise.all(
      txids.map((txid, i) =>
        i % 2 === 0
          ? t!.client.updateBalance(`w-${i % 4}`, 1n, txid)
          : t!.client.transferFunds(`w-${i % 4}`, `w-${(i + 1) % 4}`, 1n, txid),
      ),
    );
    const entries = await Promise.all(txids.map(async (id) => (await t!.client.getTransaction(id)).value));
    const positions = entries.map((e) => e.position).sort((a, b) => (a < b ? -1 : 1));
    expect(positions).toEqual(range(200).map((i) => BigInt(i + 5)));
    expect((await t.client.getSnapshot(false)).value.logPosition).toBe(204n);
  });

  test('snapshots during a transfer storm are always consistent', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 2 });
    const random = seeded(12);
    await Promise.all(range(20).map((i) => t!.client.createAccount(`s-${i}`, 500n)));
    let storming = true;
    const storm = inParallel(range(600), 30, async (i) => {
      const from = Math.floor(random() * 20);
      const to = (from + 1 + Math.floor(random() * 19)) % 20;
      await settle(
        t!.client.transferFunds(`s-${from}`, `s-${to}`, BigInt(1 + Math.floor(random() * 100)), `storm-${i}`),
      );
    }).finally(() => {
      storming = false;
    });
    let snapshots = 0;
    const positions: bigint[] = [];
    while (storming && snapshots < 500) {
      expect(await snapshotIsConsistent(t.client)).toBe(10_000n);
      positions.push((await t.client.getSnapshot(false)).value.logPosition);
      snapshots++;
    }
    await storm;
    expect(snapshots).toBeGreaterThan(0);
    expect([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(positions);
    expect(await snapshotIsConsistent(t.client)).toBe(10_000n);
  });

  test('versions never go backwards for a reader', async () => {
    t = await startTestServer({ delayedCommitMaxMs: 2 });
    await t.client.createAccount('watched', 0n);
    let writing = true;
    const writers = inParallel(range(300), 20, (i) =>
      t!.client.updateBalance('watched', 1n, `inc-${i}`),
    ).finally(() => {
      writing = false;
    });
    const readers = range(5).map(async () => {
      const seen: bigint[] = [];
      while (writing && seen.length < 1000) {
        const account = (await t!.client.getBalance('watched')).value;
        // Each committed +1 bumps the version by one: balance and version move together.
        expect(account.balance).toBe(account.version);
        seen.push(account.version);
      }
      return seen;
    });
    await writers;
    for (const seen of await Promise.all(readers)) {
      for (let i = 1; i < seen.length; i++) expect(seen[i]! >= seen[i - 1]!).toBe(true);
    }
    expect((await t.client.getBalance('watched')).value.version).toBe(300n);
  });

  test('10 accounts x 1000, 1000 random transfers, then 10,000 random ops from 50 callers: total conserved', async () => {
    t = await startTestServer();
    const random = seeded(2024);
    const ids = range(10).map((i) => `big-${i}`);
    await Promise.all(ids.map((id) => t!.client.createAccount(id, 1000n)));
    const pick = () => ids[Math.floor(random() * ids.length)]!;
    const other = (from: string) => {
      let to = pick();
      while (to === from) to = pick();
      return to;
    };
    await inParallel(range(1000), 50, async (i) => {
      const from = pick();
      await settle(
        t!.client.transferFunds(from, other(from), BigInt(1 + Math.floor(random() * 200)), `rt-${i}`),
      );
    });
    expect(await snapshotIsConsistent(t.client)).toBe(10_000n);

    let committedDeltas = 0n;
    await inParallel(range(10_000), 50, async (i) => {
      const roll = random();
      const id = pick();
      if (roll < 0.3) {
        await t!.client.getBalance(id);
      } else if (roll < 0.55) {
        const delta = BigInt(Math.floor(random() * 200) - 100);
        const o = await settle(t!.client.updateBalance(id, delta, `ro-${i}`));
        if (o.ok) committedDeltas += delta;
        else expect(o.err.codeName).toBe('FAILED_PRECONDITION');
      } else if (roll < 0.95) {
        const o = await settle(
          t!.client.transferFunds(id, other(id), BigInt(1 + Math.floor(random() * 200)), `ro-${i}`),
        );
        if (!o.ok) expect(o.err.codeName).toBe('FAILED_PRECONDITION');
      } else {
        await snapshotIsConsistent(t!.client);
      }
    });
    const total = await snapshotIsConsistent(t.client);
    expect(total).toBe(10_000n + committedDeltas);
    const snap = (await t.client.getSnapshot(true)).value;
    expect(snap.accounts.every((a) => a.balance >= 0n)).toBe(true);
  }, 120_000);
});
