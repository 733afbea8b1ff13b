import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { reportToParent } from './durable-child-process.js';
import { type MemoryReport, memoryReport, settledMemory } from './durable-process-memory.js';

/*
 * Opens a data dir the way a restarting server does and reports how long that took and what the
 * recovered engine holds in memory. Run by durable-bench.ts in a fresh process, so neither the
 * loader's heap nor its mappings count. Usage:
 *   node --expose-gc dist/bench/durable-recovery-child.js DATA_DIR
 */
export interface RecoveryChildReport {
  storageOpenMs: number;
  /** Part of storageOpenMs: the child process that reads every record and its checksum. */
  startupCheckMs: number;
  engineOpenMs: number;
  openTotalMs: number;
  /** What the engine says it recovered (RecoveryStats; printed whatever fields it has). */
  recovery: Record<string, unknown>;
  stats: Record<string, unknown>;
  accounts: number;
  logPosition: number;
  /** Exact, as a decimal string: the parent compares it with the loaded history. */
  totalBalance: string;
  memory: { baseline: MemoryReport; afterOpen: MemoryReport; settled: MemoryReport };
}

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: durable-recovery-child.js DATA_DIR');

const baseline = memoryReport();
const started = performance.now();
const storage = await LmdbStorage.open(dataDir);
const storageOpened = performance.now();
const engine = await LedgerEngine.open({ storage });
const ready = performance.now();
// Before any GC: what recovery left behind, garbage included.
const afterOpen = memoryReport();
const settled = await settledMemory();
const snapshot = engine.getSnapshot(false);
const report: RecoveryChildReport = {
  storageOpenMs: storageOpened - started,
  startupCheckMs: storage.startupCheckMs,
  engineOpenMs: ready - storageOpened,
  openTotalMs: ready - started,
  recovery: { ...engine.recovery },
  stats: { ...engine.stats() },
  accounts: snapshot.accountCount,
  logPosition: snapshot.logPosition,
  totalBalance: snapshot.totalBalance.toString(),
  memory: { baseline, afterOpen, settled },
};
await engine.close();
reportToParent(report);
