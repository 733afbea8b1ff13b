import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { DATA_FILE, LmdbStorage } from '../src/engine/lmdb-storage.js';
import { type BulkLoadReport, bulkLoad } from './durable-bulk-load.js';
import type { CapacityChildReport } from './durable-capacity-child.js';
import { type ChildOptions, runChild } from './durable-child-process.js';
import type { RecoveryChildReport } from './durable-recovery-child.js';

/*
 * Engine-level durable benchmark (no gRPC). Sections, all by default:
 *   transfers  transfers/s through LMDB with group commit; mean commits sharing one flush
 *   recovery   bulk-loads a data dir (1,000,000 accounts, 10,000,000 log entries, idempotency
 *              records for all of them), then times LmdbStorage.open + LedgerEngine.open in a
 *              fresh process with the page cache warm, and again cold if the cache can be dropped
 *   capacity   a fresh process creates 1,000,000 accounts and runs 200,000 transfers through the
 *              durable engine, every write with a transaction id, and reports heap and RSS; another
 *              fresh process then recovers that dir and reports the same
 * Usage:
 *   npm run build && node dist/bench/durable-bench.js [--only transfers,recovery,capacity] [--json FILE]
 *     transfers: [--accounts 10000] [--callers 1024] [--transfers 200000]
 *     recovery:  [--recovery-accounts 1000000] [--recovery-entries 10000000] [--recovery-txid-share 1]
 *     capacity:  [--capacity-accounts 1000000] [--capacity-transfers 200000] [--capacity-batch 5000]
 *     children:  [--child-heap-mb N]  (--max-old-space-size of the measured processes; node's default)
 * Prints one `name: value` line per number, units in the names; --json writes them all to FILE.
 * The cold recovery drops the page cache with /proc/sys/vm/drop_caches when writable (root: the
 * whole machine's cache), else evicts the data file alone (dd iflag=nocache); fincore checks it.
 * Temp data dirs go under os.tmpdir() and are removed afterwards, also on failure.
 */

const SECTIONS = ['transfers', 'recovery', 'capacity'] as const;
type Section = (typeof SECTIONS)[number];
const TARGETS: Record<string, string> = {
  'recovery.warm.openTotalMs': '< 5000',
  'recovery.cold.openTotalMs': '< 5000 (page cache dropped)',
  'capacity.live.memory.settled.heapUsedMb': '< 250',
  'capacity.recovered.memory.settled.heapUsedMb': '< 250',
};

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

function numberFlag(name: string, fallback: number): number {
  const text = flag(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} wants a number, got ${text}`);
  return value;
}

function selectedSections(): Section[] {
  const only = flag('only');
  if (only === undefined) return [...SECTIONS];
  const picked = only.split(',');
  const unknown = picked.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`--only: unknown section ${unknown.join(', ')}`);
  return picked as Section[];
}

function childOptions(): ChildOptions {
  const heapMb = flag('child-heap-mb');
  return heapMb === undefined ? {} : { nodeArgs: [`--max-old-space-size=${heapMb}`] };
}

/* Temp dirs are also removed when the run is interrupted: a 10M-entry dir is gigabytes. */
const tempDirs = new Set<string>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
    process.exit(128 + os.constants.signals[signal]);
  });
}

async function withTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-bench-'));
  tempDirs.add(dir);
  try {
    return await use(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

async function transfers(accounts: number, callers: number, total: number) {
  return withTempDir(async (dir) => {
    // BENCH_LMDB_TXNS_IN_FLIGHT: the group-commit bound to compare ('Infinity': no bound).
    const inFlight = process.env.BENCH_LMDB_TXNS_IN_FLIGHT;
    const storage = await LmdbStorage.open(
      dir,
      inFlight === undefined ? {} : { transactionsInFlight: Number(inFlight) },
    );
    const engine = await LedgerEngine.open({ storage });
    const ids = Array.from({ length: accounts }, (_, i) => `acct-${i}`);
    for (let i = 0; i < ids.length; i += 1000) {
      await Promise.all(
        ids
          .slice(i, i + 1000)
          .map((id) => engine.createAccount({ accountId: id, initialBalance: 1_000_000n })),
      );
    }
    const before = { ...storage.flushStats };
    let next = 0;
    let seed = 1;
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const started = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (next < total) {
          const n = next++;
          const from = Math.floor(rand() * accounts);
          let to = Math.floor(rand() * accounts);
          if (to === from) to = (from + 1) % accounts;
          await engine.transferFunds({
            fromId: ids[from]!,
            toId: ids[to]!,
            amount: 1n,
            transactionId: `t${n}`,
          });
        }
      }),
    );
    const durationMs = performance.now() - started;
    const commits = storage.flushStats.commits - before.commits;
    const flushes = storage.flushStats.flushes - before.flushes;
    await engine.close();
    return {
      accounts,
      callers,
      transfers: total,
      durationMs,
      transfersPerSec: total / (durationMs / 1000),
      flushes,
      commitsPerFlush: commits / flushes,
      putsPerFlush: (storage.flushStats.puts - before.puts) / flushes,
    };
  });
}

async function recovery(accounts: number, entries: number, txidShare: number) {
  return withTempDir(async (dir) => {
    const load = await bulkLoad(dir, { accounts, entries, txidShare, progress: (l) => console.error(l) });
    console.error(`recovery: loaded in ${(load.loadMs / 1000).toFixed(1)} s; reopening in a fresh process`);
    const warm = await runChild<RecoveryChildReport>('durable-recovery-child.js', [dir], childOptions());
    checkRecovered(load, warm);
    const file = path.join(dir, DATA_FILE);
    const eviction = evictFromPageCache(file);
    console.error(`recovery: page cache ${eviction.method}; reopening cold`);
    const cold =
      eviction.method === 'not possible'
        ? undefined
        : await runChild<RecoveryChildReport>('durable-recovery-child.js', [dir], childOptions());
    if (cold !== undefined) checkRecovered(load, cold);
    return { load, warm, eviction, cold };
  });
}

/** A loader that wrote nonsense must not pass for a fast recovery. */
function checkRecovered(load: BulkLoadReport, got: RecoveryChildReport): void {
  if (
    got.accounts !== load.accounts ||
    got.logPosition !== load.logEntries ||
    got.totalBalance !== load.totalBalance
  ) {
    throw new Error(
      `recovered ${got.accounts} accounts, position ${got.logPosition}, total ${got.totalBalance}; ` +
        `loaded ${load.accounts}, ${load.logEntries}, ${load.totalBalance}`,
    );
  }
}

interface Eviction {
  method: 'drop_caches' | 'fadvise DONTNEED' | 'not possible';
  /** Pages of the data file still in the page cache before the cold open (fincore), if known. */
  residentMbBefore: number | undefined;
  residentMbAfter: number | undefined;
}

/**
 * A restart after a reboot or under memory pressure finds the file on disk, not in the page cache.
 * drop_caches needs root and a writable /proc/sys; otherwise POSIX_FADV_DONTNEED on the one file
 * (dd iflag=nocache) evicts its clean pages without privileges.
 */
function evictFromPageCache(file: string): Eviction {
  const residentMbBefore = residentMb(file);
  let method: Eviction['method'] = 'not possible';
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
    method = 'drop_caches';
  } catch {
    try {
      execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
      method = 'fadvise DONTNEED';
    } catch {}
  }
  return { method, residentMbBefore, residentMbAfter: residentMb(file) };
}

function residentMb(file: string): number | undefined {
  try {
    const bytes = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], {
      encoding: 'utf8',
    });
    return Number(bytes.trim()) / 2 ** 20;
  } catch {
    return undefined;
  }
}

async function capacity(accounts: number, transfers: number, batch: number) {
  return withTempDir(async (dir) => {
    const args = [dir, String(accounts), String(transfers), String(batch)];
    const live = await runChild<CapacityChildReport>('durable-capacity-child.js', args, childOptions());
    console.error('capacity: written; recovering the dir in a fresh process');
    const recovered = await runChild<RecoveryChildReport>('durable-recovery-child.js', [dir], childOptions());
    const fileMb = fs.statSync(path.join(dir, DATA_FILE)).size / 2 ** 20;
    return { fileMb, live, recovered };
  });
}

function runSection(section: Section): Promise<object> {
  switch (section) {
    case 'transfers':
      return transfers(
        numberFlag('accounts', 10_000),
        numberFlag('callers', 1024),
        numberFlag('transfers', 200_000),
      );
    case 'recovery':
      return recovery(
        numberFlag('recovery-accounts', 1_000_000),
        numberFlag('recovery-entries', 10_000_000),
        numberFlag('recovery-txid-share', 1),
      );
    case 'capacity':
      return capacity(
        numberFlag('capacity-accounts', 1_000_000),
        numberFlag('capacity-transfers', 200_000),
        numberFlag('capacity-batch', 5_000),
      );
  }
}

/** One line per number (and per string, e.g. the cache eviction method), dotted names. */
function printLeaves(prefix: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) printLeaves(`${prefix}.${key}`, child);
    return;
  }
  const shown = typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(1) : String(value);
  const target = TARGETS[prefix];
  console.log(`${prefix}: ${shown}${target === undefined ? '' : `  (target ${target})`}`);
}

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  argv: process.argv.slice(2),
  machine: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version },
};
for (const section of selectedSections()) {
  const started = performance.now();
  const report = await runSection(section);
  results[section] = { ...report, sectionWallMs: performance.now() - started };
  printLeaves(section, results[section]);
}
const jsonFile = flag('json');
if (jsonFile !== undefined) fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
