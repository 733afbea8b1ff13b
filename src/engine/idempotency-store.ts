import { Errors, invariant } from '../domain/errors.js';
import { isInt64 } from '../domain/money.js';
import type { AccountState } from '../domain/types.js';
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
  /** `slot`: where the claim is held; handing it back to settle() saves finding the id again. */
  | { readonly kind: 'execute'; readonly expiresAtMs: number; readonly slot: number }
  | { readonly kind: 'replay'; readonly outcome: Outcome | Promise<Outcome> };

export interface SweepStats {
  sweeps: number;
  removed: number;
  /** Longest single slice of sweeping work: how long one sweep step held the event loop. */
  maxSliceMs: number;
}

/** What a slot holds. */
const FREE = 0;
const PENDING = 1;
/** A success that touched one account (create, update) or two (transfer), kept in columns. */
const OK_ONE = 2;
const OK_TWO = 3;
/** Any other outcome (a recorded failure): kept as its object. */
const OTHER = 4;

const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const IN_CHUNK = CHUNK - 1;
/** Slot numbers are kept modulo this in the index so they stay small integers (no boxed number). */
const SEQ_SPAN = 2 ** 30;

/**
 * CHUNK consecutive records as columns. A settled success holds no object of its own: its id and
 * fingerprint strings, the touched accounts' id strings (the account map's own) and numbers in
 * typed arrays. So a day of records costs the garbage collector two strings each rather than a
 * dozen objects per write to trace in the old generation and copy out of the young one.
 */
class Chunk {
  readonly ids: (string | undefined)[] = new Array(CHUNK).fill(undefined);
  readonly prints: (string | undefined)[] = new Array(CHUNK).fill(undefined);
  readonly state = new Uint8Array(CHUNK);
  readonly expiresAtMs = new Float64Array(CHUNK);
  readonly accountA: (string | undefined)[] = new Array(CHUNK).fill(undefined);
  readonly accountB: (string | undefined)[] = new Array(CHUNK).fill(undefined);
  readonly balances = new BigInt64Array(2 * CHUNK);
  readonly versions = new Float64Array(2 * CHUNK);
  /** Outcomes that are not a one- or two-account success; made on first use. */
  others: (Outcome | undefined)[] | undefined;

  clear(): void {
    this.ids.fill(undefined);
    this.prints.fill(undefined);
    this.accountA.fill(undefined);
    this.accountB.fill(undefined);
    this.others = undefined;
    this.state.fill(FREE);
  }
}

function fitsColumns(account: AccountState): boolean {
  return isInt64(account.balance);
}

/**
 * Transaction ids: the first request decides the outcome, later ones replay it.
 * Records sit in a ring of chunks in claim order (with one TTL that is also expiry order), found
 * by an id -> slot Map, so the sweep removes a prefix in slices and never scans live records, and
 * a swept chunk is reused. With a backing store, memory is a bounded cache in front of it (the
 * oldest settled records are evicted first, a few per settle).
 */
export class IdempotencyStore {
  private readonly index = new Map<string, number>();
  private readonly chunks: Chunk[] = [];
  private spare: Chunk | undefined;
  /** Sequence number of chunks[0]'s first slot. */
  private base = 0;
  /** Oldest slot that may be in use; slots before it are free and their chunks gone. */
  private head = 0;
  /** Next slot to claim. */
  private tail = 0;
  /** Duplicates waiting for a pending claim's outcome; most ids never see one. */
  private readonly waiters = new Map<string, ((outcome: Outcome) => void)[]>();
  private sweeping = false;
  /** Expiry of the oldest live record seen by the last sweep: no sweep is due before it. */
  private nextSweepAtMs = 0;
  readonly sweepStats: SweepStats = { sweeps: 0, removed: 0, maxSliceMs: 0 };

  constructor(private readonly options: IdempotencyOptions) {}

  get size(): number {
    return this.index.size;
  }

  /** True while a write that claimed this id is executing (its record is not stored yet). */
  isPending(transactionId: string): boolean {
    const seq = this.find(transactionId);
    return seq !== undefined && this.chunkOf(seq).state[seq & IN_CHUNK] === PENDING;
  }

  /**
   * Synchronous, so claiming is atomic: one caller gets 'execute', every concurrent or later
   * caller with the same fingerprint gets 'replay', any other fingerprint is a conflict.
   */
  claim(transactionId: string, fingerprint: string): Claim {
    const now = this.options.nowMs();
    const seq = this.find(transactionId);
    if (seq !== undefined) {
      const chunk = this.chunkOf(seq);
      const i = seq & IN_CHUNK;
      const pending = chunk.state[i] === PENDING;
      if (pending || chunk.expiresAtMs[i]! > now) {
        if (chunk.prints[i] !== fingerprint) throw Errors.transactionConflict(transactionId);
        if (!pending) return { kind: 'replay', outcome: outcomeAt(chunk, i) };
        const waiting = this.waiters.get(transactionId) ?? [];
        this.waiters.set(transactionId, waiting);
        return { kind: 'replay', outcome: new Promise<Outcome>((resolve) => waiting.push(resolve)) };
      }
      this.release(seq);
      this.advanceHead();
    } else if (this.options.backing !== undefined) {
      // A settled record leaves memory only once it is in the backing store, so memory comes first.
      const stored = this.options.backing.findTxRecord(transactionId);
      if (stored !== undefined && stored.expiresAtMs > now) {
        if (stored.fingerprint !== fingerprint) throw Errors.transactionConflict(transactionId);
        return { kind: 'replay', outcome: stored.outcome };
      }
    }
    if (this.index.size >= this.options.sweepThreshold && now >= this.nextSweepAtMs) this.scheduleSweep();
    if (this.index.size >= this.options.maxRecords)
      throw Errors.tooManyTransactionIds(this.options.maxRecords);
    invariant(this.tail - this.head < SEQ_SPAN, 'idempotency ring wrapped');
    const expiresAtMs = now + this.options.ttlMs;
    const next = this.tail++;
    if (next - this.base >= this.chunks.length * CHUNK) this.chunks.push(this.newChunk());
    const chunk = this.chunkOf(next);
    const i = next & IN_CHUNK;
    chunk.ids[i] = transactionId;
    chunk.prints[i] = fingerprint;
    chunk.state[i] = PENDING;
    chunk.expiresAtMs[i] = expiresAtMs;
    this.index.set(transactionId, next % SEQ_SPAN);
    return { kind: 'execute', expiresAtMs, slot: next };
  }

  /** Records the decided outcome and wakes the waiting duplicates. */
  settle(record: TxRecord, slot?: number): void {
    const seq = this.holds(slot, record.transactionId) ? slot : this.find(record.transactionId);
    const chunk = seq === undefined ? undefined : this.chunkOf(seq);
    const i = (seq ?? 0) & IN_CHUNK;
    invariant(chunk?.state[i] === PENDING, `settle of unclaimed id ${record.transactionId}`);
    const { outcome } = record;
    chunk.prints[i] = record.fingerprint;
    chunk.expiresAtMs[i] = record.expiresAtMs;
    const accounts = outcome.ok ? outcome.result.accounts : undefined;
    if (accounts !== undefined && accounts.length === 1 && fitsColumns(accounts[0]!)) {
      chunk.state[i] = OK_ONE;
      setAccount(chunk, i, 0, accounts[0]!);
    } else if (
      accounts !== undefined &&
      accounts.length === 2 &&
      fitsColumns(accounts[0]!) &&
      fitsColumns(accounts[1]!)
    ) {
      chunk.state[i] = OK_TWO;
      setAccount(chunk, i, 0, accounts[0]!);
      setAccount(chunk, i, 1, accounts[1]!);
    } else {
      chunk.state[i] = OTHER;
      chunk.others ??= new Array(CHUNK).fill(undefined);
      chunk.others[i] = outcome;
    }
    this.wake(record.transactionId, outcome);
    const cap = this.options.cacheRecords;
    if (cap !== undefined && this.index.size > cap) this.evict(cap);
  }

  /** Forgets a claim whose outcome is not to be kept (the id stays unused); waiters get `outcome`. */
  abandon(transactionId: string, outcome: Outcome): void {
    const seq = this.find(transactionId);
    invariant(
      seq !== undefined && this.chunkOf(seq).state[seq & IN_CHUNK] === PENDING,
      `abandon of unclaimed id ${transactionId}`,
    );
    this.release(seq);
    this.advanceHead();
    this.wake(transactionId, outcome);
  }

  private wake(transactionId: string, outcome: Outcome): void {
    const waiting = this.waiters.get(transactionId);
    if (waiting === undefined) return;
    this.waiters.delete(transactionId);
    for (const waiter of waiting) waiter(outcome);
  }

  /** True when `slot` (from claim) still holds this id: a pending claim's slot is never freed. */
  private holds(slot: number | undefined, transactionId: string): slot is number {
    return (
      slot !== undefined &&
      slot >= this.head &&
      slot < this.tail &&
      this.chunkOf(slot).ids[slot & IN_CHUNK] === transactionId
    );
  }

  /** The slot of an id held in memory. */
  private find(transactionId: string): number | undefined {
    const kept = this.index.get(transactionId);
    if (kept === undefined) return undefined;
    // Live slots span less than SEQ_SPAN, so the slot is the one at or after head with this residue.
    return this.head + ((kept - (this.head % SEQ_SPAN) + SEQ_SPAN) % SEQ_SPAN);
  }

  private chunkOf(seq: number): Chunk {
    return this.chunks[(seq - this.base) >> CHUNK_BITS]!;
  }

  private newChunk(): Chunk {
    const chunk = this.spare ?? new Chunk();
    this.spare = undefined;
    return chunk;
  }

  /** Frees a slot (the head moves past it later, in advanceHead). */
  private release(seq: number): void {
    const chunk = this.chunkOf(seq);
    const i = seq & IN_CHUNK;
    this.index.delete(chunk.ids[i]!);
    chunk.state[i] = FREE;
    chunk.ids[i] = undefined;
    chunk.prints[i] = undefined;
    chunk.accountA[i] = undefined;
    chunk.accountB[i] = undefined;
    if (chunk.others !== undefined) chunk.others[i] = undefined;
  }

  /** Moves the head past free slots, and gives back chunks it has left behind. */
  private advanceHead(): void {
    while (this.head < this.tail && this.chunkOf(this.head).state[this.head & IN_CHUNK] === FREE) {
      this.head++;
      if (this.head - this.base === CHUNK) this.dropFirstChunk();
    }
  }

  private dropFirstChunk(): void {
    const chunk = this.chunks.shift()!;
    this.base += CHUNK;
    if (this.spare === undefined) {
      chunk.clear();
      this.spare = chunk;
    }
  }

  /**
   * Drops the oldest settled records (they are in the backing store) down to `cap`: called on
   * every settle over the cap, so each call drops one or two and never holds the event loop.
   */
  private evict(cap: number): void {
    for (let seq = this.head; seq < this.tail && this.index.size > cap; seq++) {
      const state = this.chunkOf(seq).state[seq & IN_CHUNK];
      if (state !== FREE && state !== PENDING) this.release(seq);
    }
    this.advanceHead();
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
    const onExpired = this.options.onExpired;
    const removed: string[] = [];
    let count = 0;
    let done = true;
    for (let seq = this.head; seq < this.tail; seq++) {
      const chunk = this.chunkOf(seq);
      const i = seq & IN_CHUNK;
      const state = chunk.state[i];
      if (state === FREE) continue;
      // Claim order is expiry order: the first live record ends the expired prefix.
      if (state === PENDING || chunk.expiresAtMs[i]! > now) {
        this.nextSweepAtMs = chunk.expiresAtMs[i]!;
        break;
      }
      if (onExpired !== undefined) removed.push(chunk.ids[i]!);
      this.release(seq);
      count++;
      // The clock is read every 64 removals: cheap, and a slice overshoots by microseconds only.
      if ((count & 63) === 0 && performance.now() - started >= this.options.sliceMs) {
        done = false;
        break;
      }
    }
    this.advanceHead();
    this.sweepStats.removed += count;
    if (removed.length > 0) onExpired?.(removed);
    this.sweepStats.maxSliceMs = Math.max(this.sweepStats.maxSliceMs, performance.now() - started);
    if (done) this.sweeping = false;
    else setImmediate(() => this.sweepSlice());
  }
}

function setAccount(chunk: Chunk, i: number, which: 0 | 1, account: AccountState): void {
  if (which === 0) chunk.accountA[i] = account.id;
  else chunk.accountB[i] = account.id;
  chunk.balances[2 * i + which] = account.balance;
  chunk.versions[2 * i + which] = account.version;
}

function accountAt(chunk: Chunk, i: number, which: 0 | 1): AccountState {
  return {
    id: (which === 0 ? chunk.accountA[i] : chunk.accountB[i])!,
    balance: chunk.balances[2 * i + which]!,
    version: chunk.versions[2 * i + which]!,
  };
}

/** A settled slot's outcome, rebuilt (only replays ask, so the columns are read rarely). */
function outcomeAt(chunk: Chunk, i: number): Outcome {
  const state = chunk.state[i];
  if (state === OTHER) return chunk.others![i]!;
  const accounts =
    state === OK_ONE ? [accountAt(chunk, i, 0)] : [accountAt(chunk, i, 0), accountAt(chunk, i, 1)];
  return { ok: true, result: { transactionId: chunk.ids[i]!, accounts } };
}
