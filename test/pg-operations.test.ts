import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthClient } from '../src/client/health-client.js';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { SCHEMA_VERSION } from '../src/engine/postgres/pg-migrations.js';
import { CliProcess, cleanEnv, runCli } from './cli-run.js';
import { createTestDatabase, type TestDatabase } from './pg-fixture.js';
import { TcpCutProxy } from './tcp-cut-proxy.js';

async function callError(work: Promise<unknown>): Promise<LedgerCallError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof LedgerCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** `ledgerctl migrate` and `serve --database-url` as a user runs them. */
describe('serve and migrate on PostgreSQL', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('refuses an unmigrated database, migrates it once, then says nothing to do', async () => {
    const refused = await runCli(['serve', '--port', '0', '--database-url', db.url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `ledgerctl: database schema version 0 is older than this ledgerctl needs (${SCHEMA_VERSION}); run \`ledgerctl migrate --database-url ...\` or start serve with --migrate\n`,
    );
    const first = await runCli(['migrate'], cleanEnv({ LEDGER_DATABASE_URL: db.url }));
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^(applied \d+: .*\n)+schema of .* migrated from version 0 to \d+\n$/);
    const again = await runCli(['migrate', '--database-url', db.url]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/is at version \d+: nothing to do\n$/);
  });

  it('refuses a database whose schema is newer than the binary, changing nothing', async () => {
    const other = await createTestDatabase();
    try {
      expect((await runCli(['migrate', '--database-url', other.url])).code).toBe(0);
      const sql = postgres(other.url, { max: 1, onnotice: () => {} });
      await sql`UPDATE ledger_schema SET version = ${SCHEMA_VERSION + 1}`;
      await sql.end();
      const expected = `ledgerctl: database schema version ${SCHEMA_VERSION + 1} is newer than this ledgerctl supports (${SCHEMA_VERSION}); upgrade ledgerctl\n`;
      for (const args of [['migrate'], ['serve', '--port', '0', '--migrate']]) {
        const result = await runCli([...args, '--database-url', other.url]);
        expect(result.code).toBe(2);
        expect(result.stderr).toBe(expected);
      }
    } finally {
      await other.drop();
    }
  });

  it('exits 2 with one line when the database is unreachable at start', async () => {
    const proxy = await TcpCutProxy.start('127.0.0.1', 1);
    await proxy.cut();
    const url = `postgres://u:secret@127.0.0.1:${proxy.port}/nowhere`;
    try {
      const result = await runCli([
        'serve',
        '--port',
        '0',
        '--database-url',
        url,
        '--db-connect-timeout',
        '2s',
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^ledgerctl: cannot reach the database at 127\.0\.0\.1:\d+\/nowhere: [^\n]+\n$/,
      );
      expect(result.stderr).not.toContain('secret');
    } finally {
      await proxy.close();
    }
  });

  it.each(['main', 'worker'])(
    'goes NOT_SERVING with UNAVAILABLE calls while the database is gone, then SERVING again without a restart, and ends at SIGTERM (--db-thread %s)',
    async (thread) => {
      const upstream = new URL(db.url);
      const proxy = await TcpCutProxy.start(upstream.hostname, Number(upstream.port || 5432));
      const viaProxy = new URL(db.url);
      viaProxy.port = String(proxy.port);
      const server = new CliProcess([
        'serve',
        '--port',
        '0',
        '--migrate',
        '--database-url',
        viaProxy.toString(),
        '--db-thread',
        thread,
      ]);
      let stopped = false;
      try {
        const target = (await server.firstLine()).match(/listening on (\S+)/)![1]!;
        const client = new LedgerClient(target, { deadlineMs: 10_000 });
        const health = new HealthClient(target);
        await client.createAccount(`ops-a-${thread}`, 100n, `ops-create-${thread}`);
        const acknowledged = await client.updateBalance(`ops-a-${thread}`, 5n, `ops-before-cut-${thread}`);
        expect(await health.check('')).toBe('SERVING');

        await proxy.cut();
        const during = await callError(
          client.updateBalance(`ops-a-${thread}`, 1n, `ops-during-cut-${thread}`),
        );
        expect(during.codeName).toBe('UNAVAILABLE');
        expect(during.details).toBe('Ledger storage is unavailable; retry later');
        expect(await health.check('')).toBe('NOT_SERVING');
        expect((await callError(client.getBalance(`ops-a-${thread}`))).codeName).toBe('UNAVAILABLE');

        await proxy.restore();
        const deadline = Date.now() + 10_000;
        while ((await health.check('')) !== 'SERVING' && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        expect(await health.check('')).toBe('SERVING');
        // Nothing acknowledged was lost; the refused write can be sent again and executes once.
        const retried = await client.updateBalance(`ops-a-${thread}`, 1n, `ops-during-cut-${thread}`);
        expect(retried.replayed).toBe(false);
        expect((await client.getBalance(`ops-a-${thread}`)).value.balance).toBe(
          acknowledged.value.account.balance + 1n,
        );
        client.close();
        health.close();
        // A clean end: drained, the database client (and its thread) closed, exit 0.
        server.child.kill('SIGTERM');
        const ended = await server.result;
        stopped = true;
        expect([ended.code, ended.signal]).toEqual([0, null]);
        // The log says why the database was taken for lost (the connection failure, one line).
        const lost = ended.stderr
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { msg?: string; reason?: unknown })
          .filter((entry) => entry.msg === 'ledger storage lost');
        expect(lost.length).toBeGreaterThan(0);
        for (const entry of lost) expect(entry.reason).toMatch(/\S/);
      } finally {
        if (!stopped) server.child.kill('SIGKILL');
        await server.result;
        await proxy.close();
      }
    },
  );
});
