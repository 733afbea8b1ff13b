import { describe, expect, test } from 'vitest';
import type { BatchItemOutcome, BatchOperationInput } from '../src/domain/batch.js';
import { LedgerError } from '../src/domain/errors.js';
import { GRPC_STATUS_OF } from '../src/server/status-codes.js';
import { decodeExecuteBatchRequest, encodeExecuteBatchResponse } from '../src/wire/batch-codec.js';
import {
  ledgerServiceDefinition,
  type WireExecuteBatchRequest,
  type WireExecuteBatchResponse,
} from '../src/wire/ledger-proto.js';
import { acceptedMutations } from './accepted-mutations.js';

const service = ledgerServiceDefinition();
const method = service.ExecuteBatch!;

/** What proto-loader's own decoding of the same bytes means, in the engine's terms. */
function viaProtoLoader(bytes: Buffer): unknown[] {
  const request = method.requestDeserialize(bytes) as WireExecuteBatchRequest;
  return request.operations.map((op) => {
    const linked = op.linked;
    if (op.operation === 'create_account') {
      const r = op.create_account!;
      return { kind: 'create', linked, a: r.account_id, n: BigInt(r.initial_balance), t: r.transaction_id };
    }
    if (op.operation === 'update_balance') {
      const r = op.update_balance!;
      return { kind: 'update', linked, a: r.account_id, n: BigInt(r.delta), t: r.transaction_id };
    }
    if (op.operation === 'transfer_funds') {
      const r = op.transfer_funds!;
      const { from_account_id: f, to_account_id: to, amount, transaction_id: t } = r;
      return { kind: 'transfer', linked, f, to, n: BigInt(amount), t };
    }
    return { kind: 'invalid', linked };
  });
}

function viaCodec(bytes: Buffer): unknown[] {
  return decodeExecuteBatchRequest(bytes).map((op) => {
    if (op.kind === 'create') {
      const { accountId: a, initialBalance: n, transactionId: t } = op.input;
      return { kind: op.kind, linked: op.linked, a, n, t };
    }
    if (op.kind === 'update') {
      const { accountId: a, delta: n, transactionId: t } = op.input;
      return { kind: op.kind, linked: op.linked, a, n, t };
    }
    if (op.kind === 'transfer') {
      const { fromId: f, toId: to, amount: n, transactionId: t } = op.input;
      return { kind: op.kind, linked: op.linked, f, to, n, t };
    }
    return { kind: 'invalid', linked: op.linked };
  });
}

describe("ExecuteBatch's own codec", () => {
  test('decodes every request the strict check accepts exactly as proto-loader does (5,000 seeded mutations)', () => {
    let compared = 0;
    for (const bytes of acceptedMutations('ExecuteBatch', 11, 5_000)) {
      let mine: unknown[];
      try {
        mine = viaCodec(bytes);
      } catch (err) {
        throw new Error(`${bytes.toString('hex')}: ${err}`);
      }
      expect(mine, bytes.toString('hex')).toEqual(viaProtoLoader(bytes));
      compared++;
    }
    expect(compared).toBeGreaterThan(1_500);
  });

  test('reads int64 edges and negative values exactly', () => {
    const encode = (amounts: string[]) =>
      method.requestSerialize({
        operations: amounts.map((delta) => ({
          update_balance: { account_id: 'a', delta, transaction_id: 't' },
        })),
      }) as Buffer;
    const edges = [
      '0',
      '1',
      '-1',
      '9007199254740993',
      '-9007199254740993',
      '9223372036854775807',
      '-9223372036854775808',
    ];
    const decoded = decodeExecuteBatchRequest(encode(edges));
    expect(decoded.map((op) => (op.kind === 'update' ? op.input.delta.toString() : op.kind))).toEqual(edges);
  });

  test('writes responses that proto-loader reads back as the unary answers', () => {
    const account = (id: string, balance: bigint, version: number) => ({ id, balance, version });
    const ops: BatchOperationInput[] = [
      {
        kind: 'create',
        input: { accountId: 'é€-acct', initialBalance: 0n, transactionId: '' },
        linked: false,
      },
      { kind: 'update', input: { accountId: 'a', delta: 1n, transactionId: 'u' }, linked: false },
      { kind: 'transfer', input: { fromId: 'a', toId: 'b', amount: 5n, transactionId: 't' }, linked: true },
      { kind: 'transfer', input: { fromId: 'a', toId: 'b', amount: 5n, transactionId: 't2' }, linked: false },
      { kind: 'update', input: { accountId: 'a', delta: 1n, transactionId: 'u2' }, linked: false },
    ];
    const outcomes: BatchItemOutcome[] = [
      { ok: true, result: { transactionId: 'gen', accounts: [account('é€-acct', 0n, 0)] }, replayed: false },
      {
        ok: true,
        result: { transactionId: 'u', accounts: [account('a', 9_223_372_036_854_775_807n, 300)] },
        replayed: true,
      },
      {
        ok: true,
        result: { transactionId: 't', accounts: [account('a', 2n ** 53n + 1n, 2), account('b', 0n, 1)] },
        replayed: false,
      },
      { ok: false, error: new LedgerError('ABORTED', 'Linked operation failed') },
      { ok: false, error: new LedgerError('FAILED_PRECONDITION', `Insufficient ${'x'.repeat(200)}`, true) },
    ];
    const bytes = encodeExecuteBatchResponse(ops, outcomes, (code) => GRPC_STATUS_OF[code]);
    const decoded = method.responseDeserialize(bytes) as WireExecuteBatchResponse;
    expect(decoded.results).toEqual([
      {
        result: 'create_account',
        create_account: { account_id: 'é€-acct', balance: '0', version: '0' },
        replayed: false,
      },
      {
        result: 'update_balance',
        update_balance: {
          transaction_id: 'u',
          account: { account_id: 'a', balance: '9223372036854775807', version: '300' },
        },
        replayed: true,
      },
      {
        result: 'transfer_funds',
        transfer_funds: {
          transaction_id: 't',
          from: { account_id: 'a', balance: '9007199254740993', version: '2' },
          to: { account_id: 'b', balance: '0', version: '1' },
        },
        replayed: false,
      },
      { result: 'error', error: { code: 10, message: 'Linked operation failed' }, replayed: false },
      { result: 'error', error: { code: 9, message: `Insufficient ${'x'.repeat(200)}` }, replayed: true },
    ]);
  });
});
