import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { MemoryStorage } from '../src/engine/storage.js';
import { forceGc } from './force-gc.js';

/**
 * Run in a fresh process per size (see memory-bench.ts) so one size's garbage and heap growth
 * cannot colour the next. Prints one JSON line.
 */
const accounts = Number(process.argv[2]);
/** Audit-log entries kept in memory; undefined = the engine's default window. */
const logWindowEntries = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const BALANCE = 1_000n;
const CHUNK = 1_000;

forceGc();
const baseline = process.memoryUsage();
const engine = await LedgerEngine.open({
  storage: new MemoryStorage(),
  locking: 'account',
  ...(logWindowEntries === undefined ? {} : { logWindowEntries }),
});
const started = performance.now();
for (let i = 0; i < accounts; i += CHUNK) {
  const batch: Promise<unknown>[] = [];
  for (let j = i; j < Math.min(accounts, i + CHUNK); j++) {
    // No transaction id: CreateAccount without one keeps no idempotency record.
    batch.push(
      engine.createAccount({ accountId: `acct-${j.toString().padStart(8, '0')}`, initialBalance: BALANCE }),
    );
  }
  await Promise.all(batch);
}
const createMs = performance.now() - started;
const snapshot = engine.getSnapshot(false);
const stats = engine.stats();
if (snapshot.accountCount !== accounts || snapshot.totalBalance !== BALANCE * BigInt(accounts)) {
  throw new Error(`memory bench: ${snapshot.accountCount} accounts, total ${snapshot.totalBalance}`);
}
forceGc();
const afterBurst = process.memoryUsage();
// RSS right after the create burst still holds pages V8 and malloc give back within a second or
// two of idling; the settled figure is what an idle server shows.
await new Promise((resolve) => setTimeout(resolve, 2_000));
forceGc();
const after = process.memoryUsage();
console.log(
  JSON.stringify({
    accounts,
    createMs,
    baseline,
    afterBurst,
    after,
    logWindowEntries: stats.logWindowEntries,
    txidsHeld: stats.txidsHeld,
  }),
);
// Keep the engine reachable until after the measurement.
if (engine.stats().accounts !== accounts) process.exitCode = 1;
