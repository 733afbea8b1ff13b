import { LedgerCallError, type LedgerClient } from '../client/ledger-client.js';
import type { AccountView, OpArgs, OpKind, OpRecord } from './history.js';

/** What one call came back with: the answer fields of its history record. */
export type CallOutcome = Pick<
  OpRecord,
  | 'type'
  | 'code'
  | 'message'
  | 'replayed'
  | 'accounts'
  | 'resultTransactionId'
  | 'snapshot'
  | 'logEntry'
  | 'serverTimeUs'
>;

/** Performs one call on whichever client the run uses; never throws. */
export type Caller = (op: OpKind, args: OpArgs, deadlineMs: number) => Promise<CallOutcome>;

/**
 * Codes after which the write may or may not have happened: the request may have reached the
 * server before the deadline or the connection ended. The checkers treat these as indeterminate.
 */
export const INDETERMINATE_CODES: ReadonlySet<string> = new Set([
  'DEADLINE_EXCEEDED',
  'UNAVAILABLE',
  'CANCELLED',
  'UNKNOWN',
  'INTERNAL',
]);

const view = (a: { accountId: string; balance: bigint; version: bigint }): AccountView => ({
  accountId: a.accountId,
  balance: a.balance,
  version: a.version,
});

/** Performs one ledger call and classifies what came back; never throws. */
export async function callOp(
  client: LedgerClient,
  op: OpKind,
  args: OpArgs,
  deadlineMs: number,
): Promise<CallOutcome> {
  const options = { deadlineMs };
  try {
    switch (op) {
      case 'create': {
        const r = await client.createAccount(
          args.accountId!,
          args.amount ?? 0n,
          args.transactionId ?? '',
          options,
        );
        return { type: 'ok', replayed: r.replayed, accounts: [view(r.value)] };
      }
      case 'get': {
        const r = await client.getBalance(args.accountId!, options);
        return { type: 'ok', replayed: r.replayed, accounts: [view(r.value)] };
      }
      case 'update': {
        const r = await client.updateBalance(args.accountId!, args.amount!, args.transactionId!, options);
        return {
          type: 'ok',
          replayed: r.replayed,
          accounts: [view(r.value.account)],
          resultTransactionId: r.value.transactionId,
        };
      }
      case 'transfer': {
        const r = await client.transferFunds(
          args.fromId!,
          args.toId!,
          args.amount!,
          args.transactionId!,
          options,
        );
        return {
          type: 'ok',
          replayed: r.replayed,
          accounts: [view(r.value.from), view(r.value.to)],
          resultTransactionId: r.value.transactionId,
        };
      }
      case 'snapshot': {
        const r = await client.getSnapshot(args.includeAccounts ?? false, options);
        return {
          type: 'ok',
          replayed: r.replayed,
          snapshot: { ...r.value, accounts: r.value.accounts.map(view) },
        };
      }
      case 'query': {
        const r = await client.getTransaction(args.transactionId!, options);
        return { type: 'ok', replayed: r.replayed, logEntry: { ...r.value } };
      }
    }
  } catch (err) {
    if (err instanceof LedgerCallError) {
      const code = err.codeName;
      return {
        type: INDETERMINATE_CODES.has(code) ? 'info' : 'fail',
        code,
        message: err.details,
        replayed: err.replayed,
      };
    }
    return { type: 'info', code: 'CLIENT_ERROR', message: err instanceof Error ? err.message : String(err) };
  }
}
