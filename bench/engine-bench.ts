import type { LockingMode } from '../src/engine/account-locks.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { type LedgerStorage, MemoryStorage } from '../src/engine/storage.js';
import { PreciseTimer } from '../src/harness/precise-timer.js';
import { runClosedLoop } from './closed-loop.js';
import { type HotFunction, profileInProcess, summarizeProfiles } from './cpu-profile.js';
import { forceGc } from './force-gc.js';
import { summarizeUs } from './histogram.js';
import { type BenchResult, result } from './report.js';
import { PreciseGroupCommitStorage } from './simulated-disk.js';

export interface EngineBenchOptions {
  quick: boolean;
  /** Also profile one instant-commit transfer run and report where its CPU goes. */
  profile: boolean;
  log: (line: string) => void;
}

type Op = 'get' | 'update' | 'transfer';

const INITIAL_BALANCE = 1_000_000_000n;
/** 2,000 accounts = 1,000 distinct pairs (2k, 2k+1): pair p is only ever touched by caller p mod 1000. */
const ACCOUNTS = 2_000;
const PAIRS = ACCOUNTS / 2;
const accountId = (i: number): string => `acct-${i.toString().padStart(6, '0')}`;
const IDS = Array.from({ length: ACCOUNTS }, (_, i) => accountId(i));

/**
 * What the bench expects the ledger to hold after a run, tracked from acknowledged results
 * only; checked at the end so a fast but wrong engine cannot pass.
 */
class Expectation {
  readonly balanceDelta = new Float64Array(ACCOUNTS);
  readonly versions = new Float64Array(ACCOUNTS);
  writes = 0;

  verify(engine: LedgerEngine, label: string): void {
    const snapshot = engine.getSnapshot(true);
    const problems: string[] = [];
    const expectedTotal =
      INITIAL_BALANCE * BigInt(ACCOUNTS) + BigInt(this.balanceDelta.reduce((a, b) => a + b, 0));
    if (snapshot.totalBalance !== expectedTotal) {
      problems.push(`total ${snapshot.totalBalance} != expected ${expectedTotal}`);
    }
    let sum = 0n;
    for (const account of snapshot.accounts!) sum += account.balance;
    if (sum !== snapshot.totalBalance)
      problems.push(`sum of accounts ${sum} != total ${snapshot.totalBalance}`);
    for (let i = 0; i < ACCOUNTS && problems.length < 5; i++) {
      const account = engine.getBalance(IDS[i]!);
      const balance = INITIAL_BALANCE + BigInt(this.balanceDelta[i]!);
      if (account.balance !== balance)
        problems.push(`${account.id}: balance ${account.balance} != ${balance}`);
      if (account.version !== this.versions[i]) {
        problems.push(`${account.id}: version ${account.version} != ${this.versions[i]}`);
      }
    }
    if (snapshot.logPosition !== ACCOUNTS + this.writes) {
      problems.push(`log position ${snapshot.logPosition} != ${ACCOUNTS + this.writes}`);
    }
    if (problems.length > 0)
      throw new Error(`engine bench ${label}: ledger is wrong: ${problems.join('; ')}`);
  }
}

async function openEngine(locking: LockingMode, storage: LedgerStorage): Promise<LedgerEngine> {
  const engine = await LedgerEngine.open({ storage, locking });
  // Creates are not timed; they fill the log with ACCOUNTS entries, checked by Expectation.
  await Promise.all(
    IDS.map((id) => engine.createAccount({ accountId: id, initialBalance: INITIAL_BALANCE })),
  );
  return engine;
}

/** One caller per account pair when concurrency >= 1000, so account locks never contend. */
function makeOp(engine: LedgerEngine, op: Op, expect: Expectation, runTag: string) {
  switch (op) {
    case 'get':
      return (i: number) => {
        const account = engine.getBalance(IDS[i % ACCOUNTS]!);
        if (account.balance < 0n) throw new Error('negative balance');
      };
    case 'update':
      return async (i: number, caller: number) => {
        const a = (caller % PAIRS) * 2;
        const delta = (i & 1) === 0 ? 5n : -3n;
        await engine.updateBalance({ accountId: IDS[a]!, delta, transactionId: `${runTag}-${i}` });
        expect.balanceDelta[a]! += Number(delta);
        expect.versions[a]!++;
        expect.writes++;
      };
    case 'transfer':
      return async (i: number, caller: number) => {
        const pair = caller % PAIRS;
        // Alternate direction in runs of 8 so balances wander without draining.
        const forward = ((i >> 3) & 1) === 0;
        const from = forward ? pair * 2 : pair * 2 + 1;
        const to = forward ? pair * 2 + 1 : pair * 2;
        const amount = 1 + (i % 7);
        await engine.transferFunds({
          fromId: IDS[from]!,
          toId: IDS[to]!,
          amount: BigInt(amount),
          transactionId: `${runTag}-${i}`,
        });
        expect.balanceDelta[from]! -= amount;
        expect.balanceDelta[to]! += amount;
        expect.versions[from]!++;
        expect.versions[to]!++;
        expect.writes++;
      };
  }
}

async function measure(
  op: Op,
  concurrency: number,
  ops: number,
  locking: LockingMode,
  storage: LedgerStorage,
): Promise<number> {
  const engine = await openEngine(locking, storage);
  const expect = new Expectation();
  const run = await runClosedLoop(concurrency, ops, makeOp(engine, op, expect, `${op}-${concurrency}`));
  expect.verify(engine, `${op} x${concurrency} (${locking})`);
  await engine.close();
  return run.opsPerSec;
}

export async function runEngineBench(options: EngineBenchOptions): Promise<{
  results: BenchResult[];
  details: object;
  profile: HotFunction[] | undefined;
}> {
  const { quick, log } = options;
  const results: BenchResult[] = [];
  const details: Record<string, unknown> = {};
  const opCounts: Record<Op, number> = quick
    ? { get: 200_000, update: 30_000, transfer: 30_000 }
    : { get: 2_000_000, update: 200_000, transfer: 200_000 };
  const targets: Record<Op, number | undefined> = { get: 1_000_000, update: undefined, transfer: 200_000 };

  // Warm the JIT on every path first so the first measured row is not the cold one.
  for (const op of ['get', 'update', 'transfer'] as const)
    await measure(op, 64, quick ? 10_000 : 20_000, 'account', new MemoryStorage());

  for (const op of ['get', 'update', 'transfer'] as const) {
    for (const concurrency of [1, 64, 1024]) {
      forceGc();
      const opsPerSec = await measure(op, concurrency, opCounts[op], 'account', new MemoryStorage());
      const target = targets[op];
      log(`engine ${op} x${concurrency}: ${Math.round(opsPerSec)} ops/s`);
      results.push(
        result(
          'engine (instant commit)',
          `${op} ops/s, ${concurrency} caller${concurrency === 1 ? '' : 's'}`,
          opsPerSec,
          'ops/s',
          target === undefined ? undefined : { comparison: '>=', value: target },
          `${opCounts[op].toLocaleString('en-US')} ops, verified`,
        ),
      );
    }
  }

  let profile: HotFunction[] | undefined;
  if (options.profile) {
    const profiled = await profileInProcess(() =>
      measure('transfer', 64, opCounts.transfer, 'account', new MemoryStorage()),
    );
    profile = summarizeProfiles([profiled.profile], 20);
    log(`engine transfer x64 under the profiler: ${Math.round(profiled.value)} ops/s`);
  }

  // Account vs global locking, 1,000 callers on 1,000 distinct pairs, 0.5 ms group commit.
  const timer = new PreciseTimer();
  const lockingOps: Record<LockingMode, number> = quick
    ? { global: 500, account: 20_000 }
    : { global: 3_000, account: 100_000 };
  const perMode: Partial<Record<LockingMode, number>> = {};
  for (const locking of ['global', 'account'] as const) {
    const storage = new PreciseGroupCommitStorage(timer, 0.5);
    const opsPerSec = await measure('transfer', PAIRS, lockingOps[locking], locking, storage);
    perMode[locking] = opsPerSec;
    const flush = summarizeUs(storage.flushUs);
    details[`locking-${locking}`] = {
      opsPerSec,
      ops: lockingOps[locking],
      flushes: storage.flushes,
      batchesPerFlush: storage.batches / storage.flushes,
      flushUs: flush,
    };
    log(
      `engine transfer ${locking} locking, 0.5 ms commit: ${Math.round(opsPerSec)} ops/s ` +
        `(flush p50 ${flush.p50} us, ${(storage.batches / storage.flushes).toFixed(1)} batches/flush)`,
    );
    results.push(
      result(
        'engine (0.5 ms commit)',
        `transfer ops/s, ${locking} locking, 1,000 pairs`,
        opsPerSec,
        'ops/s',
        undefined,
        `flush p50 ${flush.p50} us p99 ${flush.p99} us, ${(storage.batches / storage.flushes).toFixed(0)} commits/flush`,
      ),
    );
  }
  await timer.close();
  const ratio = perMode.account! / perMode.global!;
  results.push(
    result('engine (0.5 ms commit)', 'account / global locking', ratio, 'x', { comparison: '>=', value: 20 }),
  );
  return { results, details, profile };
}
