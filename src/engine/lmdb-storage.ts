import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { LIMITS } from '../domain/limits.js';
import type { AccountState, LogEntry } from '../domain/types.js';
import { CheckCrashed, checkDataFileInChild } from './durable-check.js';
import {
  DamagedRecordError,
  decodeAccount,
  decodeFormatVersion,
  decodeHead,
  decodeIndexEntry,
  decodeLogEntry,
  encodeAccount,
  encodeFormatVersion,
  encodeHead,
  encodeIndexEntry,
  encodeLogEntry,
  encodeTxRecord,
  FORMAT_VERSION_KEY,
  HEAD_KEY,
  type LedgerHead,
} from './durable-codec.js';
import { DataDirError } from './durable-errors.js';
import { makeDataDir, restrictDataFiles } from './durable-file-modes.js';
import {
  DURABLE_FORMAT_VERSION,
  fsyncDir,
  inspectDataDir,
  ioError,
  writeFormatMarker,
} from './durable-format.js';
import { edgeKey } from './durable-keys.js';
import { checkLmdbFile, scanLmdbPages } from './durable-lmdb-header.js';
import { DataDirLock, type LockOptions } from './durable-lock.js';
import { DurableLogRetention } from './durable-log-retention.js';
import { migrateDataDir } from './durable-migrate.js';
import {
  DATA_FILE,
  ignoreCommitFailure,
  openDataRoot,
  openSubDatabases,
  SUB_DATABASES,
  type SubDatabases,
} from './durable-root.js';
import { DurableTxRecords } from './durable-tx-records.js';
import {
  type CommitBatch,
  type LedgerStorage,
  type RecoveredState,
  type RecoveryStats,
  StorageFailure,
} from './storage.js';

export { DATA_FILE };

export const STARTUP_CHECKS = ['auto', 'pages', 'records'] as const;
export type StartupCheck = (typeof STARTUP_CHECKS)[number];

export interface LmdbStorageOptions {
  /** Wall clock of the sweep of expired idempotency records (tests pass a fake one). */
  nowMs?: () => number;
  /** Background work on disk (that sweep, log retention): pause between slices, rest when idle (tests shorten them). */
  diskSweepPauseMs?: number;
  diskSweepRestMs?: number;
  /** Audit-log entries older than this are removed from disk; undefined keeps every entry. */
  logRetentionMs?: number;
  /**
   * What is checked before the server maps an existing file: 'records' (a child reads every record
   * and its checksum, so LMDB-level damage anywhere aborts only the child), 'pages' (every page
   * header is scanned without LMDB: fast, catches zeroed and overwritten pages; damage inside a page
   * is found by the record checksums when read), 'auto' (default): records up to
   * LIMITS.startupRecordCheckMaxBytes, pages above.
   */
  startupCheck?: StartupCheck;
  /** Take over a LOCK left by a server on another host (the operator checked it is gone). */
  forceUnlock?: boolean;
  /** Write transactions in flight (issued, not yet flushed) before commits wait for the next one. */
  transactionsInFlight?: number;
  /** Puts a group needs to start a transaction beside one in flight (0: any group may). */
  overlapMinPuts?: number;
}

/** Group-commit counters: mean commits per flush = commits / flushes. */
export interface FlushStats {
  commits: number;
  puts: number;
  flushes: number;
}

type Commit = Promise<boolean> & { flushed?: PromiseLike<unknown> };

/**
 * Durable storage on LMDB (lmdb-js): one memory-mapped copy-on-write B+tree file, crash-safe
 * without a recovery step. Sub-databases (values: checksummed frames, durable-codec.ts):
 *   accounts  id -> [balance, version]
 *   log       position -> entry (ordered integer keys: the tail is a reverse range read)
 *   logIndex  transaction id -> position (GetTransaction in O(log N))
 *   txids     transaction id -> idempotency record (looked up on demand; swept when expired)
 *   meta      'formatVersion' -> DURABLE_FORMAT_VERSION; 'head' -> [accounts, total, last position]
 * The head is written in the same transaction as every write that changes it; recovery checks
 * the scans against it, so records lost to a damaged page cannot pass for a smaller ledger.
 *
 * Group commit: each commit issues its puts synchronously, so lmdb-js's event-turn batching puts
 * all of them, and every other commit of the same event turn, in one write transaction that a
 * worker thread commits; commit() resolves when that transaction is flushed to disk.
 */
export class LmdbStorage implements LedgerStorage {
  readonly kind: string = 'lmdb';
  readonly flushStats: FlushStats = { commits: 0, puts: 0, flushes: 0 };
  private lastCommit: Commit | undefined;
  private lastObserved: Commit | undefined;
  private headPending = false;
  /** Write transactions issued and not yet durable. */
  private inFlight = 0;
  /** Puts were issued in this event turn: lmdb-js's transaction for it is still open. */
  private turnOpen = false;
  /** Commits waiting for a transaction in flight to become durable (group commit). */
  private held: HeldGroup | undefined;
  private lastDurable: Promise<void> | undefined;
  private closed = false;
  private failureHandler: ((failure: StorageFailure) => void) | undefined;
  private failed: StorageFailure | undefined;
  private readonly accounts: Database;
  private readonly log: Database;
  private readonly logIndex: Database;
  private readonly txids: Database;
  private readonly meta: Database;
  /** The head as of the last commit issued (commits reach LMDB in this order). */
  private head: LedgerHead;
  /** How long the checking child took at open (0 for a new data dir): the bench reports it. */
  startupCheckMs = 0;

  private constructor(
    readonly dataDir: string,
    private readonly lock: DataDirLock,
    private readonly root: RootDatabase,
    dbs: SubDatabases,
    readonly txRecords: DurableTxRecords,
    readonly logRetention: DurableLogRetention | undefined,
    private readonly maxInFlight: number,
    private readonly overlapMinPuts: number,
  ) {
    ({
      accounts: this.accounts,
      log: this.log,
      logIndex: this.logIndex,
      txids: this.txids,
      meta: this.meta,
    } = dbs);
    this.head = readHead(dataDir, this.meta);
  }

  /**
   * Opens (creating if missing) a data dir. Refuses with DataDirError, leaving the directory as
   * it was, when another process holds it, its format is newer, or its files are damaged.
   */
  static async open(dataDir: string, options: LmdbStorageOptions = {}): Promise<LmdbStorage> {
    const dir = path.resolve(dataDir);
    try {
      makeDataDir(dir);
    } catch (err) {
      throw ioError(dir, err);
    }
    const state = inspectDataDir(dir);
    observeInternalCommitFailures();
    const lockOptions: LockOptions = { forceUnlock: options.forceUnlock ?? false };
    const lock = DataDirLock.acquire(dir, lockOptions);
    let root: RootDatabase | undefined;
    try {
      const file = path.join(dir, DATA_FILE);
      if (state === 'migrate') await migrateDataDir(dir, file);
      else if (!fs.existsSync(file)) {
        if (state === 'existing' && !fs.existsSync(`${file}.init`)) {
          // FORMAT is written only after the file is complete: without the file, a ledger was lost.
          throw new DataDirError(
            'corrupt',
            dir,
            `data dir ${dir} has a ${'FORMAT'} marker but its data file ${DATA_FILE} is missing; refusing to start an empty ledger in its place (restore it from a backup)`,
          );
        }
        // New, or a creation that was interrupted before its rename: (re)build it.
        await initDataFile(dir, file, state === 'fresh');
      }
      const checkStarted = performance.now();
      if (state !== 'fresh') await checkBeforeOpening(dir, file, options.startupCheck ?? 'auto');
      const startupCheckMs = performance.now() - checkStarted;
      root = openDataRoot(file);
      const dbs = openSubDatabases(root);
      checkFormatVersion(dir, dbs.meta);
      restrictDataFiles(dir);
      const background = {
        nowMs: options.nowMs ?? Date.now,
        pauseMs: options.diskSweepPauseMs,
        restMs: options.diskSweepRestMs,
      };
      let storage: LmdbStorage | undefined;
      const onDamage = (err: DamagedRecordError) => storage?.damaged(err);
      const txRecords = new DurableTxRecords(dbs.txids, { ...background, onDamage });
      const logRetention =
        options.logRetentionMs === undefined
          ? undefined
          : new DurableLogRetention(dbs.log, dbs.logIndex, {
              ...background,
              retentionMs: options.logRetentionMs,
              onDamage,
            });
      storage = new LmdbStorage(
        dir,
        lock,
        root,
        dbs,
        txRecords,
        logRetention,
        options.transactionsInFlight ?? LIMITS.lmdbTransactionsInFlight,
        options.overlapMinPuts ?? LIMITS.lmdbOverlapMinPuts,
      );
      storage.startupCheckMs = startupCheckMs;
      return storage;
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
      const balances = new Map<string, bigint>();
      let totalBalance = 0n;
      for (const { key, value } of this.accounts.getRange()) {
        const account = decodeAccount(key, value);
        accounts.push(account);
        balances.set(account.id, account.balance);
        totalBalance += account.balance;
      }
      // Read again: the file is the authority, whatever was read at open.
      const head = decodeHead(this.meta.get(HEAD_KEY));
      this.head = head;
      // A damaged page can hide records from a walk without failing any checksum: the head,
      // written with every change, says what the walk must find.
      if (accounts.length !== head.accounts || totalBalance !== head.totalBalance) {
        throw new DamagedRecordError(
          'head',
          HEAD_KEY,
          `says ${head.accounts} accounts with a total of ${head.totalBalance}, the accounts database holds ${accounts.length} with ${totalBalance}`,
        );
      }

      const lastPosition = (edgeKey(this.log, true) as number | undefined) ?? 0;
      if (lastPosition !== head.lastPosition) {
        throw new DamagedRecordError(
          'head',
          HEAD_KEY,
          `says the log ends at position ${head.lastPosition}, it ends at ${lastPosition}`,
        );
      }
      // Retention removes entries from the front only: what is left is one dense range.
      const firstPosition = (edgeKey(this.log, false) as number | undefined) ?? 1;
      const logEntries = this.log.getStats() as { entryCount: number };
      if (logEntries.entryCount !== lastPosition - firstPosition + 1) {
        throw new DamagedRecordError(
          'log',
          DATA_FILE,
          `holds ${logEntries.entryCount} entries but runs from position ${firstPosition} to ${lastPosition}`,
        );
      }
      const recentLog: LogEntry[] = [];
      for (const { key, value } of this.log.getRange({
        reverse: true,
        limit: recentLogEntries,
      })) {
        const entry = decodeLogEntry(key, value);
        if (entry.position !== lastPosition - recentLog.length)
          throw new DamagedRecordError('log entry', entry.position, 'is out of order');
        recentLog.push(entry);
      }
      recentLog.reverse();
      checkWindowAgainstAccounts(recentLog, balances);

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
    if (this.failed !== undefined) throw this.failed;
    const puts = batch.accounts.length + 2 * batch.logEntries.length + batch.txRecords.length;
    if (puts === 0) return undefined;
    const last = batch.logEntries[batch.logEntries.length - 1];
    if (batch.accounts.length > 0 || last !== undefined) {
      this.head = {
        accounts: this.head.accounts + batch.accountsCreated,
        totalBalance: this.head.totalBalance + batch.totalDelta,
        lastPosition: last?.position ?? this.head.lastPosition,
      };
    }
    this.flushStats.commits++;
    // Group commit across event turns: while a transaction is in flight, a commit waits for the
    // next one instead of starting a transaction (and an fsync) of its own. Held commits are
    // written in order, before any later one: an account's newest state wins.
    if (this.held === undefined && (this.turnOpen || this.mayStartTransaction(puts))) {
      this.write(batch);
      return this.lastDurable;
    }
    this.held ??= heldGroup();
    const group = this.held;
    group.batches.push(batch);
    group.puts += puts;
    if (this.mayStartTransaction(group.puts)) this.releaseHeld();
    return group.durable;
  }

  /**
   * Whether `puts` may start a write transaction now: always when none is in flight; beside one
   * in flight (its fsync overlapping this commit) only up to the bound and only for big groups (an
   * ExecuteBatch): a transaction costs ~150-300 us of CPU whatever it holds, so small unary groups
   * wait and share the next one (BENCHMARKS.md, issue 11).
   */
  private mayStartTransaction(puts: number): boolean {
    return this.inFlight === 0 || (this.inFlight < this.maxInFlight && puts >= this.overlapMinPuts);
  }

  /** Issues one commit's puts; they land in the write transaction of this event turn. */
  private write(batch: CommitBatch): void {
    let commit: Commit | undefined;
    const put = (db: Database, key: string | number, value: Buffer): void => {
      commit = this.observed(db.put(key, value) as Commit);
    };
    for (const account of batch.accounts) put(this.accounts, account.id, encodeAccount(account));
    for (const entry of batch.logEntries) {
      put(this.log, entry.position, encodeLogEntry(entry));
      put(this.logIndex, entry.transactionId, encodeIndexEntry(entry.transactionId, entry.position));
    }
    for (const txRecord of batch.txRecords) put(this.txids, txRecord.transactionId, encodeTxRecord(txRecord));
    this.flushStats.puts += batch.accounts.length + 2 * batch.logEntries.length + batch.txRecords.length;
    if (!this.turnOpen) {
      this.turnOpen = true;
      // lmdb-js closes the event turn's transaction in a setImmediate queued at its first put;
      // this one runs after it.
      setImmediate(() => {
        this.turnOpen = false;
      });
    }
    if (batch.accounts.length > 0 || batch.logEntries.length > 0) {
      // One head put per task, after its last commit: lmdb-js ends a write transaction only
      // between tasks (event-turn batching), so the microtask's put lands in the same transaction
      // as every commit of this task, and the head matches what that transaction holds. `head`
      // counts every commit issued, held ones too; but while a group is held nothing is written,
      // and a group is written whole, so whenever puts are issued no commit is left out of them.
      if (!this.headPending) {
        this.headPending = true;
        queueMicrotask(() => {
          this.headPending = false;
          if (this.failed === undefined && !this.closed) {
            this.observed(this.meta.put(HEAD_KEY, encodeHead(this.head)) as Commit);
            this.flushStats.puts++;
          }
        });
      }
    }
    // Every put of one write transaction returns the same promise: one durable wait per flush.
    if (commit === undefined || (commit === this.lastCommit && this.lastDurable !== undefined)) return;
    const current = commit;
    this.lastCommit = current;
    this.flushStats.flushes++;
    this.inFlight++;
    // With overlappingSync a commit is visible before it is on disk: wait for the flush too.
    const durable = current.then(
      async () => {
        await current.flushed;
      },
      async (err: unknown) => {
        throw this.commitFailed(await describeCommitFailure(this.dataDir, err));
      },
    );
    this.lastDurable = durable;
    durable.then(
      () => {
        this.inFlight--;
        this.releaseHeld();
      },
      () => {
        this.inFlight--;
      },
    );
  }

  /** Writes the held commits as one transaction, once one in flight is durable. */
  private releaseHeld(): void {
    const group = this.held;
    if (group === undefined || !this.mayStartTransaction(group.puts)) return;
    this.held = undefined;
    if (this.failed !== undefined || this.closed) {
      group.reject(this.failed ?? new StorageFailure('storage closed with commits pending'));
      return;
    }
    try {
      for (const batch of group.batches) this.write(batch);
    } catch (err) {
      group.reject(err);
      return;
    }
    this.lastDurable!.then(group.resolve, group.reject);
  }

  /**
   * lmdb-js rejects every put of a failed transaction (and a separate `commitError` promise): a
   * rejection nobody observes would kill the process before the engine can refuse cleanly. The
   * failure itself is reported through the promise commit() returns.
   */
  private observed(promise: Commit): Commit {
    if (promise !== this.lastObserved) {
      this.lastObserved = promise;
      promise.catch(ignoreCommitFailure);
    }
    return promise;
  }

  startMaintenance(isPending: (transactionId: string) => boolean): void {
    this.txRecords.startSweep(isPending);
    this.logRetention?.start(isPending);
  }

  setFailureHandler(handler: (failure: StorageFailure) => void): void {
    this.failureHandler = handler;
  }

  async findLogEntry(transactionId: string): Promise<LogEntry | undefined> {
    try {
      const stored = this.logIndex.get(transactionId) as unknown;
      if (stored === undefined) return undefined;
      const position = decodeIndexEntry(transactionId, stored);
      // Both reads see one snapshot, and retention removes an entry with its index entry: an
      // index entry without its log entry is damage (decoding refuses it).
      const entry = decodeLogEntry(position, this.log.get(position));
      // The index keeps only the newest use of an id reused after its record expired.
      return entry.transactionId === transactionId ? entry : undefined;
    } catch (err) {
      if (err instanceof DamagedRecordError) throw this.damaged(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // A head put queued by this task's last commit goes first (it is ahead in the microtask queue).
    await Promise.resolve();
    this.closed = true;
    this.txRecords.stop();
    this.logRetention?.stop();
    try {
      if (this.failed === undefined) {
        await this.root.flushed;
        await this.root.close();
      }
      // After a failed commit lmdb-js waits forever for the failed transaction's flush: the file
      // is left as a crash would leave it (LMDB needs no recovery step; the failed transaction
      // is not in it), and the process that holds it is about to end.
    } finally {
      this.lock.release();
    }
  }

  /** Damage found while serving: reported once, background work stops, the caller throws it. */
  damaged(err: DamagedRecordError): StorageFailure {
    return this.fail(
      new StorageFailure(`data file ${path.join(this.dataDir, DATA_FILE)} is damaged: ${err.message}`),
    );
  }

  private commitFailed(reason: string): StorageFailure {
    return this.fail(new StorageFailure(reason));
  }

  private fail(failure: StorageFailure): StorageFailure {
    if (this.failed !== undefined) return this.failed;
    this.failed = failure;
    const held = this.held;
    this.held = undefined;
    held?.reject(failure);
    this.txRecords.stop();
    this.logRetention?.stop();
    this.failureHandler?.(failure);
    return failure;
  }
}

interface HeldGroup {
  batches: CommitBatch[];
  /** Puts of those batches (heads not counted). */
  puts: number;
  /** Settles with the transaction the group is written in. */
  durable: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function heldGroup(): HeldGroup {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const durable = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Observed here: a failure reaches the engine through every commit's own promise.
  durable.catch(() => {});
  return { batches: [], puts: 0, durable, resolve, reject };
}

let observingCommitFailures = false;

/**
 * With event-turn batching, lmdb-js (3.x) makes an internal promise for each batch that nobody
 * can observe; when that transaction fails (disk full, I/O error) it rejects unhandled, and Node
 * ends the process with a raw "Commit failed" stack before the engine can refuse writes cleanly.
 * The failure itself reaches us through the put promises commit() observes. So rejections that
 * are lmdb-js commit failures (they carry `commitError`) are ignored here; any other unhandled
 * rejection is thrown again, ending the process as Node would have.
 */
function observeInternalCommitFailures(): void {
  if (observingCommitFailures) return;
  observingCommitFailures = true;
  process.on('unhandledRejection', (reason) => {
    if (reason instanceof Error && 'commitError' in reason) {
      ignoreCommitFailure(reason);
      return;
    }
    throw reason;
  });
}

/**
 * The newest logged balance of every account in the memory window must be its stored balance:
 * the window is the end of the log, so nothing wrote those accounts after it.
 */
function checkWindowAgainstAccounts(
  window: readonly LogEntry[],
  balances: ReadonlyMap<string, bigint>,
): void {
  const seen = new Set<string>();
  for (let i = window.length - 1; i >= 0; i--) {
    const entry = window[i]!;
    entry.accountIds.forEach((id, k) => {
      const stored = balances.get(id);
      if (stored === undefined) {
        throw new DamagedRecordError('log entry', entry.position, `names account ${id}, which is not stored`);
      }
      if (seen.has(id)) return;
      seen.add(id);
      if (stored !== entry.balancesAfter[k]) {
        throw new DamagedRecordError(
          'account',
          id,
          `holds ${stored}, but its newest log entry (${entry.position}) says ${entry.balancesAfter[k]}`,
        );
      }
    });
  }
}

/** lmdb-js rejects with "Commit failed" and the cause in a separate promise: one line of both. */
async function describeCommitFailure(dataDir: string, err: unknown): Promise<string> {
  let cause = err instanceof Error ? err.message : String(err);
  const inner = (err as { commitError?: Promise<unknown> } | undefined)?.commitError;
  if (inner !== undefined) {
    try {
      await inner;
    } catch (innerErr) {
      cause = `${cause.replace(/ \(see commitError for details\)/, '')}: ${innerErr instanceof Error ? innerErr.message : String(innerErr)}`;
    }
  }
  let space = '';
  try {
    const fsStats = fs.statfsSync(dataDir);
    space = `; ${fsStats.bavail * fsStats.bsize} bytes free on its file system`;
  } catch {
    // Only a hint for the operator.
  }
  return `writing to data dir ${dataDir} failed (${cause}${space})`;
}

/**
 * The checks that must happen before this process maps the file: the meta pages and the size
 * (which LMDB trusts blindly), then a child process reads every record and its checksum. LMDB
 * aborts on some damaged pages: that abort happens in the child.
 */
async function checkBeforeOpening(dir: string, file: string, check: StartupCheck): Promise<void> {
  checkLmdbFile(dir, file);
  // Headers first, whatever the level: cheap, and it keeps the checking child from aborting on
  // the commonest damage.
  scanLmdbPages(dir, file);
  const records =
    check === 'records' || (check === 'auto' && fs.statSync(file).size <= LIMITS.startupRecordCheckMaxBytes);
  if (!records) return;
  let report: Awaited<ReturnType<typeof checkDataFileInChild>>;
  try {
    report = await checkDataFileInChild(file, 'startup');
  } catch (err) {
    const why = err instanceof CheckCrashed ? err.message : String(err);
    throw new DataDirError('corrupt', dir, `data file ${file} is damaged (${why}); refusing to open it`);
  }
  const version = report.formatVersion;
  if (typeof version === 'number' && version > DURABLE_FORMAT_VERSION) {
    throw new DataDirError(
      'too-new',
      dir,
      `data dir ${dir} has format version ${version}, newer than this ledgerctl supports (${DURABLE_FORMAT_VERSION}); upgrade ledgerctl`,
    );
  }
  if (report.problemCount > 0) {
    const more =
      report.problemCount > 1 ? ` (and ${report.problemCount - 1} more problems; run ledgerctl verify)` : '';
    throw new DataDirError(
      'corrupt',
      dir,
      `data file ${file} is damaged: ${report.problems[0]}${more}; refusing to open it`,
    );
  }
}

/**
 * Creates the data file under a temporary name with every sub-database, the format version and
 * an empty head, then renames it into place: a data file that exists is always complete, so a
 * missing sub-database can only mean damage.
 */
async function initDataFile(dir: string, file: string, writeMarker: boolean): Promise<void> {
  const temp = `${file}.init`;
  fs.rmSync(temp, { force: true });
  fs.rmSync(`${temp}-lock`, { force: true });
  const root = openDataRoot(temp);
  const dbs = openSubDatabases(root);
  dbs.meta.putSync(FORMAT_VERSION_KEY, encodeFormatVersion(DURABLE_FORMAT_VERSION));
  dbs.meta.putSync(HEAD_KEY, encodeHead({ accounts: 0, totalBalance: 0n, lastPosition: 0 }));
  await root.close();
  fs.rmSync(`${temp}-lock`, { force: true });
  if (writeMarker) writeFormatMarker(dir);
  fs.renameSync(temp, file);
  fsyncDir(dir);
}

function readHead(dir: string, meta: Database): LedgerHead {
  try {
    return decodeHead(meta.get(HEAD_KEY));
  } catch (err) {
    throw asCorrupt(dir, err);
  }
}

function checkFormatVersion(dir: string, meta: Database): void {
  const stored = decodeFormatVersion(meta.get(FORMAT_VERSION_KEY));
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

export { SUB_DATABASES };
