import { LmdbStorage, type StartupCheck } from './lmdb-storage.js';
import type { LedgerStorage } from './storage.js';
import { MemoryStorage } from './storage.js';

export interface StorageChoice {
  /** Ephemeral: nothing survives the process. */
  inMemory: boolean;
  /** Where durable state lives (created if missing). */
  dataDir: string;
  /** Durable: audit-log entries older than this are removed from disk; undefined keeps all. */
  logRetentionMs?: number;
  /** Durable: take over a LOCK held by a server on another host (the operator checked it is gone). */
  forceUnlock?: boolean;
  /** Durable: what is checked before an existing data file is mapped (LmdbStorageOptions). */
  startupCheck?: StartupCheck;
}

/**
 * The one place that picks the storage implementation for a server. The durable branch throws
 * DataDirError (one-line message, exit 2) for a locked, too new, damaged or foreign data dir.
 */
export async function openStorage(choice: StorageChoice): Promise<LedgerStorage> {
  if (choice.inMemory) return new MemoryStorage();
  return await LmdbStorage.open(choice.dataDir, {
    ...(choice.logRetentionMs === undefined ? {} : { logRetentionMs: choice.logRetentionMs }),
    forceUnlock: choice.forceUnlock ?? false,
    startupCheck: choice.startupCheck ?? 'auto',
  });
}
