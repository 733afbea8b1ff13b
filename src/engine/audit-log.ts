import { invariant } from '../domain/errors.js';
import { isInt64 } from '../domain/money.js';
import type { LogEntry, Operation } from '../domain/types.js';

const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const IN_CHUNK = CHUNK - 1;

/** Operation codes in a slot; 0: the entry did not fit the columns and is kept as its object. */
const OTHER = 0;
const OPERATIONS: readonly Operation[] = ['create', 'update', 'transfer'];
const CODE: Readonly<Record<Operation, number>> = { create: 1, update: 2, transfer: 3 };

/**
 * CHUNK slots of the window as columns: an entry holds no object of its own (its transaction id,
 * account id and principal strings are shared with the request and the account map; numbers sit
 * in typed arrays), so a full window is a few dozen arrays for the garbage collector instead of
 * about seven objects per write.
 */
class Chunk {
  readonly txids: (string | undefined)[] = new Array(CHUNK).fill(undefined);
  readonly positions = new Float64Array(CHUNK);
  readonly operations = new Uint8Array(CHUNK);
  readonly timestampsNs = new BigInt64Array(CHUNK);
  readonly accountA: (string | undefined)[] = new Array(CHUNK).fill(undefined);
  readonly accountB: (string | undefined)[] = new Array(CHUNK).fill(undefined);
  readonly amounts = new BigInt64Array(CHUNK);
  readonly balances = new BigInt64Array(2 * CHUNK);
  readonly principals: string[] = new Array(CHUNK).fill('');
  /** Entries that do not fit the columns; made on first use. */
  others: (LogEntry | undefined)[] | undefined;
}

/** One account for create and update, two for a transfer, every number within int64. */
function fitsColumns(entry: LogEntry): boolean {
  const touched = entry.operation === 'transfer' ? 2 : 1;
  if (entry.accountIds.length !== touched || entry.balancesAfter.length !== touched) return false;
  if (!isInt64(entry.timestampNs) || !isInt64(entry.amount)) return false;
  for (const balance of entry.balancesAfter) if (!isInt64(balance)) return false;
  return entry.status === 'OK' && CODE[entry.operation] !== undefined;
}

/**
 * The newest `windowEntries` audit-log entries, indexed by transaction id (no scan).
 * Positions are dense: appending anything but lastPosition + 1 is a broken invariant.
 * Older entries leave memory; durable storage keeps all of them on disk.
 */
export class AuditLogWindow {
  /**
   * Transaction id -> slot of its newest entry, in two generations of at most `windowEntries`
   * appends each: the older one is dropped whole when the newer is full, by which time every
   * entry it indexes has left the ring. An evicted entry is never looked up and deleted one by
   * one (that was a lookup, a delete and the Map's rehashes per write, a sixth of a batched
   * transfer's CPU); a slot found is checked to still hold the id.
   */
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private currentAppends = 0;
  /** Slots that hold an entry. */
  private held = 0;
  /** The window in position order, as a ring: the slot of position p is (p - 1) % windowEntries. */
  private chunks: (Chunk | undefined)[];
  private lastPositionValue: number;

  constructor(
    private readonly windowEntries: number,
    lastPosition = 0,
  ) {
    this.lastPositionValue = lastPosition;
    this.chunks = new Array(Math.ceil(windowEntries / CHUNK)).fill(undefined);
  }

  /** How many entries the window holds when full. */
  get capacity(): number {
    return this.windowEntries;
  }

  get lastPosition(): number {
    return this.lastPositionValue;
  }

  get size(): number {
    return this.held;
  }

  append(entry: LogEntry): void {
    invariant(
      entry.position === this.lastPositionValue + 1,
      `log position ${entry.position} after ${this.lastPositionValue}`,
    );
    // An id may be used again once its idempotency record expired (TTL): the newest use answers
    // GetTransaction, as in the durable log index.
    this.lastPositionValue = entry.position;
    this.remember(entry);
  }

  private remember(entry: LogEntry): void {
    const slot = (entry.position - 1) % this.windowEntries;
    let chunk = this.chunks[slot >> CHUNK_BITS];
    if (chunk === undefined) {
      chunk = new Chunk();
      this.chunks[slot >> CHUNK_BITS] = chunk;
    }
    const i = slot & IN_CHUNK;
    if (chunk.txids[i] === undefined) this.held++;
    chunk.txids[i] = entry.transactionId;
    chunk.positions[i] = entry.position;
    if (fitsColumns(entry)) {
      chunk.operations[i] = CODE[entry.operation];
      chunk.timestampsNs[i] = entry.timestampNs;
      chunk.accountA[i] = entry.accountIds[0];
      chunk.accountB[i] = entry.accountIds[1];
      chunk.amounts[i] = entry.amount;
      chunk.balances[2 * i] = entry.balancesAfter[0]!;
      if (entry.balancesAfter.length > 1) chunk.balances[2 * i + 1] = entry.balancesAfter[1]!;
      chunk.principals[i] = entry.principal;
      if (chunk.others !== undefined) chunk.others[i] = undefined;
    } else {
      chunk.operations[i] = OTHER;
      chunk.accountA[i] = undefined;
      chunk.accountB[i] = undefined;
      chunk.others ??= new Array(CHUNK).fill(undefined);
      chunk.others[i] = entry;
    }
    if (this.currentAppends >= this.windowEntries) {
      this.previous = this.current;
      this.current = new Map();
      this.currentAppends = 0;
    }
    this.current.set(entry.transactionId, slot);
    this.currentAppends++;
  }

  /** Restores entries recovered from storage, oldest first, ending at lastPosition. */
  restore(entries: readonly LogEntry[], lastPosition: number): void {
    this.current = new Map();
    this.previous = new Map();
    this.currentAppends = 0;
    this.held = 0;
    this.chunks = new Array(this.chunks.length).fill(undefined);
    for (const entry of entries.slice(-this.windowEntries)) this.remember(entry);
    this.lastPositionValue = lastPosition;
  }

  /** The entry, rebuilt from its slot (a GetTransaction read). */
  get(transactionId: string): LogEntry | undefined {
    let slot = this.current.get(transactionId);
    // The newer generation has the newest use; in the older one, the slot may have been reused.
    if (slot === undefined) slot = this.previous.get(transactionId);
    if (slot === undefined) return undefined;
    const chunk = this.chunks[slot >> CHUNK_BITS]!;
    const i = slot & IN_CHUNK;
    if (chunk.txids[i] !== transactionId) return undefined;
    const code = chunk.operations[i]!;
    if (code === OTHER) return chunk.others![i];
    const transfer = code === CODE.transfer;
    return {
      position: chunk.positions[i]!,
      transactionId: chunk.txids[i]!,
      timestampNs: chunk.timestampsNs[i]!,
      operation: OPERATIONS[code - 1]!,
      accountIds: transfer ? [chunk.accountA[i]!, chunk.accountB[i]!] : [chunk.accountA[i]!],
      amount: chunk.amounts[i]!,
      balancesAfter: transfer
        ? [chunk.balances[2 * i]!, chunk.balances[2 * i + 1]!]
        : [chunk.balances[2 * i]!],
      status: 'OK',
      principal: chunk.principals[i]!,
    };
  }
}
