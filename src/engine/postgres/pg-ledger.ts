import type postgres from 'postgres';
import { type BatchItemOutcome, type BatchOperationInput, validateBatch } from '../../domain/batch.js';
import { Errors, InvariantViolation, invariant, LedgerError } from '../../domain/errors.js';
import { LIMITS } from '../../domain/limits.js';
import { fingerprint } from '../../domain/transitions.js';
import type { AccountState, LogEntry, Snapshot, WriteCommand } from '../../domain/types.js';
import {
  type CreateInput,
  type TransferInput,
  type UpdateInput,
  validateAccountId,
  validateCreate,
  validateTransactionId,
  validateTransfer,
  validateUpdate,
} from '../../domain/validate.js';
import { type Clock, systemClock } from '../clock.js';
import type { Ledger, WriteOutcome } from '../ledger.js';
import type { Outcome } from '../outcome.js';
import { AccountCache } from './pg-account-cache.js';
import { AutoCommit, type AutoCommitOptions } from './pg-auto-commit.js';
import { Availability } from './pg-availability.js';
import { type AccountRow, accountOf, type LogRow, logEntryOf } from './pg-codec.js';
import {
  type DatabaseOptions,
  isConnectionFailure,
  probeDatabase,
  wholeRows,
  withReservedConnection,
} from './pg-connect.js';
import { FlushBarrier } from './pg-flush-barrier.js';
import { type GroupPool, openGroupPool } from './pg-group-client.js';
import { checkSchema, migrate } from './pg-migrations.js';
import { PgPool } from './pg-pool.js';
import { TxidSweep } from './pg-txid-sweep.js';
import {
  CacheStale,
  CommitUnconfirmed,
  cachedStates,
  type GroupStats,
  type GroupUnit,
  groupAccountIds,
  type ItemAnswer,
  type ItemClaim,
  RetryGroup,
  runWriteGroup,
  type UnitItem,
} from './pg-write-group.js';

export interface PgLedgerOptions extends DatabaseOptions {
  /** Apply pending schema migrations at open (serve --migrate); otherwise an old schema is refused. */
  migrate?: boolean;
  txidTtlMs?: number;
  maxSnapshotAccounts?: number;
  /** Group transactions in flight at once (default LIMITS.pgGroupsInFlight; at most pool size - 2). */
  groupsInFlight?: number;
  /**
   * How a group's COMMIT reaches the disk: 'overlap' commits asynchronously and answers after a
   * shared flush barrier, so consecutive groups' flushes overlap; 'per-group' waits for each
   * group's own flush while it holds the head row (for databases without synchronous_commit);
   * 'auto' (default) commits as per-group while flushes are short and as overlap while they are
   * slow (AutoCommit).
   */
  commitMode?: PgCommitMode;
  /** 'auto' only: what it judges flushes by (default LIMITS.pgAutoCommit*); tests pass their own. */
  autoCommit?: AutoCommitOptions;
  /**
   * How a group is decided: 'locked' (round trip 1 locks the rows, the decision, round trip 2
   * commits) or 'cached' (decided on account states this process saw committed, and committed in
   * one round trip that the database checks under the locks; the locked path when the cache
   * misses or is stale). docs/postgres.md, "Decision: one round trip per group".
   */
  decide?: PgDecideMode;
  clock?: Clock;
}

export const PG_DECIDE_MODES = ['cached', 'locked'] as const;
export type PgDecideMode = (typeof PG_DECIDE_MODES)[number];
/** serve --db-decide's default. */
export const DEFAULT_PG_DECIDE: PgDecideMode = 'cached';

export const PG_COMMIT_MODES = ['auto', 'overlap', 'per-group'] as const;
export type PgCommitMode = (typeof PG_COMMIT_MODES)[number];
/** serve --db-commit's default. */
export const DEFAULT_PG_COMMIT: PgCommitMode = 'auto';

export interface PgLedgerStats extends GroupStats {
  groups: number;
  /** Groups committed on the cached path (one round trip), and cached attempts that were stale. */
  cachedGroups: number;
  staleGroups: number;
  writes: number;
  retries: number;
  groupsInFlight: number;
  /** Groups committed asynchronously (answered after a barrier): every group in overlap mode. */
  asyncGroups: number;
}

/**
 * What the metrics endpoint shows of a PostgreSQL ledger (ledger_pg_* in docs/security.md,
 * "Metrics"): running totals since start, and auto's current choice.
 */
export type PgMetrics = Readonly<PgLedgerStats> & {
  /** Connection pools retired because one of their connections closed (PgPool). */
  readonly poolsReplaced: number;
  /** `--db-commit auto`: whether groups commit asynchronously now; undefined in the other modes. */
  readonly commitAsync: boolean | undefined;
};

interface Queued {
  readonly unit: GroupUnit;
  resolve(answers: ItemAnswer[]): void;
  reject(err: unknown): void;
}

/** A claim of this process on a transaction id: same-id requests here wait for its outcome. */
interface LocalClaim {
  readonly print: string;
  waiters: ((outcome: Outcome) => void)[];
}

const SNAPSHOT_COLUMNS = 'last_position, total_balance, account_count';

/**
 * The ledger kept in PostgreSQL, shared by any number of `serve` processes: the database is the
 * only state. Writes are queued and committed in group transactions (pg-write-group.ts); reads
 * go straight to the database. Contract, errors and replays are the in-memory engine's.
 */
export class PgLedger implements Ledger {
  readonly storageKind = 'postgres';
  readonly lockingMode = 'row';
  private readonly queue: Queued[] = [];
  private readonly localClaims = new Map<string, LocalClaim>();
  private scheduled = false;
  private writesInFlight = 0;
  private closing = false;
  private drained: (() => void) | undefined;
  readonly stats: PgLedgerStats = {
    groups: 0,
    cachedGroups: 0,
    staleGroups: 0,
    writes: 0,
    retries: 0,
    groupsInFlight: 0,
    asyncGroups: 0,
    statements: 0,
  };

  private constructor(
    private readonly pool: PgPool,
    /** The group transactions' connections (pg-group-client.ts), one per group in flight. */
    private readonly groupPool: GroupPool,
    private readonly availability: Availability,
    private readonly sweep: TxidSweep,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxSnapshotAccounts: number,
    private readonly maxGroupsInFlight: number,
    private readonly groupTimeoutMs: number,
    /** Undefined in 'per-group' mode: every COMMIT answered is already durable. */
    private readonly barrier: FlushBarrier | undefined,
    /** Undefined with --db-decide locked. */
    private readonly cache: AccountCache | undefined,
    /** 'auto' mode's choice of each group's commit; undefined in the other modes. */
    readonly autoCommit: AutoCommit | undefined,
  ) {
    // A group on a connection that stopped answering without closing would wait for TCP to give
    // up: losing the database abandons every group in flight, and so does a group older than any
    // statement may run.
    // A restart may also have lost commits the cache saw (asynchronous commits not yet flushed).
    availability.watch((serving) => {
      if (serving) return;
      for (const abandon of this.abandons) abandon();
      this.cache?.clear();
    });
  }

  private readonly abandons = new Set<() => void>();

  private watchdog<T>(work: Promise<T>): Promise<T> {
    let abandon!: () => void;
    const abandoned = new Promise<never>((_, reject) => {
      abandon = () =>
        reject(
          Object.assign(new Error('group abandoned: its connection was lost'), { code: 'GROUP_ABANDONED' }),
        );
    });
    const timer = setTimeout(abandon, this.groupTimeoutMs);
    this.abandons.add(abandon);
    return Promise.race([work, abandoned]).finally(() => {
      clearTimeout(timer);
      this.abandons.delete(abandon);
    });
  }

  /** Connects, checks (or migrates) the schema. Throws DatabaseError (one line) when it cannot. */
  static async open(options: PgLedgerOptions): Promise<PgLedger> {
    let availability: Availability | undefined;
    const groupTimeoutMs = options.statementTimeoutMs + options.connectTimeoutMs;
    // Of the pool size, one connection per group in flight runs groups, the rest (at least 1) serve
    // reads, snapshots, flush barriers, the sweep and the probe.
    const groupsInFlight = Math.max(
      1,
      Math.min(options.groupsInFlight ?? LIMITS.pgGroupsInFlight, options.poolSize - 2),
    );
    invariant(options.poolSize >= LIMITS.minPgPoolSize, 'a pool of at least minPgPoolSize connections');
    const pool = new PgPool({ ...options, poolSize: options.poolSize - groupsInFlight }, groupTimeoutMs, () =>
      availability?.suspect(),
    );
    const groupPool = openGroupPool(options, groupsInFlight, () => availability?.suspect());
    const sql = pool.sql;
    try {
      await probeDatabase(sql, options.url);
      if (options.migrate === true) await migrate(sql);
      await checkSchema(sql);
    } catch (err) {
      await Promise.all([pool.end(1_000), groupPool.end()]);
      throw err;
    }
    const clock = options.clock ?? systemClock();
    availability = new Availability(sql, LIMITS.pgProbeIntervalMs, groupTimeoutMs);
    const sweep = new TxidSweep(sql, clock, availability);
    sweep.start();
    const commitMode = options.commitMode ?? DEFAULT_PG_COMMIT;
    return new PgLedger(
      pool,
      groupPool,
      availability,
      sweep,
      clock,
      options.txidTtlMs ?? LIMITS.defaultTxidTtlMs,
      options.maxSnapshotAccounts ?? LIMITS.maxSnapshotAccounts,
      groupsInFlight,
      groupTimeoutMs,
      // 'auto' may commit any group asynchronously, and so may another server on this database.
      commitMode === 'per-group' ? undefined : new FlushBarrier(sql, LIMITS.pgFlushBarriersInFlight),
      (options.decide ?? DEFAULT_PG_DECIDE) === 'cached'
        ? new AccountCache({
            maxAccounts: LIMITS.pgAccountCacheAccounts,
            windowGroups: LIMITS.pgCachedWindowGroups,
            maxStalePercent: LIMITS.pgCachedMaxStalePercent,
            pauseGroups: LIMITS.pgCachedPauseGroups,
            maxPauseGroups: LIMITS.pgCachedMaxPauseGroups,
          })
        : undefined,
      commitMode === 'auto'
        ? new AutoCommit(
            options.autoCommit ?? {
              windowGroups: LIMITS.pgAutoCommitWindowGroups,
              slowFlushUs: LIMITS.pgAutoCommitSlowFlushUs,
              fastFlushUs: LIMITS.pgAutoCommitFastFlushUs,
            },
          )
        : undefined,
    );
  }

  /** The current pool (PgPool: replaced whole when one of its connections closed). */
  private get sql(): postgres.Sql {
    return this.pool.sql;
  }

  watchServing(listener: (serving: boolean, reason?: string) => void): void {
    this.availability.watch(listener);
  }

  pgMetrics(): PgMetrics {
    return { ...this.stats, poolsReplaced: this.pool.replaced, commitAsync: this.autoCommit?.async };
  }

  createAccount(input: CreateInput, principal = ''): Promise<WriteOutcome> {
    return this.write(() => validateCreate(input), principal);
  }

  updateBalance(input: UpdateInput, principal = ''): Promise<WriteOutcome> {
    return this.write(() => validateUpdate(input), principal);
  }

  transferFunds(input: TransferInput, principal = ''): Promise<WriteOutcome> {
    return this.write(() => validateTransfer(input), principal);
  }

  async getBalance(accountId: string): Promise<AccountState> {
    validateAccountId(accountId);
    const [row] = await this.query(async (sql) =>
      wholeRows(
        await sql<AccountRow[]>`
      SELECT id, balance, version FROM ledger_accounts WHERE id = ${accountId}`,
      ),
    );
    if (row === undefined) throw Errors.accountNotFound(accountId);
    await this.durable();
    return accountOf(row);
  }

  async getSnapshot(includeAccounts: boolean): Promise<Snapshot> {
    type HeadRow = { last_position: string; total_balance: string; account_count: string };
    if (!includeAccounts) {
      const [head] = await this.query(async (sql) =>
        wholeRows(await sql<HeadRow[]>`SELECT ${sql.unsafe(SNAPSHOT_COLUMNS)} FROM ledger_head`),
      );
      await this.durable();
      return snapshotOf(head!, undefined);
    }
    // One snapshot of the database: the head row and the accounts at the same log position. On a
    // reserved connection given back safely (postgres.js's sql.begin writes a ROLLBACK to a
    // connection that closed: an uncaught TypeError that ends the process; pg-connect.ts).
    const snapshot = await this.query((sql) =>
      this.watchdog(
        withReservedConnection(sql, async (tx): Promise<Snapshot> => {
          const [, heads] = await Promise.all([
            tx.unsafe('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'),
            tx<HeadRow[]>`SELECT ${tx.unsafe(SNAPSHOT_COLUMNS)} FROM ledger_head`,
          ]);
          const [head] = wholeRows(heads);
          const count = Number(head!.account_count);
          if (count > this.maxSnapshotAccounts)
            throw Errors.snapshotTooLarge(count, this.maxSnapshotAccounts);
          const [rows]: [postgres.RowList<AccountRow[]>, unknown] = await Promise.all([
            tx<AccountRow[]>`SELECT id, balance, version FROM ledger_accounts`,
            tx.unsafe('COMMIT'),
          ]);
          const accounts = wholeRows(rows).map(accountOf);
          // The contract's order is by UTF-16 code units, which no database collation promises.
          accounts.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
          return snapshotOf(head!, accounts);
        }),
      ),
    );
    await this.durable();
    return snapshot;
  }

  async getTransaction(transactionId: string): Promise<LogEntry> {
    validateTransactionId(transactionId);
    const [row] = await this.query(async (sql) =>
      wholeRows(
        await sql<LogRow[]>`
      SELECT * FROM ledger_log WHERE transaction_id = ${transactionId} ORDER BY position DESC LIMIT 1`,
      ),
    );
    if (row === undefined) throw Errors.transactionNotFound(transactionId);
    await this.durable();
    return logEntryOf(row);
  }

  /**
   * Waits until everything this process may have seen is on disk. A read (or a group) can see
   * commits of any instance that are not flushed yet (they committed asynchronously): nothing
   * derived from them is answered before a barrier started after it covers them.
   */
  private async durable(): Promise<void> {
    if (this.barrier === undefined) return;
    try {
      await this.watchdog(this.barrier.reached());
    } catch (err) {
      throw this.unavailableOr(err);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.writesInFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.sweep.stop();
    this.availability.close();
    await Promise.all([this.pool.end(5_000), this.groupPool.end()]);
  }

  /** A read, with connection failures turned into UNAVAILABLE and the database marked lost. */
  private async query<T>(run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    if (!this.availability.serving) throw Errors.storageUnavailable();
    try {
      return await run(this.sql);
    } catch (err) {
      throw this.unavailableOr(err);
    }
  }

  private unavailableOr(err: unknown): unknown {
    if (err instanceof LedgerError || err instanceof InvariantViolation) return err;
    // Committed, durability unknown: as a lost COMMIT, whatever failed the barrier.
    if (err instanceof CommitUnconfirmed) {
      const cause = this.unavailableOr(err.cause);
      return cause instanceof LedgerError ? cause : Errors.storageUnavailable();
    }
    if (isConnectionFailure(err)) {
      this.availability.lost(err);
      return Errors.storageUnavailable();
    }
    // statement_timeout (57014): the database is there but too slow; the caller may retry.
    if ((err as { code?: string }).code === '57014') return Errors.storageUnavailable();
    return err;
  }

  private write(validate: () => WriteCommand, principal: string): Promise<WriteOutcome> {
    let cmd: WriteCommand;
    try {
      if (this.closing) throw Errors.shuttingDown();
      cmd = validate();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writeCommand(cmd, principal);
  }

  /**
   * A write already validated (createAccount & co. validate, then call this): the database
   * worker's entry, whose caller validated on the server's main thread (pg-worker-ledger.ts).
   */
  writeCommand(cmd: WriteCommand, principal: string): Promise<WriteOutcome> {
    if (this.closing) return Promise.reject(Errors.shuttingDown());
    if (!this.availability.serving) return Promise.reject(Errors.storageUnavailable());
    const txid = cmd.transactionId;
    let claim: ItemClaim | undefined;
    if (txid !== undefined) {
      const print = fingerprint(cmd);
      const local = this.localClaims.get(txid);
      if (local !== undefined) {
        if (local.print !== print) return Promise.reject(Errors.transactionConflict(txid));
        return new Promise<Outcome>((resolve) => local.waiters.push(resolve)).then(replayLocal);
      }
      claim = this.claimLocally(txid, print);
    }
    const item: UnitItem = { cmd, linked: false, claim, known: undefined };
    return this.enqueue({ items: [item], principal }).then(([answer]) => {
      const { outcome } = answer!;
      if (outcome.ok) return { result: outcome.result, replayed: outcome.replayed };
      throw outcome.error;
    });
  }

  /**
   * ExecuteBatch: one group unit, so its operations commit together at consecutive positions and
   * are decided as the engine decides them (linked chains, per-operation outcomes).
   */
  async executeBatch(
    operations: readonly BatchOperationInput[],
    principal = '',
  ): Promise<BatchItemOutcome[]> {
    if (this.closing) throw Errors.shuttingDown();
    const validated = validateBatch(operations);
    if (!this.availability.serving) throw Errors.storageUnavailable();
    const items: UnitItem[] = [];
    const waits: Promise<void>[] = [];
    // Synchronous: this batch claims all its ids before any other write can; it waits only for
    // claims made before it, so waits cannot form a cycle.
    for (const [i, v] of validated.entries()) {
      if (v.invalid !== undefined) {
        items.push({
          cmd: undefined,
          linked: v.linked,
          claim: undefined,
          known: { ok: false, error: v.invalid },
        });
        continue;
      }
      const txid = v.cmd.transactionId;
      let claim: ItemClaim | undefined;
      let known: BatchItemOutcome | undefined;
      if (txid !== undefined) {
        const print = fingerprint(v.cmd);
        const local = this.localClaims.get(txid);
        if (local === undefined) claim = this.claimLocally(txid, print);
        else if (local.print !== print) known = { ok: false, error: Errors.transactionConflict(txid) };
        else {
          waits.push(
            new Promise<Outcome>((resolve) => local.waiters.push(resolve)).then((o) => {
              items[i] = { ...items[i]!, known: replayLocalItem(o) };
            }),
          );
        }
      }
      items.push({ cmd: v.cmd, linked: v.linked, claim, known });
    }
    await Promise.all(waits);
    const answers = await this.enqueue({ items, principal });
    return answers.map((a) => a.outcome);
  }

  private claimLocally(txid: string, print: string): ItemClaim {
    this.localClaims.set(txid, { print, waiters: [] });
    return { txid, print, expiresAtMs: this.clock.nowMs() + this.ttlMs };
  }

  private enqueue(unit: GroupUnit): Promise<ItemAnswer[]> {
    this.writesInFlight++;
    return new Promise<ItemAnswer[]>((resolve, reject) => {
      this.queue.push({ unit, resolve, reject });
      this.schedule();
    });
  }

  /** Writes that arrive in one event-loop turn, or while groups are in flight, share a group. */
  private schedule(): void {
    if (this.scheduled || this.stats.groupsInFlight >= this.maxGroupsInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.stats.groupsInFlight < this.maxGroupsInFlight) {
        const group = this.queue.splice(0, LIMITS.pgMaxGroupWrites);
        this.stats.groupsInFlight++;
        // The slot is free once the transaction is over: waiting for its flush takes no connection.
        void this.runGroup(group, () => {
          this.stats.groupsInFlight--;
          if (this.queue.length > 0) this.schedule();
        });
      }
    });
  }

  private async runGroup(group: Queued[], transactionOver: () => void): Promise<void> {
    const units = group.map((q) => q.unit);
    const cache = this.cache;
    // Decided before this group holds its own accounts busy (only other groups' count).
    let cached = cache?.worthTrying() === true ? cachedStates(units, cache) : undefined;
    const touched = cache === undefined ? [] : groupAccountIds(units);
    cache?.hold(touched);
    let slotFree = false;
    const over = (accounts?: readonly AccountState[]) => {
      if (slotFree) return;
      slotFree = true;
      if (cache !== undefined) {
        if (accounts !== undefined) cache.remember(accounts);
        cache.release(touched);
      }
      transactionOver();
    };
    this.stats.groups++;
    this.stats.writes += group.length;
    let careful = false;
    let answers: ItemAnswer[][] | undefined;
    let failure: unknown;
    const auto = this.autoCommit;
    for (let attempt = 1; answers === undefined && failure === undefined; attempt++) {
      try {
        if (!this.availability.serving) throw Errors.storageUnavailable();
        const asyncCommit = auto === undefined ? this.barrier !== undefined : auto.async;
        const result = await this.watchdog(
          runWriteGroup(this.groupPool, units, {
            nowMs: this.clock.nowMs(),
            nowNs: this.clock.nowNs,
            careful,
            asyncCommit,
            cached,
            onCommitted: over,
            onFlushTimed: auto === undefined ? undefined : (us) => auto.measured(us),
            stats: this.stats,
          }),
        );
        if (asyncCommit) this.stats.asyncGroups++;
        // A synchronous COMMIT flushed the WAL up to its commit record, so everything the group
        // read (any server's asynchronous commits among it) is durable: but only a transaction that
        // wrote has a commit record to flush. One that locked and created no account (its writes
        // all NOT_FOUND, or replays) may have none: its answers wait for a barrier.
        else if (auto !== undefined && result.accounts.length === 0) await this.durable();
        answers = result.answers;
        if (cached !== undefined) {
          this.stats.cachedGroups++;
          cache!.judge(false);
        }
      } catch (err) {
        if (err instanceof CacheStale) {
          // Nothing committed; decide again on locked rows (not a failed try of the group).
          this.stats.staleGroups++;
          cache!.judge(true);
          cache!.forget(cached!.keys());
          cached = undefined;
          attempt--;
          continue;
        }
        // A retry, a rollback, a lost connection or an unconfirmed commit: states this process
        // saw may be gone or about to change; trust none of them.
        cache?.clear();
        cached = undefined;
        if (attempt < LIMITS.pgGroupAttempts && isRetryable(err)) {
          this.stats.retries++;
          careful ||= err instanceof RetryGroup && err.careful;
          continue;
        }
        failure = this.unavailableOr(err);
      }
    }
    over();
    for (const [i, queued] of group.entries()) {
      const unitAnswers = answers?.[i];
      queued.unit.items.forEach((item, k) => {
        if (item.claim === undefined || item.known !== undefined) return;
        const answer = unitAnswers?.[k];
        this.releaseClaim(item.claim.txid, answer === undefined ? transientOf(failure) : outcomeOf(answer));
      });
      if (--this.writesInFlight === 0 && this.drained !== undefined) this.drained();
      if (unitAnswers !== undefined) queued.resolve(unitAnswers);
      else queued.reject(failure);
    }
  }

  /** Same-id requests waiting here get the outcome: a replay if recorded, else as a transient one. */
  private releaseClaim(txid: string, outcome: Outcome): void {
    const local = this.localClaims.get(txid);
    this.localClaims.delete(txid);
    if (local !== undefined) for (const waiter of local.waiters) waiter(outcome);
  }
}

function outcomeOf(answer: ItemAnswer): Outcome {
  const { outcome, recorded } = answer;
  if (outcome.ok) return { ok: true, result: outcome.result };
  const { code, message } = outcome.error;
  return recorded ? { ok: false, code, message } : { ok: false, code, message, transient: true };
}

/** Nothing of the group committed (or it is unknown: a lost COMMIT); its ids stay unused here. */
function transientOf(err: unknown): Outcome {
  if (err instanceof LedgerError) return { ok: false, code: err.code, message: err.message, transient: true };
  return { ok: false, code: 'UNAVAILABLE', message: 'The original request failed; retry', transient: true };
}

function replayLocalItem(outcome: Outcome): BatchItemOutcome {
  if (outcome.ok) return { ok: true, result: outcome.result, replayed: true };
  return { ok: false, error: new LedgerError(outcome.code, outcome.message, outcome.transient !== true) };
}

/** Lock conflicts between instances and a create racing another instance's: run the group again. */
function isRetryable(err: unknown): boolean {
  if (err instanceof RetryGroup) return true;
  const code = (err as { code?: string }).code;
  // serialization_failure, deadlock_detected, unique_violation (an account created meanwhile).
  return code === '40001' || code === '40P01' || code === '23505';
}

function replayLocal(outcome: Outcome): WriteOutcome {
  if (outcome.ok) return { result: outcome.result, replayed: true };
  throw new LedgerError(outcome.code, outcome.message, outcome.transient !== true);
}

function snapshotOf(
  head: { last_position: string; total_balance: string; account_count: string },
  accounts: AccountState[] | undefined,
): Snapshot {
  return {
    totalBalance: BigInt(head.total_balance),
    accountCount: Number(head.account_count),
    logPosition: Number(head.last_position),
    accounts,
  };
}
