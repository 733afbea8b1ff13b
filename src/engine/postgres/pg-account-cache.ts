import type { AccountState } from '../../domain/types.js';

export interface AccountCacheLimits {
  /** Accounts kept at most; the least recently committed are dropped first. */
  readonly maxAccounts: number;
  /** Cached groups judged together when deciding whether the cache is worth trying. */
  readonly windowGroups: number;
  /** A window with more stale groups than this share (percent) pauses the cached path. */
  readonly maxStalePercent: number;
  /**
   * Groups that take the locked path during a first pause, before the cached path is tried again;
   * each stale window in a row doubles it, up to maxPauseGroups.
   */
  readonly pauseGroups: number;
  readonly maxPauseGroups: number;
}

/**
 * Account states this process saw committed, so a group can be decided before it reaches the
 * database and sent in one round trip (pg-write-group.ts, runCached). Nothing here is ever
 * trusted: the group's own transaction checks, under the row locks, that every account still has
 * the balance and version it was decided on, and fails otherwise. A stale entry costs a wasted
 * round trip, never a wrong answer.
 *
 * Entries come only from COMMITs that answered `COMMIT` (the locked rows of a group, updated with
 * its decision). Another instance, a direct SQL write, or a commit lost in a crash make them
 * stale; so does any group failure this process cannot account for, which clears everything.
 *
 * The cache also tracks accounts that groups in flight here are changing: a group touching one of
 * those would be decided on a state about to change, so it takes the locked path instead.
 *
 * And it judges itself: when more than `maxStalePercent` of a window's cached groups turn out
 * stale (typically: another instance writes the same accounts), the cached path pauses for
 * `pauseGroups` groups, then is tried again; a stale window after a pause doubles the next one (up
 * to `maxPauseGroups`), so two instances that always share accounts spend almost nothing probing.
 */
export class AccountCache {
  private readonly states = new Map<string, AccountState>();
  private readonly busy = new Map<string, number>();
  private windowTried = 0;
  private windowStale = 0;
  private pausedGroups = 0;
  private nextPauseGroups: number;

  constructor(private readonly limits: AccountCacheLimits) {
    this.nextPauseGroups = limits.pauseGroups;
  }

  get size(): number {
    return this.states.size;
  }

  get(id: string): AccountState | undefined {
    return this.states.get(id);
  }

  /** Whether `id` is being changed by a group in flight in this process. */
  isBusy(id: string): boolean {
    return this.busy.has(id);
  }

  /** A group starts and may change these accounts (each id once). */
  hold(ids: readonly string[]): void {
    for (const id of ids) this.busy.set(id, (this.busy.get(id) ?? 0) + 1);
  }

  /** The group that held these accounts is over (committed or not). */
  release(ids: readonly string[]): void {
    for (const id of ids) {
      const n = this.busy.get(id)!;
      if (n <= 1) this.busy.delete(id);
      else this.busy.set(id, n - 1);
    }
  }

  /**
   * States a COMMIT just made (or confirmed). An older version never replaces a newer one: two
   * groups' answers can arrive in either order on their own connections.
   */
  remember(accounts: Iterable<AccountState>): void {
    for (const account of accounts) {
      const known = this.states.get(account.id);
      if (known !== undefined) {
        if (known.version > account.version) continue;
        // Re-inserted: the map's order is the order of last commit, oldest first.
        this.states.delete(account.id);
      }
      this.states.set(account.id, account);
    }
    for (const id of this.states.keys()) {
      if (this.states.size <= this.limits.maxAccounts) break;
      this.states.delete(id);
    }
  }

  forget(ids: Iterable<string>): void {
    for (const id of ids) this.states.delete(id);
  }

  /** Something happened that this process cannot account for: trust nothing seen before. */
  clear(): void {
    this.states.clear();
  }

  /** Whether the next group may try the cached path (false while paused). */
  worthTrying(): boolean {
    if (this.pausedGroups === 0) return true;
    this.pausedGroups--;
    return false;
  }

  /** The outcome of one cached attempt: committed, or stale (the database refused it). */
  judge(stale: boolean): void {
    this.windowTried++;
    if (stale) this.windowStale++;
    if (this.windowTried < this.limits.windowGroups) return;
    if (this.windowStale * 100 > this.windowTried * this.limits.maxStalePercent) {
      this.pausedGroups = this.nextPauseGroups;
      this.nextPauseGroups = Math.min(this.nextPauseGroups * 2, this.limits.maxPauseGroups);
    } else {
      this.nextPauseGroups = this.limits.pauseGroups;
    }
    this.windowTried = 0;
    this.windowStale = 0;
  }
}
