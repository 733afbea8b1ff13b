import {
  type BatchItem,
  type BatchItemOutcome,
  type BatchOperationInput,
  failLinkedChain,
  validateBatch,
} from '../domain/batch.js';
import { Errors, InvariantViolation, invariant, isRecordedOutcome, LedgerError } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import { INT64_MAX } from '../domain/money.js';
import {
  applyCommand,
  balanceIncrease,
  fingerprint,
  loggedAmount,
  touchedIds,
} from '../domain/transitions.js';
import type { AccountState, LogEntry, Snapshot, WriteCommand, WriteResult } from '../domain/types.js';
import {
  type CreateInput,
  type TransferInput,
  type UpdateInput,
  validateAccountId,
  validateCreate,
  validateTransactionId,
  validateTransfer,
  validateUpdate,
} from '../domain/validate.js';
import { AccountLocks, type LockingMode, type UnsafeLocking } from './account-locks.js';
import { AuditLogWindow } from './audit-log.js';
import { type Clock, systemClock } from './clock.js';
import { type CommitObserver, CommitSequencer } from './commit-sequencer.js';
import { type Claim, IdempotencyStore } from './idempotency-store.js';
import type { Ledger, WriteOutcome } from './ledger.js';
import type { Outcome, TxRecord } from './outcome.js';
import { type LedgerStorage, MemoryStorage, type RecoveryStats, StorageFailure } from './storage.js';
import { generateTransactionId } from './transaction-ids.js';

export interface EngineOptions {
  storage?: LedgerStorage;
  locking?: LockingMode;
  txidTtlMs?: number;
  txidSweepThreshold?: number;
  maxTxids?: number;
  /** Durable storage only: idempotency records kept in memory in front of the disk. */
  txidCacheRecords?: number;
  logWindowEntries?: number;
  maxSnapshotAccounts?: number;
  clock?: Clock;
  /**
   * Called once when storage fails (a commit fails, damage is found while serving): the engine
   * refuses writes from then on. Default, unless someone listens (onStorageFailure): throw.
   */
  onFatal?: (err: unknown) => void;
  /** Test doubles only: see UnsafeLocking. */
  unsafeLocking?: UnsafeLocking;
  /** Sees every commit batch and its flush time (metrics). */
  commitObserver?: CommitObserver;
}

export type { WriteOutcome } from './ledger.js';

export interface EngineStats {
  accounts: number;
  logPosition: number;
  logWindowEntries: number;
  txidsHeld: number;
  writesInFlight: number;
  commitsPending: number;
  lockAcquisitions: number;
  lockContended: number;
  lockWaitMsTotal: number;
  txidSweeps: number;
  txidSwept: number;
  txidSweepMaxSliceMs: number;
}

const defaultFatal = (err: unknown): void => {
  // Deliberately uncaught: a ledger that cannot vouch for its state must stop.
  setImmediate(() => {
    throw err;
  });
};

const NO_RECORDS: readonly TxRecord[] = [];

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The ledger. Writes: validate, claim the transaction id, lock the touched accounts in id order,
 * read, decide, await the durable commit, apply, release. Reads are synchronous over committed
 * state: they never wait for a writer and can never see a half-applied write.
 */
export class LedgerEngine implements Ledger {
  private readonly accounts = new Map<string, AccountState>();
  private totalBalance = 0n;
  /** Increases of the total decided but not yet applied: keeps the total inside int64 under concurrency. */
  private totalReserved = 0n;
  private sortedIds: string[] | undefined = [];
  private nextPosition = 1;
  private writesInFlight = 0;
  private closing = false;
  private drained: (() => void) | undefined;
  /** The first storage failure: from then on writes are refused. */
  private failure: StorageFailure | undefined;
  private readonly failureListeners: ((failure: StorageFailure) => void)[] = [];
  private onFatal: ((err: unknown) => void) | undefined;
  /** What durable storage recovered at open (undefined in memory): the server logs it. */
  recovery: RecoveryStats | undefined;

  private constructor(
    private readonly storage: LedgerStorage,
    private readonly locks: AccountLocks,
    private readonly idempotency: IdempotencyStore,
    private readonly log: AuditLogWindow,
    private readonly sequencer: CommitSequencer,
    private readonly clock: Clock,
    private readonly maxSnapshotAccounts: number,
  ) {}

  static async open(options: EngineOptions = {}): Promise<LedgerEngine> {
    const storage: LedgerStorage = options.storage ?? new MemoryStorage();
    const clock = options.clock ?? systemClock();
    const backing = storage.txRecords;
    const idempotency = new IdempotencyStore({
      ttlMs: options.txidTtlMs ?? LIMITS.defaultTxidTtlMs,
      sweepThreshold: options.txidSweepThreshold ?? LIMITS.defaultTxidSweepThreshold,
      maxRecords: options.maxTxids ?? LIMITS.defaultMaxTxids,
      sliceMs: LIMITS.txidSweepSliceMs,
      nowMs: clock.nowMs,
      backing,
      cacheRecords:
        backing === undefined ? undefined : (options.txidCacheRecords ?? LIMITS.defaultTxidCacheRecords),
    });
    const log = new AuditLogWindow(options.logWindowEntries ?? LIMITS.defaultLogWindowEntries);
    const recovered = await storage.recover(log.capacity);
    let engine: LedgerEngine | undefined;
    const failed = (err: unknown): Error => {
      engine?.fail(err);
      return Errors.storageFailed();
    };
    engine = new LedgerEngine(
      storage,
      new AccountLocks(options.locking ?? 'account', LIMITS.maxLockQueuePerAccount, options.unsafeLocking),
      idempotency,
      log,
      new CommitSequencer(storage, failed, options.commitObserver),
      clock,
      options.maxSnapshotAccounts ?? LIMITS.maxSnapshotAccounts,
    );
    engine.onFatal = options.onFatal;
    storage.setFailureHandler?.(failed);
    storage.startMaintenance((id) => idempotency.isPending(id));
    for (const account of recovered.accounts) engine.restoreAccount(account);
    log.restore(
      recovered.recentLog.map((entry) => engine.sharingAccountIds(entry)),
      recovered.lastPosition,
    );
    engine.nextPosition = log.lastPosition + 1;
    engine.recovery = recovered.stats;
    return engine;
  }

  /**
   * Told once when storage fails (the server turns NOT_SERVING and logs it); called at once if it
   * already has. With a listener, a failure no longer crashes the process.
   */
  onStorageFailure(listener: (failure: StorageFailure) => void): void {
    if (this.failure !== undefined) listener(this.failure);
    else this.failureListeners.push(listener);
  }

  /** Why storage failed, once it has. */
  get storageFailure(): StorageFailure | undefined {
    return this.failure;
  }

  get storageKind(): string {
    return this.storage.kind;
  }

  get lockingMode(): LockingMode {
    return this.locks.mode;
  }

  /** `principal` is who asks ('' without authentication); the log entry records it. */
  async createAccount(input: CreateInput, principal = ''): Promise<WriteOutcome> {
    return this.write(validateCreate(input), principal);
  }

  async updateBalance(input: UpdateInput, principal = ''): Promise<WriteOutcome> {
    return this.write(validateUpdate(input), principal);
  }

  async transferFunds(input: TransferInput, principal = ''): Promise<WriteOutcome> {
    return this.write(validateTransfer(input), principal);
  }

  /** Ledger.createAccountNow: synchronous while nothing has to wait; refusals are thrown. */
  createAccountNow(input: CreateInput, principal = ''): WriteOutcome | Promise<WriteOutcome> {
    return this.write(validateCreate(input), principal);
  }

  updateBalanceNow(input: UpdateInput, principal = ''): WriteOutcome | Promise<WriteOutcome> {
    return this.write(validateUpdate(input), principal);
  }

  transferFundsNow(input: TransferInput, principal = ''): WriteOutcome | Promise<WriteOutcome> {
    return this.write(validateTransfer(input), principal);
  }

  /**
   * ExecuteBatch: every operation answered in order, exactly as its unary call would be, in one
   * durable commit whose log entries are consecutive. Operations run in order and each sees the
   * ones before it; a linked chain that fails changes nothing and records nothing. Throws (the
   * whole call fails, nothing runs) only for the batch's own validation, shutdown and a full lock
   * queue.
   */
  async executeBatch(
    operations: readonly BatchOperationInput[],
    principal = '',
  ): Promise<BatchItemOutcome[]> {
    if (this.closing) throw Errors.shuttingDown();
    if (this.failure !== undefined) throw Errors.storageFailed();
    const items = validateBatch(operations);
    let outcomes: (BatchItemOutcome | undefined)[];
    let claims: (Claimed | undefined)[];
    for (;;) {
      outcomes = new Array(items.length);
      claims = new Array(items.length);
      let waits: Promise<Outcome>[];
      try {
        waits = this.claimBatch(items, outcomes, claims);
      } catch (err) {
        this.abandonClaims(claims, err);
        throw this.asStorageFailure(err);
      }
      if (waits.length === 0) break;
      // An id is being executed by another write. A batch must not hold claims while it waits
      // (two batches waiting on each other's ids would deadlock): give back the ones just taken
      // (nothing can be waiting on them yet: this pass did not yield), wait, and claim again.
      this.abandonClaims(claims, undefined);
      await Promise.all(waits);
    }
    this.writesInFlight++;
    let keys: readonly string[] = [];
    try {
      const ids = new Set<string>();
      for (let i = 0; i < items.length; i++) {
        if (outcomes[i] === undefined) for (const id of touchedIds(items[i]!.cmd!)) ids.add(id);
      }
      const distinct = [...ids];
      let wanted = this.locks.unorderedKeysFor(distinct);
      if (!this.locks.tryAcquire(wanted)) {
        // Waiting: in the one global order, so two batches never wait on each other in a cycle.
        wanted = this.locks.keysFor(distinct);
        await this.locks.acquire(wanted);
      }
      keys = wanted;
      const decided = this.decideBatch(items, outcomes);
      await this.commitBatch(items, outcomes, claims, decided, principal);
    } catch (err) {
      this.abandonClaims(claims, err);
      this.finish(keys, undefined, err);
      // A failed commit (disk full, damage): UNAVAILABLE like a unary write's, never INTERNAL.
      throw this.asStorageFailure(err);
    }
    this.finish(keys, undefined, undefined);
    return outcomes as BatchItemOutcome[];
  }

  getBalance(accountId: string): AccountState {
    validateAccountId(accountId);
    const account = this.accounts.get(accountId);
    if (account === undefined) throw Errors.accountNotFound(accountId);
    return account;
  }

  getSnapshot(includeAccounts: boolean): Snapshot {
    let accounts: AccountState[] | undefined;
    if (includeAccounts) {
      if (this.accounts.size > this.maxSnapshotAccounts) {
        throw Errors.snapshotTooLarge(this.accounts.size, this.maxSnapshotAccounts);
      }
      if (this.sortedIds === undefined) this.sortedIds = [...this.accounts.keys()].sort(byCodeUnits);
      accounts = this.sortedIds.map((id) => this.accounts.get(id)!);
    }
    return {
      totalBalance: this.totalBalance,
      accountCount: this.accounts.size,
      logPosition: this.log.lastPosition,
      accounts,
    };
  }

  async getTransaction(transactionId: string): Promise<LogEntry> {
    validateTransactionId(transactionId);
    let entry = this.log.get(transactionId);
    if (entry === undefined) {
      try {
        entry = await this.storage.findLogEntry(transactionId);
      } catch (err) {
        throw this.asStorageFailure(err);
      }
      // On disk but not yet applied (its commit is still settling): not committed for readers yet.
      if (entry !== undefined && entry.position > this.log.lastPosition) entry = undefined;
    }
    if (entry === undefined) throw Errors.transactionNotFound(transactionId);
    return entry;
  }

  stats(): EngineStats {
    const { acquisitions, contended, waitMsTotal } = this.locks.stats;
    const sweep = this.idempotency.sweepStats;
    return {
      accounts: this.accounts.size,
      logPosition: this.log.lastPosition,
      logWindowEntries: this.log.size,
      txidsHeld: this.idempotency.size,
      writesInFlight: this.writesInFlight,
      commitsPending: this.sequencer.pending,
      lockAcquisitions: acquisitions,
      lockContended: contended,
      lockWaitMsTotal: waitMsTotal,
      txidSweeps: sweep.sweeps,
      txidSwept: sweep.removed,
      txidSweepMaxSliceMs: sweep.maxSliceMs,
    };
  }

  /** Refuses new writes, waits for those in flight, then closes storage. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.writesInFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.storage.close();
  }

  /**
   * The write path. It is synchronous while nothing has to wait (locks free, storage instant), so
   * an uncontended in-memory write costs one promise; it awaits only for a held lock, a pending
   * duplicate or a durable commit.
   */
  private write(cmd: WriteCommand, principal: string): WriteOutcome | Promise<WriteOutcome> {
    if (this.closing) throw Errors.shuttingDown();
    if (this.failure !== undefined) throw Errors.storageFailed();
    const txid = cmd.transactionId;
    let claimed: Claimed | undefined;
    if (txid !== undefined) {
      // Computed once: the claim compares it, the record keeps it.
      const print = fingerprint(cmd);
      let claim: ReturnType<IdempotencyStore['claim']>;
      try {
        claim = this.idempotency.claim(txid, print);
      } catch (err) {
        // A damaged record on disk answers nothing: neither a replay nor a fresh execution.
        throw this.asStorageFailure(err);
      }
      if (claim.kind === 'replay') {
        const { outcome } = claim;
        return outcome instanceof Promise ? outcome.then(replay) : replay(outcome);
      }
      claimed = { txid, print, expiresAtMs: claim.expiresAtMs, slot: claim.slot };
    }
    this.writesInFlight++;
    const ids = touchedIds(cmd);
    const keys = this.locks.keysFor(ids);
    if (this.locks.tryAcquire(keys)) return this.decide(cmd, principal, ids, keys, claimed);
    return this.lockThenDecide(cmd, principal, ids, keys, claimed);
  }

  private async lockThenDecide(
    cmd: WriteCommand,
    principal: string,
    ids: readonly string[],
    keys: readonly string[],
    claimed: Claimed | undefined,
  ): Promise<WriteOutcome> {
    try {
      await this.locks.acquire(keys);
    } catch (err) {
      this.finish([], claimed, err);
      throw err;
    }
    return this.decide(cmd, principal, ids, keys, claimed);
  }

  /** Under the locks: read, decide, hand the batch to the commit step; unlock once it is applied. */
  private decide(
    cmd: WriteCommand,
    principal: string,
    ids: readonly string[],
    keys: readonly string[],
    claimed: Claimed | undefined,
  ): WriteOutcome | Promise<WriteOutcome> {
    let applied: Promise<void> | undefined;
    let outcome: WriteOutcome | undefined;
    let failure: LedgerError | undefined;
    try {
      const before = ids.map((id) => this.accounts.get(id));
      let after: AccountState[] | undefined;
      let increase = 0n;
      try {
        after = applyCommand(cmd, before);
        increase = balanceIncrease(before, after);
        if (increase > 0n && this.totalBalance + this.totalReserved + increase > INT64_MAX) {
          throw Errors.totalOverflow(ids[ids.length - 1]!, increase);
        }
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        failure = err;
      }
      if (failure !== undefined) applied = this.recordFailure(claimed, failure);
      else applied = this.commit(cmd, principal, after!, increase, claimed, (o) => (outcome = o));
    } catch (err) {
      this.finish(keys, claimed, err);
      throw err;
    }
    if (applied === undefined) return this.settle(keys, claimed, failure, outcome);
    return applied.then(
      () => this.settle(keys, claimed, failure, outcome),
      (err: unknown) => {
        // Storage failed before this write was applied: it is refused, never acknowledged.
        this.finish(keys, claimed, err);
        throw err;
      },
    );
  }

  private commit(
    cmd: WriteCommand,
    principal: string,
    after: AccountState[],
    increase: bigint,
    claimed: Claimed | undefined,
    done: (outcome: WriteOutcome) => void,
  ): Promise<void> | undefined {
    const transactionId = claimed?.txid ?? generateTransactionId();
    const result: WriteResult = { transactionId, accounts: after };
    const logEntry: LogEntry = {
      position: this.nextPosition++,
      transactionId,
      timestampNs: this.clock.nowNs(),
      operation: cmd.op,
      // The account map's id strings (not the request's): the log window keeps them.
      accountIds: after.map((a) => a.id),
      amount: loggedAmount(cmd),
      balancesAfter: after.map((a) => a.balance),
      status: 'OK',
      principal,
    };
    const txRecord = claimed === undefined ? undefined : record(claimed, { ok: true, result });
    if (increase > 0n) this.totalReserved += increase;
    const txRecords = txRecord === undefined ? NO_RECORDS : [txRecord];
    const accountsCreated = cmd.op === 'create' ? 1 : 0;
    const batch = {
      accounts: after,
      logEntries: [logEntry],
      txRecords,
      totalDelta: increase,
      accountsCreated,
    };
    return this.sequencer.submit(batch, () => {
      if (increase > 0n) this.totalReserved -= increase;
      for (const account of after) this.applyAccount(account);
      this.log.append(logEntry);
      if (txRecord !== undefined) this.idempotency.settle(txRecord, claimed?.slot);
      done({ result, replayed: false });
    });
  }

  /**
   * Claims every operation's id synchronously (one pass, no yield): recorded outcomes become
   * replays, conflicts and refusals item errors. Returns the outcomes of ids that other writes
   * are executing right now (the caller waits for them and claims again).
   */
  private claimBatch(
    items: readonly BatchItem[],
    outcomes: (BatchItemOutcome | undefined)[],
    claims: (Claimed | undefined)[],
  ): Promise<Outcome>[] {
    const waits: Promise<Outcome>[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item.invalid !== undefined) {
        outcomes[i] = { ok: false, error: item.invalid };
        continue;
      }
      const txid = item.cmd.transactionId;
      if (txid === undefined) continue;
      const print = fingerprint(item.cmd);
      let claim: Claim;
      try {
        claim = this.idempotency.claim(txid, print);
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        outcomes[i] = { ok: false, error: err };
        continue;
      }
      if (claim.kind === 'execute')
        claims[i] = { txid, print, expiresAtMs: claim.expiresAtMs, slot: claim.slot };
      else if (claim.outcome instanceof Promise) waits.push(claim.outcome);
      else outcomes[i] = replayItem(claim.outcome);
    }
    return waits;
  }

  /**
   * Under the locks: runs the operations in order over an overlay of the accounts they touch.
   * A failed linked chain is rolled back in the overlay; its failing member keeps its own error,
   * the others get `Linked operation failed`. Nothing is applied here.
   */
  private decideBatch(
    items: readonly BatchItem[],
    outcomes: (BatchItemOutcome | undefined)[],
  ): BatchDecision {
    const overlay = new Map<string, AccountState>();
    const afters: (AccountState[] | undefined)[] = new Array(items.length);
    const headroom = INT64_MAX - this.totalBalance - this.totalReserved;
    let net = 0n;
    let chainStart = -1;
    let chainNet = 0n;
    const undo: [string, AccountState | undefined][] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (chainStart < 0 && item.linked) {
        chainStart = i;
        chainNet = net;
        undo.length = 0;
      }
      let failure: LedgerError | undefined;
      const known = outcomes[i];
      if (known !== undefined) {
        if (!known.ok) failure = known.error;
      } else {
        const cmd = item.cmd!;
        const ids = touchedIds(cmd);
        const before = ids.map((id) => overlay.get(id) ?? this.accounts.get(id));
        try {
          const after = applyCommand(cmd, before);
          const increase = balanceIncrease(before, after);
          if (increase > 0n && net + increase > headroom)
            throw Errors.totalOverflow(ids[ids.length - 1]!, increase);
          for (const account of after) {
            if (chainStart >= 0) undo.push([account.id, overlay.get(account.id)]);
            overlay.set(account.id, account);
          }
          net += increase;
          afters[i] = after;
        } catch (err) {
          if (!(err instanceof LedgerError)) throw err;
          failure = err;
        }
      }
      if (failure !== undefined && chainStart >= 0) {
        for (let u = undo.length - 1; u >= 0; u--) {
          const [id, previous] = undo[u]!;
          if (previous === undefined) overlay.delete(id);
          else overlay.set(id, previous);
        }
        net = chainNet;
        i = failLinkedChain(items, chainStart, i, failure, afters, outcomes);
        chainStart = -1;
        continue;
      }
      if (failure !== undefined) outcomes[i] = { ok: false, error: failure };
      if (!item.linked) chainStart = -1;
    }
    return { afters, accounts: [...overlay.values()], net };
  }

  /** One commit for the whole batch: log entries at consecutive positions, in batch order. */
  private commitBatch(
    items: readonly BatchItem[],
    outcomes: (BatchItemOutcome | undefined)[],
    claims: (Claimed | undefined)[],
    decided: BatchDecision,
    principal: string,
  ): Promise<void> | undefined {
    const timestampNs = this.clock.nowNs();
    const logEntries: LogEntry[] = [];
    const txRecords: TxRecord[] = [];
    /** The idempotency slot of each of txRecords. */
    const txSlots: number[] = [];
    /** Claims that record nothing (a failed chain, a transient failure): their ids stay unused. */
    const unrecorded: number[] = [];
    let accountsCreated = 0;
    for (let i = 0; i < items.length; i++) {
      const after = decided.afters[i];
      const claimed = claims[i];
      if (after === undefined) {
        if (claimed === undefined) continue;
        const outcome = outcomes[i];
        // Failures outside a chain are outcomes like a unary call's: recorded and replayed.
        if (
          outcome !== undefined &&
          !outcome.ok &&
          !outcome.error.replayed &&
          isRecordedOutcome(outcome.error.code) &&
          !isChainMember(items, i)
        ) {
          const { code, message } = outcome.error;
          txRecords.push(record(claimed, { ok: false, code, message }));
          txSlots.push(claimed.slot);
        } else unrecorded.push(i);
        continue;
      }
      const cmd = items[i]!.cmd!;
      if (cmd.op === 'create') accountsCreated++;
      const transactionId = claimed?.txid ?? generateTransactionId();
      const result: WriteResult = { transactionId, accounts: after };
      logEntries.push({
        position: this.nextPosition++,
        transactionId,
        timestampNs,
        operation: cmd.op,
        accountIds: after.map((a) => a.id),
        amount: loggedAmount(cmd),
        balancesAfter: after.map((a) => a.balance),
        status: 'OK',
        principal,
      });
      if (claimed !== undefined) {
        txRecords.push(record(claimed, { ok: true, result }));
        txSlots.push(claimed.slot);
      }
      outcomes[i] = { ok: true, result, replayed: false };
    }
    const reserved = decided.net > 0n ? decided.net : 0n;
    this.totalReserved += reserved;
    const batch = {
      accounts: decided.accounts,
      logEntries,
      txRecords,
      totalDelta: decided.net,
      accountsCreated,
    };
    return this.sequencer.submit(batch, () => {
      this.totalReserved -= reserved;
      for (const account of decided.accounts) this.applyAccount(account);
      for (const entry of logEntries) this.log.append(entry);
      for (let r = 0; r < txRecords.length; r++) this.idempotency.settle(txRecords[r]!, txSlots[r]);
      for (const i of unrecorded) {
        const outcome = outcomes[i]!;
        this.idempotency.abandon(
          claims[i]!.txid,
          outcome.ok ? transientOutcome(undefined) : transientOutcome(outcome.error),
        );
      }
      claims.fill(undefined);
    });
  }

  /** A batch that failed as a whole leaves every id it claimed unused. */
  private abandonClaims(claims: (Claimed | undefined)[], err: unknown): void {
    if (err instanceof InvariantViolation) return;
    // Claims given back before anyone could wait on them (a retry) have no waiters to tell.
    for (let i = 0; i < claims.length; i++) {
      const claimed = claims[i];
      if (claimed !== undefined && this.idempotency.isPending(claimed.txid)) {
        this.idempotency.abandon(claimed.txid, transientOutcome(err));
      }
      claims[i] = undefined;
    }
  }

  /** A failure decided by ledger state is an outcome too: it is made durable and replayed. */
  private recordFailure(claimed: Claimed | undefined, err: LedgerError): Promise<void> | undefined {
    if (claimed === undefined || !isRecordedOutcome(err.code)) return undefined;
    const txRecord = record(claimed, { ok: false, code: err.code, message: err.message });
    const batch = { accounts: [], logEntries: [], txRecords: [txRecord], totalDelta: 0n, accountsCreated: 0 };
    return this.sequencer.submit(batch, () => this.idempotency.settle(txRecord, claimed.slot));
  }

  private settle(
    keys: readonly string[],
    claimed: Claimed | undefined,
    failure: LedgerError | undefined,
    outcome: WriteOutcome | undefined,
  ): WriteOutcome {
    this.finish(keys, claimed, failure);
    if (failure !== undefined) throw failure;
    invariant(outcome !== undefined, 'a committed write has an outcome');
    return outcome;
  }

  /** Unlocks and ends the write; a claim whose outcome was not recorded is released unused. */
  private finish(keys: readonly string[], claimed: Claimed | undefined, err: unknown): void {
    this.locks.release(keys);
    const recorded = err === undefined || (err instanceof LedgerError && isRecordedOutcome(err.code));
    if (claimed !== undefined && !recorded && !(err instanceof InvariantViolation)) {
      this.idempotency.abandon(claimed.txid, transientOutcome(err));
    }
    if (--this.writesInFlight === 0 && this.drained !== undefined) this.drained();
  }

  /** Storage failed: refuse writes from now on and tell whoever listens (once). */
  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure =
      err instanceof StorageFailure
        ? err
        : new StorageFailure(err instanceof Error ? err.message : String(err));
    if (this.failureListeners.length === 0 && this.onFatal === undefined) {
      defaultFatal(err);
      return;
    }
    this.onFatal?.(err);
    for (const listener of this.failureListeners) listener(this.failure);
  }

  /** A read that hit damage: once storage has reported it, callers get UNAVAILABLE, not INTERNAL. */
  private asStorageFailure(err: unknown): unknown {
    if (err instanceof StorageFailure) this.fail(err);
    return this.failure !== undefined && !(err instanceof LedgerError) ? Errors.storageFailed() : err;
  }

  private applyAccount(account: AccountState): void {
    const previous = this.accounts.get(account.id);
    this.totalBalance += account.balance - (previous?.balance ?? 0n);
    if (previous === undefined) this.sortedIds = undefined;
    this.accounts.set(account.id, account);
  }

  /**
   * A recovered log entry with the account map's own id strings instead of freshly decoded copies,
   * as live entries have them: ~30 bytes less per id in the log window (a full window of 200,000
   * transfers: ~12 MB of heap).
   */
  private sharingAccountIds(entry: LogEntry): LogEntry {
    return { ...entry, accountIds: entry.accountIds.map((id) => this.accounts.get(id)?.id ?? id) };
  }

  private restoreAccount(account: AccountState): void {
    invariant(!this.accounts.has(account.id), `account ${account.id} recovered twice`);
    this.applyAccount(account);
  }
}

/** What a batch decided under its locks. */
interface BatchDecision {
  /** Per operation: the touched accounts right after it, for those that commit. */
  readonly afters: (AccountState[] | undefined)[];
  /** Every account the batch changes, in its final state. */
  readonly accounts: AccountState[];
  /** The change of the total of all balances. */
  readonly net: bigint;
}

/** True when the operation is part of a linked chain (linked itself, or closing one). */
function isChainMember(items: readonly BatchItem[], i: number): boolean {
  return items[i]!.linked || (i > 0 && items[i - 1]!.linked);
}

function replayItem(outcome: Outcome): BatchItemOutcome {
  if (outcome.ok) return { ok: true, result: outcome.result, replayed: true };
  return { ok: false, error: new LedgerError(outcome.code, outcome.message, outcome.transient !== true) };
}

/** A transaction id this write claimed, with what its idempotency record will keep. */
interface Claimed {
  readonly txid: string;
  readonly print: string;
  readonly expiresAtMs: number;
  /** Where the idempotency store holds the claim (settling there needs no lookup). */
  readonly slot: number;
}

function record(claimed: Claimed, outcome: Outcome): TxRecord {
  return {
    transactionId: claimed.txid,
    fingerprint: claimed.print,
    outcome,
    expiresAtMs: claimed.expiresAtMs,
  };
}

/** The answer for duplicates of a request that failed without a recorded outcome. */
function transientOutcome(err: unknown): Outcome {
  if (err instanceof LedgerError) return { ok: false, code: err.code, message: err.message, transient: true };
  return { ok: false, code: 'UNAVAILABLE', message: 'The original request failed; retry', transient: true };
}

function replay(outcome: Outcome): WriteOutcome {
  if (outcome.ok) return { result: outcome.result, replayed: true };
  throw new LedgerError(outcome.code, outcome.message, outcome.transient !== true);
}
