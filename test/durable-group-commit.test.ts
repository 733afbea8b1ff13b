import { afterEach, describe, expect, test } from 'vitest';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { removeDir, tempDir } from './durable-fixture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

const ACCOUNTS = 100;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function open(dir: string, transactionsInFlight?: number, overlapMinPuts?: number) {
  const storage = await LmdbStorage.open(dir, {
    ...(transactionsInFlight === undefined ? {} : { transactionsInFlight }),
    ...(overlapMinPuts === undefined ? {} : { overlapMinPuts }),
  });
  const engine = await LedgerEngine.open({ storage });
  return { storage, engine };
}

async function createAccounts(engine: LedgerEngine): Promise<void> {
  await Promise.all(
    Array.from({ length: ACCOUNTS }, (_, i) =>
      engine.createAccount({ accountId: `acct-${i}`, initialBalance: 1_000_000n }),
    ),
  );
}

/**
 * `count` writes, each issued in an event turn of its own (as unary calls arrive), none awaited
 * before the next: without holding, lmdb-js gives each its own transaction and fsync.
 */
async function writesInSeparateTurns(engine: LedgerEngine, count: number, tag: string): Promise<void> {
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    // Accounts no recent write holds (a write keeps its accounts locked until it is durable).
    const from = `acct-${(2 * i) % ACCOUNTS}`;
    const to = `acct-${(2 * i + 1) % ACCOUNTS}`;
    writes.push(
      i % 2 === 0
        ? engine.transferFunds({
            fromId: from,
            toId: to,
            amount: BigInt(i + 1),
            transactionId: `${tag}-t${i}`,
          })
        : engine.updateBalance({ accountId: from, delta: BigInt(-i), transactionId: `${tag}-u${i}` }),
    );
    await nextTurn();
  }
  await Promise.all(writes);
}

describe('durable group commit across event turns', () => {
  test('writes arriving while a transaction is in flight share the next one (fewer flushes than writes)', async () => {
    const flushesPerWrite = async (transactionsInFlight: number, overlapMinPuts?: number) => {
      const dir = tempDir();
      dirs.push(dir);
      const { storage, engine } = await open(dir, transactionsInFlight, overlapMinPuts);
      await createAccounts(engine);
      const before = { ...storage.flushStats };
      await writesInSeparateTurns(engine, 60, 'g');
      const flushes = storage.flushStats.flushes - before.flushes;
      const commits = storage.flushStats.commits - before.commits;
      await engine.close();
      return flushes / commits;
    };
    const grouped = await flushesPerWrite(1);

    const ungrouped = await flushesPerWrite(Number.POSITIVE_INFINITY, 0);
    // Without a bound each turn's write is its own transaction; with one, most wait and share.
    expect(ungrouped).toBeGreaterThan(0.6);
    expect(grouped).toBeLessThan(ungrouped * 0.75);
  });

  test('a small group waits for the transaction in flight even below the bound; a big one starts beside it', async () => {
    const dir = tempDir();
    dirs.push(dir);
    // A transfer is 5 puts, an update 4: two updates held are a group of 8.
    const { storage, engine } = await open(dir, 2, 8);
    await createAccounts(engine);
    const flushes0 = storage.flushStats.flushes;
    const first = engine.transferFunds({
      fromId: 'acct-0',
      toId: 'acct-1',
      amount: 1n,
      transactionId: 'o-1',
    });
    expect(storage.flushStats.flushes).toBe(flushes0 + 1);
    // A new event turn: the first transaction is still being committed and flushed (its
    // completion is reported in a later poll phase of the loop).
    await nextTurn();
    const second = engine.updateBalance({ accountId: 'acct-2', delta: 1n, transactionId: 'o-2' });
    // 4 puts: held, though one more transaction would be within the bound.
    expect(storage.flushStats.flushes).toBe(flushes0 + 1);
    const third = engine.updateBalance({ accountId: 'acct-3', delta: 1n, transactionId: 'o-3' });
    // The held group reached 8 puts: it is written now, beside the one in flight.
    expect(storage.flushStats.flushes).toBe(flushes0 + 2);
    await Promise.all([first, second, third]);
    expect(engine.getBalance('acct-3').balance).toBe(1_000_001n);
    await engine.close();
  });

  test('every held write reaches the disk with the head that counts it: the reopened ledger is the acknowledged one', async () => {
    const dir = tempDir();
    dirs.push(dir);
    let { storage, engine } = await open(dir, 1);
    await createAccounts(engine);
    await writesInSeparateTurns(engine, 120, 'a');
    // And a burst in one turn on top of held writes.
    await Promise.all([
      writesInSeparateTurns(engine, 30, 'b'),
      ...Array.from({ length: 30 }, (_, i) =>
        engine.updateBalance({ accountId: `acct-${i % ACCOUNTS}`, delta: 7n, transactionId: `c-${i}` }),
      ),
    ]);
    expect(storage.flushStats.flushes).toBeLessThan(storage.flushStats.commits);
    const live = engine.getSnapshot(true);
    await engine.close();

    // Reopening checks the head against the accounts and the log (recover() refuses a mismatch).
    ({ storage, engine } = await open(dir, 1));
    const reopened = engine.getSnapshot(true);
    expect(reopened.logPosition).toBe(live.logPosition);
    expect(reopened.totalBalance).toBe(live.totalBalance);
    expect(reopened.accounts).toEqual(live.accounts);
    // Every write's record is there: replays, not new writes.
    const replay = await engine.updateBalance({ accountId: 'acct-2', delta: -1n, transactionId: 'a-u1' });
    expect(replay.replayed).toBe(true);
    await engine.close();
  });
});
