import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import { LIMITS } from '../domain/limits.js';
import type { AccountState, LogEntry } from '../domain/types.js';
import {
  DecodeError,
  decodeAccount,
  decodeLogEntry,
  encodeAccount,
  encodeLogEntry,
  encodeTxRecord,
} from './durable-codec.js';
import { DataDirError } from './durable-errors.js';
import {
  DURABLE_FORMAT_VERSION,
  fsyncDir,
  inspectDataDir,
  ioError,
  writeFormatMarker,
} from './durable-format.js';
import { edgeKey } from './durable-keys.js';
import { checkLmdbFile } from './durable-lmdb-header.js';
import { DataDirLock } from './durable-lock.js';
import { DurableLogRetention } from './durable-log-retention.js';
import { probeLmdbFile, SUB_DATABASES } from './durable-probe.js';
import { DurableTxRecords } from './durable-tx-records.js';
import type { CommitBatch, LedgerStorage, RecoveredState, RecoveryStats } from './storage.js';

export const DATA_FILE = 'ledger.mdb';

export interface LmdbStorageOptions {
  /** Wall clock of the sweep of expired idempotency records (tests pass a fake one). */
  nowMs?: () => number;
  /** Background work on disk (that sweep, log retention): pause between slices, rest when idle (tests shorten them). */
  diskSweepPauseMs?: number;
  diskSweepRestMs?: number;
  /** Audit-log entries older than this are removed from disk; undefined keeps every entry. */
  logRetentionMs?: number;
}

/** Group-commit counters: mean commits per flush = commits / flushes. */
export interface FlushStats {
  commits: number;
  puts: number;
  flushes: number;
}

interface SubDatabases {
  accounts: Database;
  log: Database;
  logIndex: Database;
  txids: Database;
  meta: Database;
}

type Commit = Promise<boolean> & { flushed?: PromiseLike<unknown> };

/**
 * Durable storage on LMDB (lmdb-js): one memory-mapped copy-on-write B+tree file, crash-safe
 * without a recovery step. Sub-databases:
 *   accounts  id -> [balance, version]
 *   log       position -> entry (ordered integer keys: the tail is a reverse range read)
 *   logIndex  transaction id -> position (GetTransaction in O(log N))
 *   txids     transaction id -> idempotency record (looked up on demand; swept when expired)
 *   meta      'formatVersion' -> DURABLE_FORMAT_VERSION
 * The last position is the log's last key, not a separate counter, so the two cannot disagree.
 *
 * Group commit: each commit issues its puts synchronously, so lmdb-js's event-turn batching puts
 * all of them, and every other commit of the same event turn, in one write transaction that a
 * worker thread commits; commit() resolves when that transaction is flushed to disk.
 */
export class LmdbStorage implements LedgerStorage {
  readonly kind: string = 'lmdb';
  readonly flushStats: FlushStats = { commits: 0, puts: 0, flushes: 0 };
  private lastCommit: Commit | undefined;
  private lastDurable: Promise<void> | undefined;
  private closed = false;
  private readonly accounts: Database;
  private readonly log: Database;
  private readonly logIndex: Database;
  private readonly txids: Database;

  private constructor(
    readonly dataDir: string,
    private readonly lock: DataDirLock,
    private readonly root: RootDatabase,
    dbs: SubDatabases,
    readonly txRecords: DurableTxRecords,
    readonly logRetention: DurableLogRetention | undefined,
  ) {
    ({ accounts: this.accounts, log: this.log, logIndex: this.logIndex, txids: this.txids } = dbs);
  }

  /**
   * Opens (creating if missing) a data dir. Refuses with DataDirError, leaving the directory as
   * it was, when another process holds it, its format is newer, or its files are damaged.
   */
  static async open(dataDir: string, options: LmdbStorageOptions = {}): Promise<LmdbStorage> {
    const dir = path.resolve(dataDir);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw ioError(dir, err);
    }
    const state = inspectDataDir(dir);
    const lock = DataDirLock.acquire(dir);
    let root: RootDatabase | undefined;
    try {
      const file = path.join(dir, DATA_FILE);
      if (fs.existsSync(file)) {
        checkLmdbFile(dir, file);
        probeLmdbFile(dir, file);
      } else {
        // New, or a creation that was interrupted before its rename: (re)build it.
        await initDataFile(dir, file, state === 'fresh');
      }
      root = openRoot(file);
      const dbs: SubDatabases = {
        accounts: root.openDB({ name: 'accounts' }),
        log: root.openDB({ name: 'log' }),
        logIndex: root.openDB({ name: 'logIndex' }),
        txids: root.openDB({ name: 'txids' }),
        meta: root.openDB({ name: 'meta' }),
      };
      checkFormatVersion(dir, dbs.meta);
      const background = {
        nowMs: options.nowMs ?? Date.now,
        pauseMs: options.diskSweepPauseMs,
        restMs: options.diskSweepRestMs,
      };
      const txRecords = new DurableTxRecords(dbs.txids, background);
      const logRetention =
        options.logRetentionMs === undefined
          ? undefined
          : new DurableLogRetention(dbs.log, dbs.logIndex, {
              ...background,
              retentionMs: options.logRetentionMs,
            });
      return new LmdbStorage(dir, lock, root, dbs, txRecords, logRetention);
    } catch (err) {
      // Refused: close what we opened and give the directory back as it was.
      root?.close().catch(() => {});
      lock.release();
      if (err instanceof DataDirError) throw err;
      throw asCorrupt(dir, err);
    }
  }

  async recover(recentLogEntries: number): Promise<RecoveredState> {
    const started = performance.now();
    try {
      const accounts: AccountState[] = [];
      for (const { key, value } of this.accounts.getRange()) accounts.push(decodeAccount(key, value));

      const lastPosition = (edgeKey(this.log, true) as number | undefined) ?? 0;
      // Retention removes entries from the front only: what is left is one dense range.
      const firstPosition = (edgeKey(this.log, false) as number | undefined) ?? 1;
      const logEntries = this.log.getStats() as { entryCount: number };
      if (logEntries.entryCount !== lastPosition - firstPosition + 1) {
        throw new DecodeError(
          `log holds ${logEntries.entryCount} entries but runs from position ${firstPosition} to ${lastPosition}`,
        );
      }
      const recentLog: LogEntry[] = [];
      for (const { key, value } of this.log.getRange({
        reverse: true,
        limit: recentLogEntries,
      })) {
        const entry = decodeLogEntry(key, value);
        if (entry.position !== lastPosition - recentLog.length)
          throw new DecodeError(`log position ${entry.position} out of order`);
        recentLog.push(entry);
      }
      recentLog.reverse();

      // Idempotency records stay on disk: the engine looks them up by id when a request needs one.
      const txRecords = (this.txids.getStats() as { entryCount: number }).entryCount;
      const stats: RecoveryStats = {
        accounts: accounts.length,
        logEntries: lastPosition,
        logEntriesOnDisk: logEntries.entryCount,
        logEntriesInMemory: recentLog.length,
        txRecords,
        durationMs: performance.now() - started,
      };
      return { accounts, lastPosition, recentLog, stats };
    } catch (err) {
      throw asCorrupt(this.dataDir, err);
    }
  }

  commit(batch: CommitBatch): Promise<void> | undefined {
    let commit: Commit | undefined;
    let puts = 0;
    for (const account of batch.accounts) {
      commit = this.accounts.put(account.id, encodeAccount(account));
      puts++;
    }
    for (const entry of batch.logEntries) {
      commit = this.log.put(entry.position, encodeLogEntry(entry));
      this.logIndex.put(entry.transactionId, entry.position);
      puts += 2;
    }
    for (const txRecord of batch.txRecords) {
      commit = this.txids.put(txRecord.transactionId, encodeTxRecord(txRecord));
      puts++;
    }
    if (commit === undefined) return undefined;
    this.flushStats.commits++;
    this.flushStats.puts += puts;
    // Every put of one write transaction returns the same promise: one durable wait per flush.
    if (commit !== this.lastCommit || this.lastDurable === undefined) {
      const current = commit;
      this.lastCommit = current;
      this.flushStats.flushes++;
      // With overlappingSync a commit is visible before it is on disk: wait for the flush too.
      this.lastDurable = current.then(async () => {
        await current.flushed;
      });
    }
    return this.lastDurable;
  }

  startMaintenance(isPending: (transactionId: string) => boolean): void {
    this.txRecords.startSweep(isPending);
    this.logRetention?.start(isPending);
  }

  async findLogEntry(transactionId: string): Promise<LogEntry | undefined> {
    const position = this.logIndex.get(transactionId) as number | undefined;
    if (position === undefined) return undefined;
    // Both reads see one snapshot, and retention removes an entry with its index entry: an index
    // entry without its log entry is damage (decoding refuses it).
    const entry = decodeLogEntry(position, this.log.get(position));
    // The index keeps only the newest use of an id reused after its record expired.
    return entry.transactionId === transactionId ? entry : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.txRecords.stop();
    this.logRetention?.stop();
    try {
      await this.root.flushed;
      await this.root.close();
    } finally {
      this.lock.release();
    }
  }
}

/**
 * Creates the data file under a temporary name with every sub-database and the format version,
 * then renames it into place: a data file that exists is always complete, so a missing
 * sub-database can only mean damage.
 */
async function initDataFile(dir: string, file: string, writeMarker: boolean): Promise<void> {
  const temp = `${file}.init`;
  fs.rmSync(temp, { force: true });
  fs.rmSync(`${temp}-lock`, { force: true });
  const root = openRoot(temp);
  for (const name of SUB_DATABASES) root.openDB({ name });
  root.openDB({ name: 'meta' }).putSync('formatVersion', DURABLE_FORMAT_VERSION);
  await root.close();
  fs.rmSync(`${temp}-lock`, { force: true });
  if (writeMarker) writeFormatMarker(dir);
  fs.renameSync(temp, file);
  fsyncDir(dir);
}

function openRoot(file: string): RootDatabase {
  return open({
    path: file,
    noSubdir: true,
    maxDbs: 8,
    // Durability: every transaction is fsynced (noSync stays off). overlappingSync lets the flush
    // of one transaction overlap the next one's commit; commit() waits for `flushed`, so an
    // acknowledged write is on disk either way. A process crash keeps committed-but-unflushed
    // transactions (same boot); after a power loss LMDB falls back to the last flushed one.
    noSync: false,
    overlappingSync: true,
    separateFlushed: true,
    eventTurnBatching: true,
    cache: false,
    // Reserved address space, not disk: the file grows as needed. Without it lmdb-js starts small
    // and maps the file again each time it outgrows the map, keeping the old maps, so a page that
    // is resident in several of them counts several times in RSS (2 GB for a 600 MB file).
    mapSize: LIMITS.lmdbMapSizeBytes,
    encoding: 'msgpack',
  });
}

function checkFormatVersion(dir: string, meta: Database): void {
  const stored = meta.get('formatVersion') as unknown;
  if (stored === DURABLE_FORMAT_VERSION) return;
  if (typeof stored === 'number' && stored > DURABLE_FORMAT_VERSION) {
    throw new DataDirError(
      'too-new',
      dir,
      `data dir ${dir} has format version ${stored}, newer than this ledgerctl supports (${DURABLE_FORMAT_VERSION}); upgrade ledgerctl`,
    );
  }
  throw new DataDirError(
    'corrupt',
    dir,
    `data dir ${dir}: its data file has format version ${String(stored)}, expected ${DURABLE_FORMAT_VERSION}`,
  );
}

function asCorrupt(dir: string, err: unknown): DataDirError {
  if (err instanceof DataDirError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new DataDirError(
    'corrupt',
    dir,
    `data dir ${dir} is damaged or unreadable (${why}); refusing to open it`,
  );
}
