import type { Database } from 'lmdb';
import { LIMITS } from '../domain/limits.js';
import { DecodeError, storedLogEntryHead } from './durable-codec.js';

export interface LogRetentionOptions {
  /** Entries older than this are removed from disk (with their index entry). */
  retentionMs: number;
  nowMs: () => number;
  sliceMs?: number;
  pauseMs?: number;
  restMs?: number;
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
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The first position not yet removed (the log's first key once the removes commit). */
  private nextPosition: number | undefined;
  private lastRemove: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: Database,
    private readonly logIndex: Database,
    private readonly options: LogRetentionOptions,
  ) {}

  start(isPending: (transactionId: string) => boolean): void {
    this.isPending = isPending;
    this.schedule(this.options.pauseMs ?? LIMITS.diskSweepPauseMs);
  }

  /** Prunes for at most `budgetMs`; true when nothing more is old enough right now. */
  pruneSlice(budgetMs: number): boolean {
    const started = performance.now();
    const cutoffNs = BigInt(this.options.nowMs() - this.options.retentionMs) * 1_000_000n;
    const lastPosition = this.lastPosition();
    let done = true;
    let seen = 0;
    for (const { key, value } of this.log.getRange({ start: this.nextPosition })) {
      const position = key as number;
      const head = storedLogEntryHead(value);
      if (head === undefined) throw new DecodeError(`log entry at position ${position} is damaged`);
      if (head.timestampNs >= cutoffNs || position === lastPosition) break;
      // A write reusing this id (its record expired) may be about to point the index at itself.
      if (this.isPending(head.transactionId)) break;
      this.lastRemove = this.log.remove(position).catch(() => {});
      if ((this.logIndex.get(head.transactionId) as unknown) === position) {
        this.lastRemove = this.logIndex.remove(head.transactionId).catch(() => {});
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
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private lastPosition(): number | undefined {
    for (const key of this.log.getKeys({ reverse: true, limit: 1 })) return key as number;
    return undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const { sliceMs = LIMITS.txidSweepSliceMs, pauseMs = LIMITS.diskSweepPauseMs } = this.options;
      const done = this.pruneSlice(sliceMs);
      this.schedule(done ? (this.options.restMs ?? LIMITS.diskSweepRestMs) : pauseMs);
    }, delayMs);
    this.timer.unref();
  }
}
