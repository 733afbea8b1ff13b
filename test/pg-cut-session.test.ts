import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import { TornResult, wholeRows } from '../src/engine/postgres/pg-connect.js';
import type { PgLedger } from '../src/engine/postgres/pg-ledger.js';
import {
  createTestDatabase,
  holdRowLocks,
  openTestLedger,
  type TestDatabase,
  terminateWhenWaiting,
} from './pg-fixture.js';

/**
 * What the PostgreSQL-restart test caught once as a NOT_FOUND for an account that existed: a
 * backend of the ledger is terminated (as a fast shutdown or pg_terminate_backend does) while it
 * is sending rows. Here a group locks two accounts `ORDER BY id FOR UPDATE`; the first is free
 * (its row is sent), the second is held by another transaction, so the backend is waiting when it
 * is terminated: the client receives one row, then the FATAL error, then the close.
 *
 * postgres.js 3.4.9 keeps that session's state in the connection object (its row counter, the
 * FATAL error, the pending write) and reuses the object for the next queries: the first query on
 * it failed with the old 57P01 without running, and the next one numbered its rows from 1, so
 * `const [row] = rows` read a hole and GetBalance answered NOT_FOUND. Once the ledger serves
 * again (on its own), every read and write must succeed (src/engine/postgres/pg-pool.ts).
 */
/** Resolves once the ledger says it serves (its availability probe found the database). */
function servingAgain(ledger: PgLedger): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not serving again within 10 s')), 10_000);
    ledger.watchServing((serving) => {
      if (serving) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

describe('PostgreSQL: a session terminated while it sends rows', () => {
  let db: TestDatabase;
  let admin: postgres.Sql;
  const ids = Array.from({ length: 8 }, (_, i) => `cut-${i}`);

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = postgres(db.url, { max: 2, onnotice: () => {} });
    const setup = await openTestLedger(db.url);
    for (const id of ids) await setup.createAccount({ accountId: id, initialBalance: 100n });
    await setup.close();
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('never answers NOT_FOUND for an account that exists, and serves again', async () => {
    const ledger: PgLedger = await openTestLedger(db.url, { poolSize: 3 });
    try {
      // Every connection of the pool opened and prepared, as in a server that has been serving.
      await Promise.all(ids.map((id) => ledger.getBalance(id)));
      const unlock = await holdRowLocks(
        admin,
        (tx) => tx`SELECT 1 FROM ledger_accounts WHERE id = 'cut-1' FOR UPDATE`,
      );
      let outcome: Promise<string>;
      try {
        outcome = ledger
          .transferFunds({ fromId: 'cut-0', toId: 'cut-1', amount: 1n, transactionId: 'cut-t1' })
          .then(
            () => 'acknowledged',
            (err: unknown) => (err instanceof LedgerError ? err.code : String(err)),
          );
        // The group holds cut-0 (its row went out) and waits for cut-1: terminate that backend.
        await terminateWhenWaiting(admin, 'ledgerctl', 'lock');
        expect(await outcome).toBe('UNAVAILABLE');
      } finally {
        await unlock();
      }
      // Refused (UNAVAILABLE) while the ledger has the database lost, then served again by itself.
      await servingAgain(ledger);
      // From then on every read answers its own account: none refused by a stale error, none
      // NOT_FOUND from a torn result, however the pool's connections are shared out.
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(
          [...ids, ...ids, ...ids].map((id) =>
            ledger.getBalance(id).then(
              (a) => (a.id === id ? 'ok' : `wrong account ${a.id}`),
              (err: unknown) => (err instanceof LedgerError ? err.code : String(err)),
            ),
          ),
        );
        expect(answers.filter((a) => a !== 'ok')).toEqual([]);
      }
      // Writes too: nothing of the cut group committed (its id executes now), on sound connections.
      const after = await ledger.transferFunds({
        fromId: 'cut-0',
        toId: 'cut-1',
        amount: 1n,
        transactionId: 'cut-t1',
      });
      expect(after.result.accounts.map((a) => a.balance)).toEqual([99n, 101n]);
    } finally {
      await ledger.close();
    }
  });

  // The defect itself, on one postgres.js connection (what PgPool keeps the ledger away from), and
  // the guard every row-returning statement of the ledger goes through: a torn result is refused.
  it('refuses a result whose rows were numbered from a closed session (wholeRows)', async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {}, connection: { application_name: 'torn' } });
    try {
      // One row goes out, then the backend sleeps: terminated there, it sends that row, then FATAL.
      const streaming = sql`SELECT 1 AS n UNION ALL SELECT 2 FROM pg_sleep(30)`.then(
        () => 'answered',
        (err: { code?: string }) => err.code ?? String(err),
      );
      await terminateWhenWaiting(admin, 'torn', 'sleep');
      expect(await streaming).not.toBe('answered');
      // The same connection object, reopened: whatever postgres.js answers, a read through the
      // guard either fails or has exactly its row, never a hole where the row should be.
      const reads: string[] = [];
      for (const id of ids.slice(0, 4)) {
        reads.push(
          await sql`SELECT id FROM ledger_accounts WHERE id = ${id}`
            .then(
              (rows) => {
                const [row] = wholeRows(rows);
                return row?.id === id ? 'ok' : `read ${JSON.stringify(rows)}`;
              },
              (err: { code?: string }) => err.code ?? String(err),
            )
            .catch((err: unknown) => (err instanceof TornResult ? 'torn' : String(err))),
        );
      }
      expect(reads.filter((r) => r !== 'ok' && r !== 'torn' && r !== '57P01')).toEqual([]);
      expect(reads.at(-1)).toBe('ok');
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
