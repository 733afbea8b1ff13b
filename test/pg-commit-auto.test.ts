import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AutoCommitOptions } from '../src/engine/postgres/pg-auto-commit.js';
import type { PgLedger } from '../src/engine/postgres/pg-ledger.js';
import {
  balanceIn,
  createTestDatabase,
  lockBarrierRows,
  openTestLedger,
  settled,
  type TestDatabase,
  until,
} from './pg-fixture.js';

/**
 * --db-commit auto (docs/postgres.md, "Decision: when a group's commit is flushed", option E):
 * groups commit synchronously while flushes are short and asynchronously (answered after a flush
 * barrier) while they are slow. The barrier is held back as in pg-flush-barrier.test.ts (another
 * transaction locks every ledger_flush_barrier row), so what waits for it shows. A slow disk is
 * real here: `commit_delay` on a test database makes every WAL flush of its sessions sleep first,
 * holding the WAL write lock as a slow fdatasync would (a superuser setting: the tests' admin URL).
 */
describe('PostgreSQL: --db-commit auto', () => {
  let db: TestDatabase;
  let slowDb: TestDatabase;
  let sql: postgres.Sql;
  const ledgers: PgLedger[] = [];
  /** A window of 4 synchronous commits, the default thresholds (2 ms and 1 ms). */
  const smallWindow: AutoCommitOptions = { windowGroups: 4, slowFlushUs: 2_000, fastFlushUs: 1_000 };
  const SLOW_FLUSH_MS = 20;

  beforeAll(async () => {
    db = await createTestDatabase();
    slowDb = await createTestDatabase();
    const admin = postgres(inject('pgAdminUrl'), { max: 1, onnotice: () => {} });
    const name = new URL(slowDb.url).pathname.slice(1);
    await admin.unsafe(`ALTER DATABASE ${name} SET commit_delay = ${SLOW_FLUSH_MS * 1000}`);
    await admin.unsafe(`ALTER DATABASE ${name} SET commit_siblings = 0`);
    await admin.end();
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    for (const ledger of ledgers) await ledger.close();
    await sql?.end();
    await db?.drop();
    await slowDb?.drop();
  });

  const open = async (url: string, options: Parameters<typeof openTestLedger>[1] = {}) => {
    const ledger = await openTestLedger(url, options);
    ledgers.push(ledger);
    return ledger;
  };

  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /**
   * What the flushes would have measured: 2 windows less one of `us`, so that the last window judged
   * holds only these, whatever part of a window the ledger's own groups had filled.
   */
  const judge = (ledger: PgLedger, us: number, window = smallWindow.windowGroups) => {
    for (let i = 0; i < 2 * window - 1; i++) ledger.autoCommit!.measured(us);
  };

  it('is the default, and commits synchronously on this disk (no group waits for a barrier)', async () => {
    const ledger = await open(db.url);
    expect(ledger.autoCommit).toBeDefined();
    await ledger.createAccount({ accountId: 'au-a', initialBalance: 1_000n });
    await ledger.createAccount({ accountId: 'au-b', initialBalance: 0n });
    // One caller: each group's flush is timed alone (groups of the default window, 32).
    for (let i = 0; i < 70; i++) {
      await ledger.transferFunds({ fromId: 'au-a', toId: 'au-b', amount: 1n, transactionId: `au-${i}` });
    }
    expect(ledger.autoCommit!.lastMedianUs).toBeDefined();
    // Under 2 ms (the default's threshold) even with the other test files busy on both cores:
    // medians of 100-300 us alone here, the disk's fdatasync being about 0.1 ms.
    expect(ledger.autoCommit!.async, `median flush ${ledger.autoCommit!.lastMedianUs} us`).toBe(false);
    expect(ledger.stats.asyncGroups).toBe(0);
    expect(ledger.stats.groups).toBe(72);
  });

  it('goes asynchronous on a slow disk (answers then wait for the barrier), and back when the flushes are fast', async () => {
    const slowSql = postgres(slowDb.url, { max: 2, onnotice: () => {} });
    try {
      const ledger = await open(slowDb.url, { autoCommit: smallWindow });
      await ledger.createAccount({ accountId: 'sl-a', initialBalance: 100n });
      for (let i = 0; i < 3; i++)
        await ledger.updateBalance({ accountId: 'sl-a', delta: 1n, transactionId: `sl-w${i}` });
      // Four synchronous commits of at least 20 ms each: the window's median is far above 2 ms.
      expect(ledger.stats.asyncGroups).toBe(0);
      expect(ledger.autoCommit!.lastMedianUs!).toBeGreaterThanOrEqual(SLOW_FLUSH_MS * 1000);
      expect(ledger.autoCommit!.async).toBe(true);

      // Asynchronous now: the next group commits (visible in the database) but is answered only
      // after its barrier.
      let unlock = await lockBarrierRows(slowSql);
      let unlocked = false;
      try {
        const write = ledger.updateBalance({ accountId: 'sl-a', delta: 10n, transactionId: 'sl-1' });
        const state = settled(write);
        await until(async () => (await balanceIn(slowSql, 'sl-a')) === '113');
        await pause(200);
        expect(state.done).toBe(false);
        await unlock();
        unlocked = true;
        expect((await write).result.accounts[0]!.balance).toBe(113n);
        expect(ledger.stats.asyncGroups).toBe(1);
      } finally {
        if (!unlocked) await unlock();
      }

      // Fast flushes (what barriers on a fast disk measure): synchronous again, and such a group is
      // answered with the barrier rows still locked, after its own flush (at least 20 ms here).
      judge(ledger, 100);
      expect(ledger.autoCommit!.async).toBe(false);
      unlock = await lockBarrierRows(slowSql);
      try {
        const started = performance.now();
        const answer = await ledger.updateBalance({ accountId: 'sl-a', delta: 1n, transactionId: 'sl-2' });
        expect(performance.now() - started).toBeGreaterThanOrEqual(SLOW_FLUSH_MS - 1);
        expect(answer.result.accounts[0]!.balance).toBe(114n);
        expect(ledger.stats.asyncGroups).toBe(1);
      } finally {
        await unlock();
      }
      // The synchronous groups measure the slow disk again: asynchronous after one window.
      for (let i = 0; i < smallWindow.windowGroups; i++)
        await ledger.updateBalance({ accountId: 'sl-a', delta: 1n, transactionId: `sl-p${i}` });
      expect(ledger.autoCommit!.async).toBe(true);
      expect(ledger.autoCommit!.switches).toBe(3);
    } finally {
      await slowSql.end();
    }
  });

  it('comes back to synchronous commits when the barriers it waits for are fast, and stays there', async () => {
    // A window of 8, and thresholds of 20 / 10 ms: what a barrier takes here (0.2-2 ms, with other
    // test files busy) is fast next to an injected 50 ms disk, whatever the load.
    const window = 8;
    const ledger = await open(db.url, {
      autoCommit: { windowGroups: window, slowFlushUs: 20_000, fastFlushUs: 10_000 },
    });
    await ledger.createAccount({ accountId: 'bk-a', initialBalance: 0n });
    // Warm: the first statements of each connection are prepared on first use (a round trip more).
    for (let i = 0; i < 16; i++)
      await ledger.updateBalance({ accountId: 'bk-a', delta: 1n, transactionId: `bk-w${i}` });
    judge(ledger, 50_000, window);
    expect(ledger.autoCommit!.async).toBe(true);
    const asyncBefore = ledger.stats.asyncGroups;
    // Asynchronous groups time their barriers (a synchronous commit each) on this fast disk.
    for (let i = 0; i < window; i++)
      await ledger.updateBalance({ accountId: 'bk-a', delta: 1n, transactionId: `bk-${i}` });
    expect(ledger.stats.asyncGroups - asyncBefore).toBeGreaterThan(0);
    expect(ledger.autoCommit!.lastMedianUs!).toBeLessThan(10_000);
    expect(ledger.autoCommit!.async).toBe(false);
    const asyncGroups = ledger.stats.asyncGroups;
    const switches = ledger.autoCommit!.switches;
    for (let i = 0; i < 4 * window; i++)
      await ledger.updateBalance({ accountId: 'bk-a', delta: 1n, transactionId: `bk-s${i}` });
    expect(ledger.stats.asyncGroups).toBe(asyncGroups);
    expect(ledger.autoCommit!.switches).toBe(switches);
  });

  it('reads wait for a barrier even while every group of this server commits synchronously', async () => {
    // Another server on the same database commits asynchronously (overlap, or auto on its own
    // load): a read here can see its commit before that commit is flushed.
    const other = await open(db.url, { commitMode: 'overlap' });
    const ledger = await open(db.url);
    await other.createAccount({ accountId: 'rd-a', initialBalance: 5n });
    await other.updateBalance({ accountId: 'rd-a', delta: 0n, transactionId: 'rd-0' });
    const unlock = await lockBarrierRows(sql);
    let unlocked = false;
    try {
      const write = other.updateBalance({ accountId: 'rd-a', delta: 7n, transactionId: 'rd-1' });
      await until(async () => (await balanceIn(sql, 'rd-a')) === '12');
      const reads = [
        settled(ledger.getBalance('rd-a')),
        settled(ledger.getSnapshot(false)),
        settled(ledger.getSnapshot(true)),
        settled(ledger.getTransaction('rd-1')),
      ];
      await pause(300);
      expect(ledger.autoCommit!.async).toBe(false);
      expect(reads.map((r) => r.done)).toEqual([false, false, false, false]);
      await unlock();
      unlocked = true;
      await write;
      expect((await ledger.getBalance('rd-a')).balance).toBe(12n);
      await until(async () => reads.every((r) => r.done));
    } finally {
      if (!unlocked) await unlock();
    }
  });

  it('answers a synchronous group decided on an unflushed asynchronous one after its own COMMIT', async () => {
    const ledger = await open(db.url, { autoCommit: smallWindow });
    await ledger.createAccount({ accountId: 'ch-a', initialBalance: 50n });
    await ledger.createAccount({ accountId: 'ch-b', initialBalance: 0n });
    judge(ledger, 5_000);
    const unlock = await lockBarrierRows(sql);
    let unlocked = false;
    try {
      // Asynchronous: committed, its flush not confirmed, so not answered.
      const first = ledger.updateBalance({ accountId: 'ch-a', delta: 25n, transactionId: 'ch-1' });
      const firstState = settled(first);
      await until(async () => (await balanceIn(sql, 'ch-a')) === '75');
      // Synchronous from here: the transfer is decided on the first group's committed (unflushed)
      // balance of ch-a. Its own synchronous COMMIT flushes the WAL through its commit record, which
      // follows the first group's: so it is answered at once, barrier rows still locked.
      judge(ledger, 100);
      const second = await ledger.transferFunds({
        fromId: 'ch-a',
        toId: 'ch-b',
        amount: 60n,
        transactionId: 'ch-2',
      });
      expect(second.result.accounts.map((a) => a.balance)).toEqual([15n, 60n]);
      // The first group still waits for the barrier it sent (simple rule: never answered earlier).
      expect(firstState.done).toBe(false);
      await unlock();
      unlocked = true;
      expect((await first).result.accounts[0]!.balance).toBe(75n);
    } finally {
      if (!unlocked) await unlock();
    }
  });

  it('a synchronous group that locked no account (nothing of its own to flush) waits for a barrier', async () => {
    const ledger = await open(db.url);
    await ledger.createAccount({ accountId: 'nf-a', initialBalance: 1n });
    const unlock = await lockBarrierRows(sql);
    let unlocked = false;
    try {
      const missing = ledger.transferFunds({
        fromId: 'nf-nobody',
        toId: 'nf-none',
        amount: 1n,
        transactionId: 'nf-1',
      });
      const state = settled(missing);
      // Its NOT_FOUND is recorded (committed) with its transaction id, yet not answered.
      await until(
        async () => (await sql`SELECT 1 FROM ledger_txids WHERE id = 'nf-1' AND outcome <> ''`).length === 1,
      );
      // Meanwhile a group that locked its account is answered right after its COMMIT.
      const answered = await ledger.updateBalance({ accountId: 'nf-a', delta: 1n, transactionId: 'nf-2' });
      expect(answered.result.accounts[0]!.balance).toBe(2n);
      await pause(200);
      expect(state.done).toBe(false);
      await unlock();
      unlocked = true;
      await expect(missing).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      if (!unlocked) await unlock();
    }
  });

  it('conserves money, keeps positions dense and executes each id once while it switches back and forth', async () => {
    const ledger = await open(db.url, {
      autoCommit: { ...smallWindow, windowGroups: 2 },
    });
    const ids = Array.from({ length: 8 }, (_, i) => `sw-${i}`);
    for (const id of ids) await ledger.createAccount({ accountId: id, initialBalance: 1_000n });
    // Flip the judgement every few milliseconds, whatever the groups measure meanwhile.
    let slow = true;
    const flipper = setInterval(() => {
      for (let i = 0; i < 2; i++) ledger.autoCommit!.measured(slow ? 5_000 : 100);
      slow = !slow;
    }, 5);
    const asyncBefore = ledger.stats.asyncGroups;
    const groupsBefore = ledger.stats.groups;
    try {
      await Promise.all(
        Array.from({ length: 16 }, async (_, c) => {
          for (let k = 0; k < 25; k++) {
            const from = ids[(c + k) % ids.length]!;
            const to = ids[(c + 3 * k + 1) % ids.length]!;
            const transactionId = `sw-${c}-${k}`;
            const input = {
              fromId: from,
              toId: to === from ? ids[(c + 1) % ids.length]! : to,
              amount: 3n,
              transactionId,
            };
            const [once, again] = await Promise.all([
              ledger.transferFunds(input),
              ledger.transferFunds(input),
            ]);
            expect(again.result).toEqual(once.result);
          }
        }),
      );
    } finally {
      clearInterval(flipper);
    }
    const asyncGroups = ledger.stats.asyncGroups - asyncBefore;
    const groups = ledger.stats.groups - groupsBefore;
    expect(asyncGroups).toBeGreaterThan(0);
    expect(asyncGroups).toBeLessThan(groups);
    const [row] = await sql<{ sum: string; total: string; n: string; last: string; sw: string }[]>`
      SELECT (SELECT sum(balance) FROM ledger_accounts)::text AS sum, total_balance::text AS total,
        (SELECT count(*) FROM ledger_log)::text AS n, last_position::text AS last,
        (SELECT count(*) FROM ledger_log WHERE transaction_id LIKE 'sw-%-%')::text AS sw
      FROM ledger_head`;
    expect(row!.sum).toBe(row!.total);
    expect(row!.n).toBe(row!.last);
    expect(row!.sw).toBe(String(16 * 25));
    const snapshot = await ledger.getSnapshot(true);
    expect(snapshot.accounts!.filter((a) => a.id.startsWith('sw-')).reduce((s, a) => s + a.balance, 0n)).toBe(
      8_000n,
    );
  });
});
