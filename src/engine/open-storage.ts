import type { LedgerStorage } from './storage.js';
import { MemoryStorage } from './storage.js';

export interface StorageChoice {
  /** Ephemeral: nothing survives the process. */
  inMemory: boolean;
  /** Where durable state lives (created if missing). */
  dataDir: string;
}

/** The one place that picks the storage implementation for a server. */
export async function openStorage(choice: StorageChoice): Promise<LedgerStorage> {
  if (choice.inMemory) return new MemoryStorage();
  // Durable storage lands with the durable-ledger issue; until then the ledger is in memory.
  return new MemoryStorage();
}
