import type { AccountState, LogEntry } from '../domain/types.js';
import type { TxRecordLookup } from './idempotency-store.js';
import type { TxRecord } from './outcome.js';

/**
 * Everything one write, or one ExecuteBatch, makes durable at once (one storage transaction):
 * the accounts' states after it, its audit-log entries (consecutive positions, in order) and its
 * idempotency records.
 */
export interface CommitBatch {
  readonly accounts: readonly AccountState[];
  readonly logEntries: readonly LogEntry[];
  readonly txRecords: readonly TxRecord[];
  /**
   * How the batch changes the ledger's head: the total of all balances and the number of
   * accounts. Durable storage keeps a checksummed head that recovery checks the scans against.
   */
  readonly totalDelta: bigint;
  readonly accountsCreated: number;
}

/**
 * Storage can no longer vouch for what it holds or will hold: a stored record failed its checksum
 * while serving, or a commit failed (disk full, I/O error). `reason` is one line for the log.
 */
export class StorageFailure extends Error {
  override readonly name = 'StorageFailure';
  constructor(readonly reason: string) {
    super(`storage failed: ${reason}`);
  }
}

/** What recover() found and how long it took: the server logs it at start. */
export interface RecoveryStats {
  readonly accounts: number;
  /** Every entry ever logged (the last position). */
  readonly logEntries: number;
  /** Entries still on disk (all of them, unless a log retention removed the oldest). */
  readonly logEntriesOnDisk: number;
  /** The newest ones, handed to the engine's memory window. */
  readonly logEntriesInMemory: number;
  /** Idempotency records on disk (looked up there on demand, not loaded; expired ones are swept). */
  readonly txRecords: number;
  readonly durationMs: number;
}

export interface RecoveredState {
  readonly accounts: Iterable<AccountState>;
  readonly lastPosition: number;
  /** The newest log entries, oldest first (at most the engine's memory window). */
  readonly recentLog: readonly LogEntry[];
  /** Durable storage only: counts and duration of the recovery. */
  readonly stats?: RecoveryStats;
}

/**
 * The engine's one storage interface: the in-memory and the durable mode share every rule and
 * lock above it. `commit` returns undefined when the batch is already durable (in-memory), or a
 * promise that resolves once it is; a rejected commit is fatal for the process.
 */
export interface LedgerStorage {
  readonly kind: string;
  /** `recentLogEntries`: how many of the newest log entries to return (the engine's memory window). */
  recover(recentLogEntries: number): Promise<RecoveredState>;
  commit(batch: CommitBatch): Promise<void> | undefined;
  /** Log entries older than the engine's memory window. */
  findLogEntry(transactionId: string): Promise<LogEntry | undefined>;
  /**
   * Set when storage keeps every committed idempotency record and sweeps expired ones itself: the
   * engine then holds only a bounded cache of them and looks the others up synchronously here.
   */
  readonly txRecords: TxRecordLookup | undefined;
  /**
   * Starts background work on disk (sweeping expired idempotency records, log retention).
   * `isPending` tells which ids a write is executing right now: what it is about to write for
   * that id must not be deleted by work that read the old state.
   */
  startMaintenance(isPending: (transactionId: string) => boolean): void;
  /**
   * Durable storage: told once when damage is found while serving (a read, a background walk).
   * The engine then refuses writes; the read that found it also throws.
   */
  setFailureHandler?(handler: (failure: StorageFailure) => void): void;
  close(): Promise<void>;
}

const EMPTY: RecoveredState = { accounts: [], lastPosition: 0, recentLog: [] };

/** Nothing survives the process: commits are complete the moment they are made. */
export class MemoryStorage implements LedgerStorage {
  readonly kind: string = 'memory';
  async recover(_recentLogEntries: number): Promise<RecoveredState> {
    return EMPTY;
  }
  commit(_batch: CommitBatch): Promise<void> | undefined {
    return undefined;
  }
  async findLogEntry(): Promise<undefined> {
    return undefined;
  }
  readonly txRecords: TxRecordLookup | undefined = undefined;
  startMaintenance(): void {}
  async close(): Promise<void> {}
}

export interface DelayedCommitOptions {
  /** Each commit takes a delay drawn uniformly from [minMs, maxMs], independently: they finish out of order. */
  minMs: number;
  maxMs: number;
  random?: () => number;
}

/**
 * In-memory storage whose commit is asynchronous with random delays, so every await point of
 * the write path really interleaves. Used by tests to exercise the locks and the sequencer.
 */
export class DelayedCommitStorage extends MemoryStorage {
  override readonly kind: string = 'memory-delayed';
  constructor(private readonly options: DelayedCommitOptions) {
    super();
  }
  override commit(): Promise<void> {
    const { minMs, maxMs, random = Math.random } = this.options;
    const delayMs = minMs + (maxMs - minMs) * random();
    return new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}
