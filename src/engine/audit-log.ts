import { invariant } from '../domain/errors.js';
import type { LogEntry } from '../domain/types.js';

/**
 * The newest `windowEntries` audit-log entries, indexed by transaction id (no scan).
 * Positions are dense: appending anything but lastPosition + 1 is a broken invariant.
 * Older entries leave memory; durable storage keeps all of them on disk.
 */
export class AuditLogWindow {
  private readonly byTxid = new Map<string, LogEntry>();
  /** The window in position order, as a ring: the slot of position p is (p - 1) % windowEntries. */
  private readonly ring: (LogEntry | undefined)[];
  private lastPositionValue: number;

  constructor(
    private readonly windowEntries: number,
    lastPosition = 0,
  ) {
    this.lastPositionValue = lastPosition;
    this.ring = new Array(windowEntries);
  }

  /** How many entries the window holds when full. */
  get capacity(): number {
    return this.windowEntries;
  }

  get lastPosition(): number {
    return this.lastPositionValue;
  }

  get size(): number {
    return this.byTxid.size;
  }

  append(entry: LogEntry): void {
    invariant(
      entry.position === this.lastPositionValue + 1,
      `log position ${entry.position} after ${this.lastPositionValue}`,
    );
    // An id may be used again once its idempotency record expired (TTL): the newest use answers
    // GetTransaction, as in the durable log index.
    this.lastPositionValue = entry.position;
    this.remember(entry);
  }

  private remember(entry: LogEntry): void {
    const slot = (entry.position - 1) % this.windowEntries;
    const evicted = this.ring[slot];
    // Only if no newer entry reused the id since.
    if (evicted !== undefined && this.byTxid.get(evicted.transactionId) === evicted) {
      this.byTxid.delete(evicted.transactionId);
    }
    this.ring[slot] = entry;
    this.byTxid.set(entry.transactionId, entry);
  }

  /** Restores entries recovered from storage, oldest first, ending at lastPosition. */
  restore(entries: readonly LogEntry[], lastPosition: number): void {
    this.byTxid.clear();
    this.ring.fill(undefined);
    for (const entry of entries.slice(-this.windowEntries)) this.remember(entry);
    this.lastPositionValue = lastPosition;
  }

  get(transactionId: string): LogEntry | undefined {
    return this.byTxid.get(transactionId);
  }
}
