import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const LEDGER_PROTO_FILE = 'ledger/v1/ledger.proto';
export const LEDGER_SERVICE_NAME = 'ledger.v1.Ledger';
/** Trailing metadata key set on every answer that replays a recorded outcome. */
export const REPLAYED_METADATA_KEY = 'ledger-replayed';
/** Trailing metadata key on every answer: the server's handling time in microseconds (docs/contract.md). */
export const SERVER_TIME_METADATA_KEY = 'ledger-server-time-us';

/** The `proto/` folder, found upward from this module (src/ under vitest, dist/src/ when compiled). */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'proto', LEDGER_PROTO_FILE))) return join(dir, 'proto');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`proto/${LEDGER_PROTO_FILE} not found above ${import.meta.url}`);
    dir = parent;
  }
}

/** Every proto-loader option spelled out: int64 must arrive as exact decimal strings. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: protoLoader.PackageDefinition | undefined;

export function ledgerPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(LEDGER_PROTO_FILE, { ...PROTO_LOADER_OPTIONS, includeDirs: [protoRoot()] });
  return cached;
}

export function ledgerServiceDefinition(): grpc.ServiceDefinition {
  return ledgerPackageDefinition()[LEDGER_SERVICE_NAME] as grpc.ServiceDefinition;
}

/** A constructor for the generic grpc-js client of ledger.v1.Ledger. */
export function ledgerClientConstructor(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(ledgerServiceDefinition(), 'Ledger');
}

// Wire messages as proto-loader hands them over: int64/uint64 as decimal strings.
export interface WireAccount {
  account_id: string;
  balance: string;
  version: string;
}
export interface WireCreateAccountRequest {
  account_id: string;
  initial_balance: string;
  transaction_id: string;
}
export interface WireGetBalanceRequest {
  account_id: string;
}
export interface WireUpdateBalanceRequest {
  account_id: string;
  delta: string;
  transaction_id: string;
}
export interface WireUpdateBalanceResponse {
  transaction_id: string;
  account: WireAccount | null;
}
export interface WireTransferFundsRequest {
  from_account_id: string;
  to_account_id: string;
  amount: string;
  transaction_id: string;
}
export interface WireTransferFundsResponse {
  transaction_id: string;
  from: WireAccount | null;
  to: WireAccount | null;
}
export interface WireGetSnapshotRequest {
  include_accounts: boolean;
}
export interface WireSnapshot {
  total_balance: string;
  account_count: string;
  log_position: string;
  accounts: WireAccount[];
}
export interface WireGetTransactionRequest {
  transaction_id: string;
}
export interface WireTimestamp {
  seconds: string;
  nanos: number;
}
export interface WireLogEntry {
  position: string;
  transaction_id: string;
  timestamp: WireTimestamp | null;
  operation: string;
  account_ids: string[];
  amount: string;
  balances_after: string[];
  status: string;
  principal: string;
}
export interface WireBatchOperation {
  /** Which field of the oneof is set (proto-loader's `oneofs: true`). */
  operation?: 'create_account' | 'update_balance' | 'transfer_funds';
  create_account?: WireCreateAccountRequest | null;
  update_balance?: WireUpdateBalanceRequest | null;
  transfer_funds?: WireTransferFundsRequest | null;
  linked: boolean;
}
export interface WireExecuteBatchRequest {
  operations: WireBatchOperation[];
}
export interface WireBatchError {
  /** The gRPC status code number. */
  code: number;
  message: string;
}
export interface WireBatchResult {
  result?: 'create_account' | 'update_balance' | 'transfer_funds' | 'error';
  create_account?: WireAccount | null;
  update_balance?: WireUpdateBalanceResponse | null;
  transfer_funds?: WireTransferFundsResponse | null;
  error?: WireBatchError | null;
  replayed: boolean;
}
export interface WireExecuteBatchResponse {
  results: WireBatchResult[];
}
