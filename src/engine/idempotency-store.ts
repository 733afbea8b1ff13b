import { Errors, invariant } from '../domain/errors.js';
import type { Outcome, TxRecord } from './outcome.js';

/** Where records that are no longer held in memory are found (durable storage keeps all of them). */
export interface TxRecordLookup {
  findTxRecord(transactionId: string): TxRecord | undefined;
}

export interface IdempotencyOptions {
  ttlMs: number;
  /** The sweep of expired records starts above this many held records. */
  sweepThreshold: number;
  /** Hard cap of held records; claims beyond it are refused (memory stays bounded). */
  maxRecords: number;
  /** How long one sweep slice may hold the event loop before yielding. */
  sliceMs: number;
  nowMs: () => number;
  /** Told which ids the sweep removed from memory. */
  onExpired?: (transactionIds: readonly string[]) => void;
  /**
   * Durable mode: every settled record is also in `backing`, so memory keeps only the claims in
   * flight plus the `cacheRecords` most recently claimed records, and asks `backing` for the rest.
   */
  backing?: TxRecordLookup;
  cacheRecords?: number;
}

export type Claim =
  | { readonly kind: 'execute'; readonly expiresAtMs: number }
  | { readonly kind: 'replay'; readonly outcome: Outcome | Promise<Outcome> };

interface Pending {
  readonly fingerprint: string;
  readonly expiresAtMs: number;
  /** Duplicates waiting for the outcome; created only when one arrives (most ids never see one). */
  waiters: ((outcome: Outcome) => void)[] | undefined;
}

type Held = TxRecord | Pending;
const isPending = (held: Held): held is Pending => 'waiters' in held;

function wake(pending: Pending, outcome: Outcome): void {
  if (pending.waiters !== undefined) for (const waiter of pending.waiters) waiter(outcome);
}

export interface SweepStats {
  sweeps: number;
  removed: number;
  /** Longest single slice of sweeping work: how long one sweep step held the event loop. */
  maxSliceMs: number;
}

/**
 * Transaction ids: the first request decides the outcome, later ones replay it.
 * Records are kept in a Map in claim order; with one TTL that is also expiry order, so the sweep
 * removes a prefix in slices and never scans live records. With a backing store, memory is a
 * bounded cache in front of it (the oldest settled records are evicted first).
 */
export class IdempotencyStore {
  private readonly held = new Map<string, Held>();
  private sweeping = false;
  /** Expiry of the oldest live record seen by the last sweep: no sweep is due before it. */
  private nextSweepAtMs = 0;
  readonly sweepStats: SweepStats = { sweeps: 0, removed: 0, maxSliceMs: 0 };

  constructor(private readonly options: IdempotencyOptions) {}

  get size(): number {
    return this.held.size;
  }

  /** True while a write that claimed this id is executing (its record is not stored yet). */
  isPending(transactionId: string): boolean {
    const held = this.held.get(transactionId);
    return held !== undefined && isPending(held);
  }

  /**
   * Synchronous, so claiming is atomic: one caller gets 'execute', every concurrent or later
   * caller with the same fingerprint gets 'replay', any other fingerprint is a conflict.
   */
  claim(transactionId: string, fingerprint: string): Claim {
    const now = this.options.nowMs();
    // A settled record leaves memory only once it is in the backing store, so memory comes first.
    const existing = this.held.get(transactionId) ?? this.options.backing?.findTxRecord(transactionId);
    if (existing !== undefined) {
      if (existing.expiresAtMs > now || isPending(existing)) {
        if (existing.fingerprint !== fingerprint) throw Errors.transactionConflict(transactionId);
        if (!isPending(existing)) return { kind: 'replay', outcome: existing.outcome };
        existing.waiters ??= [];
        const waiters = existing.waiters;
        return { kind: 'replay', outcome: new Promise<Outcome>((resolve) => waiters.push(resolve)) };
      }
      this.held.delete(transactionId);
    }
    if (this.held.size >= this.options.sweepThreshold && now >= this.nextSweepAtMs) this.scheduleSweep();
    if (this.held.size >= this.options.maxRecords)
      throw Errors.tooManyTransactionIds(this.options.maxRecords);
    const expiresAtMs = now + this.options.ttlMs;
    this.held.set(transactionId, { fingerprint, expiresAtMs, waiters: undefined });
    return { kind: 'execute', expiresAtMs };
  }

  /** Records the decided outcome and wakes the waiting duplicates. */
  settle(record: TxRecord): void {
    const held = this.held.get(record.transactionId);
    invariant(held !== undefined && isPending(held), `settle of unclaimed id ${record.transactionId}`);
    this.held.set(record.transactionId, record);
    wake(held, record.outcome);
    const cap = this.options.cacheRecords;
    if (cap !== undefined && this.held.size > cap) this.evict(cap);
  }

  /** Forgets a claim whose outcome is not to be kept (the id stays unused); waiters get `outcome`. */
  abandon(transactionId: string, outcome: Outcome): void {
    const held = this.held.get(transactionId);
    invariant(held !== undefined && isPending(held), `abandon of unclaimed id ${transactionId}`);
    this.held.delete(transactionId);
    wake(held, outcome);
  }

  /**
   * Drops the oldest settled records (they are in the backing store) to 7/8 of `cap`. In batches:
   * iterating a Map from the front walks over the holes earlier deletes left until V8 rehashes.
   */
  private evict(cap: number): void {
    const target = cap - (cap >> 3);
    for (const [id, held] of this.held) {
      if (this.held.size <= target) return;
      if (!isPending(held)) this.held.delete(id);
    }
  }

  private scheduleSweep(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    this.sweepStats.sweeps++;
    setImmediate(() => this.sweepSlice());
  }

  private sweepSlice(): void {
    const started = performance.now();
    const now = this.options.nowMs();
    let done = true;
    const removed: string[] = [];
    for (const [id, held] of this.held) {
      // Claim order is expiry order: the first live record ends the expired prefix.
      if (isPending(held) || held.expiresAtMs > now) {
        this.nextSweepAtMs = held.expiresAtMs;
        break;
      }
      this.held.delete(id);
      removed.push(id);
      // The clock is read every 64 removals: cheap, and a slice overshoots by microseconds only.
      if ((removed.length & 63) === 0 && performance.now() - started >= this.options.sliceMs) {
        done = false;
        break;
      }
    }
    this.sweepStats.removed += removed.length;
    if (removed.length > 0) this.options.onExpired?.(removed);
    this.sweepStats.maxSliceMs = Math.max(this.sweepStats.maxSliceMs, performance.now() - started);
    if (done) this.sweeping = false;
    else setImmediate(() => this.sweepSlice());
  }
}
