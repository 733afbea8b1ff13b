import {
  type BatchItemResult,
  type BatchOperation,
  LedgerCallError,
  type LedgerClient,
} from '../client/ledger-client.js';
import type { PlannedBatchItem } from './call-source.js';
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

/** Sends one ExecuteBatch; never throws. */
export type BatchCaller = (
  items: readonly PlannedBatchItem[],
  deadlineMs: number,
) => Promise<{ call: CallOutcome; items: CallOutcome[] }>;

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

function toOperation(item: PlannedBatchItem): BatchOperation {
  const { args, linked } = item;
  switch (item.op) {
    case 'create':
      return {
        kind: 'create',
        accountId: args.accountId!,
        initialBalance: args.amount ?? 0n,
        transactionId: args.transactionId ?? '',
        linked,
      };
    case 'update':
      return {
        kind: 'update',
        accountId: args.accountId!,
        delta: args.amount!,
        transactionId: args.transactionId!,
        linked,
      };
    case 'transfer':
      return {
        kind: 'transfer',
        fromAccountId: args.fromId!,
        toAccountId: args.toId!,
        amount: args.amount!,
        transactionId: args.transactionId!,
        linked,
      };
  }
}

function itemOutcome(result: BatchItemResult): CallOutcome {
  if (!result.ok)
    return { type: 'fail', code: result.codeName, message: result.message, replayed: result.replayed };
  switch (result.kind) {
    case 'create':
      return { type: 'ok', replayed: result.replayed, accounts: [view(result.value)] };
    case 'update':
      return {
        type: 'ok',
        replayed: result.replayed,
        accounts: [view(result.value.account)],
        resultTransactionId: result.value.transactionId,
      };
    case 'transfer':
      return {
        type: 'ok',
        replayed: result.replayed,
        accounts: [view(result.value.from), view(result.value.to)],
        resultTransactionId: result.value.transactionId,
      };
  }
}

/**
 * One ExecuteBatch call: the call's own outcome, and each item's as the write it is. A call that
 * failed as a whole gives every item its outcome (refused: nothing ran; indeterminate: any of
 * them may have happened, as one commit).
 */
export async function callBatch(
  client: LedgerClient,
  items: readonly PlannedBatchItem[],
  deadlineMs: number,
): Promise<{ call: CallOutcome; items: CallOutcome[] }> {
  const call = await (async (): Promise<CallOutcome | BatchItemResult[]> => {
    try {
      return (await client.executeBatch(items.map(toOperation), { deadlineMs })).value;
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
      return {
        type: 'info',
        code: 'CLIENT_ERROR',
        message: err instanceof Error ? err.message : String(err),
      };
    }
  })();
  if (!Array.isArray(call)) return { call, items: items.map(() => ({ ...call })) };
  if (call.length !== items.length) {
    const message = `${call.length} results for ${items.length} operations`;
    const broken: CallOutcome = { type: 'info', code: 'CLIENT_ERROR', message };
    return { call: broken, items: items.map(() => ({ ...broken })) };
  }
  return { call: { type: 'ok' }, items: call.map(itemOutcome) };
}
