import type { Worker } from 'node:worker_threads';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError } from '../src/domain/errors.js';
import { LIMITS } from '../src/domain/limits.js';
import { PgWorkerLedger } from '../src/engine/postgres/pg-worker-ledger.js';
import type { StorageFailure } from '../src/engine/storage.js';
import { runConformance } from '../src/harness/conformance/index.js';
import { type RunningServer, startLedgerServer } from '../src/server/ledger-server.js';
import { createTestDatabase, holdRowLocks, openTestLedger, type TestDatabase } from './pg-fixture.js';

/**
 * The database client on a worker thread (serve's default, --db-thread worker): the same contract
 * as PgLedger on the main thread, a clean end at close, and a worker that dies is UNAVAILABLE and
 * a storage failure (health NOT_SERVING, serve exits), never a wrong answer and never a hang.
 */
describe('PostgreSQL: the database client on a worker thread', () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  const opened: PgWorkerLedger[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    // Migrated once here; the worker ledgers below open the migrated schema.
    await (await openTestLedger(db.url)).close();
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
  });

  afterEach(async () => {
    for (const ledger of opened.splice(0)) await ledger.close();
  });

  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  const open = async (): Promise<{ ledger: PgWorkerLedger; worker: Worker; exited: Promise<number> }> => {
    let worker!: Worker;
    const ledger = await PgWorkerLedger.open(
      {
        url: db.url,
        poolSize: LIMITS.defaultPgPoolSize,
        statementTimeoutMs: LIMITS.defaultPgStatementTimeoutMs,
        connectTimeoutMs: LIMITS.defaultPgConnectTimeoutMs,
      },
      (w) => (worker = w),
    );
    opened.push(ledger);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    return { ledger, worker, exited };
  };

  /** Another transaction holds the account's row lock until the returned function is called. */
  const lockAccount = (id: string) =>
    holdRowLocks(sql, (tx) => tx`SELECT id FROM ledger_accounts WHERE id = ${id} FOR UPDATE`);

  const failureOf = (ledger: PgWorkerLedger) =>
    new Promise<StorageFailure>((resolve) => ledger.onStorageFailure(resolve));

  const rejection = async (p: Promise<unknown>): Promise<LedgerError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LedgerError);
    return err as LedgerError;
  };

  it('passes every conformance rule through a gRPC server', async () => {
    const { ledger } = await open();
    let server: RunningServer | undefined;
    try {
      server = await startLedgerServer({
        host: '127.0.0.1',
        port: 0,
        engine: ledger,
        logger: pino({ level: 'silent' }),
      });
      const { verdicts } = await runConformance(server.target, { deadlineMs: 10_000 });
      const failed = verdicts.filter((v) => !v.passed).map((v) => `${v.name}: ${v.evidence.join('; ')}`);
      expect(failed).toEqual([]);
      expect(verdicts.length).toBeGreaterThan(20);
    } finally {
      await server?.shutdown();
    }
  });

  it('answers writes in flight at close, then ends the thread', async () => {
    const { ledger, exited } = await open();
    await ledger.createAccount({ accountId: 'w-close', initialBalance: 10n, transactionId: 'w-close-0' });
    const unlock = await lockAccount('w-close');
    const write = ledger.updateBalance({ accountId: 'w-close', delta: 1n, transactionId: 'w-close-1' });
    const closed = ledger.close();
    // Refused at once while the one in flight waits for its lock.
    const refused = await rejection(
      ledger.updateBalance({ accountId: 'w-close', delta: 1n, transactionId: 'x' }),
    );
    expect([refused.code, refused.message]).toEqual(['UNAVAILABLE', 'Ledger is shutting down']);
    await unlock();
    expect((await write).result.accounts[0]!.balance).toBe(11n);
    await closed;
    expect(await exited).toBe(0);
  });

  it('a worker that is ended fails its calls in flight with UNAVAILABLE and reports a storage failure', async () => {
    const { ledger, worker, exited } = await open();
    await ledger.createAccount({ accountId: 'w-end', initialBalance: 10n, transactionId: 'w-end-0' });
    const servingSeen: boolean[] = [];
    ledger.watchServing((s) => servingSeen.push(s));
    const failure = failureOf(ledger);
    const unlock = await lockAccount('w-end');
    try {
      const write = ledger.updateBalance({ accountId: 'w-end', delta: 1n, transactionId: 'w-end-1' });
      await new Promise((r) => setTimeout(r, 100));
      await worker.terminate();
      await exited;
      const err = await rejection(write);
      expect([err.code, err.message]).toEqual(['UNAVAILABLE', 'Ledger storage is unavailable; retry later']);
      expect((await failure).reason).toMatch(/database worker thread exited/);
      expect(servingSeen).toEqual([true, false]);
      // Every later call too, reads included: nothing is answered from a dead worker.
      expect((await rejection(ledger.getBalance('w-end'))).code).toBe('UNAVAILABLE');
      expect(
        (await rejection(ledger.updateBalance({ accountId: 'w-end', delta: 1n, transactionId: 'w-end-2' })))
          .code,
      ).toBe('UNAVAILABLE');
    } finally {
      await unlock();
    }
    // The write's connection died with the thread after its whole transaction, COMMIT included,
    // was sent: once the lock is free the database may commit it or roll it back (an answer lost
    // with its connection, like a lost COMMIT's). Either way it counts at most once, and only with
    // its id's record, so a retry with that id replays it. One statement, so both are read at one
    // snapshot: two could straddle that commit (seen: balance 10 read before it, the record after).
    const [row] = await sql<{ balance: string; recorded: boolean }[]>`
      SELECT (SELECT balance::text FROM ledger_accounts WHERE id = 'w-end') AS balance,
        EXISTS (SELECT 1 FROM ledger_txids WHERE id = 'w-end-1') AS recorded`;
    expect(row!.balance).toBe(row!.recorded ? '11' : '10');
    await ledger.close();
  });

  it('a worker that throws (a bug) is a storage failure, not an answer', async () => {
    const { ledger, worker, exited } = await open();
    const failure = failureOf(ledger);
    // A call the worker does not know: its handler throws outside any call, the thread dies.
    worker.postMessage({ type: 'calls', calls: [{ id: -1, kind: 'no-such-call' }] });
    expect((await failure).reason).toMatch(/database worker thread crashed/);
    expect(await exited).not.toBe(0);
    expect((await rejection(ledger.getSnapshot(false))).code).toBe('UNAVAILABLE');
    await ledger.close();
  });

  it('refuses to open with the one-line database error of PgLedger', async () => {
    const bad = new URL(db.url);
    bad.port = '1';
    const err = await PgWorkerLedger.open({
      url: bad.toString(),
      poolSize: 2,
      statementTimeoutMs: 1_000,
      connectTimeoutMs: 1_000,
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe('DatabaseError');
    expect(err?.message).toMatch(/^cannot reach the database at 127\.0\.0\.1:1\//);
  });
});
