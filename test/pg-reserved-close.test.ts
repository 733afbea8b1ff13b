import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../src/domain/limits.js';
import { withReservedConnection } from '../src/engine/postgres/pg-connect.js';
import { PgPool } from '../src/engine/postgres/pg-pool.js';
import { createTestDatabase, type TestDatabase, terminateWhenWaiting } from './pg-fixture.js';

/**
 * A group's pipeline can fail with a statement's own error (a deadlock, a unique violation, the
 * cached path's refusals) while a later statement of it loses the connection: PostgreSQL stopped
 * under it. The first failure is what the group reports, and it is no connection failure, so the
 * connection used to be rolled back and given back: postgres.js 3.4.9 then wrote the ROLLBACK to
 * the closed socket from a timer, an uncaught TypeError that ended `serve` (the PostgreSQL-restart
 * test at load average 10-16: 5 of 30 runs lost a server; the log kept of one shows this error). A reserved connection of a pool that saw any close is now
 * neither rolled back nor given back (its pool is retired and ends it; pg-pool.ts).
 */
describe('PostgreSQL: a reserved connection that closed under a failing statement', () => {
  let db: TestDatabase;
  let admin: postgres.Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = postgres(db.url, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('is not written to again', async () => {
    const pool = new PgPool(
      {
        url: db.url,
        poolSize: 2,
        statementTimeoutMs: LIMITS.defaultPgStatementTimeoutMs,
        connectTimeoutMs: LIMITS.defaultPgConnectTimeoutMs,
      },
      1_000,
    );
    try {
      const failed = withReservedConnection(pool.sql, async (tx) => {
        const refused = tx`SELECT 1 / 0`;
        const cut = tx`SELECT pg_sleep(30)`;
        const settled = await Promise.allSettled([refused, cut]);
        // The statement's own error first, as a group's pipeline reports it.
        for (const s of settled) if (s.status === 'rejected') throw s.reason;
      }).then(
        () => 'committed',
        (err: { code?: string }) => err.code ?? String(err),
      );
      await terminateWhenWaiting(admin, 'ledgerctl', 'sleep');
      expect(await failed).toBe('22012');
      // A turn for any timer postgres.js set on the closed connection (the old ROLLBACK's write).
      await new Promise((r) => setTimeout(r, 200));
      // The pool serves on, on a connection that never closed.
      expect(await pool.sql`SELECT 1 AS n`).toEqual([{ n: 1 }]);
    } finally {
      await pool.end(1_000);
    }
  });
});
