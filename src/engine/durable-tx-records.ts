import type { Database } from 'lmdb';
import { BackgroundSlices, type SliceTiming } from './background-slices.js';
import { DamagedRecordError, decodeTxRecord } from './durable-codec.js';
import { ignoreCommitFailure } from './durable-root.js';
import type { TxRecordLookup } from './idempotency-store.js';
import type { TxRecord } from './outcome.js';

export interface DiskSweepOptions extends SliceTiming {
  nowMs: () => number;
  /** A record failed its checksum: reported (the storage stops taking writes), then thrown. */
  onDamage?: (err: DamagedRecordError) => unknown;
}

export interface DiskSweepStats {
  passes: number;
  removed: number;
  maxSliceMs: number;
}

/**
 * Idempotency records on disk (the `txids` sub-database): looked up synchronously by id (a read
 * of the memory-mapped B+tree), and swept when expired by a background walk over all of them in
 * short slices. The walk costs nothing on the write path (no expiry index to maintain); a record
 * outlives its expiry on disk by at most one pass plus a rest, and is refused as a replay from
 * the moment it expires because every lookup checks the expiry.
 */
export class DurableTxRecords implements TxRecordLookup {
  readonly sweepStats: DiskSweepStats = { passes: 0, removed: 0, maxSliceMs: 0 };
  /** Where the current pass continues (exclusive); undefined: at the start of a pass. */
  private cursor: string | undefined;
  private isPending: (transactionId: string) => boolean = () => false;
  private readonly background: BackgroundSlices;
  private lastRemove: Promise<unknown> = Promise.resolve();
  /**
   * Ids whose remove is issued but not committed yet: a pass that starts before the commit sees
   * them again, and would remove (and count) them twice.
   */
  private readonly removing = new Set<string>();

  constructor(
    private readonly txids: Database,
    private readonly options: DiskSweepOptions,
  ) {
    this.background = new BackgroundSlices((budgetMs) => this.sweepSlice(budgetMs), options);
  }

  findTxRecord(transactionId: string): TxRecord | undefined {
    const value = this.txids.get(transactionId) as unknown;
    if (value === undefined) return undefined;
    try {
      return decodeTxRecord(transactionId, value);
    } catch (err) {
      if (err instanceof DamagedRecordError) throw this.options.onDamage?.(err) ?? err;
      throw err;
    }
  }

  /** `isPending`: ids a write is executing again now (their new record is not written yet). */
  startSweep(isPending: (transactionId: string) => boolean): void {
    this.isPending = isPending;
    this.background.start();
  }

  /**
   * Sweeps for at most `budgetMs` from where the last slice stopped; true when a pass ended.
   * A record is removed only if it is expired and no write is executing its id again: a new
   * record for a pending id is queued after this remove, or visible (and live) once settled.
   */
  sweepSlice(budgetMs: number): boolean {
    const started = performance.now();
    const now = this.options.nowMs();
    let seen = 0;
    for (const { key, value } of this.txids.getRange({ start: this.cursor })) {
      const id = key as string;
      if (id === this.cursor) continue;
      let expiresAtMs: number;
      try {
        // Checked like every read: a damaged record is reported, never removed as if expired.
        expiresAtMs = decodeTxRecord(key, value).expiresAtMs;
      } catch (err) {
        if (!(err instanceof DamagedRecordError)) throw err;
        this.options.onDamage?.(err);
        this.stop();
        return true;
      }
      if (expiresAtMs <= now && !this.isPending(id) && !this.removing.has(id)) {
        this.removing.add(id);
        this.lastRemove = this.txids
          .remove(id)
          .catch(ignoreCommitFailure)
          .finally(() => this.removing.delete(id));
        this.sweepStats.removed++;
      }
      this.cursor = id;
      if ((++seen & 63) === 0 && performance.now() - started >= budgetMs) {
        this.noteSlice(started);
        return false;
      }
    }
    this.cursor = undefined;
    this.sweepStats.passes++;
    this.noteSlice(started);
    return true;
  }

  /** Resolves once every removal issued so far is committed. */
  async flushed(): Promise<void> {
    await this.lastRemove;
  }

  stop(): void {
    this.background.stop();
  }

  private noteSlice(started: number): void {
    this.sweepStats.maxSliceMs = Math.max(this.sweepStats.maxSliceMs, performance.now() - started);
  }
}
