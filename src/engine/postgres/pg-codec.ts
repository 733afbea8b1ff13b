import { type ErrorCode, invariant } from '../../domain/errors.js';
import type { AccountState, LogEntry, Operation } from '../../domain/types.js';
import type { Outcome } from '../outcome.js';

/** A recorded outcome as stored in ledger_txids.outcome: compact JSON, money as decimal strings. */
type StoredOutcome =
  | { ok: true; t: string; a: [string, string, number][] }
  | { ok: false; c: ErrorCode; m: string };

export function encodeOutcome(outcome: Outcome): string {
  const stored: StoredOutcome = outcome.ok
    ? {
        ok: true,
        t: outcome.result.transactionId,
        a: outcome.result.accounts.map((a) => [a.id, a.balance.toString(), a.version]),
      }
    : { ok: false, c: outcome.code, m: outcome.message };
  return JSON.stringify(stored);
}

export function decodeOutcome(text: string): Outcome {
  const stored = JSON.parse(text) as StoredOutcome;
  if (stored.ok) {
    return {
      ok: true,
      result: {
        transactionId: stored.t,
        accounts: stored.a.map(([id, balance, version]) => ({ id, balance: BigInt(balance), version })),
      },
    };
  }
  return { ok: false, code: stored.c, message: stored.m };
}

export interface AccountRow {
  id: string;
  balance: string;
  version: string;
}

export function accountOf(row: AccountRow): AccountState {
  return { id: row.id, balance: BigInt(row.balance), version: Number(row.version) };
}

export interface LogRow {
  position: string;
  transaction_id: string;
  timestamp_ns: string;
  operation: string;
  account_id: string;
  balance_after: string;
  to_account_id: string | null;
  to_balance_after: string | null;
  amount: string;
  principal: string;
}

const OPERATIONS: readonly string[] = ['create', 'update', 'transfer'];

export function logEntryOf(row: LogRow): LogEntry {
  invariant(OPERATIONS.includes(row.operation), `log entry ${row.position} has operation ${row.operation}`);
  const transfer = row.to_account_id !== null;
  return {
    position: Number(row.position),
    transactionId: row.transaction_id,
    timestampNs: BigInt(row.timestamp_ns),
    operation: row.operation as Operation,
    accountIds: transfer ? [row.account_id, row.to_account_id!] : [row.account_id],
    amount: BigInt(row.amount),
    balancesAfter: transfer
      ? [BigInt(row.balance_after), BigInt(row.to_balance_after!)]
      : [BigInt(row.balance_after)],
    status: 'OK',
    principal: row.principal,
  };
}
