import * as grpc from '@grpc/grpc-js';
import {
  ledgerClientConstructor,
  REPLAYED_METADATA_KEY,
  type WireAccount,
  type WireBatchOperation,
  type WireExecuteBatchResponse,
  type WireLogEntry,
  type WireSnapshot,
  type WireTransferFundsResponse,
  type WireUpdateBalanceResponse,
} from '../wire/ledger-proto.js';
import { type ClientSecurity, callMetadata, channelCredentials } from './client-security.js';

/** Typed ledger.v1 client: bigint for every 64-bit integer, replay flag from trailing metadata. */
export interface Account {
  accountId: string;
  balance: bigint;
  version: bigint;
}
export interface UpdateResult {
  transactionId: string;
  account: Account;
}
export interface TransferResult {
  transactionId: string;
  from: Account;
  to: Account;
}
export interface SnapshotResult {
  totalBalance: bigint;
  accountCount: bigint;
  logPosition: bigint;
  accounts: Account[];
}
export interface LogEntryResult {
  position: bigint;
  transactionId: string;
  /** Nanoseconds since the Unix epoch. */
  timestampNs: bigint;
  operation: string;
  accountIds: string[];
  amount: bigint;
  balancesAfter: bigint[];
  status: string;
  /** Who wrote the entry; '' when the server runs without authentication. */
  principal: string;
}

/** One operation of an ExecuteBatch; `linked`: it succeeds or fails together with the next one. */
export type BatchOperation =
  | { kind: 'create'; accountId: string; initialBalance: bigint; transactionId?: string; linked?: boolean }
  | { kind: 'update'; accountId: string; delta: bigint; transactionId: string; linked?: boolean }
  | {
      kind: 'transfer';
      fromAccountId: string;
      toAccountId: string;
      amount: bigint;
      transactionId: string;
      linked?: boolean;
    };

/** What one operation of a batch answered: what its unary call would have, with its replay flag. */
export type BatchItemResult =
  | { ok: true; kind: 'create'; value: Account; replayed: boolean }
  | { ok: true; kind: 'update'; value: UpdateResult; replayed: boolean }
  | { ok: true; kind: 'transfer'; value: TransferResult; replayed: boolean }
  | { ok: false; code: grpc.status; codeName: string; message: string; replayed: boolean };

export function toWireBatchOperation(op: BatchOperation): WireBatchOperation {
  const linked = op.linked === true;
  switch (op.kind) {
    case 'create':
      return {
        operation: 'create_account',
        create_account: {
          account_id: op.accountId,
          initial_balance: op.initialBalance.toString(),
          transaction_id: op.transactionId ?? '',
        },
        linked,
      };
    case 'update':
      return {
        operation: 'update_balance',
        update_balance: {
          account_id: op.accountId,
          delta: op.delta.toString(),
          transaction_id: op.transactionId,
        },
        linked,
      };
    case 'transfer':
      return {
        operation: 'transfer_funds',
        transfer_funds: {
          from_account_id: op.fromAccountId,
          to_account_id: op.toAccountId,
          amount: op.amount.toString(),
          transaction_id: op.transactionId,
        },
        linked,
      };
  }
}

function fromWireBatch(wire: WireExecuteBatchResponse): BatchItemResult[] {
  return wire.results.map((r): BatchItemResult => {
    const replayed = r.replayed === true;
    if (r.error) {
      const code = r.error.code as grpc.status;
      return {
        ok: false,
        code,
        codeName: grpc.status[code] ?? `CODE_${code}`,
        message: r.error.message,
        replayed,
      };
    }
    if (r.create_account) return { ok: true, kind: 'create', value: toAccount(r.create_account), replayed };
    if (r.update_balance) {
      const w = r.update_balance;
      return {
        ok: true,
        kind: 'update',
        value: { transactionId: w.transaction_id, account: toAccount(w.account) },
        replayed,
      };
    }
    const w = r.transfer_funds;
    return {
      ok: true,
      kind: 'transfer',
      value: { transactionId: w?.transaction_id ?? '', from: toAccount(w?.from), to: toAccount(w?.to) },
      replayed,
    };
  });
}

export interface Reply<T> {
  value: T;
  /** The server answered with the recorded outcome of an earlier request (`ledger-replayed: true`). */
  replayed: boolean;
}

export interface CallOptions {
  /** Per-call deadline; the call fails with DEADLINE_EXCEEDED after it. */
  deadlineMs?: number;
}

/** A failed call: the status code (and its name) and the server's exact message. */
export class LedgerCallError extends Error {
  override readonly name = 'LedgerCallError';
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    readonly replayed: boolean,
  ) {
    super(`${grpc.status[code]}: ${details}`);
  }
  get codeName(): string {
    return grpc.status[this.code] ?? `CODE_${this.code}`;
  }
}

export interface LedgerClientOptions {
  /** Default per-call deadline (none when unset). */
  deadlineMs?: number;
  /** Extra grpc-js channel options; a distinct `channelKey` forces a separate connection. */
  channelOptions?: grpc.ChannelOptions;
  channelKey?: string;
  /** Largest response accepted, in bytes. */
  maxResponseBytes?: number;
  /** TLS and bearer token; plaintext without a token when absent. */
  security?: ClientSecurity | undefined;
}

export const toAccount = (wire: WireAccount | null | undefined): Account => ({
  accountId: wire?.account_id ?? '',
  balance: BigInt(wire?.balance ?? '0'),
  version: BigInt(wire?.version ?? '0'),
});

export const toLogEntry = (wire: WireLogEntry): LogEntryResult => ({
  position: BigInt(wire.position),
  transactionId: wire.transaction_id,
  timestampNs: BigInt(wire.timestamp?.seconds ?? '0') * 1_000_000_000n + BigInt(wire.timestamp?.nanos ?? 0),
  operation: wire.operation,
  accountIds: wire.account_ids,
  amount: BigInt(wire.amount),
  balancesAfter: wire.balances_after.map((b) => BigInt(b)),
  status: wire.status,
  principal: wire.principal ?? '',
});

export const toSnapshot = (w: WireSnapshot): SnapshotResult => ({
  totalBalance: BigInt(w.total_balance),
  accountCount: BigInt(w.account_count),
  logPosition: BigInt(w.log_position),
  accounts: w.accounts.map(toAccount),
});

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

export class LedgerClient {
  private readonly client: grpc.Client;
  private readonly defaultDeadlineMs: number | undefined;
  private readonly metadata: () => grpc.Metadata;

  constructor(
    readonly target: string,
    options: LedgerClientOptions = {},
  ) {
    const Ctor = ledgerClientConstructor();
    this.client = new Ctor(target, channelCredentials(options.security), {
      'grpc.max_receive_message_length': options.maxResponseBytes ?? 64 * 1024 * 1024,
      ...(options.channelKey === undefined ? {} : { 'ledgerctl.channel_key': options.channelKey }),
      ...options.channelOptions,
    });
    this.defaultDeadlineMs = options.deadlineMs;
    this.metadata = callMetadata(options.security);
  }

  /** Resolves once connected; rejects with a clear message when the target does not answer in time. */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err) reject(new Error(`cannot reach ledger at ${this.target}: ${err.message}`));
        else resolve();
      });
    });
  }

  close(): void {
    this.client.close();
  }

  createAccount(
    accountId: string,
    initialBalance: bigint,
    transactionId = '',
    options?: CallOptions,
  ): Promise<Reply<Account>> {
    const request = {
      account_id: accountId,
      initial_balance: initialBalance.toString(),
      transaction_id: transactionId,
    };
    return this.unary('CreateAccount', request, options, (w: WireAccount) => toAccount(w));
  }

  getBalance(accountId: string, options?: CallOptions): Promise<Reply<Account>> {
    return this.unary('GetBalance', { account_id: accountId }, options, (w: WireAccount) => toAccount(w));
  }

  updateBalance(
    accountId: string,
    delta: bigint,
    transactionId: string,
    options?: CallOptions,
  ): Promise<Reply<UpdateResult>> {
    const request = { account_id: accountId, delta: delta.toString(), transaction_id: transactionId };
    return this.unary('UpdateBalance', request, options, (w: WireUpdateBalanceResponse) => ({
      transactionId: w.transaction_id,
      account: toAccount(w.account),
    }));
  }

  transferFunds(
    fromAccountId: string,
    toAccountId: string,
    amount: bigint,
    transactionId: string,
    options?: CallOptions,
  ): Promise<Reply<TransferResult>> {
    const request = {
      from_account_id: fromAccountId,
      to_account_id: toAccountId,
      amount: amount.toString(),
      transaction_id: transactionId,
    };
    return this.unary('TransferFunds', request, options, (w: WireTransferFundsResponse) => ({
      transactionId: w.transaction_id,
      from: toAccount(w.from),
      to: toAccount(w.to),
    }));
  }

  getSnapshot(includeAccounts: boolean, options?: CallOptions): Promise<Reply<SnapshotResult>> {
    return this.unary('GetSnapshot', { include_accounts: includeAccounts }, options, toSnapshot);
  }

  getTransaction(transactionId: string, options?: CallOptions): Promise<Reply<LogEntryResult>> {
    return this.unary('GetTransaction', { transaction_id: transactionId }, options, toLogEntry);
  }

  /** ExecuteBatch: results[i] answers operations[i]; the call fails only when the batch is refused whole. */
  executeBatch(
    operations: readonly BatchOperation[],
    options?: CallOptions,
  ): Promise<Reply<BatchItemResult[]>> {
    const request = { operations: operations.map(toWireBatchOperation) };
    return this.unary('ExecuteBatch', request, options, fromWireBatch);
  }

  /** Sends an arbitrary request object (conformance tests use it for raw wire values). */
  raw<W>(method: string, request: object, options?: CallOptions): Promise<Reply<W>> {
    return this.unary(method, request, options, (w: W) => w);
  }

  private unary<W, T>(
    method: string,
    request: object,
    options: CallOptions | undefined,
    convert: (wire: W) => T,
  ): Promise<Reply<T>> {
    const fn = (this.client as unknown as Record<string, UnaryMethod>)[method];
    if (fn === undefined) throw new Error(`unknown method ${method}`);
    const deadlineMs = options?.deadlineMs ?? this.defaultDeadlineMs;
    const callOptions: grpc.CallOptions =
      deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    return new Promise((resolve, reject) => {
      let error: grpc.ServiceError | null = null;
      let response: unknown;
      // The callback runs before the 'status' event, which carries the trailers (replay flag).
      const call = fn.call(this.client, request, this.metadata(), callOptions, (err, res) => {
        error = err;
        response = res;
      });
      call.on('status', (status: grpc.StatusObject) => {
        const replayed = status.metadata.get(REPLAYED_METADATA_KEY)[0] === 'true';
        if (error !== null) reject(new LedgerCallError(error.code, error.details, replayed));
        else resolve({ value: convert(response as W), replayed });
      });
    });
  }
}
