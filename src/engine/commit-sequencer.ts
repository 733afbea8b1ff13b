import type { CommitBatch, LedgerStorage } from './storage.js';

/** Sees every commit batch handed to storage (metrics). */
export interface CommitObserver {
  /** `writes`: log entries in the batch (1, or an ExecuteBatch's); `flushMs`: until storage said durable (0 when synchronous). */
  committed(writes: number, flushMs: number): void;
}

interface Slot {
  done: boolean;
  readonly apply: () => void;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/**
 * The asynchronous commit step. Batches are handed to storage at once (so concurrent writes
 * share one flush), but their effects become visible strictly in submission order: a write
 * that becomes durable early waits for the ones submitted before it. Readers therefore only
 * ever see a prefix of the log, which keeps snapshots and log positions consistent.
 */
export class CommitSequencer {
  private readonly queue: Slot[] = [];
  private head = 0;
  /** Set by the first failed commit: no later write may be acknowledged. */
  private failed: Error | undefined;

  /**
   * `onFatal` is told of a failed commit once and returns the error that every write waiting to
   * be applied, and every later one, is refused with.
   */
  constructor(
    private readonly storage: LedgerStorage,
    private readonly onFatal: (err: unknown) => Error,
    private readonly observer?: CommitObserver,
  ) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  /**
   * Runs `apply` once the batch is durable and every earlier batch applied. Returns undefined when
   * that happened synchronously (instant storage, nothing queued), else a promise of it.
   */
  submit(batch: CommitBatch, apply: () => void): Promise<void> | undefined {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    let durable: Promise<void> | undefined;
    const startedMs = this.observer === undefined ? 0 : performance.now();
    try {
      durable = this.storage.commit(batch);
    } catch (err) {
      return Promise.reject(this.fail(err));
    }
    if (this.observer !== undefined) {
      const { observer } = this;
      const writes = batch.logEntries.length;
      if (durable === undefined) observer.committed(writes, 0);
      else
        durable.then(
          () => observer.committed(writes, performance.now() - startedMs),
          () => {},
        );
    }
    if (durable === undefined && this.pending === 0) {
      apply();
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const slot: Slot = { done: false, apply, resolve, reject };
      this.queue.push(slot);
      if (durable === undefined) {
        slot.done = true;
        this.drain();
        return;
      }
      durable.then(
        () => {
          slot.done = true;
          this.drain();
        },
        // Whether the batch reached the disk is unknown: no later write may be acknowledged.
        (err: unknown) => this.fail(err),
      );
    });
  }

  /** Refuses every write not applied yet (this one, later ones, and those queued behind them). */
  private fail(err: unknown): Error {
    if (this.failed === undefined) {
      this.failed = this.onFatal(err);
      const waiting = this.queue.slice(this.head);
      this.queue.length = 0;
      this.head = 0;
      for (const slot of waiting) slot.reject(this.failed);
    }
    return this.failed;
  }

  private drain(): void {
    while (this.head < this.queue.length) {
      const slot = this.queue[this.head]!;
      if (!slot.done) break;
      this.head++;
      slot.apply();
      slot.resolve();
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
