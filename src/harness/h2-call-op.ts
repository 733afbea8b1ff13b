import type { CallOutcome } from './call-op.js';
import { INDETERMINATE_CODES } from './call-op.js';
import { Status, statusName } from './grpc-wire.js';
import type { H2Channel, UnaryAnswer } from './h2-channel.js';
import type { OpArgs, OpKind } from './history.js';
import {
  decodeAccount,
  decodeLogEntry,
  decodeSnapshot,
  decodeWriteResponse,
  encodeRequest,
  METHOD_PATHS,
} from './ledger-messages.js';

/** callOp's twin on the lean HTTP/2 caller: the same outcome for the same answer; never rejects. */
export function h2CallOp(
  channel: H2Channel,
  op: OpKind,
  args: OpArgs,
  deadlineMs: number,
): Promise<CallOutcome> {
  return new Promise((resolve) =>
    channel.start(METHOD_PATHS[op], encodeRequest(op, args), deadlineMs, (answer) =>
      resolve(outcomeOf(op, answer)),
    ),
  );
}

function outcomeOf(op: OpKind, answer: UnaryAnswer): CallOutcome {
  const serverTimeUs = answer.serverTimeUs >= 0 ? answer.serverTimeUs : undefined;
  if (answer.code !== Status.OK) {
    const code = statusName(answer.code);
    return {
      type: INDETERMINATE_CODES.has(code) ? 'info' : 'fail',
      code,
      message: answer.message,
      replayed: answer.replayed,
      serverTimeUs,
    };
  }
  const body = answer.body!;
  try {
    switch (op) {
      case 'create':
      case 'get':
        return { type: 'ok', replayed: answer.replayed, accounts: [decodeAccount(body)], serverTimeUs };
      case 'update': {
        const r = decodeWriteResponse(body);
        return {
          type: 'ok',
          replayed: answer.replayed,
          accounts: [r.accounts[0]],
          resultTransactionId: r.transactionId,
          serverTimeUs,
        };
      }
      case 'transfer': {
        const r = decodeWriteResponse(body);
        return {
          type: 'ok',
          replayed: answer.replayed,
          accounts: r.accounts,
          resultTransactionId: r.transactionId,
          serverTimeUs,
        };
      }
      case 'snapshot':
        return { type: 'ok', replayed: answer.replayed, snapshot: decodeSnapshot(body), serverTimeUs };
      case 'query':
        return { type: 'ok', replayed: answer.replayed, logEntry: decodeLogEntry(body), serverTimeUs };
    }
  } catch (err) {
    // The server said OK but sent bytes that are not the answer: whether a write happened is unknown.
    return { type: 'info', code: 'INTERNAL', message: `undecodable response: ${(err as Error).message}` };
  }
}
