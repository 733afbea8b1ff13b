import * as fs from 'node:fs';
import type { Database, Key, RootDatabase } from 'lmdb';
import { TransactionFlags } from 'lmdb';
import {
  decodeFormatVersion,
  decodeV1Account,
  decodeV1IndexEntry,
  decodeV1LogEntry,
  decodeV1TxRecord,
  encodeAccount,
  encodeFormatVersion,
  encodeHead,
  encodeIndexEntry,
  encodeLogEntry,
  encodeTxRecord,
  FORMAT_VERSION_KEY,
  HEAD_KEY,
} from './durable-codec.js';
import { DataDirError } from './durable-errors.js';
import { DURABLE_FORMAT_VERSION, fsyncDir, writeFormatMarker } from './durable-format.js';
import { checkLmdbFile } from './durable-lmdb-header.js';
import {
  fsyncFile,
  openDataRoot,
  openExistingSubDatabases,
  openSubDatabases,
  type SubDatabases,
} from './durable-root.js';

/** Records copied per write transaction. */
const RECORDS_PER_TXN = 10_000;

/**
 * Migrates a data dir of format version 1 (values without checksums, no head) to the current
 * version, under the data dir's LOCK. Every value is decoded with the old validating decoders and
 * written again in a checksummed frame into a new file; the head is computed from the accounts and
 * the log. The steps are ordered so that an interruption at any point is finished or redone on the
 * next start, and the old file is kept as `ledger.mdb.v1` (remove it once the new one serves):
 *   1. build `ledger.mdb.migrate` completely, fsync it
 *   2. rename `ledger.mdb` -> `ledger.mdb.v1`
 *   3. rename `ledger.mdb.migrate` -> `ledger.mdb`
 *   4. write FORMAT with the new version
 */
export async function migrateDataDir(dir: string, file: string): Promise<void> {
  const building = `${file}.migrate`;
  const old = `${file}.v1`;
  if (!fs.existsSync(file)) {
    if (fs.existsSync(building) && fs.existsSync(old)) {
      // Interrupted between steps 2 and 3.
      fs.renameSync(building, file);
      fsyncDir(dir);
      writeFormatMarker(dir);
      return;
    }
    throw new DataDirError(
      'corrupt',
      dir,
      `data dir ${dir} has a FORMAT marker but its data file is missing; refusing to start an empty ledger in its place (restore it from a backup)`,
    );
  }
  // The old file gets the same protection as any file LMDB is about to map.
  checkLmdbFile(dir, file);
  const version = readFormatVersion(file);
  if (version === DURABLE_FORMAT_VERSION) {
    // Interrupted between steps 3 and 4.
    writeFormatMarker(dir);
    return;
  }
  if (version !== 1) {
    throw new DataDirError(
      'corrupt',
      dir,
      `data dir ${dir}: FORMAT says version 1 but its data file has version ${String(version)}`,
    );
  }
  fs.rmSync(building, { force: true });
  fs.rmSync(`${building}-lock`, { force: true });
  const source = openDataRoot(file, { readOnly: true });
  const target = openDataRoot(building, { bulk: true });
  try {
    copyAll(source, openExistingSubDatabases(source), target, openSubDatabases(target));
  } finally {
    await target.close();
    await source.close();
  }
  fs.rmSync(`${building}-lock`, { force: true });
  fsyncFile(building);
  fs.renameSync(file, old);
  fs.rmSync(`${file}-lock`, { force: true });
  fsyncDir(dir);
  fs.renameSync(building, file);
  fsyncDir(dir);
  writeFormatMarker(dir);
}

function readFormatVersion(file: string): unknown {
  const root = openDataRoot(file, { readOnly: true });
  try {
    return decodeFormatVersion(openExistingSubDatabases(root).meta.get(FORMAT_VERSION_KEY));
  } finally {
    void root.close();
  }
}

function copyAll(source: RootDatabase, from: SubDatabases, target: RootDatabase, to: SubDatabases): void {
  const txn = source.useReadTransaction();
  try {
    let accounts = 0;
    let totalBalance = 0n;
    copy(target, from.accounts, txn, (key, value) => {
      const account = decodeV1Account(key, value);
      accounts++;
      totalBalance += account.balance;
      to.accounts.putSync(key, encodeAccount(account));
    });
    let lastPosition = 0;
    copy(target, from.log, txn, (key, value) => {
      const entry = decodeV1LogEntry(key, value);
      lastPosition = entry.position;
      to.log.putSync(key, encodeLogEntry(entry));
    });
    copy(target, from.logIndex, txn, (key, value) => {
      to.logIndex.putSync(key, encodeIndexEntry(key as string, decodeV1IndexEntry(key, value)));
    });
    copy(target, from.txids, txn, (key, value) => {
      to.txids.putSync(key, encodeTxRecord(decodeV1TxRecord(key, value)));
    });
    target.transactionSync(() => {
      to.meta.putSync(FORMAT_VERSION_KEY, encodeFormatVersion(DURABLE_FORMAT_VERSION));
      to.meta.putSync(HEAD_KEY, encodeHead({ accounts, totalBalance, lastPosition }));
    }, TransactionFlags.SYNCHRONOUS_COMMIT);
  } finally {
    txn.done();
  }
}

/** Copies one sub-database in write transactions of RECORDS_PER_TXN records, in key order. */
function copy(
  target: RootDatabase,
  from: Database,
  transaction: ReturnType<RootDatabase['useReadTransaction']>,
  put: (key: Key, value: unknown) => void,
): void {
  let batch: { key: Key; value: unknown }[] = [];
  const flush = () => {
    const records = batch;
    batch = [];
    target.transactionSync(() => {
      for (const { key, value } of records) put(key, value);
    }, TransactionFlags.SYNCHRONOUS_COMMIT);
  };
  for (const { key, value } of from.getRange({ transaction })) {
    batch.push({ key, value });
    if (batch.length === RECORDS_PER_TXN) flush();
  }
  if (batch.length > 0) flush();
}
