import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerError } from '../src/domain/errors.js';
import type { WriteOutcome } from '../src/engine/ledger.js';
import type { PgLedger } from '../src/engine/postgres/pg-ledger.js';
import { createTestDatabase, openTestLedger, type TestDatabase } from './pg-fixture.js';

/**
 * Two PgLedger instances on one database, as two `serve` processes would be (each its own pool):
 * every invariant must hold across them.
 */
describe('several instances on one PostgreSQL database', () => {
  let db: TestDatabase;
  let a: PgLedger;
  let b: PgLedger;
  let sql: postgres.Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await openTestLedger(db.url);
    b = await openTestLedger(db.url);
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sql?.end();
    await db?.drop();
  });

  const settle = <T>(p: Promise<T>) =>
    p.then(
      (value) => ({ ok: true as const, value }),
      (err: unknown) => ({ ok: false as const, err }),
    );

  it('conserves the total and loses no update under concurrent transfers on both', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `cons-${i}`);
    for (const id of ids) await a.createAccount({ accountId: id, initialBalance: 1_000n });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 600; i++) {
      const ledger = i % 2 === 0 ? a : b;
      const from = ids[(i * 7) % ids.length]!;
      const to = ids[(i * 3 + 1) % ids.length]!;
      if (from === to) continue;
      calls.push(
        settle(
          ledger.transferFunds({
            fromId: from,
            toId: to,
            amount: BigInt(1 + (i % 50)),
            transactionId: `cons-t${i}`,
          }),
        ),
      );
      // Lost-update probe: every instance adds to one account; all increments must land.
      calls.push(
        settle(ledger.updateBalance({ accountId: ids[0]!, delta: 1n, transactionId: `cons-u${i}` })),
      );
    }
    const results = (await Promise.all(calls)) as { ok: boolean; err?: unknown }[];
    for (const r of results) if (!r.ok) expect((r.err as LedgerError).code).toBe('FAILED_PRECONDITION');
    const snapshot = await b.getSnapshot(true);
    const sum = snapshot.accounts!.reduce((s, acc) => s + acc.balance, 0n);
    expect(sum).toBe(snapshot.totalBalance);
    expect(snapshot.totalBalance).toBe(8_000n + 600n);
    // Dense positions in commit order, one per committed write, and replaying the log by position
    // reproduces every entry's balances and the final ones.
    const log = await sql<
      {
        position: string;
        operation: string;
        account_id: string;
        balance_after: string;
        to_account_id: string | null;
        to_balance_after: string | null;
        amount: string;
      }[]
    >`
      SELECT position, operation, account_id, balance_after, to_account_id, to_balance_after, amount FROM ledger_log ORDER BY position`;
    expect(log.map((r) => Number(r.position))).toEqual(log.map((_, i) => i + 1));
    expect(snapshot.logPosition).toBe(log.length);
    const balances = new Map<string, bigint>();
    for (const r of log) {
      const amount = BigInt(r.amount);
      if (r.operation === 'create') balances.set(r.account_id, amount);
      else if (r.operation === 'update') balances.set(r.account_id, balances.get(r.account_id)! + amount);
      else {
        balances.set(r.account_id, balances.get(r.account_id)! - amount);
        balances.set(r.to_account_id!, balances.get(r.to_account_id!)! + amount);
        expect(balances.get(r.to_account_id!)).toBe(BigInt(r.to_balance_after!));
      }
      expect(balances.get(r.account_id)).toBe(BigInt(r.balance_after));
    }
    for (const acc of snapshot.accounts!) expect(balances.get(acc.id)).toBe(acc.balance);
    // Versions: +1 per committed change.
    const changes = new Map<string, number>();
    for (const r of log) {
      for (const id of [r.account_id, r.to_account_id])
        if (id !== null) changes.set(id, (changes.get(id) ?? -1) + 1);
    }
    for (const acc of snapshot.accounts!) expect(acc.version).toBe(changes.get(acc.id));
  });

  it('executes an id sent to both instances at once exactly once; the others replay it', async () => {
    await a.createAccount({ accountId: 'storm', initialBalance: 0n });
    const calls: Promise<{ ok: boolean; value?: WriteOutcome; err?: unknown }>[] = [];
    for (let id = 0; id < 40; id++) {
      for (let copy = 0; copy < 6; copy++) {
        const ledger = copy % 2 === 0 ? a : b;
        calls.push(
          settle(ledger.updateBalance({ accountId: 'storm', delta: 10n, transactionId: `storm-${id}` })),
        );
      }
    }
    const results = await Promise.all(calls);
    expect(results.every((r) => r.ok)).toBe(true);
    for (let id = 0; id < 40; id++) {
      const copies = results.slice(id * 6, id * 6 + 6).map((r) => r.value!);
      expect(copies.filter((c) => !c.replayed)).toHaveLength(1);
      for (const c of copies) expect(c.result).toEqual(copies[0]!.result);
    }
    expect((await a.getBalance('storm')).balance).toBe(400n);
    const [count] = await sql<
      { n: string }[]
    >`SELECT count(*) AS n FROM ledger_log WHERE transaction_id LIKE 'storm-%'`;
    expect(Number(count!.n)).toBe(40);
  });

  it('fails only the overdraft of a group, not its neighbours, and replays recorded failures', async () => {
    await a.createAccount({ accountId: 'iso-rich', initialBalance: 1_000n });
    await a.createAccount({ accountId: 'iso-poor', initialBalance: 5n });
    await a.createAccount({ accountId: 'iso-sink', initialBalance: 0n });
    const calls = [];
    for (let i = 0; i < 20; i++) {
      const fromId = i % 4 === 0 ? 'iso-poor' : 'iso-rich';
      calls.push(
        settle(a.transferFunds({ fromId, toId: 'iso-sink', amount: 10n, transactionId: `iso-${i}` })),
      );
    }
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.ok)).toHaveLength(15);
    const failed = results.filter((r) => !r.ok).map((r) => (r.err as LedgerError).message);
    expect(new Set(failed)).toEqual(
      new Set(['Insufficient balance in account iso-poor: current=5, required=10']),
    );
    expect((await b.getBalance('iso-sink')).balance).toBe(150n);
    // The recorded failure replays from the other instance, with the replay flag.
    const again = await settle(
      b.transferFunds({ fromId: 'iso-poor', toId: 'iso-sink', amount: 10n, transactionId: 'iso-0' }),
    );
    if (again.ok) throw new Error('the recorded failure was not replayed');
    expect((again.err as LedgerError).replayed).toBe(true);
    expect((again.err as LedgerError).code).toBe('FAILED_PRECONDITION');
  });

  it('records the principal of each write and finds entries by transaction id from either instance', async () => {
    await a.createAccount({ accountId: 'who', initialBalance: 3n, transactionId: 'who-create' }, 'alice');
    await b.updateBalance({ accountId: 'who', delta: 2n, transactionId: 'who-update' });
    expect((await b.getTransaction('who-create')).principal).toBe('alice');
    const update = await a.getTransaction('who-update');
    expect(update.principal).toBe('');
    expect(update.balancesAfter).toEqual([5n]);
  });

  it('commits a batch at consecutive positions and rolls back a failed linked chain on another instance', async () => {
    await a.createAccount({ accountId: 'chain-a', initialBalance: 10n });
    const outcomes = await b.executeBatch([
      { kind: 'update', input: { accountId: 'chain-a', delta: 5n, transactionId: 'chain-1' }, linked: true },
      {
        kind: 'update',
        input: { accountId: 'chain-a', delta: -100n, transactionId: 'chain-2' },
        linked: false,
      },
      { kind: 'update', input: { accountId: 'chain-a', delta: 1n, transactionId: 'chain-3' }, linked: false },
    ]);
    expect(outcomes.map((o) => (o.ok ? 'OK' : o.error.code))).toEqual([
      'ABORTED',
      'FAILED_PRECONDITION',
      'OK',
    ]);
    expect((await a.getBalance('chain-a')).balance).toBe(11n);
    // Nothing of the failed chain was recorded: its ids are free again.
    const again = await a.updateBalance({ accountId: 'chain-a', delta: 5n, transactionId: 'chain-1' });
    expect(again.replayed).toBe(false);
  });

  it('creates an account once when both instances race to create it', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        settle((i % 2 === 0 ? a : b).createAccount({ accountId: 'race', initialBalance: 7n })),
      ),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((r) => !r.ok))
      expect((r.err as LedgerError).message).toBe('Account race already exists');
  });
});
