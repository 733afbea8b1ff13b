import * as grpc from '@grpc/grpc-js';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { ledgerClientConstructor } from '../src/wire/ledger-proto.js';

/** The generator's view of a connection: four calls, answers checked only for success. */
export interface BenchClient {
  waitForReady(timeoutMs: number): Promise<void>;
  getBalance(accountId: string): Promise<void>;
  updateBalance(accountId: string, delta: bigint, transactionId: string): Promise<void>;
  transferFunds(from: string, to: string, amount: bigint, transactionId: string): Promise<void>;
  close(): void;
}

export type BenchClientKind = 'raw' | 'typed';

/** A failed call with its gRPC status code (0 never; undefined when not a gRPC status). */
export class BenchCallError extends Error {
  constructor(readonly code: number | undefined) {
    super(code === undefined ? 'client error' : (grpc.status[code] ?? `CODE_${code}`));
  }
}

/** The product's typed client: what the stress harness and the CLI pay per call. */
class TypedBenchClient implements BenchClient {
  private readonly client: LedgerClient;
  constructor(target: string, channelKey: string, deadlineMs: number) {
    this.client = new LedgerClient(target, { channelKey, deadlineMs });
  }
  waitForReady(timeoutMs: number) {
    return this.client.waitForReady(timeoutMs);
  }
  private wrap(p: Promise<unknown>): Promise<void> {
    return p.then(
      () => undefined,
      (err: unknown) => {
        throw new BenchCallError(err instanceof LedgerCallError ? err.code : undefined);
      },
    );
  }
  getBalance(accountId: string) {
    return this.wrap(this.client.getBalance(accountId));
  }
  updateBalance(accountId: string, delta: bigint, transactionId: string) {
    return this.wrap(this.client.updateBalance(accountId, delta, transactionId));
  }
  transferFunds(from: string, to: string, amount: bigint, transactionId: string) {
    return this.wrap(this.client.transferFunds(from, to, amount, transactionId));
  }
  close() {
    this.client.close();
  }
}

type RawMethod = (
  request: object,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null) => void,
) => grpc.ClientUnaryCall;

/**
 * The leanest grpc-js client: generic stub, callback API, no trailer listener, no decoding of
 * the answer. A grpc-js client costs more CPU per call than the server does, so this one lets a
 * 2-core machine put more load on the server.
 */
class RawBenchClient implements BenchClient {
  private readonly client: grpc.Client;
  private readonly methods: Record<string, RawMethod>;
  constructor(
    target: string,
    channelKey: string,
    private readonly deadlineMs: number,
  ) {
    const Ctor = ledgerClientConstructor();
    this.client = new Ctor(target, grpc.credentials.createInsecure(), {
      'ledgerctl.channel_key': channelKey,
    });
    this.methods = this.client as unknown as Record<string, RawMethod>;
  }
  waitForReady(timeoutMs: number) {
    return new Promise<void>((resolve, reject) =>
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())),
    );
  }
  private call(method: string, request: object): Promise<void> {
    return new Promise((resolve, reject) => {
      this.methods[method]!.call(this.client, request, { deadline: Date.now() + this.deadlineMs }, (err) =>
        err ? reject(new BenchCallError(err.code)) : resolve(),
      );
    });
  }
  getBalance(accountId: string) {
    return this.call('GetBalance', { account_id: accountId });
  }
  updateBalance(accountId: string, delta: bigint, transactionId: string) {
    return this.call('UpdateBalance', {
      account_id: accountId,
      delta: delta.toString(),
      transaction_id: transactionId,
    });
  }
  transferFunds(from: string, to: string, amount: bigint, transactionId: string) {
    return this.call('TransferFunds', {
      from_account_id: from,
      to_account_id: to,
      amount: amount.toString(),
      transaction_id: transactionId,
    });
  }
  close() {
    this.client.close();
  }
}

export function createBenchClient(
  kind: BenchClientKind,
  target: string,
  channelKey: string,
  deadlineMs: number,
): BenchClient {
  return kind === 'raw'
    ? new RawBenchClient(target, channelKey, deadlineMs)
    : new TypedBenchClient(target, channelKey, deadlineMs);
}
