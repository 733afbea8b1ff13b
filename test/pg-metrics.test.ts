import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerClient } from '../src/client/ledger-client.js';
import { startServeWithMetrics } from './cli-run.js';
import { createTestDatabase, type TestDatabase } from './pg-fixture.js';
import { type Sample, scrape, value } from './prometheus-text.js';

/** The metrics endpoint of a server on PostgreSQL shows its group transactions (ledger_pg_*). */
describe('ledgerctl serve --database-url --metrics-addr', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it.each(['main', 'worker'])(
    'counts group transactions and their writes (--db-thread %s)',
    async (thread) => {
      const { serve, target, metricsAddr } = await startServeWithMetrics([
        '--migrate',
        '--database-url',
        db.url,
        '--db-thread',
        thread,
      ]);
      try {
        const client = new LedgerClient(target, { deadlineMs: 10_000 });
        await client.createAccount(`m-a-${thread}`, 1_000n, `m-create-a-${thread}`);
        await client.createAccount(`m-b-${thread}`, 0n, `m-create-b-${thread}`);
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            client.transferFunds(`m-a-${thread}`, `m-b-${thread}`, 1n, `m-t${i}-${thread}`),
          ),
        );
        client.close();
        // The worker sends its figures every second: wait for the last writes to show.
        let samples: Sample[] = [];
        const deadline = Date.now() + 5_000;
        do {
          samples = (await scrape(metricsAddr)).samples;
          if (value(samples, 'ledger_pg_group_writes_total') === 12) break;
          await new Promise((r) => setTimeout(r, 100));
        } while (Date.now() < deadline);
        expect(value(samples, 'ledger_pg_group_writes_total')).toBe(12);
        const groups = value(samples, 'ledger_pg_groups_total')!;
        expect(groups).toBeGreaterThanOrEqual(3); // two creates one after the other, then the transfers
        expect(groups).toBeLessThanOrEqual(12);
        // BEGIN, at least one statement, COMMIT: every group sent at least 3.
        expect(value(samples, 'ledger_pg_statements_total')).toBeGreaterThanOrEqual(3 * groups);
        expect(value(samples, 'ledger_pg_cached_groups_total')).toBeLessThanOrEqual(groups);
        expect(value(samples, 'ledger_pg_stale_groups_total')).toBe(0);
        expect(value(samples, 'ledger_pg_group_retries_total')).toBe(0);
        expect(value(samples, 'ledger_pg_pools_replaced_total')).toBe(0);
        // --db-commit auto (the default) says which way it commits now: a fast disk or a slow one.
        expect([0, 1]).toContain(value(samples, 'ledger_pg_commit_async'));
        expect(value(samples, 'ledger_pg_async_groups_total')).toBeLessThanOrEqual(groups);
      } finally {
        serve.child.kill('SIGTERM');
        expect((await serve.result).code).toBe(0);
      }
    },
  );
});
