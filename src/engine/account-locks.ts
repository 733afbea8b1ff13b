import { Errors } from '../domain/errors.js';

export type LockingMode = 'account' | 'global';

/**
 * Test doubles only, never reachable from the CLI: 'none' skips locking (lost updates happen),
 * 'unordered' locks in request order instead of id order (A->B against B->A deadlocks).
 */
export type UnsafeLocking = 'none' | 'unordered';

export interface LockStats {
  acquisitions: number;
  contended: number;
  waitMsTotal: number;
}

/** Waiters of one held lock, FIFO; the lock is handed to the next waiter directly on release. */
type WaitQueue = (() => void)[];

const GLOBAL_KEY = [''];
/** The queue of a lock nobody waits for: shared (never pushed to), so a free take allocates nothing. */
const NO_WAITERS: WaitQueue = [];
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Exclusive per-account locks, always taken in one global order (ascending id), so two writes can
 * never wait on each other in a cycle. Held across the asynchronous commit; reads never take them.
 *
 * Hand-written rather than async-mutex: a free lock is taken synchronously (no promise at all),
 * which is most of the time, and a held one hands over to its oldest waiter (FIFO, no barging).
 * Only accounts that are held appear in the table, so it is bounded by writes in flight.
 */
export class AccountLocks {
  private readonly held = new Map<string, WaitQueue>();
  readonly stats: LockStats = { acquisitions: 0, contended: 0, waitMsTotal: 0 };

  constructor(
    readonly mode: LockingMode,
    private readonly maxQueuePerAccount: number,
    private readonly unsafe?: UnsafeLocking,
  ) {}

  /** The keys to lock for these account ids, in locking order; pass them back to release(). */
  keysFor(ids: readonly string[]): readonly string[] {
    if (this.unsafe === 'none') return [];
    if (this.mode === 'global') return GLOBAL_KEY;
    if (ids.length === 1 || (ids.length === 2 && ids[0]! < ids[1]!)) return ids;
    const keys = [...new Set(ids)];
    return this.unsafe === 'unordered' ? keys : keys.sort(byCodeUnits);
  }

  /**
   * The keys for these distinct account ids in no particular order: enough for tryAcquire, which
   * takes all or none without waiting (a batch's thousand ids need no sort unless it must wait).
   */
  unorderedKeysFor(distinctIds: readonly string[]): readonly string[] {
    if (this.unsafe === 'none') return [];
    if (this.mode === 'global') return GLOBAL_KEY;
    return distinctIds;
  }

  /** Takes every lock at once if all are free; otherwise takes none and returns false. */
  tryAcquire(keys: readonly string[]): boolean {
    for (const key of keys) if (this.held.has(key)) return false;
    for (const key of keys) this.held.set(key, NO_WAITERS);
    this.stats.acquisitions++;
    return true;
  }

  /** Takes the locks one by one in the given order, waiting where one is held. */
  async acquire(keys: readonly string[]): Promise<void> {
    const startMs = performance.now();
    let taken = 0;
    try {
      for (const key of keys) {
        let queue = this.held.get(key);
        if (queue === undefined) this.held.set(key, NO_WAITERS);
        else {
          if (queue.length >= this.maxQueuePerAccount) throw Errors.lockQueueFull(key);
          if (queue === NO_WAITERS) {
            queue = [];
            this.held.set(key, queue);
          }
          const waiting = queue;
          await new Promise<void>((resolve) => waiting.push(resolve));
        }
        taken++;
      }
    } catch (err) {
      this.release(keys.slice(0, taken));
      throw err;
    }
    this.stats.acquisitions++;
    this.stats.contended++;
    this.stats.waitMsTotal += performance.now() - startMs;
  }

  release(keys: readonly string[]): void {
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const queue = this.held.get(key)!;
      const next = queue.shift();
      if (next === undefined) this.held.delete(key);
      else next();
    }
  }
}
