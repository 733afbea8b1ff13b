import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { expect, inject } from 'vitest';
import { LIMITS } from '../src/domain/limits.js';
import { PgLedger, type PgLedgerOptions } from '../src/engine/postgres/pg-ledger.js';

/** A fresh database on the test PostgreSQL (see pg-global-setup.ts), dropped by `drop`. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `ledgerctl_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await sql.end();
    },
  };
}

export function openTestLedger(url: string, options: Partial<PgLedgerOptions> = {}): Promise<PgLedger> {
  return PgLedger.open({
    url,
    migrate: true,
    poolSize: LIMITS.defaultPgPoolSize,
    statementTimeoutMs: LIMITS.defaultPgStatementTimeoutMs,
    connectTimeoutMs: LIMITS.defaultPgConnectTimeoutMs,
    ...options,
  });
}

/**
 * Runs `lock` in a transaction of its own on `sql` and holds whatever row locks it took until the
 * returned function is called (which then waits for that transaction to end).
 */
export async function holdRowLocks(
  sql: postgres.Sql,
  lock: (tx: postgres.TransactionSql) => Promise<unknown>,
): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const holding = new Promise<void>((r) => (locked = r));
  const blocker = sql.begin(async (tx) => {
    await lock(tx);
    locked();
    await released;
  });
  await holding;
  return async () => {
    release();
    await blocker;
  };
}

/** Whether `p` has settled yet, read synchronously (`.done`): what a test holding a barrier or a lock checks. */
export function settled<T>(p: Promise<T>): { done: boolean } {
  const state = { done: false };
  p.then(
    () => (state.done = true),
    () => (state.done = true),
  );
  return state;
}

/** Another transaction holds every flush-barrier row of `on` until the returned function is called. */
export function lockBarrierRows(on: postgres.Sql): Promise<() => Promise<void>> {
  return holdRowLocks(on, (tx) => tx`SELECT slot FROM ledger_flush_barrier ORDER BY slot FOR UPDATE`);
}

/** An account's balance as the database has it (committed, flushed or not). */
export async function balanceIn(on: postgres.Sql, id: string): Promise<string | undefined> {
  return (await on<{ balance: string }[]>`SELECT balance::text FROM ledger_accounts WHERE id = ${id}`)[0]
    ?.balance;
}

/** Polls `what` every 25 ms for up to 10 s; fails the test if it never holds. */
export async function until(what: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await what()); i++) await new Promise((r) => setTimeout(r, 25));
  expect(await what()).toBe(true);
}

/**
 * Terminates the backends named `applicationName` on this database once one of them waits, on a
 * row lock or in pg_sleep: how a test cuts a session in the middle of a statement.
 */
export async function terminateWhenWaiting(
  admin: postgres.Sql,
  applicationName: string,
  on: 'lock' | 'sleep',
): Promise<void> {
  for (let i = 0; ; i++) {
    const [row] = await admin<{ n: number }[]>`
      SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = ${applicationName}
        AND ${on === 'lock' ? admin`wait_event_type = 'Lock'` : admin`wait_event = 'PgSleep'`}`;
    if (row!.n > 0) return;
    if (i > 200) throw new Error(`no ${applicationName} backend ever waited (${on})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
