import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../src/engine/clock.js';
import { Availability } from '../src/engine/postgres/pg-availability.js';
import type { PgLedger } from '../src/engine/postgres/pg-ledger.js';
import { TxidSweep } from '../src/engine/postgres/pg-txid-sweep.js';
import { createTestDatabase, openTestLedger, type TestDatabase } from './pg-fixture.js';

/** A clock the test moves by hand: expiry without waiting a TTL. */
function manualClock(): Clock & { advanceMs(ms: number): void } {
  let offsetMs = 0;
  return {
    nowMs: () => Date.now() + offsetMs,
    nowNs: () => BigInt(Date.now() + offsetMs) * 1_000_000n,
    advanceMs: (ms) => {
      offsetMs += ms;
    },
  };
}

describe('transaction-id expiry in PostgreSQL', () => {
  let db: TestDatabase;
  let ledger: PgLedger;
  let sql: postgres.Sql;
  const clock = manualClock();

  beforeAll(async () => {
    db = await createTestDatabase();
    ledger = await openTestLedger(db.url, { clock, txidTtlMs: 60_000 });
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await ledger?.close();
    await sql?.end();
    await db?.drop();
  });

  const count = async () =>
    Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_txids`)[0]!.n);

  it('treats an expired id as new at once, and the sweep deletes expired records without waiting for a held one', async () => {
    await ledger.createAccount({ accountId: 'exp', initialBalance: 0n });
    for (let i = 0; i < 1_200; i++) {
      await ledger.updateBalance({ accountId: 'exp', delta: 1n, transactionId: `exp-${i}` });
    }
    expect(await count()).toBe(1_200);
    // Before expiry: a replay. After: the same id executes again (no sweep needed for that).
    expect(
      (await ledger.updateBalance({ accountId: 'exp', delta: 1n, transactionId: 'exp-0' })).replayed,
    ).toBe(true);
    clock.advanceMs(61_000);
    const again = await ledger.updateBalance({ accountId: 'exp', delta: 1n, transactionId: 'exp-0' });
    expect(again.replayed).toBe(false);
    expect(again.result.accounts[0]!.balance).toBe(1_201n);

    // A writer holds one expired record (its row lock) while the sweep runs: the sweep skips it
    // instead of waiting, and deletes every other expired record in batches.
    const held = await sql.reserve();
    await held`BEGIN`;
    await held`SELECT id FROM ledger_txids WHERE id = 'exp-7' FOR UPDATE`;
    const sweep = new TxidSweep(sql, clock, new Availability(sql, 1_000, 10_000));
    const started = performance.now();
    const removed = await sweep.pass();
    const tookMs = performance.now() - started;
    await held`ROLLBACK`;
    held.release();
    expect(removed).toBe(1_198);
    expect(tookMs).toBeLessThan(5_000);
    const left = (await sql<{ id: string }[]>`SELECT id FROM ledger_txids ORDER BY id`).map((r) => r.id);
    // exp-0 was claimed again (a live record), exp-7 was held.
    expect(left).toEqual(['exp-0', 'exp-7']);
  });
});
