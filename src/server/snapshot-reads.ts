import { setImmediate as nextTurn } from 'node:timers/promises';
import { Errors } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import type { Ledger } from '../engine/ledger.js';
import { ledgerServiceDefinition, type WireSnapshot } from '../wire/ledger-proto.js';
import { EncodedResponse } from '../wire/strict-service.js';
import { toWireAccount, toWireSnapshot } from './ledger-handlers.js';

export interface SnapshotReadLimits {
  /** Calls with include_accounts (of more than one slice of accounts) served at once. */
  maxCalls: number;
  /** Accounts those calls may copy in total; one call is always admitted. */
  budgetAccounts: number;
  /** Accounts encoded between two turns of the event loop. */
  sliceAccounts: number;
}

export const DEFAULT_SNAPSHOT_READ_LIMITS: SnapshotReadLimits = {
  maxCalls: LIMITS.defaultMaxSnapshotReads,
  budgetAccounts: LIMITS.snapshotReadBudgetAccounts,
  sliceAccounts: LIMITS.snapshotSliceAccounts,
};

/**
 * GetSnapshot with include_accounts is the one read whose cost grows with the ledger (a 22k-account
 * answer is ~1 MB). Reads of more than one slice of accounts get their own concurrency limit and cost budget (in accounts), wait
 * one turn of the event loop before starting (so a call abandoned meanwhile is seen as cancelled
 * and skipped), and are encoded in slices with a turn in between, so calls queued behind them are
 * not held up for the whole encoding. The accounts are immutable values, so the slices all belong
 * to the one atomic snapshot taken at the start.
 */
export class SnapshotReads {
  private calls = 0;
  private accounts = 0;

  constructor(readonly limits: SnapshotReadLimits = DEFAULT_SNAPSHOT_READ_LIMITS) {}

  get inFlight(): number {
    return this.calls;
  }

  /** The encoded Snapshot, or undefined when the call was cancelled on the way (nobody waits for it). */
  async read(engine: Ledger, cancelled: () => boolean): Promise<EncodedResponse | WireSnapshot | undefined> {
    const cost = (await engine.getSnapshot(false)).accountCount;
    const { maxCalls, budgetAccounts, sliceAccounts } = this.limits;
    // One slice is no dearer than any other call: served at once, never refused.
    if (cost <= sliceAccounts) return toWireSnapshot(await engine.getSnapshot(true));
    if (this.calls >= maxCalls || (this.calls > 0 && this.accounts + cost > budgetAccounts)) {
      throw Errors.tooManySnapshotReads(maxCalls, budgetAccounts);
    }
    this.calls++;
    this.accounts += cost;
    try {
      await nextTurn();
      if (cancelled()) return undefined;
      const snapshot = await engine.getSnapshot(true);
      const serialize = ledgerServiceDefinition().GetSnapshot!.responseSerialize;
      const head: WireSnapshot = {
        total_balance: snapshot.totalBalance.toString(),
        account_count: snapshot.accountCount.toString(),
        log_position: snapshot.logPosition.toString(),
        accounts: [],
      };
      const accounts = snapshot.accounts ?? [];
      // Repeated fields concatenate: head bytes + each slice's `accounts` bytes is one Snapshot.
      const parts: Buffer[] = [serialize(head)];
      for (let i = 0; i < accounts.length; i += sliceAccounts) {
        if (i > 0) {
          await nextTurn();
          if (cancelled()) return undefined;
        }
        parts.push(serialize({ accounts: accounts.slice(i, i + sliceAccounts).map(toWireAccount) }));
      }
      return new EncodedResponse(Buffer.concat(parts));
    } finally {
      this.calls--;
      this.accounts -= cost;
    }
  }
}
