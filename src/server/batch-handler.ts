import type * as grpc from '@grpc/grpc-js';
import type { BatchOperationInput } from '../domain/batch.js';
import type { Ledger } from '../engine/ledger.js';
import { decodeExecuteBatchRequest, encodeExecuteBatchResponse } from '../wire/batch-codec.js';
import { GRPC_STATUS_OF } from './status-codes.js';
import { type UnaryAdapterContext, unaryHandler } from './unary-handler.js';

/** ExecuteBatch as the server decodes it (batch-codec.ts), and the encoded answer. */
export interface DecodedBatchRequest {
  operations: BatchOperationInput[];
}

/**
 * The ledger service with ExecuteBatch's own codec in place of proto-loader's: requests become
 * engine inputs and answers are written from engine outcomes directly (see batch-codec.ts).
 * The strict wire check still runs first (strict-service.ts wraps this deserializer).
 */
export function withBatchCodec(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const method = service.ExecuteBatch;
  if (method === undefined) throw new Error('ledger.v1.Ledger has no ExecuteBatch');
  return {
    ...service,
    ExecuteBatch: {
      ...method,
      requestDeserialize: (bytes: Buffer): DecodedBatchRequest => ({
        operations: decodeExecuteBatchRequest(bytes),
      }),
      responseSerialize: (response: Buffer) => response,
    },
  };
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
): grpc.handleUnaryCall<DecodedBatchRequest, Buffer> {
  return unaryHandler<DecodedBatchRequest, Buffer>(
    {
      method: 'ExecuteBatch',
      subject: () => ({ accountIds: [] }),
      access: () => ({ role: 'write', action: 'call ExecuteBatch' }),
      handle: async (r, principal) => {
        const operations = r.operations;
        const outcomes = await engine.executeBatch(operations, principal);
        for (let i = 0; i < outcomes.length; i++) {
          const outcome = outcomes[i]!;
          if (outcome.ok) continue;
          const op = operations[i]!;
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
        const response = encodeExecuteBatchResponse(operations, outcomes, (code) => GRPC_STATUS_OF[code]);
        return { response, replayed: false };
      },
    },
    ctx,
  );
}
