import type * as grpc from '@grpc/grpc-js';
import type { BatchItemOutcome, BatchOperationInput } from '../domain/batch.js';
import { Errors, LedgerError } from '../domain/errors.js';
import type { Ledger } from '../engine/ledger.js';
import type {
  WireBatchOperation,
  WireBatchResult,
  WireExecuteBatchRequest,
  WireExecuteBatchResponse,
} from '../wire/ledger-proto.js';
import { int64Field, toWireAccount } from './ledger-handlers.js';
import { GRPC_STATUS_OF } from './status-codes.js';
import { type UnaryAdapterContext, unaryHandler } from './unary-handler.js';

/** Wire operation -> domain input; what its unary call would refuse before the engine is kept as an error. */
function toOperation(op: WireBatchOperation): BatchOperationInput {
  const linked = op.linked === true;
  try {
    if (op.operation === 'create_account' && op.create_account) {
      const r = op.create_account;
      const input = {
        accountId: r.account_id ?? '',
        initialBalance: int64Field('initial_balance', r.initial_balance),
        transactionId: r.transaction_id ?? '',
      };
      return { kind: 'create', input, linked };
    }
    if (op.operation === 'update_balance' && op.update_balance) {
      const r = op.update_balance;
      const input = {
        accountId: r.account_id ?? '',
        delta: int64Field('delta', r.delta),
        transactionId: r.transaction_id ?? '',
      };
      return { kind: 'update', input, linked };
    }
    if (op.operation === 'transfer_funds' && op.transfer_funds) {
      const r = op.transfer_funds;
      const input = {
        fromId: r.from_account_id ?? '',
        toId: r.to_account_id ?? '',
        amount: int64Field('amount', r.amount),
        transactionId: r.transaction_id ?? '',
      };
      return { kind: 'transfer', input, linked };
    }
    return { kind: 'invalid', error: Errors.operationRequired(), linked };
  } catch (err) {
    if (!(err instanceof LedgerError)) throw err;
    return { kind: 'invalid', error: err, linked };
  }
}

function toWireResult(op: BatchOperationInput, outcome: BatchItemOutcome): WireBatchResult {
  if (!outcome.ok) {
    const { error } = outcome;
    return {
      result: 'error',
      error: { code: GRPC_STATUS_OF[error.code], message: error.message },
      replayed: error.replayed,
    };
  }
  const { result, replayed } = outcome;
  switch (op.kind) {
    case 'create':
      return { result: 'create_account', create_account: toWireAccount(result.accounts[0]!), replayed };
    case 'update':
      return {
        result: 'update_balance',
        update_balance: { transaction_id: result.transactionId, account: toWireAccount(result.accounts[0]!) },
        replayed,
      };
    default:
      return {
        result: 'transfer_funds',
        transfer_funds: {
          transaction_id: result.transactionId,
          from: toWireAccount(result.accounts[0]!),
          to: toWireAccount(result.accounts[1]!),
        },
        replayed,
      };
  }
}

function accountIdsOf(op: BatchOperationInput): string[] {
  switch (op.kind) {
    case 'create':
    case 'update':
      return [op.input.accountId];
    case 'transfer':
      return [op.input.fromId, op.input.toId];
    default:
      return [];
  }
}

/**
 * ExecuteBatch: the call answers OK with one result per operation (each failed operation is
 * logged like a failed unary call, with its index); the call itself fails only when the batch
 * is refused as a whole.
 */
export function executeBatchHandler(
  engine: Ledger,
  ctx: UnaryAdapterContext,
): grpc.handleUnaryCall<WireExecuteBatchRequest, WireExecuteBatchResponse> {
  return unaryHandler<WireExecuteBatchRequest, WireExecuteBatchResponse>(
    {
      method: 'ExecuteBatch',
      subject: () => ({ accountIds: [] }),
      access: () => ({ role: 'write', action: 'call ExecuteBatch' }),
      handle: async (r, principal) => {
        const operations = (r.operations ?? []).map(toOperation);
        const outcomes = await engine.executeBatch(operations, principal);
        const results = new Array<WireBatchResult>(outcomes.length);
        for (let i = 0; i < outcomes.length; i++) {
          const outcome = outcomes[i]!;
          const op = operations[i]!;
          results[i] = toWireResult(op, outcome);
          if (!outcome.ok) {
            const transactionId = op.kind === 'invalid' ? undefined : op.input.transactionId || undefined;
            const { code, replayed, message } = outcome.error;
            ctx.logger.error(
              {
                operation: 'ExecuteBatch',
                index: i,
                accountIds: accountIdsOf(op),
                transactionId,
                code,
                replayed,
              },
              message,
            );
          }
        }
        return { response: { results }, replayed: false };
      },
    },
    ctx,
  );
}
