import * as fs from 'node:fs';
import { type Database, open, type RootDatabase } from 'lmdb';
import { LIMITS } from '../domain/limits.js';

/** The data file inside a data dir. */
export const DATA_FILE = 'ledger.mdb';

/** The sub-databases a data file of this format holds. */
export const SUB_DATABASES = ['accounts', 'log', 'logIndex', 'txids', 'meta'] as const;
export type SubDatabaseName = (typeof SUB_DATABASES)[number];
export type SubDatabases = Record<SubDatabaseName, Database>;

export interface RootMode {
  /** Opened for reading only (verify, backup, the start-up check). */
  readOnly?: boolean;
  /**
   * Nothing is fsynced until the caller fsyncs the file once at the end (bulk loads, migration):
   * a crash mid-way leaves a file that is thrown away, never one that is used.
   */
  bulk?: boolean;
}

/**
 * Opens an LMDB data file. Values are raw bytes: durable-codec.ts owns their layout (checksummed
 * frames), lmdb-js only stores them.
 */
export function openDataRoot(file: string, mode: RootMode = {}): RootDatabase {
  return open({
    path: file,
    noSubdir: true,
    maxDbs: 8,
    readOnly: mode.readOnly ?? false,
    // Durability: every transaction is fsynced (noSync stays off). overlappingSync lets the flush
    // of one transaction overlap the next one's commit; commit() waits for `flushed`, so an
    // acknowledged write is on disk either way. A process crash keeps committed-but-unflushed
    // transactions (same boot); after a power loss LMDB falls back to the last flushed one.
    noSync: mode.bulk ?? false,
    overlappingSync: !(mode.bulk ?? false),
    separateFlushed: true,
    eventTurnBatching: true,
    cache: false,
    // Reserved address space, not disk: the file grows as needed. Without it lmdb-js starts small
    // and maps the file again each time it outgrows the map, keeping the old maps, so a page that
    // is resident in several of them counts several times in RSS (2 GB for a 600 MB file).
    mapSize: LIMITS.lmdbMapSizeBytes,
    encoding: 'binary',
  });
}

/** The sub-databases of an existing file, created by nothing (read-only roots cannot create). */
export function openExistingSubDatabases(root: RootDatabase): SubDatabases {
  const dbs = {} as SubDatabases;
  for (const name of SUB_DATABASES) {
    // `create` is an lmdb-js option its type definitions do not list.
    const db = root.openDB({ name, encoding: 'binary', create: false } as { name: string });
    if (db === undefined) throw new Error(`sub-database ${name} is missing`);
    dbs[name] = db;
  }
  return dbs;
}

export function openSubDatabases(root: RootDatabase): SubDatabases {
  const dbs = {} as SubDatabases;
  for (const name of SUB_DATABASES) dbs[name] = root.openDB({ name, encoding: 'binary' });
  return dbs;
}

export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * For write promises whose failure is reported elsewhere: lmdb-js rejects each of them with
 * "Commit failed" and a separate `commitError` promise, and an unobserved rejection of either
 * would end the process.
 */
export function ignoreCommitFailure(err: unknown): void {
  (err as { commitError?: Promise<unknown> } | undefined)?.commitError?.catch(() => {});
}
