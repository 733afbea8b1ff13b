import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import type { PgLedger } from '../src/engine/postgres/pg-ledger.js';
import { createTestDatabase, openTestLedger, type TestDatabase } from './pg-fixture.js';
import { TcpCutProxy } from './tcp-cut-proxy.js';

/** Far below the group timeout (statement + connect timeout, 10 s here): the watchdog's loss path. */
const ANSWER_WITHIN_MS = 4_000;

/**
 * postgres.js 3.4 leaves the statements queued on a reserved connection pending forever when that
 * connection dies. A group transaction runs on a reserved connection, so PgLedger guards each with
 * a watchdog: a lost database abandons the groups in flight. Here a group is cut off in the middle
 * (its row lock wait is in flight, the rest of its first round trip queued behind it) by cutting
 * the TCP connection under it, with a FIN (postgres.js fails the queries) or a RST (postgres.js
 * leaves them pending forever: only the watchdog answers): the write must be answered UNAVAILABLE
 * promptly, and the server must serve again once the database is back (a dead reserved connection
 * given back to the pool used to crash the process and keep it NOT_SERVING).
 */
describe('PostgreSQL: a connection cut in the middle of a group transaction', () => {
  let db: TestDatabase;
  let proxy: TcpCutProxy;
  let viaProxy: string;
  let direct: postgres.Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    const upstream = new URL(db.url);
    proxy = await TcpCutProxy.start(upstream.hostname, Number(upstream.port || 5432));
    const url = new URL(db.url);
    url.port = String(proxy.port);
    viaProxy = url.toString();
    const setup = await openTestLedger(db.url);
    for (const id of ['wd-a', 'wd-b']) await setup.createAccount({ accountId: id, initialBalance: 10n });
    await setup.close();
    direct = postgres(db.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await proxy?.close();
    await direct?.end();
    await db?.drop();
  });

  it.each([
    ['closed (FIN)', false, 'wd-a'],
    ['reset (RST)', true, 'wd-b'],
  ] as const)('answers the group’s writes UNAVAILABLE at once, connection %s', async (_, reset, account) => {
    // A fresh server: none of its connections has prepared the group's statements yet, so
    // postgres.js holds the statements behind the first one in its own queue (each waits for its
    // statement description): exactly what it never fails when the connection dies.
    const ledger: PgLedger = await openTestLedger(viaProxy);
    const txid = `${account}-1`;
    // Another transaction (not through the proxy) holds an uncommitted claim of the same id, so
    // the group waits in its first statement (INSERT ... ON CONFLICT) until it is cut.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const holding = new Promise<void>((r) => (inserted = r));
    const holder = direct
      .begin(async (tx) => {
        await tx`INSERT INTO ledger_txids (id, fingerprint, expires_at_ms, outcome)
          VALUES (${txid}, 'held', ${String(Date.now() + 3_600_000)}::int8, '')`;
        inserted();
        await released;
        throw new Error('roll back');
      })
      .catch(() => {});
    await holding;
    try {
      const t0 = performance.now();
      const write = ledger.updateBalance({ accountId: account, delta: 1n, transactionId: txid });
      const outcome = write.then(
        () => 'acknowledged',
        (err: unknown) => (err instanceof LedgerError ? err.code : String(err)),
      );
      // Wait until the group is blocked on the held claim, then cut the connection under it.
      for (let i = 0; i < 200; i++) {
        const [row] = await direct<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`;
        if (row!.n > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await proxy.cut({ reset });
      const answer = await Promise.race([
        outcome,
        new Promise<string>((r) => setTimeout(() => r('no answer'), ANSWER_WITHIN_MS)),
      ]);
      expect(answer).toBe('UNAVAILABLE');
      expect(performance.now() - t0).toBeLessThan(ANSWER_WITHIN_MS);
    } finally {
      release();
      await holder;
      await proxy.restore();
    }
    try {
      // Nothing of the cut group committed: the id is free and the write executes once when resent.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const resent = await ledger.updateBalance({ accountId: account, delta: 1n, transactionId: txid });
          expect(resent.replayed).toBe(false);
          expect(resent.result.accounts[0]!.balance).toBe(11n);
          break;
        } catch (err) {
          // UNAVAILABLE until the probe found the database again.
          if (!(err instanceof LedgerError) || err.code !== 'UNAVAILABLE' || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      await ledger.close();
    }
  });
});
