import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgLedger } from '../src/engine/postgres/pg-ledger.js';
import {
  balanceIn,
  createTestDatabase,
  lockBarrierRows,
  openTestLedger,
  settled,
  type TestDatabase,
  until,
} from './pg-fixture.js';

/**
 * --db-commit overlap: group transactions commit asynchronously (the head row is free at COMMIT),
 * and nothing derived from a commit is answered before a synchronous barrier flushed it. The
 * barrier is held back here by locking every ledger_flush_barrier row from another connection:
 * the writes must commit (visible in the database) and the next group must get past the head row,
 * yet no write and no read may be answered until the barrier can run.
 */
describe('PostgreSQL: answers wait for the flush barrier', () => {
  let db: TestDatabase;
  let ledger: PgLedger;
  let sql: postgres.Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await openTestLedger(db.url, { commitMode: 'overlap' });
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await ledger?.close();
    await sql?.end();
    await db?.drop();
  });

  it('commits groups past the head row but answers writes and reads only after the barrier', async () => {
    await ledger.createAccount({ accountId: 'fb-a', initialBalance: 100n });
    await ledger.createAccount({ accountId: 'fb-b', initialBalance: 0n });

    const unlock = await lockBarrierRows(sql);

    let finished = false;
    const unblock = async () => {
      if (finished) return;
      finished = true;
      await unlock();
    };
    try {
      const first = ledger.updateBalance({ accountId: 'fb-a', delta: 5n, transactionId: 'fb-1' });
      const firstState = settled(first);
      await until(async () => (await balanceIn(sql, 'fb-a')) === '105');
      // A second group runs while the first waits for its barrier: the head row was released at
      // COMMIT (with per-group flushes it would be held until the first's flush).
      const second = ledger.transferFunds({
        fromId: 'fb-a',
        toId: 'fb-b',
        amount: 7n,
        transactionId: 'fb-2',
      });
      const secondState = settled(second);
      await until(async () => (await balanceIn(sql, 'fb-b')) === '7');
      // A read sees the committed, not yet flushed, balance: it must wait for a barrier too.
      const read = ledger.getBalance('fb-a');
      const readState = settled(read);
      const snapshot = ledger.getSnapshot(false);
      const snapshotState = settled(snapshot);
      await new Promise((r) => setTimeout(r, 300));
      expect(firstState.done).toBe(false);
      expect(secondState.done).toBe(false);
      expect(readState.done).toBe(false);
      expect(snapshotState.done).toBe(false);

      await unblock();
      expect((await first).result.accounts.map((a) => a.balance)).toEqual([105n]);
      expect((await second).result.accounts.map((a) => a.balance)).toEqual([98n, 7n]);
      expect((await read).balance).toBe(98n);
      expect((await snapshot).logPosition).toBe(4);
    } finally {
      await unblock();
    }
  });

  it('--db-commit per-group answers without a barrier (each group waits for its own flush)', async () => {
    const perGroup = await openTestLedger(db.url, { commitMode: 'per-group' });
    try {
      await perGroup.createAccount({ accountId: 'fb-c', initialBalance: 1n });
      const unlock = await lockBarrierRows(sql);
      const answer = await perGroup.updateBalance({ accountId: 'fb-c', delta: 1n, transactionId: 'fb-3' });
      expect(answer.result.accounts.map((a) => a.balance)).toEqual([2n]);
      expect((await perGroup.getBalance('fb-c')).balance).toBe(2n);
      await unlock();
    } finally {
      await perGroup.close();
    }
  });
});
