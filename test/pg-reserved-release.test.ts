import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import { createTestDatabase, openTestLedger, type TestDatabase } from './pg-fixture.js';

const settled = <T>(work: Promise<T>, ms: number): Promise<string> =>
  Promise.race([
    work.then(
      () => 'ok',
      (err: unknown) => (err instanceof LedgerError ? err.code : String(err)),
    ),
    new Promise<string>((r) => setTimeout(() => r('no answer'), ms)),
  ]);

/**
 * A snapshot with accounts runs on a reserved connection. Refused because the ledger has more
 * accounts than `maxSnapshotAccounts` (RESOURCE_EXHAUSTED, decided inside that transaction), it
 * must roll back and give the connection back: a LedgerError carries a string code too, and was
 * once taken for a lost connection, so each refusal kept one connection of the pool reserved (in an
 * open transaction) for good, and after pool-size refusals every call of that server hung.
 */
describe('PostgreSQL: a refused snapshot gives its connection back', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('serves after more refusals than the pool has connections', async () => {
    const ledger = await openTestLedger(db.url, { poolSize: 3, maxSnapshotAccounts: 1 });
    try {
      for (const id of ['rs-a', 'rs-b']) await ledger.createAccount({ accountId: id, initialBalance: 5n });
      for (let i = 0; i < 6; i++)
        expect(await settled(ledger.getSnapshot(true), 3_000)).toBe('RESOURCE_EXHAUSTED');
      expect(await settled(ledger.getBalance('rs-a'), 3_000)).toBe('ok');
      expect(
        await settled(
          ledger.transferFunds({ fromId: 'rs-a', toId: 'rs-b', amount: 1n, transactionId: 'rs-t' }),
          3_000,
        ),
      ).toBe('ok');
      expect(await settled(ledger.getSnapshot(false), 3_000)).toBe('ok');
    } finally {
      await ledger.close();
    }
  });
});
