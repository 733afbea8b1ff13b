import type { Database } from 'lmdb';
import { BackgroundSlices, type SliceTiming } from './background-slices.js';
import { DamagedRecordError, decodeIndexEntry, decodeLogEntry } from './durable-codec.js';
import { edgeKey } from './durable-keys.js';
import { ignoreCommitFailure } from './durable-root.js';

export interface LogRetentionOptions extends SliceTiming {
  /** Entries older than this are removed from disk (with their index entry). */
  retentionMs: number;
  nowMs: () => number;
  /** An entry failed its checksum: reported (the storage stops taking writes); pruning stops. */
  onDamage?: (err: DamagedRecordError) => unknown;
}

export interface LogPruneStats {
  removed: number;
  maxSliceMs: number;
}

/**
 * Removes audit-log entries older than the retention from the front of the log, in position
 * order, so what remains is always one dense range ending at the last position. The newest entry
 * is never removed: the last position is the log's last key. Runs in short slices like the
 * idempotency sweep; its removes are ordered after every earlier write (lmdb-js keeps call order).
 */
export class DurableLogRetention {
  readonly stats: LogPruneStats = { removed: 0, maxSliceMs: 0 };
  private isPending: (transactionId: string) => boolean = () => false;
  private readonly background: BackgroundSlices;
  /** The first position not yet removed (the log's first key once the removes commit). */
  private nextPosition: number | undefined;
  private lastRemove: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: Database,
    private readonly logIndex: Database,
    private readonly options: LogRetentionOptions,
  ) {
    this.background = new BackgroundSlices((budgetMs) => this.pruneSlice(budgetMs), options);
  }

  start(isPending: (transactionId: string) => boolean): void {
    this.isPending = isPending;
    this.background.start();
  }

  /** Prunes for at most `budgetMs`; true when nothing more is old enough right now. */
  pruneSlice(budgetMs: number): boolean {
    const started = performance.now();
    const cutoffNs = BigInt(this.options.nowMs() - this.options.retentionMs) * 1_000_000n;
    const lastPosition = edgeKey(this.log, true);
    let done = true;
    let seen = 0;
    for (const { key, value } of this.log.getRange({ start: this.nextPosition })) {
      const position = key as number;
      let head: { transactionId: string; timestampNs: bigint };
      let indexed: number | undefined;
      try {
        head = decodeLogEntry(key, value);
        const index = this.logIndex.get(head.transactionId) as unknown;
        indexed = index === undefined ? undefined : decodeIndexEntry(head.transactionId, index);
      } catch (err) {
        if (!(err instanceof DamagedRecordError)) throw err;
        this.options.onDamage?.(err);
        this.stop();
        return true;
      }
      if (head.timestampNs >= cutoffNs || position === lastPosition) break;
      // A write reusing this id (its record expired) may be about to point the index at itself.
      if (this.isPending(head.transactionId)) break;
      this.lastRemove = this.log.remove(position).catch(ignoreCommitFailure);
      if (indexed === position) {
        this.lastRemove = this.logIndex.remove(head.transactionId).catch(ignoreCommitFailure);
      }
      this.stats.removed++;
      this.nextPosition = position + 1;
      if ((++seen & 63) === 0 && performance.now() - started >= budgetMs) {
        done = false;
        break;
      }
    }
    this.stats.maxSliceMs = Math.max(this.stats.maxSliceMs, performance.now() - started);
    return done;
  }

  /** Resolves once every removal issued so far is committed. */
  async flushed(): Promise<void> {
    await this.lastRemove;
  }

  stop(): void {
    this.background.stop();
  }
}
