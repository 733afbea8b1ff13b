import { invariant } from '../domain/errors.js';
import type { LogEntry } from '../domain/types.js';

/**
 * The newest `windowEntries` audit-log entries, indexed by transaction id (no scan).
 * Positions are dense: appending anything but lastPosition + 1 is a broken invariant.
 * Older entries leave memory; durable storage keeps all of them on disk.
 */
export class AuditLogWindow {
  private readonly byTxid = new Map<string, LogEntry>();
  private lastPositionValue: number;

  constructor(
    private readonly windowEntries: number,
    lastPosition = 0,
  ) {
    this.lastPositionValue = lastPosition;
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
    invariant(!this.byTxid.has(entry.transactionId), `transaction ${entry.transactionId} logged twice`);
    this.lastPositionValue = entry.position;
    this.byTxid.set(entry.transactionId, entry);
    if (this.byTxid.size > this.windowEntries) {
      // Map iteration order is insertion order, which is position order.
      const oldest = this.byTxid.keys().next().value as string;
      this.byTxid.delete(oldest);
    }
  }

  /** Restores entries recovered from storage, oldest first, ending at lastPosition. */
  restore(entries: readonly LogEntry[], lastPosition: number): void {
    this.byTxid.clear();
    for (const entry of entries.slice(-this.windowEntries)) this.byTxid.set(entry.transactionId, entry);
    this.lastPositionValue = lastPosition;
  }

  get(transactionId: string): LogEntry | undefined {
    return this.byTxid.get(transactionId);
  }
}
