import type { Account, LogEntryResult, SnapshotResult } from '../client/ledger-client.js';
import type { OpKind } from './op-kinds.js';

/**
 * The recorded history of a stress run, Jepsen-style: one record per call, with what was asked
 * and what came back. Checkers are pure functions of it. Times are nanoseconds from the
 * run's start (process.hrtime based).
 */
export type { OpKind } from './op-kinds.js';

/**
 * ok: definitely happened (acknowledged); fail: definitely did not happen (the server said so);
 * info: indeterminate (deadline exceeded, connection lost): the write may or may not have happened.
 */
export type OpType = 'ok' | 'fail' | 'info';

// What the checkers see of an answer is exactly what the typed client returns.
export type AccountView = Account;
export type SnapshotView = SnapshotResult;
export type LogEntryView = LogEntryResult;

export interface OpArgs {
  accountId?: string;
  fromId?: string;
  toId?: string;
  /** Create: initial balance; update: delta; transfer: amount. */
  amount?: bigint;
  transactionId?: string;
  includeAccounts?: boolean;
}

export interface OpRecord {
  /** Dense, in invocation order across the whole run. */
  index: number;
  phase: string;
  group: string;
  /** Identifies one logical caller (one sequential stream of calls) across the run. */
  caller: number;
  op: OpKind;
  args: OpArgs;
  /** Open loop: when the call was due; latency counts from here (no coordinated omission). */
  scheduledNs?: bigint;
  invokeNs: bigint;
  completeNs: bigint;
  type: OpType;
  /** gRPC status name for fail/info, e.g. FAILED_PRECONDITION, DEADLINE_EXCEEDED. */
  code?: string;
  message?: string;
  /** The answer carried `ledger-replayed: true`. */
  replayed?: boolean;
  /** ok only: accounts returned (create/get: [account]; update: [account]; transfer: [from, to]). */
  accounts?: AccountView[];
  /** ok only: the transaction id the server reported (create without id: the generated one). */
  resultTransactionId?: string;
  snapshot?: SnapshotView;
  logEntry?: LogEntryView;
  /** The server's own handling time (its `ledger-server-time-us` trailer), when it sent one. */
  serverTimeUs?: number;
  /** Excluded from latency histograms (warm-up); still checked by every invariant. */
  warmup?: boolean;
}

/** Everything the checkers need besides the records. */
export interface RunObservation {
  /** Balances of the accounts the scenario set up, before any phase ran. */
  initialBalances: Map<string, bigint>;
  /**
   * Versions of the set-up accounts before any phase ran; absent means 0 for each (freshly
   * created). Added for the checkers: exact-balances compares final versions with applied writes.
   */
  initialVersions?: Map<string, bigint>;
  /**
   * The log position after set-up, before any phase ran (durability: positions after it belong
   * to the run's writes).
   */
  initialLogPosition?: bigint;
  /** Fault injection: when the server was killed (run time), in order. */
  kills?: { atNs: bigint }[];
  /** Fault injection: the server did not come back after a kill, or died on its own. */
  serverFailures?: string[];
  /** Snapshot (with accounts) after every phase finished and nothing was in flight. */
  finalSnapshot: SnapshotView | undefined;
  /** Audit-log entries fetched after the run for every write transaction id in the history. */
  logEntries: Map<string, LogEntryView | 'not-found'>;
  records: OpRecord[];
  /** Phases that hit their timeout, with the calls still pending then. */
  stuckPhases: { phase: string; timeoutMs: number; pending: OpRecord[] }[];
}

export interface InvariantVerdict {
  /** Stable name, e.g. 'conservation', 'exact-balances', 'no-torn-snapshot'. */
  name: string;
  passed: boolean;
  /** One line on what was checked (shown on pass too). */
  summary: string;
  /** On failure: concrete evidence (at most a few dozen lines), e.g. the records involved. */
  evidence: string[];
}
