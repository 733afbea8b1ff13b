import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConformance } from '../src/harness/conformance/index.js';
import { type RunningServer, startLedgerServer } from '../src/server/ledger-server.js';
import { createTestDatabase, openTestLedger, type TestDatabase } from './pg-fixture.js';

/** The whole conformance kit against a server whose ledger lives in PostgreSQL. */
describe('ledger.v1 contract on PostgreSQL', () => {
  let db: TestDatabase;
  let server: RunningServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startLedgerServer({
      host: '127.0.0.1',
      port: 0,
      engine: await openTestLedger(db.url),
      logger: pino({ level: 'silent' }),
    });
  });

  afterAll(async () => {
    await server?.shutdown();
    await db?.drop();
  });

  it('passes every conformance rule', async () => {
    const { verdicts } = await runConformance(server.target, { deadlineMs: 10_000 });
    const failed = verdicts.filter((v) => !v.passed).map((v) => `${v.name}: ${v.evidence.join('; ')}`);
    expect(failed).toEqual([]);
    expect(verdicts.length).toBeGreaterThan(20);
  });
});
