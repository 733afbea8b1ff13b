import { randomUUID } from 'node:crypto';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { progress, reportToParent } from './durable-child-process.js';
import { type MemoryReport, memoryReport, settledMemory } from './durable-process-memory.js';

/*
 * Capacity of a live durable server: a fresh process creates N accounts and runs M transfers
 * through the engine, every write with its own transaction id as real clients send them, in
 * concurrent batches; then reports heap and RSS (anonymous vs mapped file pages). The data dir
 * is left for a recovery child to reopen. Usage:
 *   node --expose-gc dist/bench/durable-capacity-child.js DATA_DIR ACCOUNTS TRANSFERS BATCH
 */
export interface CapacityChildReport {
  accounts: number;
  transfers: number;
  batch: number;
  createMs: number;
  createsPerSec: number;
  transfersMs: number;
  transfersPerSec: number;
  stats: Record<string, unknown>;
  flushes: number;
  commitsPerFlush: number;
  memory: { baseline: MemoryReport; afterWrites: MemoryReport; settled: MemoryReport };
}

const [dataDir, accountsArg, transfersArg, batchArg] = process.argv.slice(2);
if (dataDir === undefined)
  throw new Error('usage: durable-capacity-child.js DATA_DIR ACCOUNTS TRANSFERS BATCH');
const accounts = Number(accountsArg);
const transfers = Number(transfersArg);
const batch = Number(batchArg);
const INITIAL_BALANCE = 1_000_000n;

const width = Math.max(7, String(accounts).length);
const accountId = (i: number): string => flat(`acct-${String(i + 1).padStart(width, '0')}`);

const baseline = memoryReport();
const storage = await LmdbStorage.open(dataDir);
const engine = await LedgerEngine.open({ storage });

const createMs = await inBatches('creates', accounts, (i) =>
  engine.createAccount({
    accountId: accountId(i),
    initialBalance: INITIAL_BALANCE,
    transactionId: clientTransactionId(),
  }),
);
const transfersMs = await inBatches('transfers', transfers, () => {
  const from = Math.floor(Math.random() * accounts);
  const to = (from + 1 + Math.floor(Math.random() * (accounts - 1))) % accounts;
  return engine.transferFunds({
    fromId: accountId(from),
    toId: accountId(to),
    amount: 1n,
    transactionId: clientTransactionId(),
  });
});
const afterWrites = memoryReport();
const settled = await settledMemory();
const { commits, flushes } = storage.flushStats;
const report: CapacityChildReport = {
  accounts,
  transfers,
  batch,
  createMs,
  createsPerSec: accounts / (createMs / 1000),
  transfersMs,
  transfersPerSec: transfers / (transfersMs / 1000),
  stats: { ...engine.stats() },
  flushes,
  commitsPerFlush: commits / flushes,
  memory: { baseline, afterWrites, settled },
};
await engine.close();
reportToParent(report);

/** Runs `count` writes, `batch` of them concurrently at a time; returns the elapsed ms. */
async function inBatches(
  what: string,
  count: number,
  write: (i: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  for (let first = 0; first < count; first += batch) {
    const pending: Promise<unknown>[] = [];
    for (let i = first; i < Math.min(count, first + batch); i++) pending.push(write(i));
    await Promise.all(pending);
    if ((first + batch) % 100_000 < batch) progress(`capacity: ${Math.min(count, first + batch)} ${what}`);
  }
  return performance.now() - started;
}

/** A UUID as a client sends it. */
function clientTransactionId(): string {
  return flat(randomUUID());
}

/**
 * Strings decoded from a request are flat; randomUUID's and template literals' are built from
 * pieces that cost several times the heap, which would inflate the engine's measured footprint.
 */
function flat(value: string): string {
  return Buffer.from(value, 'latin1').toString('latin1');
}
