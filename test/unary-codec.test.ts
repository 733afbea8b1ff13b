import { describe, expect, test } from 'vitest';
import type { AccountState } from '../src/domain/types.js';
import { toWireAccount } from '../src/server/ledger-handlers.js';
import { ledgerServiceDefinition } from '../src/wire/ledger-proto.js';
import {
  decodeCreateAccountRequest,
  decodeGetBalanceRequest,
  decodeTransferFundsRequest,
  decodeUpdateBalanceRequest,
  encodeAccount,
  encodeWriteResponse,
} from '../src/wire/unary-codec.js';
import { acceptedMutations } from './accepted-mutations.js';

const service = ledgerServiceDefinition();

type Wire = Record<string, string>;
/** proto-loader's decoding of the same bytes, int64 as bigint (as the codec hands them over). */
const viaProtoLoader: Record<string, (bytes: Buffer) => object> = {
  GetBalance: (b) => ({ account_id: (service.GetBalance!.requestDeserialize(b) as Wire).account_id }),
  CreateAccount: (b) => {
    const r = service.CreateAccount!.requestDeserialize(b) as Wire;
    return {
      account_id: r.account_id,
      initial_balance: BigInt(r.initial_balance!),
      transaction_id: r.transaction_id,
    };
  },
  UpdateBalance: (b) => {
    const r = service.UpdateBalance!.requestDeserialize(b) as Wire;
    return { account_id: r.account_id, delta: BigInt(r.delta!), transaction_id: r.transaction_id };
  },
  TransferFunds: (b) => {
    const r = service.TransferFunds!.requestDeserialize(b) as Wire;
    return {
      from_account_id: r.from_account_id,
      to_account_id: r.to_account_id,
      amount: BigInt(r.amount!),
      transaction_id: r.transaction_id,
    };
  },
};
const viaCodec: Record<string, (bytes: Buffer) => object> = {
  GetBalance: decodeGetBalanceRequest,
  CreateAccount: decodeCreateAccountRequest,
  UpdateBalance: decodeUpdateBalanceRequest,
  TransferFunds: decodeTransferFundsRequest,
};

const account = (id: string, balance: bigint, version: number): AccountState => ({ id, balance, version });
const EDGE_ACCOUNTS = [
  account('a', 0n, 0),
  account('', 0n, 0),
  account('é€-acct', 1n, 1),
  account('b', -1n, 127),
  account('c', 9_223_372_036_854_775_807n, 128),
  account('d', -9_223_372_036_854_775_808n, 2 ** 31),
  account('e', 2n ** 53n + 1n, Number.MAX_SAFE_INTEGER),
  account('x'.repeat(300), -(2n ** 53n) - 1n, 16_384),
];

describe("the unary RPCs' own codec", () => {
  for (const name of Object.keys(viaCodec)) {
    test(`decodes every ${name} request the strict check accepts exactly as proto-loader does (5,000 seeded mutations)`, () => {
      let compared = 0;
      for (const bytes of acceptedMutations(name, name.length, 5_000)) {
        expect(viaCodec[name]!(bytes), bytes.toString('hex')).toEqual(viaProtoLoader[name]!(bytes));
        compared++;
      }
      expect(compared).toBeGreaterThan(1_000);
    });
  }

  test('reads int64 edges and negative values exactly', () => {
    for (const delta of ['0', '1', '-1', '9007199254740993', '-9223372036854775808', '9223372036854775807']) {
      const bytes = service.UpdateBalance!.requestSerialize({ account_id: 'a', delta, transaction_id: 't' });
      expect(decodeUpdateBalanceRequest(bytes).delta.toString()).toBe(delta);
      const transfer = service.TransferFunds!.requestSerialize({ from_account_id: 'a', amount: delta });
      expect(decodeTransferFundsRequest(transfer).amount.toString()).toBe(delta);
    }
  });

  test('writes accounts that proto-loader reads back as the wire account', () => {
    for (const a of EDGE_ACCOUNTS) {
      expect(service.GetBalance!.responseDeserialize(encodeAccount(a))).toEqual(toWireAccount(a));
      expect(service.CreateAccount!.responseDeserialize(encodeAccount(a))).toEqual(toWireAccount(a));
    }
  });

  test('writes UpdateBalance and TransferFunds answers that proto-loader reads back', () => {
    for (let i = 0; i < EDGE_ACCOUNTS.length; i++) {
      const first = EDGE_ACCOUNTS[i]!;
      const second = EDGE_ACCOUNTS[(i + 3) % EDGE_ACCOUNTS.length]!;
      const txid = i % 2 === 0 ? `tx-${i}-é` : '';
      expect(service.UpdateBalance!.responseDeserialize(encodeWriteResponse(txid, first))).toEqual({
        transaction_id: txid,
        account: toWireAccount(first),
      });
      expect(service.TransferFunds!.responseDeserialize(encodeWriteResponse(txid, first, second))).toEqual({
        transaction_id: txid,
        from: toWireAccount(first),
        to: toWireAccount(second),
      });
    }
  });
});
