import * as grpc from '@grpc/grpc-js';
import {
  ledgerServiceDefinition,
  type WireAccount,
  type WireCreateAccountRequest,
  type WireGetBalanceRequest,
  type WireGetSnapshotRequest,
  type WireTransferFundsRequest,
  type WireUpdateBalanceRequest,
} from '../src/wire/ledger-proto.js';

interface BareAccount {
  balance: bigint;
  version: bigint;
}

export interface BareServer {
  readonly target: string;
  shutdown(): Promise<void>;
}

/**
 * The floor: the same wire contract and arithmetic as the ledger, on a plain Map, with no
 * validation beyond what the arithmetic needs, no locks, no audit log and no idempotency.
 * Whatever the real server costs above this is the price of its guarantees.
 */
export async function startBareServer(host = '127.0.0.1'): Promise<BareServer> {
  const accounts = new Map<string, BareAccount>();
  let total = 0n;
  const wire = (id: string, a: BareAccount): WireAccount => ({
    account_id: id,
    balance: a.balance.toString(),
    version: a.version.toString(),
  });
  const fail = (code: grpc.status, details: string) => ({ code, details }) as grpc.ServiceError;
  type Callback = grpc.sendUnaryData<unknown>;

  const handlers: grpc.UntypedServiceImplementation = {
    CreateAccount(call: grpc.ServerUnaryCall<WireCreateAccountRequest, unknown>, callback: Callback) {
      const { account_id, initial_balance } = call.request;
      if (accounts.has(account_id)) return callback(fail(grpc.status.ALREADY_EXISTS, 'exists'));
      const account = { balance: BigInt(initial_balance), version: 0n };
      accounts.set(account_id, account);
      total += account.balance;
      callback(null, wire(account_id, account));
    },
    GetBalance(call: grpc.ServerUnaryCall<WireGetBalanceRequest, unknown>, callback: Callback) {
      const account = accounts.get(call.request.account_id);
      if (account === undefined) return callback(fail(grpc.status.NOT_FOUND, 'not found'));
      callback(null, wire(call.request.account_id, account));
    },
    UpdateBalance(call: grpc.ServerUnaryCall<WireUpdateBalanceRequest, unknown>, callback: Callback) {
      const { account_id, delta, transaction_id } = call.request;
      const account = accounts.get(account_id);
      if (account === undefined) return callback(fail(grpc.status.NOT_FOUND, 'not found'));
      const change = BigInt(delta);
      if (account.balance + change < 0n)
        return callback(fail(grpc.status.FAILED_PRECONDITION, 'insufficient'));
      account.balance += change;
      account.version++;
      total += change;
      callback(null, { transaction_id, account: wire(account_id, account) });
    },
    TransferFunds(call: grpc.ServerUnaryCall<WireTransferFundsRequest, unknown>, callback: Callback) {
      const { from_account_id, to_account_id, amount, transaction_id } = call.request;
      const from = accounts.get(from_account_id);
      const to = accounts.get(to_account_id);
      if (from === undefined || to === undefined) return callback(fail(grpc.status.NOT_FOUND, 'not found'));
      const value = BigInt(amount);
      if (from.balance < value) return callback(fail(grpc.status.FAILED_PRECONDITION, 'insufficient'));
      from.balance -= value;
      to.balance += value;
      from.version++;
      to.version++;
      callback(null, { transaction_id, from: wire(from_account_id, from), to: wire(to_account_id, to) });
    },
    GetSnapshot(_call: grpc.ServerUnaryCall<WireGetSnapshotRequest, unknown>, callback: Callback) {
      callback(null, {
        total_balance: total.toString(),
        account_count: String(accounts.size),
        log_position: '0',
      });
    },
    GetTransaction(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: Callback) {
      callback(fail(grpc.status.UNIMPLEMENTED, 'the floor keeps no log'));
    },
  };

  const server = new grpc.Server();
  server.addService(ledgerServiceDefinition(), handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    target: `${host}:${port}`,
    shutdown: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}
