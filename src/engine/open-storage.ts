import { LmdbStorage } from './lmdb-storage.js';
import type { LedgerStorage } from './storage.js';
import { MemoryStorage } from './storage.js';

export interface StorageChoice {
  /** Ephemeral: nothing survives the process. */
  inMemory: boolean;
  /** Where durable state lives (created if missing). */
  dataDir: string;
  /** How many of the newest log entries recovery loads (the engine's memory window). */
  logWindowEntries?: number;
}

/**
 * The one place that picks the storage implementation for a server. The durable branch throws
 * DataDirError (one-line message, exit 2) for a locked, too new, damaged or foreign data dir.
 */
export async function openStorage(choice: StorageChoice): Promise<LedgerStorage> {
  if (choice.inMemory) return new MemoryStorage();
  return await LmdbStorage.open(
    choice.dataDir,
    choice.logWindowEntries === undefined ? {} : { recentLogEntries: choice.logWindowEntries },
  );
}
