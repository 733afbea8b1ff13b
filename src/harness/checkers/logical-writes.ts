import type { OpRecord } from '../history.js';
import { isWriteOp, type WriteOp } from '../op-kinds.js';
import { pushTo } from './multimap.js';

/**
 * Folds the write records of a history into logical writes: every record carrying one
 * transaction id is one write (retries and duplicates replay it), and every CreateAccount
 * without an id is a write of its own. Each write gets a fate, from the records alone:
 * - applied: some record of it was acknowledged (ok, replayed or not);
 * - not-applied: none ok, and a record carries an outcome decided by ledger state (a recorded
 *   failure), or every record failed;
 * - indeterminate: none ok, no decided failure, and some record timed out (info): it may or may
 *   not have happened, and the checkers must allow both.
 */
export type WriteFate = 'applied' | 'not-applied' | 'indeterminate';

export interface WriteParams {
  op: WriteOp;
  /** create/update: [account]; transfer: [from, to]. */
  accountIds: string[];
  amount: bigint;
}

export interface LogicalWrite {
  key: string;
  /** From the request, or the id the server generated (create without one, once acknowledged). */
  transactionId: string | undefined;
  records: OpRecord[];
  fate: WriteFate;
  /** applied: exactly the acknowledged parameters; indeterminate: each distinct candidate. */
  candidates: WriteParams[];
  /** The acknowledging record: the first executed (non-replayed) ok, else the first ok. */
  ack: OpRecord | undefined;
}

export const CONFLICT_MESSAGE = (txid: string): string =>
  `Transaction ${txid} already exists with different parameters`;

/** Codes whose outcome the contract records against the transaction id. */
const DECIDED_CODES = new Set(['NOT_FOUND', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'OUT_OF_RANGE']);

export function paramsOf(record: OpRecord): WriteParams {
  const a = record.args;
  const accountIds = record.op === 'transfer' ? [a.fromId ?? '', a.toId ?? ''] : [a.accountId ?? ''];
  return { op: record.op as WriteOp, accountIds, amount: a.amount ?? 0n };
}

export const paramsKey = (p: WriteParams): string => JSON.stringify([p.op, ...p.accountIds, `${p.amount}`]);

/** A failure decided by ledger state for this very request (not a conflict with another request). */
export function isDecidedFailure(record: OpRecord): boolean {
  if (record.type !== 'fail' || record.code === undefined || !DECIDED_CODES.has(record.code)) return false;
  const txid = record.args.transactionId;
  return !(txid && record.code === 'ALREADY_EXISTS' && record.message === CONFLICT_MESSAGE(txid));
}

export function isConflict(record: OpRecord): boolean {
  const txid = record.args.transactionId;
  return (
    record.type === 'fail' &&
    record.code === 'ALREADY_EXISTS' &&
    txid !== undefined &&
    txid !== '' &&
    record.message === CONFLICT_MESSAGE(txid)
  );
}

function foldWrite(key: string, records: OpRecord[]): LogicalWrite {
  const oks = records.filter((r) => r.type === 'ok');
  const ack = oks.find((r) => r.replayed !== true) ?? oks[0];
  const requestTxid = records[0]?.args.transactionId || undefined;
  const transactionId = requestTxid ?? ack?.resultTransactionId;
  if (ack !== undefined) {
    return { key, transactionId, records, fate: 'applied', candidates: [paramsOf(ack)], ack };
  }
  const infos = records.filter((r) => r.type === 'info');
  if (records.some(isDecidedFailure) || infos.length === 0) {
    return { key, transactionId, records, fate: 'not-applied', candidates: [], ack: undefined };
  }
  const distinct = new Map<string, WriteParams>();
  for (const r of infos) distinct.set(paramsKey(paramsOf(r)), paramsOf(r));
  return {
    key,
    transactionId,
    records,
    fate: 'indeterminate',
    candidates: [...distinct.values()],
    ack: undefined,
  };
}

export function logicalWrites(records: readonly OpRecord[]): LogicalWrite[] {
  const groups = new Map<string, OpRecord[]>();
  for (const r of [...records].sort((a, b) => a.index - b.index)) {
    if (!isWriteOp(r.op)) continue;
    const txid = r.args.transactionId;
    const key = txid ? `tx:${txid}` : `create#${r.index}`;
    pushTo(groups, key, r);
  }
  return [...groups].map(([key, group]) => foldWrite(key, group));
}

/** Change of the sum of all balances a write makes (transfers move money, they make none). */
export function totalEffect(p: WriteParams): bigint {
  return p.op === 'transfer' ? 0n : p.amount;
}

/** Change of one account's balance a write makes; 0 when it does not touch the account. */
export function accountEffect(p: WriteParams, accountId: string): bigint {
  if (p.op === 'transfer') {
    if (p.accountIds[0] === accountId) return -p.amount;
    if (p.accountIds[1] === accountId) return p.amount;
    return 0n;
  }
  return p.accountIds[0] === accountId ? p.amount : 0n;
}

/** Version steps a write gives one account: create sets version 0, update and transfer add one. */
export function versionEffect(p: WriteParams, accountId: string): bigint {
  if (!p.accountIds.includes(accountId)) return 0n;
  return p.op === 'create' ? 0n : 1n;
}

/**
 * The accounts whose money the history explains: set up before the run, or created by a write
 * that applied or may have. An account only ever refused as a duplicate belongs to someone else.
 */
export function knownAccountIds(
  initial: ReadonlyMap<string, bigint>,
  writes: readonly LogicalWrite[],
): Set<string> {
  const ids = new Set(initial.keys());
  for (const w of writes) {
    for (const p of w.candidates) if (p.op === 'create') ids.add(p.accountIds[0]!);
  }
  return ids;
}
