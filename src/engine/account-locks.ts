import { Mutex, type MutexInterface } from 'async-mutex';
import { Errors } from '../domain/errors.js';

export type LockingMode = 'account' | 'global';

/**
 * Test doubles only, never reachable from the CLI: 'none' skips locking (lost updates happen),
 * 'unordered' locks in request order instead of id order (A->B against B->A deadlocks).
 */
export type UnsafeLocking = 'none' | 'unordered';

interface Entry {
  readonly mutex: Mutex;
  /** Holders plus waiters; the entry is dropped at 0 so the map stays bounded by in-flight writes. */
  users: number;
}

export interface LockStats {
  acquisitions: number;
  contended: number;
  waitMsTotal: number;
}

const GLOBAL_KEY = '';
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const noop = (): void => {};

/**
 * Account locks taken in one global order (ascending id), so two writes can never wait on each
 * other in a cycle. Held across the asynchronous commit; reads never take them.
 */
export class AccountLocks {
  private readonly entries = new Map<string, Entry>();
  readonly stats: LockStats = { acquisitions: 0, contended: 0, waitMsTotal: 0 };

  constructor(
    readonly mode: LockingMode,
    private readonly maxQueuePerAccount: number,
    private readonly unsafe?: UnsafeLocking,
  ) {}

  /** Resolves with a release function once every lock is held. `ids` may repeat. */
  async acquire(ids: readonly string[]): Promise<() => void> {
    if (this.unsafe === 'none') return noop;
    let keys: string[];
    if (this.mode === 'global') keys = [GLOBAL_KEY];
    else if (ids.length === 1) keys = [ids[0]!];
    else {
      keys = [...new Set(ids)];
      if (this.unsafe !== 'unordered') keys.sort(byCodeUnits);
    }
    const entries: Entry[] = [];
    try {
      for (const key of keys) entries.push(this.enter(key));
    } catch (err) {
      for (let i = 0; i < entries.length; i++) this.leave(keys[i]!, entries[i]!);
      throw err;
    }
    const contended = entries.some((e) => e.mutex.isLocked());
    const startMs = contended ? performance.now() : 0;
    const releasers: MutexInterface.Releaser[] = [];
    try {
      for (const entry of entries) releasers.push(await entry.mutex.acquire());
    } catch (err) {
      for (const release of releasers) release();
      for (let i = 0; i < keys.length; i++) this.leave(keys[i]!, entries[i]!);
      throw err;
    }
    this.stats.acquisitions++;
    if (contended) {
      this.stats.contended++;
      this.stats.waitMsTotal += performance.now() - startMs;
    }
    return () => {
      for (let i = releasers.length - 1; i >= 0; i--) releasers[i]!();
      for (let i = 0; i < keys.length; i++) this.leave(keys[i]!, entries[i]!);
    };
  }

  /** Number of accounts with a holder or waiter (a bounded, observable quantity). */
  get activeCount(): number {
    return this.entries.size;
  }

  private enter(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { mutex: new Mutex(), users: 0 };
      this.entries.set(key, entry);
    } else if (entry.users >= this.maxQueuePerAccount && this.mode === 'account') {
      throw Errors.lockQueueFull(key);
    }
    entry.users++;
    return entry;
  }

  private leave(key: string, entry: Entry): void {
    entry.users--;
    if (entry.users === 0) this.entries.delete(key);
  }
}
