import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Database, type RootDatabase, TransactionFlags } from 'lmdb';
import { LIMITS } from '../src/domain/limits.js';
import { fingerprint, loggedAmount } from '../src/domain/transitions.js';
import type { AccountState, LogEntry, WriteCommand } from '../src/domain/types.js';
import {
  encodeAccount,
  encodeHead,
  encodeIndexEntry,
  encodeLogEntry,
  encodeTxRecord,
  HEAD_KEY,
} from '../src/engine/durable-codec.js';
import { DataDirLock } from '../src/engine/durable-lock.js';
import { fsyncFile, openDataRoot, openSubDatabases } from '../src/engine/durable-root.js';
import { DATA_FILE, LmdbStorage } from '../src/engine/lmdb-storage.js';
import type { TxRecord } from '../src/engine/outcome.js';

/*
 * Builds a large durable data dir directly, without the engine: loading 10M log entries through
 * the engine's fsynced group commits would take hours. Every value goes through the engine's
 * codec and every key has the engine's layout, so the result is what the engine would have
 * written for the same history:
 *   positions 1..accounts        create acct-0000001.. with the initial balance
 *   later positions              9 in 10 transfer 1 unit between two random accounts,
 *                                1 in 10 update one account by +5 or -3
 * The final accounts are the replay of that log; the newest `txidShare` of the log keeps
 * idempotency records (OK outcomes, expiring 24 h after their entry, as the engine records them).
 */

export interface BulkLoadOptions {
  accounts: number;
  /** Log entries in all, creates included: at least `accounts`. */
  entries: number;
  /** Share of the log, newest first, that still has idempotency records (0..1; default 1 = all). */
  txidShare?: number;
  initialBalance?: number;
  /** Entries per write transaction. */
  entriesPerTxn?: number;
  /** Wall clock the history ends at (ms). */
  nowMs?: number;
  progress?: (line: string) => void;
}

export interface BulkLoadReport {
  accounts: number;
  logEntries: number;
  creates: number;
  transfers: number;
  updates: number;
  txRecords: number;
  /** Sum of all balances after the replay, as a decimal string (exact). */
  totalBalance: string;
  logLoadMs: number;
  accountsLoadMs: number;
  syncMs: number;
  loadMs: number;
  fileMb: number;
}

const UPDATE_EVERY = 10;
const MS_NS = 1_000_000n;
const HALF_DAY_NS = 12n * 3600n * 1000n * MS_NS;
// Keys are written in ascending order into every sub-database: MDB_APPEND fills pages completely
// and skips the search for the insertion point; a key out of order fails the put.
const APPEND = { append: true } as const;

export async function bulkLoad(dataDir: string, options: BulkLoadOptions): Promise<BulkLoadReport> {
  const { accounts, entries } = options;
  if (!Number.isSafeInteger(accounts) || accounts < 2) throw new Error('bulk load: at least 2 accounts');
  if (!Number.isSafeInteger(entries) || entries < accounts)
    throw new Error('bulk load: entries must be >= accounts (the creates are entries too)');
  const dir = path.resolve(dataDir);
  const started = performance.now();
  // Created the normal way: FORMAT marker, data file with every sub-database and format version.
  await (await LmdbStorage.open(dir)).close();
  const lock = DataDirLock.acquire(dir);
  try {
    const file = path.join(dir, DATA_FILE);
    const history = new History(options);
    const root = openDataRoot(file, { bulk: true });
    let logLoadMs: number;
    let accountsLoadMs: number;
    try {
      const dbs = openSubDatabases(root);
      let phase = performance.now();
      await writeLog(root, dbs, history, options);
      logLoadMs = performance.now() - phase;
      phase = performance.now();
      await writeAccounts(root, dbs.accounts, history, options.entriesPerTxn ?? 100_000);
      accountsLoadMs = performance.now() - phase;
      // The head the engine would have written with the last entry: recovery checks it.
      const head = { accounts, totalBalance: history.totalBalance(), lastPosition: entries };
      root.transactionSync(
        () => dbs.meta.putSync(HEAD_KEY, encodeHead(head)),
        TransactionFlags.SYNCHRONOUS_COMMIT,
      );
    } finally {
      await root.close();
    }
    const syncStarted = performance.now();
    fsyncFile(file);
    const syncMs = performance.now() - syncStarted;
    return {
      ...history.counts,
      accounts,
      logEntries: entries,
      totalBalance: history.totalBalance().toString(),
      logLoadMs,
      accountsLoadMs,
      syncMs,
      loadMs: performance.now() - started,
      fileMb: fs.statSync(file).size / 2 ** 20,
    };
  } finally {
    lock.release();
  }
}

interface LogDbs {
  log: Database;
  logIndex: Database;
  txids: Database;
}

async function writeLog(
  root: RootDatabase,
  dbs: LogDbs,
  history: History,
  options: BulkLoadOptions,
): Promise<void> {
  const perTxn = options.entriesPerTxn ?? 100_000;
  const reportEvery = Math.max(perTxn, 1_000_000);
  const started = performance.now();
  for (let first = 1; first <= options.entries; first += perTxn) {
    const last = Math.min(options.entries, first + perTxn - 1);
    // Non-abortable: no nested LMDB transaction per put.
    root.transactionSync(() => {
      for (let position = first; position <= last; position++) {
        const { entry, record } = history.step(position);
        dbs.log.putSync(position, encodeLogEntry(entry), APPEND);
        dbs.logIndex.putSync(entry.transactionId, encodeIndexEntry(entry.transactionId, position), APPEND);
        if (record !== undefined) dbs.txids.putSync(record.transactionId, encodeTxRecord(record), APPEND);
      }
    }, TransactionFlags.SYNCHRONOUS_COMMIT);
    // Between transactions the event loop runs: a signal handler can clean up an interrupted load.
    await nextTurn();
    if (last % reportEvery < perTxn || last === options.entries) {
      const seconds = (performance.now() - started) / 1000;
      options.progress?.(
        `bulk load: ${last} / ${options.entries} log entries (${Math.round(last / seconds)}/s)`,
      );
    }
  }
}

async function writeAccounts(
  root: RootDatabase,
  accounts: Database,
  history: History,
  perTxn: number,
): Promise<void> {
  for (let first = 0; first < history.ids.length; first += perTxn) {
    const last = Math.min(history.ids.length, first + perTxn);
    root.transactionSync(() => {
      for (let i = first; i < last; i++) {
        accounts.putSync(history.ids[i]!, encodeAccount(history.account(i)), APPEND);
      }
    }, TransactionFlags.SYNCHRONOUS_COMMIT);
    await nextTurn();
  }
}

/** The generated history: deterministic, and the account states it leads to. */
class History {
  readonly ids: string[];
  readonly counts = { creates: 0, transfers: 0, updates: 0, txRecords: 0 };
  private readonly balances: Float64Array;
  private readonly versions: Uint32Array;
  private readonly initialBalance: number;
  private readonly firstRecorded: number;
  private readonly txidWidth: number;
  private readonly startNs: bigint;
  private readonly spacingNs: bigint;
  private readonly random = mulberry32(0x5eed);

  constructor(options: BulkLoadOptions) {
    const width = Math.max(7, String(options.accounts).length);
    this.ids = Array.from(
      { length: options.accounts },
      (_, i) => `acct-${String(i + 1).padStart(width, '0')}`,
    );
    this.balances = new Float64Array(options.accounts);
    this.versions = new Uint32Array(options.accounts);
    this.initialBalance = options.initialBalance ?? 1_000_000;
    const share = options.txidShare ?? 1;
    this.firstRecorded = options.entries - Math.round(options.entries * share) + 1;
    this.txidWidth = Math.max(10, String(options.entries).length);
    // Entries 1 ms apart (closer for huge logs): the oldest is under 12 h old, so every record's
    // 24 h expiry is in the future whatever the size.
    const entries = BigInt(options.entries);
    this.spacingNs = HALF_DAY_NS / entries < MS_NS ? HALF_DAY_NS / entries : MS_NS;
    this.startNs = BigInt(options.nowMs ?? Date.now()) * MS_NS - entries * this.spacingNs;
  }

  step(position: number): { entry: LogEntry; record: TxRecord | undefined } {
    const { cmd, touched } = this.command(position);
    const after = this.apply(cmd, touched);
    const entry: LogEntry = {
      position,
      transactionId: cmd.transactionId!,
      timestampNs: this.startNs + BigInt(position) * this.spacingNs,
      operation: cmd.op,
      accountIds: after.map((a) => a.id),
      amount: loggedAmount(cmd),
      balancesAfter: after.map((a) => a.balance),
      status: 'OK',
      principal: '',
    };
    if (position < this.firstRecorded) return { entry, record: undefined };
    this.counts.txRecords++;
    const record: TxRecord = {
      transactionId: entry.transactionId,
      fingerprint: fingerprint(cmd),
      outcome: { ok: true, result: { transactionId: entry.transactionId, accounts: after } },
      expiresAtMs: Number(entry.timestampNs / MS_NS) + LIMITS.defaultTxidTtlMs,
    };
    return { entry, record };
  }

  account(index: number): AccountState {
    return { id: this.ids[index]!, balance: BigInt(this.balances[index]!), version: this.versions[index]! };
  }

  totalBalance(): bigint {
    let total = 0;
    for (const balance of this.balances) total += balance;
    return BigInt(total);
  }

  /** The next command, with the indexes of the accounts it touches in command order. */
  private command(position: number): { cmd: WriteCommand; touched: number[] } {
    // Ids as clients send them: unique, ~26 characters; the position prefix keeps them ascending.
    const transactionId = `tx-${String(position).padStart(this.txidWidth, '0')}-${hex(this.random(), 8)}${hex(this.random() & 0xffff, 4)}`;
    const count = this.ids.length;
    if (position <= count) {
      this.counts.creates++;
      const initialBalance = BigInt(this.initialBalance);
      const cmd: WriteCommand = {
        op: 'create',
        accountId: this.ids[position - 1]!,
        initialBalance,
        transactionId,
      };
      return { cmd, touched: [position - 1] };
    }
    const from = this.random() % count;
    if (position % UPDATE_EVERY === 0) {
      this.counts.updates++;
      const delta = (position / UPDATE_EVERY) % 2 === 0 ? 5n : -3n;
      return { cmd: { op: 'update', accountId: this.ids[from]!, delta, transactionId }, touched: [from] };
    }
    this.counts.transfers++;
    const to = (from + 1 + (this.random() % (count - 1))) % count;
    const cmd: WriteCommand = {
      op: 'transfer',
      fromId: this.ids[from]!,
      toId: this.ids[to]!,
      amount: 1n,
      transactionId,
    };
    return { cmd, touched: [from, to] };
  }

  /** The touched accounts after the command: the engine's transitions, on plain numbers. */
  private apply(cmd: WriteCommand, touched: readonly number[]): AccountState[] {
    switch (cmd.op) {
      case 'create':
        return [this.change(touched[0]!, Number(cmd.initialBalance), false)];
      case 'update':
        return [this.change(touched[0]!, Number(cmd.delta), true)];
      case 'transfer':
        return [
          this.change(touched[0]!, -Number(cmd.amount), true),
          this.change(touched[1]!, Number(cmd.amount), true),
        ];
    }
  }

  private change(index: number, delta: number, bumpVersion: boolean): AccountState {
    const balance = this.balances[index]! + delta;
    // The initial balance is far above what the entries can take out of one account; going
    // negative would mean a bug here, and the engine would have refused that write.
    if (balance < 0) throw new Error(`bulk load: ${this.ids[index]} would go negative`);
    this.balances[index] = balance;
    if (bumpVersion) this.versions[index] = this.versions[index]! + 1;
    return this.account(index);
  }
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}

/** Small, fast, seeded PRNG: the same sizes always build the same history. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
