import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckCrashed, checkDataFileInChild } from './durable-check.js';
import { DataDirError } from './durable-errors.js';
import { makeDataDir, restrictDataFiles } from './durable-file-modes.js';
import { fsyncDir, inspectDataDir, ioError, writeFormatMarker } from './durable-format.js';
import { checkLmdbFile } from './durable-lmdb-header.js';
import { DATA_FILE, fsyncFile, openDataRoot } from './durable-root.js';
import type { CheckReport } from './durable-verify.js';

/**
 * A data dir that can be checked or copied: ours, of this format version, with its data file.
 * Nothing is locked or written: a server may be running on it.
 */
function readableDataFile(dataDir: string): string {
  const dir = path.resolve(dataDir);
  if (!fs.existsSync(dir)) throw new DataDirError('io', dir, `data dir ${dir} does not exist`);
  const state = inspectDataDir(dir);
  if (state === 'fresh') throw new DataDirError('not-a-data-dir', dir, `data dir ${dir} holds no ledger`);
  if (state === 'migrate') {
    throw new DataDirError(
      'too-new',
      dir,
      `data dir ${dir} has an older format version; start ledgerctl serve on it once to migrate it`,
    );
  }
  const file = path.join(dir, DATA_FILE);
  if (!fs.existsSync(file)) {
    throw new DataDirError(
      'corrupt',
      dir,
      `data dir ${dir} has a FORMAT marker but no data file ${DATA_FILE}`,
    );
  }
  // What LMDB trusts blindly (meta pages, size), before a child maps the file.
  checkLmdbFile(dir, file);
  return file;
}

/**
 * Every checksum and every cross-check of a data dir (durable-verify.ts, level 'full'), in a child
 * process inside one read transaction: safe while a server writes, and an LMDB abort on a damaged
 * page is reported as a problem rather than taking this process down.
 */
export async function verifyDataDir(dataDir: string): Promise<CheckReport> {
  const file = readableDataFile(dataDir);
  try {
    return await checkDataFileInChild(file, 'full');
  } catch (err) {
    if (!(err instanceof CheckCrashed)) throw err;
    return crashedReport(file, err.message);
  }
}

export interface BackupResult {
  /** The new data dir. */
  dir: string;
  bytes: number;
  copyMs: number;
  /** The verification of the copy (full). */
  report: CheckReport;
}

/**
 * Copies a data dir, live or not, into a new data dir `toDir`: LMDB's own copy (mdb_env_copy)
 * reads one read transaction's snapshot page by page, so the copy is consistent even while a
 * server keeps committing; then FORMAT is written, everything is fsynced, and the copy is
 * verified in full. A copy that fails verification is removed: it is not a backup. Restoring is
 * starting `ledgerctl serve --data-dir toDir`.
 */
export async function backupDataDir(dataDir: string, toDir: string): Promise<BackupResult> {
  const file = readableDataFile(dataDir);
  const target = path.resolve(toDir);
  if (fs.existsSync(target) && (!fs.statSync(target).isDirectory() || fs.readdirSync(target).length > 0)) {
    throw new DataDirError(
      'io',
      target,
      `backup target ${target} already exists and is not an empty directory`,
    );
  }
  const copy = path.join(target, DATA_FILE);
  const started = performance.now();
  try {
    // A backup holds every balance and the audit log: the same modes as the data dir it copies.
    makeDataDir(target);
    const root = openDataRoot(file, { readOnly: true });
    try {
      // Not compacting: a compacting copy walks the B-tree (which damage could make LMDB abort);
      // a plain copy reads the pages as they are, and the verification below reads them all.
      await root.backup(copy, false);
    } finally {
      await root.close();
    }
    fsyncFile(copy);
    writeFormatMarker(target);
    restrictDataFiles(target);
    fsyncDir(path.dirname(target));
  } catch (err) {
    fs.rmSync(target, { recursive: true, force: true });
    if (err instanceof DataDirError) throw err;
    throw ioError(target, err);
  }
  const copyMs = performance.now() - started;
  let report: CheckReport;
  try {
    report = await checkDataFileInChild(copy, 'full');
  } catch (err) {
    if (!(err instanceof CheckCrashed)) throw err;
    report = crashedReport(copy, err.message);
  }
  // The copy must not keep LMDB's reader table of the check, nor survive a failed check.
  fs.rmSync(`${copy}-lock`, { force: true });
  if (report.problemCount > 0) fs.rmSync(target, { recursive: true, force: true });
  return { dir: target, bytes: fs.existsSync(copy) ? fs.statSync(copy).size : 0, copyMs, report };
}

function crashedReport(file: string, why: string): CheckReport {
  return {
    file,
    level: 'full',
    formatVersion: undefined,
    accounts: 0,
    totalBalance: 0n,
    logEntries: 0,
    firstPosition: 0,
    lastPosition: 0,
    indexEntries: 0,
    txRecords: 0,
    head: undefined,
    problemCount: 1,
    problems: [`the data file's structure is damaged: ${why}`],
    durationMs: 0,
  };
}
