import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Errors, type LedgerError } from '../src/domain/errors.js';
import type { PgLedger } from '../src/engine/postgres/pg-ledger.js';
import { createTestDatabase, openTestLedger, type TestDatabase } from './pg-fixture.js';

/**
 * `--db-decide cached`: a group decided on account states this instance cached, committed in one
 * round trip whose statements make the database refuse it when the cache was stale. Each test
 * makes the cache stale behind the instance's back and checks that the write is decided on the
 * database's state, and that the cached path was really tried (a stale group counted).
 */
describe('PostgreSQL: groups decided on cached account states', () => {
  let db: TestDatabase;
  let a: PgLedger;
  let b: PgLedger;
  let sql: postgres.Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await openTestLedger(db.url, { decide: 'cached' });
    b = await openTestLedger(db.url, { decide: 'cached' });
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sql?.end();
    await db?.drop();
  });

  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: unknown) => err as LedgerError,
    );

  it('decides on the fresh balance after another instance changed an account behind the cache', async () => {
    await a.createAccount({ accountId: 'fresh-x', initialBalance: 100n });
    await a.createAccount({ accountId: 'fresh-y', initialBalance: 0n });
    // Fills a's cache with both accounts (x 90, y 10); the next transfer is decided from it.
    await a.transferFunds({ fromId: 'fresh-x', toId: 'fresh-y', amount: 10n, transactionId: 'fresh-t1' });
    await a.transferFunds({ fromId: 'fresh-x', toId: 'fresh-y', amount: 1n, transactionId: 'fresh-t2' });
    const cachedBefore = a.stats.cachedGroups;
    expect(cachedBefore).toBeGreaterThan(0);
    // Behind a's cache: x goes from 89 to 4.
    await b.updateBalance({ accountId: 'fresh-x', delta: -85n, transactionId: 'fresh-u1' });
    const staleBefore = a.stats.staleGroups;
    // From the cache (89) this transfer would pass; on the database's 4 it is an overdraft.
    const err = await refusal(
      a.transferFunds({ fromId: 'fresh-x', toId: 'fresh-y', amount: 50n, transactionId: 'fresh-t3' }),
    );
    expect(err?.code).toBe('FAILED_PRECONDITION');
    expect(err?.message).toBe(Errors.insufficientTransferBalance('fresh-x', 4n, 50n).message);
    expect(a.stats.staleGroups).toBe(staleBefore + 1);
    // The refusal refreshed the cache: the next one is decided from it, on the right balance.
    const { result } = await a.transferFunds({
      fromId: 'fresh-x',
      toId: 'fresh-y',
      amount: 4n,
      transactionId: 'fresh-t4',
    });
    expect(result.accounts.map((x) => [x.id, x.balance, x.version])).toEqual([
      ['fresh-x', 0n, 4],
      ['fresh-y', 15n, 3],
    ]);
    expect(a.stats.cachedGroups).toBeGreaterThan(cachedBefore);
    const [row] = await sql<{ balance: string; version: string }[]>`
      SELECT balance, version FROM ledger_accounts WHERE id = 'fresh-x'`;
    expect([row!.balance, row!.version]).toEqual(['0', '4']);
  });

  it('checks the balance, not only the version: a direct SQL update that keeps the version', async () => {
    await a.createAccount({ accountId: 'direct-x', initialBalance: 50n });
    await a.updateBalance({ accountId: 'direct-x', delta: 1n, transactionId: 'direct-u1' });
    await a.updateBalance({ accountId: 'direct-x', delta: 1n, transactionId: 'direct-u2' });
    // Behind the cache, same version (2), another balance (52 -> 7).
    await sql`UPDATE ledger_accounts SET balance = 7 WHERE id = 'direct-x'`;
    await sql`UPDATE ledger_head SET total_balance = total_balance - 45`;
    const staleBefore = a.stats.staleGroups;
    const err = await refusal(
      a.updateBalance({ accountId: 'direct-x', delta: -8n, transactionId: 'direct-u3' }),
    );
    expect(err?.code).toBe('FAILED_PRECONDITION');
    expect(err?.message).toBe(Errors.insufficientBalance(7n, -8n).message);
    expect(a.stats.staleGroups).toBe(staleBefore + 1);
    const { result } = await a.updateBalance({
      accountId: 'direct-x',
      delta: -7n,
      transactionId: 'direct-u4',
    });
    expect(result.accounts[0]).toEqual({ id: 'direct-x', balance: 0n, version: 3 });
  });

  it('answers ALREADY_EXISTS for a create of an account that exists behind the cache', async () => {
    await b.createAccount({ accountId: 'exists-z', initialBalance: 5n });
    const staleBefore = a.stats.staleGroups;
    // a never saw exists-z: its cached path assumes a new account, and the insert says otherwise.
    const err = await refusal(
      a.createAccount({ accountId: 'exists-z', initialBalance: 9n, transactionId: 'exists-c1' }),
    );
    expect(err?.code).toBe('ALREADY_EXISTS');
    expect(err?.message).toBe(Errors.accountExists('exists-z').message);
    expect(a.stats.staleGroups).toBe(staleBefore + 1);
    const [row] = await sql<{ balance: string }[]>`SELECT balance FROM ledger_accounts WHERE id = 'exists-z'`;
    expect(row!.balance).toBe('5');
    // The refusal is recorded: the same id replays it.
    const again = await refusal(
      a.createAccount({ accountId: 'exists-z', initialBalance: 9n, transactionId: 'exists-c1' }),
    );
    expect(again?.code).toBe('ALREADY_EXISTS');
    expect(again?.replayed).toBe(true);
  });

  it('executes a same-id write racing on two instances once, with both caches warm', async () => {
    await a.createAccount({ accountId: 'race-x', initialBalance: 1_000n });
    await a.createAccount({ accountId: 'race-y', initialBalance: 0n });
    // Both instances cache both accounts.
    await a.transferFunds({ fromId: 'race-x', toId: 'race-y', amount: 1n, transactionId: 'race-warm-a' });
    await b.transferFunds({ fromId: 'race-x', toId: 'race-y', amount: 1n, transactionId: 'race-warm-b' });
    await a.transferFunds({ fromId: 'race-x', toId: 'race-y', amount: 1n, transactionId: 'race-warm-a2' });
    const cachedBefore = a.stats.cachedGroups + b.stats.cachedGroups;
    const rounds = 30;
    let executed = 0;
    let replayed = 0;
    for (let i = 0; i < rounds; i++) {
      const input = { fromId: 'race-x', toId: 'race-y', amount: 1n, transactionId: `race-t${i}` };
      const outcomes = await Promise.all([a.transferFunds(input), b.transferFunds(input)]);
      for (const o of outcomes) {
        if (o.replayed) replayed++;
        else executed++;
      }
      // Both answers are the one execution's.
      expect(outcomes[0]!.result).toEqual(outcomes[1]!.result);
    }
    expect(executed).toBe(rounds);
    expect(replayed).toBe(rounds);
    // The race really ran on the cached path (until half of the tries being stale paused it).
    expect(a.stats.cachedGroups + b.stats.cachedGroups).toBeGreaterThan(cachedBefore + 5);
    const rows = await sql<{ id: string; balance: string }[]>`
      SELECT id, balance FROM ledger_accounts WHERE id IN ('race-x', 'race-y') ORDER BY id`;
    expect(rows.map((r) => r.balance)).toEqual([String(1_000 - 3 - rounds), String(3 + rounds)]);
    const [log] = await sql<{ n: string }[]>`
      SELECT count(*)::text AS n FROM ledger_log WHERE transaction_id LIKE 'race-t%'`;
    expect(log!.n).toBe(String(rounds));
    // A refused write changes no account, so only the id's claim can tell the second instance
    // that the first executed it: one refusal, one replay of it, per id.
    for (let i = 0; i < 10; i++) {
      const input = { fromId: 'race-y', toId: 'race-x', amount: 10_000n, transactionId: `race-o${i}` };
      const errs = await Promise.all([refusal(a.transferFunds(input)), refusal(b.transferFunds(input))]);
      expect(errs.map((e) => e?.code)).toEqual(['FAILED_PRECONDITION', 'FAILED_PRECONDITION']);
      expect(errs.map((e) => e?.replayed).sort()).toEqual([false, true]);
    }
  });

  it('keeps the total and every balance exact under concurrent transfers on both instances', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `mix-${i}`);
    for (const id of ids) await a.createAccount({ accountId: id, initialBalance: 100n });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const ledger = i % 3 === 0 ? b : a;
      const from = ids[(i * 5) % ids.length]!;
      const to = ids[(i * 5 + 1 + (i % 4)) % ids.length]!;
      calls.push(
        ledger
          .transferFunds({ fromId: from, toId: to, amount: BigInt(1 + (i % 30)), transactionId: `mix-t${i}` })
          .catch((err: LedgerError) => expect(err.code).toBe('FAILED_PRECONDITION')),
      );
      if (i % 50 === 49) await Promise.all(calls.splice(0));
    }
    await Promise.all(calls);
    const rows = await sql<{ balance: string }[]>`SELECT balance FROM ledger_accounts WHERE id LIKE 'mix-%'`;
    expect(rows.reduce((s, r) => s + BigInt(r.balance), 0n)).toBe(600n);
    // Replaying the log reproduces each account's final balance.
    const log = await sql<
      {
        account_id: string;
        balance_after: string;
        to_account_id: string | null;
        to_balance_after: string | null;
      }[]
    >`SELECT account_id, balance_after, to_account_id, to_balance_after FROM ledger_log
      WHERE account_id LIKE 'mix-%' ORDER BY position`;
    const last = new Map<string, string>();
    for (const e of log) {
      last.set(e.account_id, e.balance_after);
      if (e.to_account_id !== null) last.set(e.to_account_id, e.to_balance_after!);
    }
    const final = await sql<{ id: string; balance: string }[]>`
      SELECT id, balance FROM ledger_accounts WHERE id LIKE 'mix-%'`;
    for (const r of final) expect(last.get(r.id)).toBe(r.balance);
  });
});
