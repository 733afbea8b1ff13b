import type { BatchItemOutcome, BatchOperationInput } from '../domain/batch.js';
import type { AccountState, LogEntry, Snapshot, WriteResult } from '../domain/types.js';
import type { CreateInput, TransferInput, UpdateInput } from '../domain/validate.js';
import type { StorageFailure } from './storage.js';

export interface WriteOutcome {
  readonly result: WriteResult;
  /** True when this answers a repeated transaction id with the recorded outcome. */
  readonly replayed: boolean;
}

/**
 * What the gRPC server needs of a ledger. LedgerEngine (memory, LMDB: state in this process) and
 * PgLedger (PostgreSQL: state in the database, shared by several processes) implement it with
 * the same contract: the same checks in the same order, the same errors, the same replays.
 * Operating errors are thrown as LedgerError; broken invariants as InvariantViolation.
 */
export interface Ledger {
  readonly storageKind: string;
  /** How writes are serialized, for the start-up line (e.g. `account`, `row`). */
  readonly lockingMode: string;
  /** `principal` is who asks ('' without authentication); the log entry records it. */
  createAccount(input: CreateInput, principal?: string): Promise<WriteOutcome>;
  updateBalance(input: UpdateInput, principal?: string): Promise<WriteOutcome>;
  transferFunds(input: TransferInput, principal?: string): Promise<WriteOutcome>;
  /**
   * The same three writes, answered synchronously when nothing has to wait (state in this
   * process, locks free, storage instant), else by a promise; a refusal may be thrown. The server
   * uses them when a ledger has them, so such a write is answered in the turn its request came,
   * with no promise at all.
   */
  createAccountNow?(input: CreateInput, principal?: string): WriteOutcome | Promise<WriteOutcome>;
  updateBalanceNow?(input: UpdateInput, principal?: string): WriteOutcome | Promise<WriteOutcome>;
  transferFundsNow?(input: TransferInput, principal?: string): WriteOutcome | Promise<WriteOutcome>;
  /**
   * ExecuteBatch: every operation answered in order as its unary call would be, all committed
   * together at consecutive log positions; linked chains succeed or fail as a whole.
   */
  executeBatch(operations: readonly BatchOperationInput[], principal?: string): Promise<BatchItemOutcome[]>;
  getBalance(accountId: string): AccountState | Promise<AccountState>;
  getSnapshot(includeAccounts: boolean): Snapshot | Promise<Snapshot>;
  getTransaction(transactionId: string): Promise<LogEntry>;
  /**
   * Ledgers whose state lives elsewhere report losing and regaining it (a database connection):
   * the server turns it into health NOT_SERVING / SERVING. Called with the current state at once.
   */
  watchServing?(listener: (serving: boolean, reason?: string) => void): void;
  /**
   * Ledgers that keep state in this process report a storage failure they cannot recover from
   * (the server then stays NOT_SERVING and `serve` exits); see LedgerEngine.
   */
  onStorageFailure?(listener: (failure: StorageFailure) => void): void;
  /** Refuses new writes, waits for those in flight, releases storage. */
  close(): Promise<void>;
}
