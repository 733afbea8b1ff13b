import type * as grpc from '@grpc/grpc-js';
import type { AccountState, LogEntry, Snapshot } from '../domain/types.js';
import type { Ledger, WriteOutcome } from '../engine/ledger.js';
import type {
  WireAccount,
  WireGetSnapshotRequest,
  WireGetTransactionRequest,
  WireLogEntry,
  WireSnapshot,
  WireTimestamp,
} from '../wire/ledger-proto.js';
import type { EncodedResponse } from '../wire/strict-service.js';
import {
  type DecodedCreateAccountRequest,
  type DecodedGetBalanceRequest,
  type DecodedTransferFundsRequest,
  type DecodedUpdateBalanceRequest,
  decodeCreateAccountRequest,
  decodeGetBalanceRequest,
  decodeTransferFundsRequest,
  decodeUpdateBalanceRequest,
  encodeAccount,
  encodeWriteResponse,
} from '../wire/unary-codec.js';
import type { Role } from './access-control.js';
import { executeBatchHandler } from './batch-handler.js';
import { SnapshotReads } from './snapshot-reads.js';
import { type AccessNeed, type UnaryAdapterContext, unaryHandler } from './unary-handler.js';

const need = (role: Role, action: string): AccessNeed => ({ role, action });

/** Answered to a snapshot call abandoned on the way: never sent (the call is cancelled). */
const EMPTY_SNAPSHOT: WireSnapshot = {
  total_balance: '0',
  account_count: '0',
  log_position: '0',
  accounts: [],
};

const NS_PER_SECOND = 1_000_000_000n;

/** The codecs of the four hot RPCs (unary-codec.ts) in place of proto-loader's; a bytes answer goes out as it is. */
const OWN_CODECS: Readonly<Record<string, (bytes: Buffer) => unknown>> = {
  CreateAccount: decodeCreateAccountRequest,
  GetBalance: decodeGetBalanceRequest,
  UpdateBalance: decodeUpdateBalanceRequest,
  TransferFunds: decodeTransferFundsRequest,
};

/**
 * The ledger service with its unary write and balance RPCs on their own codec (unary-codec.ts):
 * their handlers below take the decoded requests and answer encoded bytes. The strict wire check
 * still runs first (strict-service.ts wraps these deserializers).
 */
export function withUnaryCodecs(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const own: Record<string, grpc.MethodDefinition<unknown, unknown>> = { ...service };
  for (const [name, decode] of Object.entries(OWN_CODECS)) {
    const method = service[name];
    if (method === undefined) throw new Error(`ledger.v1.Ledger has no ${name}`);
    own[name] = {
      ...method,
      requestDeserialize: decode,
      responseSerialize: (response) => response as Buffer,
    };
  }
  return own as grpc.ServiceDefinition;
}

export function toWireAccount(account: AccountState): WireAccount {
  return { account_id: account.id, balance: account.balance.toString(), version: account.version.toString() };
}

export function toWireTimestamp(timestampNs: bigint): WireTimestamp {
  // Floor division keeps nanos in [0, 1e9) as the Timestamp contract requires, even before 1970.
  let seconds = timestampNs / NS_PER_SECOND;
  let nanos = timestampNs % NS_PER_SECOND;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += NS_PER_SECOND;
  }
  return { seconds: seconds.toString(), nanos: Number(nanos) };
}

export function toWireLogEntry(entry: LogEntry): WireLogEntry {
  return {
    position: entry.position.toString(),
    transaction_id: entry.transactionId,
    timestamp: toWireTimestamp(entry.timestampNs),
    operation: entry.operation,
    account_ids: [...entry.accountIds],
    amount: entry.amount.toString(),
    balances_after: entry.balancesAfter.map((b) => b.toString()),
    status: entry.status,
    principal: entry.principal,
  };
}

export function toWireSnapshot(snapshot: Snapshot): WireSnapshot {
  return {
    total_balance: snapshot.totalBalance.toString(),
    account_count: snapshot.accountCount.toString(),
    log_position: snapshot.logPosition.toString(),
    accounts: snapshot.accounts === undefined ? [] : snapshot.accounts.map(toWireAccount),
  };
}

/**
 * The ledger.v1.Ledger implementation: wire <-> domain conversion only; the rules live in the
 * engine. Its CreateAccount, GetBalance, UpdateBalance and TransferFunds take the own codec's
 * requests and answer bytes: register it on `withUnaryCodecs(withBatchCodec(...))`, as
 * ledger-server.ts does (with proto-loader's codec they would get int64 as strings).
 */
export function ledgerHandlers(
  engine: Ledger,
  ctx: UnaryAdapterContext,
  snapshotReads = new SnapshotReads(),
): grpc.UntypedServiceImplementation {
  // A ledger that can answer a write synchronously does so (no promise per call); else its promise.
  const createAccount = engine.createAccountNow?.bind(engine) ?? engine.createAccount.bind(engine);
  const updateBalance = engine.updateBalanceNow?.bind(engine) ?? engine.updateBalance.bind(engine);
  const transferFunds = engine.transferFundsNow?.bind(engine) ?? engine.transferFunds.bind(engine);
  return {
    CreateAccount: unaryHandler<DecodedCreateAccountRequest, Buffer, WriteOutcome>(
      {
        method: 'CreateAccount',
        access: () => need('write', 'call CreateAccount'),
        subject: (r) => ({ accountIds: [r.account_id], transactionId: r.transaction_id || undefined }),
        handle: (r, principal) =>
          createAccount(
            { accountId: r.account_id, initialBalance: r.initial_balance, transactionId: r.transaction_id },
            principal,
          ),
        reply: ({ result, replayed }) => ({
          response: encodeAccount(result.accounts[0]!),
          replayed,
          transactionId: result.transactionId,
        }),
      },
      ctx,
    ),
    GetBalance: unaryHandler<DecodedGetBalanceRequest, Buffer, AccountState>(
      {
        method: 'GetBalance',
        access: () => need('read', 'call GetBalance'),
        subject: (r) => ({ accountIds: [r.account_id] }),
        handle: (r) => engine.getBalance(r.account_id),
        reply: (account) => ({
          response: encodeAccount(account),
          replayed: false,
        }),
      },
      ctx,
    ),
    UpdateBalance: unaryHandler<DecodedUpdateBalanceRequest, Buffer, WriteOutcome>(
      {
        method: 'UpdateBalance',
        access: () => need('write', 'call UpdateBalance'),
        subject: (r) => ({ accountIds: [r.account_id], transactionId: r.transaction_id }),
        handle: (r, principal) =>
          updateBalance(
            { accountId: r.account_id, delta: r.delta, transactionId: r.transaction_id },
            principal,
          ),
        reply: ({ result, replayed }) => ({
          response: encodeWriteResponse(result.transactionId, result.accounts[0]!),
          replayed,
          transactionId: result.transactionId,
        }),
      },
      ctx,
    ),
    TransferFunds: unaryHandler<DecodedTransferFundsRequest, Buffer, WriteOutcome>(
      {
        method: 'TransferFunds',
        access: () => need('write', 'call TransferFunds'),
        subject: (r) => ({
          accountIds: [r.from_account_id, r.to_account_id],
          transactionId: r.transaction_id,
        }),
        handle: (r, principal) =>
          transferFunds(
            {
              fromId: r.from_account_id,
              toId: r.to_account_id,
              amount: r.amount,
              transactionId: r.transaction_id,
            },
            principal,
          ),
        reply: ({ result, replayed }) => ({
          response: encodeWriteResponse(result.transactionId, result.accounts[0]!, result.accounts[1]!),
          replayed,
          transactionId: result.transactionId,
        }),
      },
      ctx,
    ),
    GetSnapshot: unaryHandler<WireGetSnapshotRequest, WireSnapshot | EncodedResponse>(
      {
        method: 'GetSnapshot',
        // Every balance at once is a bulk export (and the most expensive read): operators only.
        access: (r) =>
          r.include_accounts === true
            ? need('admin', 'call GetSnapshot with include_accounts')
            : need('read', 'call GetSnapshot'),
        subject: () => ({ accountIds: [] }),
        handle: async (r, _principal, cancelled) => ({
          response:
            r.include_accounts === true
              ? ((await snapshotReads.read(engine, cancelled)) ?? EMPTY_SNAPSHOT)
              : toWireSnapshot(await engine.getSnapshot(false)),
          replayed: false,
        }),
      },
      ctx,
    ),
    GetTransaction: unaryHandler<WireGetTransactionRequest, WireLogEntry>(
      {
        method: 'GetTransaction',
        access: () => need('read', 'call GetTransaction'),
        subject: (r) => ({ accountIds: [], transactionId: r.transaction_id }),
        handle: async (r) => ({
          response: toWireLogEntry(await engine.getTransaction(r.transaction_id ?? '')),
          replayed: false,
        }),
      },
      ctx,
    ),
    ExecuteBatch: executeBatchHandler(engine, ctx),
  };
}
