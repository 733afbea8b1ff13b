/** The ledger's state and operations, independent of wire format and storage. */
export interface AccountState {
  readonly id: string;
  readonly balance: bigint;
  /** +1 on every committed change of the account, 0 at creation. */
  readonly version: number;
}

export type Operation = 'create' | 'update' | 'transfer';

export interface CreateCommand {
  readonly op: 'create';
  readonly accountId: string;
  readonly initialBalance: bigint;
  /** Undefined when the caller sent none: the engine generates one, and nothing is recorded. */
  readonly transactionId: string | undefined;
}

export interface UpdateCommand {
  readonly op: 'update';
  readonly accountId: string;
  readonly delta: bigint;
  readonly transactionId: string;
}

export interface TransferCommand {
  readonly op: 'transfer';
  readonly fromId: string;
  readonly toId: string;
  readonly amount: bigint;
  readonly transactionId: string;
}

export type WriteCommand = CreateCommand | UpdateCommand | TransferCommand;

/** What a committed write returns: the touched accounts right after it, in command order. */
export interface WriteResult {
  readonly transactionId: string;
  readonly accounts: readonly AccountState[];
}

export interface LogEntry {
  /** 1-based, dense, in commit order. */
  readonly position: number;
  readonly transactionId: string;
  /** Wall-clock nanoseconds since the Unix epoch. */
  readonly timestampNs: bigint;
  readonly operation: Operation;
  readonly accountIds: readonly string[];
  readonly amount: bigint;
  readonly balancesAfter: readonly bigint[];
  readonly status: 'OK';
  /** Who wrote it: the authenticated principal, '' when the server runs without authentication. */
  readonly principal: string;
}

export interface Snapshot {
  readonly totalBalance: bigint;
  readonly accountCount: number;
  readonly logPosition: number;
  /** Sorted by id; undefined unless asked for. */
  readonly accounts: readonly AccountState[] | undefined;
}
