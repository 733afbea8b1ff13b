import { Errors, InvariantViolation, invariant, isRecordedOutcome, LedgerError } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import { INT64_MAX } from '../domain/money.js';
import {
  applyCreate,
  applyTransfer,
  applyUpdate,
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
import { CommitSequencer } from './commit-sequencer.js';
import { IdempotencyStore } from './idempotency-store.js';
import type { Outcome, TxRecord } from './outcome.js';
import { type LedgerStorage, MemoryStorage } from './storage.js';

export interface EngineOptions {
  storage?: LedgerStorage;
  locking?: LockingMode;
  txidTtlMs?: number;
  txidSweepThreshold?: number;
  maxTxids?: number;
  logWindowEntries?: number;
  maxSnapshotAccounts?: number;
  clock?: Clock;
  /** Called when the engine can no longer vouch for its state (storage failure); default: throw. */
  onFatal?: (err: unknown) => void;
  /** Test doubles only: see UnsafeLocking. */
  unsafeLocking?: UnsafeLocking;
}

export interface WriteOutcome {
  readonly result: WriteResult;
  /** True when this answers a repeated transaction id with the recorded outcome. */
  readonly replayed: boolean;
}

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

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The ledger. Writes: validate, claim the transaction id, lock the touched accounts in id order,
 * read, decide, await the durable commit, apply, release. Reads are synchronous over committed
 * state: they never wait for a writer and can never see a half-applied write.
 */
export class LedgerEngine {
  private readonly accounts = new Map<string, AccountState>();
  private totalBalance = 0n;
  /** Increases of the total decided but not yet applied: keeps the total inside int64 under concurrency. */
  private totalReserved = 0n;
  private sortedIds: string[] | undefined = [];
  private nextPosition: number;
  private writesInFlight = 0;
  private closing = false;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly storage: LedgerStorage,
    private readonly locks: AccountLocks,
    private readonly idempotency: IdempotencyStore,
    private readonly log: AuditLogWindow,
    private readonly sequencer: CommitSequencer,
    private readonly clock: Clock,
    private readonly maxSnapshotAccounts: number,
  ) {
    this.nextPosition = log.lastPosition + 1;
  }

  static async open(options: EngineOptions = {}): Promise<LedgerEngine> {
    const storage = options.storage ?? new MemoryStorage();
    const clock = options.clock ?? systemClock();
    const idempotency = new IdempotencyStore({
      ttlMs: options.txidTtlMs ?? LIMITS.defaultTxidTtlMs,
      sweepThreshold: options.txidSweepThreshold ?? LIMITS.defaultTxidSweepThreshold,
      maxRecords: options.maxTxids ?? LIMITS.defaultMaxTxids,
      sliceSize: LIMITS.txidSweepSliceSize,
      nowMs: clock.nowMs,
      onExpired: (ids) => storage.forgetTransactions(ids),
    });
    const log = new AuditLogWindow(options.logWindowEntries ?? LIMITS.defaultLogWindowEntries);
    const recovered = await storage.recover();
    log.restore(recovered.recentLog, recovered.lastPosition);
    idempotency.load(recovered.txRecords);
    const engine = new LedgerEngine(
      storage,
      new AccountLocks(options.locking ?? 'account', LIMITS.maxLockQueuePerAccount, options.unsafeLocking),
      idempotency,
      log,
      new CommitSequencer(storage, options.onFatal ?? defaultFatal),
      clock,
      options.maxSnapshotAccounts ?? LIMITS.maxSnapshotAccounts,
    );
    for (const account of recovered.accounts) engine.restoreAccount(account);
    return engine;
  }

  get storageKind(): string {
    return this.storage.kind;
  }

  get lockingMode(): LockingMode {
    return this.locks.mode;
  }

  createAccount(input: CreateInput): Promise<WriteOutcome> {
    return this.write(validateCreate(input));
  }

  updateBalance(input: UpdateInput): Promise<WriteOutcome> {
    return this.write(validateUpdate(input));
  }

  transferFunds(input: TransferInput): Promise<WriteOutcome> {
    return this.write(validateTransfer(input));
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
    const entry = this.log.get(transactionId) ?? (await this.storage.findLogEntry(transactionId));
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

  private async write(cmd: WriteCommand): Promise<WriteOutcome> {
    if (this.closing) throw Errors.shuttingDown();
    const transactionId = cmd.transactionId;
    let expiresAtMs: number | undefined;
    if (transactionId !== undefined) {
      const claim = this.idempotency.claim(transactionId, fingerprint(cmd));
      if (claim.kind === 'replay') return replay(await claim.outcome);
      expiresAtMs = claim.expiresAtMs;
    }
    this.writesInFlight++;
    try {
      return { result: await this.execute(cmd, transactionId, expiresAtMs), replayed: false };
    } finally {
      if (--this.writesInFlight === 0 && this.drained !== undefined) this.drained();
    }
  }

  private async execute(
    cmd: WriteCommand,
    claimedTxid: string | undefined,
    expiresAtMs: number | undefined,
  ): Promise<WriteResult> {
    const ids = touchedIds(cmd);
    let release: () => void;
    try {
      release = await this.locks.acquire(ids);
    } catch (err) {
      // Not decided by ledger state (e.g. a full lock queue): the id stays unused.
      if (claimedTxid !== undefined) this.idempotency.abandon(claimedTxid, transientOutcome(err));
      throw err;
    }
    try {
      const before = ids.map((id) => this.accounts.get(id));
      const transactionId = claimedTxid ?? crypto.randomUUID();
      let after: AccountState[];
      let increase: bigint;
      try {
        after = transition(cmd, before);
        increase = after.reduce((sum, a, i) => sum + a.balance - (before[i]?.balance ?? 0n), 0n);
        if (increase > 0n && this.totalBalance + this.totalReserved + increase > INT64_MAX) {
          throw Errors.totalOverflow(ids[ids.length - 1]!, increase);
        }
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        await this.recordFailure(cmd, claimedTxid, expiresAtMs, err);
        throw err;
      }
      const result: WriteResult = { transactionId, accounts: after };
      const logEntry: LogEntry = {
        position: this.nextPosition++,
        transactionId,
        timestampNs: this.clock.nowNs(),
        operation: cmd.op,
        accountIds: ids,
        amount: loggedAmount(cmd),
        balancesAfter: after.map((a) => a.balance),
        status: 'OK',
      };
      const txRecord =
        claimedTxid === undefined ? undefined : record(claimedTxid, cmd, { ok: true, result }, expiresAtMs!);
      if (increase > 0n) this.totalReserved += increase;
      await this.sequencer.submit({ accounts: after, logEntry, txRecord }, () => {
        if (increase > 0n) this.totalReserved -= increase;
        for (const account of after) this.applyAccount(account);
        this.log.append(logEntry);
        if (txRecord !== undefined) this.idempotency.settle(txRecord);
      });
      return result;
    } catch (err) {
      if (err instanceof InvariantViolation) throw err;
      if (claimedTxid !== undefined && !(err instanceof LedgerError && isRecordedOutcome(err.code))) {
        this.idempotency.abandon(claimedTxid, transientOutcome(err));
      }
      throw err;
    } finally {
      release();
    }
  }

  /** A failure decided by ledger state is an outcome too: it is made durable and replayed. */
  private async recordFailure(
    cmd: WriteCommand,
    txid: string | undefined,
    expiresAtMs: number | undefined,
    err: LedgerError,
  ): Promise<void> {
    if (txid === undefined || !isRecordedOutcome(err.code)) return;
    const txRecord = record(txid, cmd, { ok: false, code: err.code, message: err.message }, expiresAtMs!);
    await this.sequencer.submit({ accounts: [], logEntry: undefined, txRecord }, () =>
      this.idempotency.settle(txRecord),
    );
  }

  private applyAccount(account: AccountState): void {
    const previous = this.accounts.get(account.id);
    this.totalBalance += account.balance - (previous?.balance ?? 0n);
    if (previous === undefined) this.sortedIds = undefined;
    this.accounts.set(account.id, account);
  }

  private restoreAccount(account: AccountState): void {
    invariant(!this.accounts.has(account.id), `account ${account.id} recovered twice`);
    this.applyAccount(account);
  }
}

function transition(cmd: WriteCommand, before: (AccountState | undefined)[]): AccountState[] {
  switch (cmd.op) {
    case 'create':
      return [applyCreate(before[0], cmd)];
    case 'update':
      return [applyUpdate(before[0], cmd)];
    case 'transfer':
      return applyTransfer(before[0], before[1], cmd);
  }
}

function record(transactionId: string, cmd: WriteCommand, outcome: Outcome, expiresAtMs: number): TxRecord {
  return { transactionId, fingerprint: fingerprint(cmd), outcome, expiresAtMs };
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
