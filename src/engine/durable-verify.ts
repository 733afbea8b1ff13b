import * as fs from 'node:fs';
import type { Transaction } from 'lmdb';
import type { LogEntry } from '../domain/types.js';
import {
  checkRecord,
  DamagedRecordError,
  decodeAccount,
  decodeFormatVersion,
  decodeHead,
  decodeIndexEntry,
  decodeLogEntry,
  decodeTxRecord,
  FORMAT_VERSION_KEY,
  HEAD_KEY,
  type LedgerHead,
} from './durable-codec.js';
import { DURABLE_FORMAT_VERSION } from './durable-format.js';
import { openDataRoot, openExistingSubDatabases, type SubDatabases } from './durable-root.js';

/**
 * How much a check reads:
 * - 'startup': every record of every sub-database is read and its checksum checked (so every
 *   B-tree page is touched: LMDB-level damage shows here, in the checking process, not later in
 *   the server), the head agrees with the scans, the log is dense. What serve runs before it maps
 *   the file itself.
 * - 'full': also decodes every record, replays the log against every account (total == sum of
 *   accounts == deposits + logged deltas, each account's balance == its newest logged balance,
 *   every account named in the log exists), and checks the index against the log both ways.
 */
export type CheckLevel = 'startup' | 'full';

export interface CheckReport {
  file: string;
  level: CheckLevel;
  formatVersion: unknown;
  accounts: number;
  totalBalance: bigint;
  logEntries: number;
  firstPosition: number;
  lastPosition: number;
  indexEntries: number;
  txRecords: number;
  head: LedgerHead | undefined;
  /** Every problem found (the first MAX_LISTED are listed). */
  problemCount: number;
  problems: string[];
  durationMs: number;
}

const MAX_LISTED = 20;

class Problems {
  count = 0;
  readonly listed: string[] = [];
  add(message: string): void {
    this.count++;
    if (this.listed.length < MAX_LISTED) this.listed.push(message);
  }
  /** Runs `read`, recording a damaged record instead of stopping at it. */
  guard<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      this.add(err.message);
      return undefined;
    }
  }
}

/**
 * Checks a data file read-only, inside one read transaction, so it sees one consistent snapshot
 * even while a server keeps writing. Reads with LMDB: a damaged B-tree page may abort the process,
 * so callers that must survive that run it in a child (durable-check-child.ts).
 */
export function checkDataFile(file: string, level: CheckLevel): CheckReport {
  const started = performance.now();
  const problems = new Problems();
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist`);
  const root = openDataRoot(file, { readOnly: true });
  try {
    // Opened before the read transaction: opening a sub-database ends the current one.
    const dbs = openExistingSubDatabases(root);
    const txn = root.useReadTransaction();
    try {
      return { ...walk(dbs, txn, file, level, problems), durationMs: performance.now() - started };
    } finally {
      txn.done();
    }
  } finally {
    void root.close();
  }
}

function walk(
  dbs: SubDatabases,
  transaction: Transaction,
  file: string,
  level: CheckLevel,
  problems: Problems,
): Omit<CheckReport, 'durationMs'> {
  const full = level === 'full';
  const formatVersion = decodeFormatVersion(dbs.meta.get(FORMAT_VERSION_KEY, { transaction }));
  if (formatVersion !== DURABLE_FORMAT_VERSION) {
    problems.add(
      `format version in the file is ${String(formatVersion)}, expected ${DURABLE_FORMAT_VERSION}`,
    );
  }
  const head = problems.guard(() => decodeHead(dbs.meta.get(HEAD_KEY, { transaction })));

  // Accounts: every checksum; count and total against the head.
  const balances = new Map<string, bigint>();
  let accounts = 0;
  let totalBalance = 0n;
  for (const { key, value } of dbs.accounts.getRange({ transaction })) {
    const account = problems.guard(() => decodeAccount(key, value));
    if (account === undefined) continue;
    accounts++;
    totalBalance += account.balance;
    if (full) balances.set(account.id, account.balance);
  }
  if (head !== undefined) {
    if (head.accounts !== accounts)
      problems.add(`head says ${head.accounts} accounts, the accounts database holds ${accounts}`);
    if (head.totalBalance !== totalBalance)
      problems.add(`head says a total of ${head.totalBalance}, the accounts sum to ${totalBalance}`);
  }

  // Log: every checksum, dense positions; 'full' replays it.
  const replay = full ? new Replay(balances, problems) : undefined;
  // Reported once, not again by the index check that leads to them.
  const damagedPositions = new Set<number>();
  let logEntries = 0;
  let firstPosition = 0;
  let lastPosition = 0;
  for (const { key, value } of dbs.log.getRange({ transaction })) {
    const position = key as number;
    if (logEntries === 0) firstPosition = position;
    else if (position !== lastPosition + 1)
      problems.add(`log is not dense: position ${position} follows ${lastPosition}`);
    lastPosition = position;
    logEntries++;
    if (replay === undefined) {
      problems.guard(() => checkRecord('log entry', key, value));
      continue;
    }
    const entry = problems.guard(() => decodeLogEntry(key, value));
    if (entry === undefined) damagedPositions.add(position);
    else {
      replay.apply(entry, firstPosition === 1);
      // The index must lead back here, or to a later use of the same id (reused after expiry).
      const indexed = problems.guard(() =>
        decodeIndexEntry(entry.transactionId, dbs.logIndex.get(entry.transactionId, { transaction })),
      );
      if (indexed !== undefined && indexed < position)
        problems.add(
          `index entry of ${entry.transactionId} points to ${indexed}, before its entry at ${position}`,
        );
    }
  }
  const stats = dbs.log.getStats() as { entryCount: number };
  if (stats.entryCount !== logEntries)
    problems.add(`log stats count ${stats.entryCount} entries, a walk finds ${logEntries}`);
  if (head !== undefined && head.lastPosition !== lastPosition)
    problems.add(`head says the last log position is ${head.lastPosition}, the log ends at ${lastPosition}`);
  replay?.finish(totalBalance, firstPosition, lastPosition);

  // Index: every checksum; 'full': each entry names a log entry of the same transaction id.
  let indexEntries = 0;
  for (const { key, value } of dbs.logIndex.getRange({ transaction })) {
    indexEntries++;
    if (!full) {
      problems.guard(() => checkRecord('index entry', key, value));
      continue;
    }
    const position = problems.guard(() => decodeIndexEntry(key, value));
    if (position === undefined) continue;
    if (damagedPositions.has(position)) continue;
    const raw = dbs.log.get(position, { transaction });
    if (raw === undefined) {
      problems.add(
        `index entry ${JSON.stringify(key)} points to position ${position}, which is not in the log`,
      );
      continue;
    }
    const entry = problems.guard(() => decodeLogEntry(position, raw));
    if (entry !== undefined && entry.transactionId !== key)
      problems.add(
        `index entry ${JSON.stringify(key)} points to position ${position}, which is ${entry.transactionId}`,
      );
  }

  // Idempotency records: every checksum ('full': decoded too, which the checksum frame implies).
  let txRecords = 0;
  for (const { key, value } of dbs.txids.getRange({ transaction })) {
    txRecords++;
    if (full) problems.guard(() => decodeTxRecord(key, value));
    else problems.guard(() => checkRecord('idempotency record', key, value));
  }
  return {
    file,
    level,
    formatVersion,
    accounts,
    totalBalance,
    logEntries,
    firstPosition,
    lastPosition,
    indexEntries,
    txRecords,
    head,
    problemCount: problems.count,
    problems: problems.listed,
  };
}

/**
 * Replays the log over balances: every entry must follow from the balances before it, and the
 * newest logged balance of every account must be the stored one. A log cut at the front by
 * retention is replayed from the first entry that names each account.
 */
class Replay {
  private readonly logged = new Map<string, bigint>();
  private deposits = 0n;

  constructor(
    private readonly balances: ReadonlyMap<string, bigint>,
    private readonly problems: Problems,
  ) {}

  apply(entry: LogEntry, fromStart: boolean): void {
    const { accountIds: ids, balancesAfter: after, amount, position } = entry;
    for (const id of ids) {
      if (!this.balances.has(id))
        this.problems.add(`log entry ${position} names account ${id}, which does not exist`);
    }
    const before = ids.map((id) => this.logged.get(id));
    const expect = (i: number, value: bigint | undefined): void => {
      if (value !== undefined && after[i] !== value)
        this.problems.add(`log entry ${position}: ${ids[i]} after is ${after[i]}, replay gives ${value}`);
    };
    switch (entry.operation) {
      case 'create':
        if (fromStart && before[0] !== undefined)
          this.problems.add(`log entry ${position} creates ${ids[0]} a second time`);
        expect(0, amount);
        this.deposits += amount;
        break;
      case 'update':
        expect(0, before[0] === undefined ? undefined : before[0] + amount);
        this.deposits += amount;
        break;
      case 'transfer':
        if (ids.length !== 2)
          this.problems.add(`log entry ${position}: a transfer names ${ids.length} accounts`);
        expect(0, before[0] === undefined ? undefined : before[0] - amount);
        expect(1, before[1] === undefined ? undefined : before[1] + amount);
        break;
    }
    ids.forEach((id, i) => {
      this.logged.set(id, after[i]!);
    });
  }

  finish(totalBalance: bigint, firstPosition: number, lastPosition: number): void {
    for (const [id, balance] of this.balances) {
      const logged = this.logged.get(id);
      if (logged === undefined) {
        // Created before the retained part of the log: nothing to compare with.
        if (firstPosition <= 1 && lastPosition > 0) this.problems.add(`account ${id} is not in the log`);
        else if (firstPosition <= 1 && lastPosition === 0)
          this.problems.add(`account ${id} exists but the log is empty`);
      } else if (logged !== balance) {
        this.problems.add(`account ${id} holds ${balance}, its newest log entry says ${logged}`);
      }
    }
    // Only a complete log holds every deposit.
    if (firstPosition <= 1 && this.deposits !== totalBalance)
      this.problems.add(
        `initial deposits + logged deltas = ${this.deposits}, the accounts sum to ${totalBalance}`,
      );
  }
}

/** JSON-safe form of a report (bigints as decimal strings). */
export function reportToJson(report: CheckReport): string {
  return JSON.stringify(report, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

export function reportFromJson(text: string): CheckReport {
  const raw = JSON.parse(text) as CheckReport & { totalBalance: string; head?: { totalBalance: string } };
  return {
    ...raw,
    totalBalance: BigInt(raw.totalBalance),
    head:
      raw.head === undefined
        ? undefined
        : ({ ...raw.head, totalBalance: BigInt(raw.head.totalBalance) } as LedgerHead),
  };
}
