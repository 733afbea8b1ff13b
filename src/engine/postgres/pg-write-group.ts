import { type BatchItemOutcome, failLinkedChain } from '../../domain/batch.js';
import {
  Errors,
  InvariantViolation,
  invariant,
  isRecordedOutcome,
  LedgerError,
} from '../../domain/errors.js';
import { INT64_MAX } from '../../domain/money.js';
import { applyCommand, balanceIncrease, loggedAmount, touchedIds } from '../../domain/transitions.js';
import type { AccountState, WriteCommand } from '../../domain/types.js';
import type { Outcome } from '../outcome.js';
import { generateTransactionId } from '../transaction-ids.js';
import { type AccountRow, accountOf, decodeOutcome, encodeOutcome } from './pg-codec.js';
import { barrierSlot, FLUSH_BARRIER_SQL } from './pg-flush-barrier.js';
import {
  type GroupClient,
  type GroupPool,
  prepared,
  simple,
  statement,
  withGroupClient,
} from './pg-group-client.js';

/** A transaction id an operation claims: its fingerprint and the expiry of its record. */
export interface ItemClaim {
  readonly txid: string;
  readonly print: string;
  readonly expiresAtMs: number;
}

/** One operation of a unit: validated (or refused), possibly already answered before the group. */
export interface UnitItem {
  readonly cmd: WriteCommand | undefined;
  readonly linked: boolean;
  readonly claim: ItemClaim | undefined;
  /** Answered before the group ran: refused by validation, a conflict, or a same-process replay. */
  readonly known: BatchItemOutcome | undefined;
}

/**
 * What a group commits together: one unary write (a unit of one item) or one ExecuteBatch
 * request (its operations in order; linked chains succeed or fail together).
 */
export interface GroupUnit {
  readonly items: readonly UnitItem[];
  readonly principal: string;
}

/** What the group decided for one item, and whether its id's record now holds that outcome. */
export interface ItemAnswer {
  readonly outcome: BatchItemOutcome;
  readonly recorded: boolean;
}

/**
 * A group decided on cached states met the database disagreeing: an account's balance or version
 * changed behind the cache, an account it created exists, or a transaction id it claimed was
 * recorded (or is being executed) elsewhere. Nothing of it committed; run it on the locked path.
 */
export class CacheStale extends Error {
  override readonly name = 'CacheStale';
  constructor(override readonly cause: unknown) {
    super('the cached account states were stale');
  }
}

/** What a committed group answers, and the committed states of the accounts it locked or created. */
export interface GroupResult {
  readonly answers: ItemAnswer[][];
  readonly accounts: AccountState[];
}

/** The group must run again from scratch (nothing of it committed). */
export class RetryGroup extends Error {
  override readonly name = 'RetryGroup';
  constructor(
    readonly reason: string,
    /** Rerun with the head row locked before deciding: the total of all balances is near int64. */
    readonly careful = false,
  ) {
    super(reason);
  }
}

export interface GroupOptions {
  nowMs: number;
  nowNs: () => bigint;
  careful: boolean;
  /**
   * COMMIT without waiting for the WAL flush (`synchronous_commit = off`): the head row is released
   * at COMMIT, and the caller must wait for a FlushBarrier before answering anything of the group.
   */
  asyncCommit: boolean;
  /**
   * The COMMIT answered (with asyncCommit: not yet durable): the head row and locks are free, and
   * `accounts` are the committed states of every account the group locked or created.
   */
  onCommitted?: (accounts: readonly AccountState[]) => void;
  /**
   * How long this group's synchronous commit took to flush, in microseconds: the COMMIT's answer
   * after the previous statement's (synchronous) or the barrier's after the COMMIT's (asyncCommit).
   * `--db-commit auto` decides on it (AutoCommit).
   */
  onFlushTimed?: (us: number) => void;
  /**
   * Decide on these account states (from this process's AccountCache: the accounts the group
   * touches, an absent id meaning one its creates assume new) and commit in one round trip, with
   * the database checking them under the locks (runCached). Undefined: the locked path.
   */
  cached?: ReadonlyMap<string, AccountState>;
  stats: GroupStats;
}

/**
 * The group committed, but the barrier that makes it durable failed: whether it survives a crash
 * is unknown, exactly as when a COMMIT's answer is lost. Never retried here; the callers get
 * UNAVAILABLE and retry with their transaction ids.
 */
export class CommitUnconfirmed extends Error {
  override readonly name = 'CommitUnconfirmed';
  constructor(override readonly cause: unknown) {
    super('the flush barrier after a group commit failed');
  }
}

export interface GroupStats {
  /** Statements sent, counting BEGIN and COMMIT (round trips are 2 per group, 3 with replays: the rest is pipelined). */
  statements: number;
}

interface Decided {
  answers: ItemAnswer[][];
  accountUpdates: AccountState[];
  accountInserts: AccountState[];
  recordedOutcomes: [string, string][];
  /** Ids claimed in this transaction whose operation recorded nothing (a failed linked chain). */
  unclaimed: string[];
  /** Accounts whose committed state changed (their final state is in the decision's map). */
  changed: Set<string>;
  log: LogRow[];
  increase: bigint;
  creates: number;
}

interface LogRow {
  txid: string;
  timestampNs: bigint;
  op: string;
  accountId: string;
  balanceAfter: bigint;
  toAccountId: string | null;
  toBalanceAfter: bigint | null;
  amount: bigint;
  principal: string;
}

const ids = (values: Iterable<string>) => [...new Set(values)];

/**
 * One database transaction for many writes: with `cached`, one pipelined round trip (runCached);
 * otherwise the locked path, two.
 *
 * Round trip 1: BEGIN; claim every transaction id (INSERT ... ON CONFLICT: an id another
 * instance is executing right now makes this wait for its commit); lock the touched accounts with
 * SELECT ... ORDER BY id FOR UPDATE. Locks are always taken in the same order (ids sorted,
 * accounts sorted, head row last), so groups of any instance cannot deadlock with each other.
 * Only a group with ids that were not its own (replays, conflicts) reads their records, in one
 * more round trip.
 *
 * Then every write is decided in JavaScript, in arrival order, against the locked rows, exactly
 * as the in-memory engine decides it: one overdraft is that write's recorded failure and does
 * not touch its neighbours.
 *
 * Round trip 2: new account rows (rare), then one statement (sendEffects) with the changed
 * accounts, the outcomes of the claimed ids, and the head row (positions handed out here, so
 * they are dense and in commit order) with the log entries; COMMIT. With `asyncCommit` that
 * COMMIT does not wait for its flush: the head row is held for a fraction of a round trip instead
 * of a disk flush, and the caller answers only after a FlushBarrier.
 */
export async function runWriteGroup(
  pool: GroupPool,
  units: readonly GroupUnit[],
  options: GroupOptions,
): Promise<GroupResult> {
  // One pipelined connection for the whole transaction, so BEGIN and COMMIT ride in the round
  // trips of the statements around them (pg-group-client.ts).
  const cached = options.cached;
  return await withGroupClient(
    pool,
    (tx) =>
      cached === undefined ? runInTransaction(tx, units, options) : runCached(tx, units, cached, options),
    {
      failureOf: (err) => (err instanceof CommitUnconfirmed ? err.cause : err),
      // After CommitUnconfirmed the transaction is over.
      rollBack: (err) => !(err instanceof CommitUnconfirmed),
    },
  );
}

/** The writes of a group that still need the database (not answered before it ran). */
function openItems(units: readonly GroupUnit[]): UnitItem[] {
  return units.flatMap((u) => u.items.filter((item) => item.known === undefined && item.cmd !== undefined));
}

/** The transaction ids those writes claim. */
function claimsOf(open: readonly UnitItem[]): ItemClaim[] {
  return open.flatMap((item) => (item.claim === undefined ? [] : [item.claim]));
}

/** Every account a group's writes touch, each once: what it locks, or holds busy in this process. */
export function groupAccountIds(units: readonly GroupUnit[]): string[] {
  return accountIdsOf(openItems(units));
}

function accountIdsOf(open: readonly UnitItem[]): string[] {
  return ids(open.flatMap((item) => touchedIds(item.cmd!)));
}

/**
 * The states a group would be decided on from a cache, or undefined when it cannot be: an account
 * it reads is not cached (and not created earlier in the group), or is being changed by another
 * group in flight. A create of an uncached account assumes the account is new (the insert checks).
 */
export function cachedStates(
  units: readonly GroupUnit[],
  cache: { get(id: string): AccountState | undefined; isBusy(id: string): boolean },
): Map<string, AccountState> | undefined {
  const states = new Map<string, AccountState>();
  const created = new Set<string>();
  for (const item of openItems(units)) {
    const cmd = item.cmd!;
    for (const id of touchedIds(cmd)) {
      if (states.has(id) || created.has(id)) continue;
      if (cache.isBusy(id)) return undefined;
      const state = cache.get(id);
      if (state !== undefined) states.set(id, state);
      else if (cmd.op === 'create') created.add(id);
      else return undefined;
    }
  }
  return states;
}

/**
 * The pipelined statements of one group transaction: each is counted and kept for settleAll (it
 * was sent when it was made, behind the ones before it).
 */
function pipeline(options: GroupOptions) {
  const pending: Promise<unknown>[] = [];
  const send = <T>(query: Promise<T>): Promise<T> => {
    options.stats.statements++;
    pending.push(query);
    return query;
  };
  return { pending, send };
}

function begin(tx: GroupClient, options: GroupOptions) {
  // One simple-protocol message; SET LOCAL lasts until this transaction ends.
  return simple(tx, options.asyncCommit ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN');
}

async function runInTransaction(
  tx: GroupClient,
  units: readonly GroupUnit[],
  options: GroupOptions,
): Promise<GroupResult> {
  const open = openItems(units);
  const claims = claimsOf(open);
  const accountIds = accountIdsOf(open);
  const { pending, send } = pipeline(options);
  send(begin(tx, options));
  const claimed =
    claims.length === 0
      ? undefined
      : send(
          statement<{ id: string }>(
            tx,
            (p) => `
        INSERT INTO ledger_txids (id, fingerprint, expires_at_ms, outcome)
        SELECT u.id, u.fingerprint, u.expires_at_ms, '' FROM unnest(
          ${p(claims.map((c) => c.txid))}::text[], ${p(claims.map((c) => c.print))}::text[],
          ${p(claims.map((c) => String(c.expiresAtMs)))}::int8[]
        ) AS u(id, fingerprint, expires_at_ms)
        ORDER BY u.id
        ON CONFLICT (id) DO UPDATE SET
          fingerprint = excluded.fingerprint, expires_at_ms = excluded.expires_at_ms, outcome = ''
        WHERE ledger_txids.expires_at_ms <= ${p(String(options.nowMs))}::int8
        RETURNING id`,
          ),
        );
  const locked = send(
    statement<AccountRow>(
      tx,
      (p) => `
    SELECT id, balance, version FROM ledger_accounts WHERE id = ANY(${p(accountIds)}::text[])
    ORDER BY id FOR UPDATE`,
    ),
  );
  const head = options.careful
    ? send(statement<{ total_balance: string }>(tx, () => 'SELECT total_balance FROM ledger_head FOR UPDATE'))
    : undefined;
  await settleAll(pending);
  pending.length = 0;

  const mine = new Set(claimed === undefined ? [] : (await claimed).rows.map((r) => r.id));
  // Ids that were not ours belong to a committed record (a replay or a conflict): read them, in
  // one more round trip that only groups with such ids pay. The claim waited for any writer of
  // them, so their records are committed and visible to this statement.
  const notMine = claims.filter((c) => !mine.has(c.txid)).map((c) => c.txid);
  const others = new Map<string, { id: string; fingerprint: string; outcome: string }>();
  if (notMine.length > 0) {
    options.stats.statements++;
    const { rows } = await statement<{ id: string; fingerprint: string; outcome: string }>(
      tx,
      (p) => `SELECT id, fingerprint, outcome FROM ledger_txids WHERE id = ANY(${p(notMine)}::text[])`,
    );
    for (const r of rows) others.set(r.id, r);
  }
  const state = new Map<string, AccountState | undefined>(
    (await locked).rows.map((r) => [r.id, accountOf(r)]),
  );
  const total = head === undefined ? undefined : BigInt((await head).rows[0]!.total_balance);
  const decided = decide(units, mine, others, state, total, options.nowNs);

  sendWrites(tx, decided, send);
  return await commitGroup(tx, pending, send, options, decided, state);
}

/**
 * The cached path: the group decided before it reaches the database, on states this process saw
 * committed, and sent in ONE pipelined round trip that makes the database check every assumption
 * under the locks, failing the transaction (so its COMMIT answers ROLLBACK) if one does not hold:
 * - each transaction id is claimed by a plain INSERT of its final record: an id recorded
 *   elsewhere (or expired but not swept) is a unique violation; an id another server is executing
 *   right now makes the insert wait for that transaction, then fail the same way (the locked path
 *   then replays it);
 * - the accounts the group changes are updated, in id order (the global lock order: ids, accounts,
 *   head), only where they still have the cached balance *and* version (a version alone can come
 *   back with another balance after a commit lost in a crash), and the same statement divides by
 *   zero unless every one was (sendEffects' guards); a group that also reads an account it leaves
 *   unchanged first locks and checks every cached account in a statement of its own;
 * - a created account is a plain INSERT: one that exists is a unique violation.
 * Then the effects statement, COMMIT, and (asyncCommit) the barrier.
 * A failed check is CacheStale: nothing committed; the caller runs the group on the locked path.
 */
async function runCached(
  tx: GroupClient,
  units: readonly GroupUnit[],
  cached: ReadonlyMap<string, AccountState>,
  options: GroupOptions,
): Promise<GroupResult> {
  const claims = claimsOf(openItems(units));
  const guarded = [...cached.values()];
  const state = new Map<string, AccountState | undefined>(cached);
  const decided = decide(
    units,
    new Set(claims.map((c) => c.txid)),
    new Map(),
    state,
    undefined,
    options.nowNs,
  );
  const outcomes = new Map(decided.recordedOutcomes);
  const { pending, send } = pipeline(options);
  send(begin(tx, options));
  if (claims.length > 0) {
    // Each id written once, with its outcome; an unrecorded one (a failed linked chain) is
    // claimed all the same, so a record elsewhere still fails this path, then deleted below.
    send(
      statement(
        tx,
        (p) => `
      INSERT INTO ledger_txids (id, fingerprint, expires_at_ms, outcome)
      SELECT * FROM unnest(
        ${p(claims.map((c) => c.txid))}::text[], ${p(claims.map((c) => c.print))}::text[],
        ${p(claims.map((c) => String(c.expiresAtMs)))}::int8[], ${p(claims.map((c) => outcomes.get(c.txid) ?? ''))}::text[]
      ) AS u(id, fingerprint, expires_at_ms, outcome)
      ORDER BY u.id`,
      ),
    );
  }
  // Accounts the group changes are checked by the effects statement's own UPDATE (sendEffects,
  // `guards`); a separate locking check is needed only when the group also reads an account it
  // leaves unchanged (a refused write decided on its balance). Then every cached account is locked
  // and checked here first, in id order, as the global lock order asks.
  const changedIds = new Set(decided.accountUpdates.map((a) => a.id));
  // (And when nothing is logged: the effects statement's check runs with its head update only.)
  const readOnly = decided.log.length === 0 || guarded.some((a) => !changedIds.has(a.id));
  if (readOnly) {
    // The division depends on the locked rows, so it is evaluated at run time, after the locks.
    send(
      statement(
        tx,
        (p) => `
      SELECT 1 / (count(*) FILTER (WHERE l.balance = u.balance AND l.version = u.version)
        = ${p(String(guarded.length))}::int8)::int AS fresh
      FROM (SELECT id, balance, version FROM ledger_accounts WHERE id = ANY(${p(guarded.map((a) => a.id))}::text[])
        ORDER BY id FOR UPDATE) AS l
      JOIN unnest(${p(guarded.map((a) => a.id))}::text[], ${p(guarded.map((a) => a.balance.toString()))}::int8[],
        ${p(guarded.map((a) => String(a.version)))}::int8[]) AS u(id, balance, version) ON l.id = u.id`,
      ),
    );
  }
  // Every record was inserted with its outcome above: none to update.
  sendWrites(tx, { ...decided, recordedOutcomes: [] }, send, readOnly ? undefined : cached);
  try {
    return await commitGroup(tx, pending, send, options, decided, state);
  } catch (err) {
    // settleAll throws the first failure in pipeline order: a check's, if one failed.
    const code = (err as { code?: string }).code;
    if (code === '22012' || code === '23505') throw new CacheStale(err);
    throw err;
  }
}

/**
 * A decided group's writes, on either path: the created accounts (before the head row: an id
 * another server is creating right now makes this insert wait, and it must not wait while holding
 * the head row), the claims of failed linked chains given up, then the effects statement.
 */
function sendWrites(
  tx: GroupClient,
  d: Decided,
  send: <T>(query: Promise<T>) => Promise<T>,
  guards?: ReadonlyMap<string, AccountState>,
): void {
  const rows = d.accountInserts;
  if (rows.length > 0) {
    send(
      statement(
        tx,
        (p) => `
      INSERT INTO ledger_accounts (id, balance, version)
      SELECT * FROM unnest(${p(rows.map((a) => a.id))}::text[], ${p(rows.map((a) => a.balance.toString()))}::int8[],
        ${p(rows.map((a) => String(a.version)))}::int8[])`,
      ),
    );
  }
  if (d.unclaimed.length > 0)
    send(statement(tx, (p) => `DELETE FROM ledger_txids WHERE id = ANY(${p(d.unclaimed)}::text[])`));
  sendEffects(tx, d, send, guards);
}

/**
 * COMMIT, pipelined behind the group's statements, and with asyncCommit the flush barrier in the
 * same round trip: a synchronous one-row commit after ours flushes the WAL through our commit
 * record, while the head row is already free for the next group (see FlushBarrier).
 */
async function commitGroup(
  tx: GroupClient,
  pending: Promise<unknown>[],
  send: <T>(query: Promise<T>) => Promise<T>,
  options: GroupOptions,
  decided: Decided,
  state: ReadonlyMap<string, AccountState | undefined>,
): Promise<GroupResult> {
  const before = pending.at(-1);
  const commit = send(simple(tx, 'COMMIT'));
  // After the COMMIT (in the transaction it would flush nothing).
  const flushed = options.asyncCommit ? prepared(tx, FLUSH_BARRIER_SQL, [barrierSlot()]) : undefined;
  // Every rejection is handled, whichever of them the awaits below get to.
  void Promise.allSettled(flushed === undefined ? pending : [...pending, flushed]);
  const flushUs =
    options.onFlushTimed === undefined
      ? undefined
      : timeBetween(flushed === undefined ? before : commit, flushed ?? commit);
  try {
    await settleAll(pending);
  } catch (err) {
    // The total of all balances left int64: decide again with the head row locked first.
    if ((err as { code?: string }).code === '22003') throw new RetryGroup('total out of int64 range', true);
    throw err;
  }
  // A COMMIT after a failed statement answers ROLLBACK, not an error; settleAll threw before that.
  invariant((await commit).command === 'COMMIT', 'a group transaction without errors committed');
  const accounts: AccountState[] = [];
  for (const account of state.values()) if (account !== undefined) accounts.push(account);
  options.onCommitted?.(accounts);
  if (flushed !== undefined) {
    options.stats.statements++;
    try {
      await flushed;
    } catch (err) {
      throw new CommitUnconfirmed(err);
    }
  }
  const us = await flushUs;
  if (us !== undefined) options.onFlushTimed!(us);
  return { answers: decided.answers, accounts };
}

/** Microseconds between the answers of two pipelined statements (undefined if either failed). */
function timeBetween(
  first: Promise<unknown> | undefined,
  second: Promise<unknown>,
): Promise<number | undefined> {
  const at = (p: Promise<unknown>) =>
    Promise.resolve(p).then(
      () => performance.now(),
      () => undefined,
    );
  return Promise.all([first === undefined ? undefined : at(first), at(second)]).then(([a, b]) =>
    a === undefined || b === undefined ? undefined : Math.round((b - a) * 1000),
  );
}

/**
 * The group's effects in one statement: the changed accounts (locked in round trip 1; with `guards`,
 * the cached path, locked here in id order and checked against the cached states), the outcomes of
 * the claimed ids (inserted in round trip 1), and the head row with the log entries (positions
 * handed out here). The head row is updated after the accounts, so holding it never waits for
 * another transaction and cannot deadlock. Unreferenced data-modifying CTEs run to completion all
 * the same (PostgreSQL runs each exactly once, whatever the main query reads).
 */
function sendEffects(
  tx: GroupClient,
  d: Decided,
  send: <T>(query: Promise<T>) => Promise<T>,
  guards?: ReadonlyMap<string, AccountState>,
): void {
  const accounts = d.accountUpdates;
  const records = d.recordedOutcomes;
  const log = d.log;
  if (accounts.length === 0 && records.length === 0 && log.length === 0) return;
  const n = String(log.length);
  const before = guards === undefined ? [] : accounts.map((a) => guards.get(a.id)!);
  send(
    statement(tx, (p) => {
      const count = p(n);
      // The cached path: each row is updated only if it still has the balance and version the
      // group was decided on (rechecked on the newest row version after a lock wait); the rows
      // are locked in id order, the nested loop following the sorted input.
      const changed =
        guards === undefined
          ? `unnest(${p(accounts.map((a) => a.id))}::text[], ${p(accounts.map((a) => a.balance.toString()))}::int8[],
        ${p(accounts.map((a) => String(a.version)))}::int8[]) AS u(id, balance, version)
      WHERE a.id = u.id`
          : `(SELECT * FROM unnest(${p(accounts.map((a) => a.id))}::text[],
        ${p(accounts.map((a) => a.balance.toString()))}::int8[], ${p(accounts.map((a) => String(a.version)))}::int8[],
        ${p(before.map((a) => a.balance.toString()))}::int8[], ${p(before.map((a) => String(a.version)))}::int8[]
      ) AS v(id, balance, version, old_balance, old_version) ORDER BY id) AS u
      WHERE a.id = u.id AND a.balance = u.old_balance AND a.version = u.old_version`;
      // Left out when no record changes (the cached path writes each record once, in its
      // insert): planning and running it empty cost PostgreSQL about 0.06 ms per group.
      const recordsCte =
        records.length === 0
          ? ''
          : `records AS (
      UPDATE ledger_txids AS t SET outcome = u.outcome
      FROM unnest(${p(records.map((r) => r[0]))}::text[], ${p(records.map((r) => r[1]))}::text[]) AS u(id, outcome)
      WHERE t.id = u.id
      RETURNING 1
    ),`;
      // Divides by zero (22012: the group is CacheStale) unless every account was updated; a
      // subquery of a data-modifying statement, so it runs whatever the main query reads.
      const allUpdated =
        guards === undefined
          ? ''
          : ` AND (SELECT 1 / (count(*) = ${p(String(accounts.length))}::int8)::int FROM accounts) = 1`;
      return `
    WITH accounts AS (
      UPDATE ledger_accounts AS a SET balance = u.balance, version = u.version
      FROM ${changed}
      RETURNING 1
    ), ${recordsCte} head AS (
      UPDATE ledger_head SET last_position = last_position + ${count}::int8,
        total_balance = total_balance + ${p(d.increase.toString())}::int8,
        account_count = account_count + ${p(String(d.creates))}::int8
      WHERE ${count}::int8 > 0${allUpdated}
      RETURNING last_position
    )
    INSERT INTO ledger_log (position, transaction_id, timestamp_ns, operation, account_id, balance_after,
      to_account_id, to_balance_after, amount, principal)
    SELECT head.last_position - ${count}::int8 + u.ord, u.txid, u.ts, u.op, u.account_id, u.balance_after,
      u.to_account_id, u.to_balance_after, u.amount, u.principal
    FROM head, unnest(
      ${p(log.map((e) => e.txid))}::text[], ${p(log.map((e) => e.timestampNs.toString()))}::int8[],
      ${p(log.map((e) => e.op))}::text[], ${p(log.map((e) => e.accountId))}::text[],
      ${p(log.map((e) => e.balanceAfter.toString()))}::int8[], ${p(log.map((e) => e.toAccountId))}::text[],
      ${p(log.map((e) => e.toBalanceAfter?.toString() ?? null))}::int8[], ${p(log.map((e) => e.amount.toString()))}::int8[],
      ${p(log.map((e) => e.principal))}::text[]
    ) WITH ORDINALITY AS u(txid, ts, op, account_id, balance_after, to_account_id, to_balance_after, amount,
      principal, ord)`;
    }),
  );
}

/** Waits for every pipelined statement; the first failure is thrown (the others are handled). */
async function settleAll(pending: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(pending);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/**
 * Decides every item of every unit in order against the locked rows, as the engine does: a unit's
 * failed linked chain is rolled back (its failing member keeps its error, the others get
 * `Linked operation failed`, nothing of it is recorded); any other failure decided by ledger state
 * is that item's recorded outcome and does not touch its neighbours.
 */
function decide(
  units: readonly GroupUnit[],
  mine: ReadonlySet<string>,
  others: ReadonlyMap<string, { fingerprint: string; outcome: string }>,
  state: Map<string, AccountState | undefined>,
  total: bigint | undefined,
  nowNs: () => bigint,
): Decided {
  const existedBefore = new Set(state.keys());
  const d: Decided = {
    answers: [],
    accountUpdates: [],
    accountInserts: [],
    recordedOutcomes: [],
    unclaimed: [],
    changed: new Set(),
    log: [],
    increase: 0n,
    creates: 0,
  };
  for (const unit of units) {
    const outcomes: (BatchItemOutcome | undefined)[] = unit.items.map((item) => item.known);
    const afters: (AccountState[] | undefined)[] = new Array(unit.items.length);
    let chainStart = -1;
    let chainIncrease = 0n;
    const undo: [string, AccountState | undefined][] = [];
    for (let i = 0; i < unit.items.length; i++) {
      const item = unit.items[i]!;
      if (chainStart < 0 && item.linked) {
        chainStart = i;
        chainIncrease = d.increase;
        undo.length = 0;
      }
      let failure: LedgerError | undefined;
      if (outcomes[i] === undefined && item.claim !== undefined && !mine.has(item.claim.txid)) {
        const record = others.get(item.claim.txid);
        // Its record vanished between the claim and the read: only a sweep on a skewed clock does that.
        if (record === undefined) throw new RetryGroup(`record of ${item.claim.txid} vanished`);
        outcomes[i] =
          record.fingerprint !== item.claim.print
            ? { ok: false, error: Errors.transactionConflict(item.claim.txid) }
            : replayed(decodeOutcome(record.outcome));
      }
      const known = outcomes[i];
      if (known !== undefined) {
        if (!known.ok) failure = known.error;
      } else {
        const cmd = item.cmd!;
        const touched = touchedIds(cmd);
        const before = touched.map((id) => state.get(id));
        try {
          const after = applyCommand(cmd, before);
          const increase = balanceIncrease(before, after);
          if (total !== undefined && increase > 0n && total + d.increase + increase > INT64_MAX) {
            throw Errors.totalOverflow(touched[touched.length - 1]!, increase);
          }
          for (const account of after) {
            if (chainStart >= 0) undo.push([account.id, state.get(account.id)]);
            state.set(account.id, account);
          }
          d.increase += increase;
          afters[i] = after;
        } catch (err) {
          if (!(err instanceof LedgerError)) throw err;
          if (!isRecordedOutcome(err.code)) throw new InvariantViolation(`decided ${err.code} under locks`);
          failure = err;
        }
      }
      if (failure !== undefined && chainStart >= 0) {
        for (let u = undo.length - 1; u >= 0; u--) state.set(undo[u]![0], undo[u]![1]);
        d.increase = chainIncrease;
        i = failLinkedChain(unit.items, chainStart, i, failure, afters, outcomes);
        chainStart = -1;
        continue;
      }
      if (failure !== undefined) outcomes[i] = { ok: false, error: failure };
      if (!item.linked) chainStart = -1;
    }
    d.answers.push(settleUnit(unit, outcomes, afters, mine, d, nowNs));
  }
  for (const id of d.changed) {
    const account = state.get(id)!;
    if (!existedBefore.has(id)) d.accountInserts.push(account);
    else d.accountUpdates.push(account);
  }
  return d;
}

/** Log entries, records and answers of one decided unit. */
function settleUnit(
  unit: GroupUnit,
  outcomes: (BatchItemOutcome | undefined)[],
  afters: (AccountState[] | undefined)[],
  mine: ReadonlySet<string>,
  d: Decided,
  nowNs: () => bigint,
): ItemAnswer[] {
  const answers: ItemAnswer[] = [];
  for (let i = 0; i < unit.items.length; i++) {
    const item = unit.items[i]!;
    const after = afters[i];
    const claimed = item.known === undefined && item.claim !== undefined && mine.has(item.claim.txid);
    if (after !== undefined) {
      const cmd = item.cmd!;
      const transactionId = item.claim?.txid ?? generateTransactionId();
      for (const account of after) d.changed.add(account.id);
      if (cmd.op === 'create') d.creates++;
      d.log.push({
        txid: transactionId,
        timestampNs: nowNs(),
        op: cmd.op,
        accountId: after[0]!.id,
        balanceAfter: after[0]!.balance,
        toAccountId: after[1]?.id ?? null,
        toBalanceAfter: after[1]?.balance ?? null,
        amount: loggedAmount(cmd),
        principal: unit.principal,
      });
      const result = { transactionId, accounts: after };
      if (claimed) d.recordedOutcomes.push([transactionId, encodeOutcome({ ok: true, result })]);
      answers.push({ outcome: { ok: true, result, replayed: false }, recorded: claimed });
      continue;
    }
    const outcome = outcomes[i]!;
    if (outcome.ok || outcome.error.replayed) {
      answers.push({ outcome, recorded: true });
      continue;
    }
    const { code, message } = outcome.error;
    const chained = item.linked || (i > 0 && unit.items[i - 1]!.linked);
    const recorded = claimed && isRecordedOutcome(code) && !chained;
    if (recorded) d.recordedOutcomes.push([item.claim!.txid, encodeOutcome({ ok: false, code, message })]);
    else if (claimed) d.unclaimed.push(item.claim!.txid);
    answers.push({ outcome, recorded });
  }
  return answers;
}

function replayed(outcome: Outcome): BatchItemOutcome {
  if (outcome.ok) return { ok: true, result: outcome.result, replayed: true };
  return { ok: false, error: new LedgerError(outcome.code, outcome.message, true) };
}
