import * as grpc from '@grpc/grpc-js';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { Status } from '../src/harness/grpc-wire.js';
import { H2Channel } from '../src/harness/h2-channel.js';
import { HARNESS_LIMITS } from '../src/harness/harness-limits.js';
import { encodeRequest, METHOD_PATHS } from '../src/harness/ledger-messages.js';
import { ledgerClientConstructor } from '../src/wire/ledger-proto.js';

/** The generator's view of a connection: four calls, answers checked only for success. */
export interface BenchClient {
  waitForReady(timeoutMs: number): Promise<void>;
  getBalance(accountId: string): Promise<void>;
  updateBalance(accountId: string, delta: bigint, transactionId: string): Promise<void>;
  transferFunds(from: string, to: string, amount: bigint, transactionId: string): Promise<void>;
  close(): void;
}

export type BenchClientKind = 'raw' | 'typed' | 'h2';

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

/**
 * The harness's lean caller (its own HTTP/2 framing, h2-channel.ts): a few microseconds of CPU per
 * call where a grpc-js client spends 100 or more, so a generator sharing the machine's cores with
 * the server and its database takes as little of them as it can. Answers are checked for their
 * status only, like the raw client.
 */
class H2BenchClient implements BenchClient {
  private readonly channel: H2Channel;
  constructor(
    target: string,
    private readonly deadlineMs: number,
  ) {
    this.channel = new H2Channel(`http://${target}`, {
      maxResponseBytes: 1 << 20,
      deadlineTickMs: HARNESS_LIMITS.deadlineTickMs,
    });
  }
  waitForReady(timeoutMs: number) {
    return this.channel.connect(timeoutMs);
  }
  private call(path: string, framed: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.channel.start(path, framed, this.deadlineMs, (answer) =>
        answer.code === Status.OK ? resolve() : reject(new BenchCallError(answer.code)),
      ),
    );
  }
  getBalance(accountId: string) {
    return this.call(METHOD_PATHS.get, encodeRequest('get', { accountId }));
  }
  updateBalance(accountId: string, delta: bigint, transactionId: string) {
    return this.call(
      METHOD_PATHS.update,
      encodeRequest('update', { accountId, amount: delta, transactionId }),
    );
  }
  transferFunds(from: string, to: string, amount: bigint, transactionId: string) {
    return this.call(
      METHOD_PATHS.transfer,
      encodeRequest('transfer', { fromId: from, toId: to, amount, transactionId }),
    );
  }
  close() {
    this.channel.close();
  }
}

export function createBenchClient(
  kind: BenchClientKind,
  target: string,
  channelKey: string,
  deadlineMs: number,
): BenchClient {
  if (kind === 'h2') return new H2BenchClient(target, deadlineMs);
  return kind === 'raw'
    ? new RawBenchClient(target, channelKey, deadlineMs)
    : new TypedBenchClient(target, channelKey, deadlineMs);
}
