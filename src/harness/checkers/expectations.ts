/** The invariants a scenario can ask for, by their stable verdict names. */
export const INVARIANT_NAMES = [
  'conservation',
  'exact-balances',
  'no-negative-balance',
  'no-torn-snapshot',
  'monotonic-reads',
  'read-your-writes',
  'idempotency',
  'audit-log',
  'no-deadlock',
  'expected-errors',
  'durability',
] as const;

export type InvariantName = (typeof INVARIANT_NAMES)[number];

/** What the scenario promises about its run; the checkers hold the recorded history to it. */
export interface InvariantExpectations {
  /** Checked in this order, one verdict each. */
  invariants: InvariantName[];
  /** Exact final balance per account id, from the scenario file. */
  finalBalances?: Record<string, bigint>;
  /** gRPC status names a 'fail' record may carry, e.g. FAILED_PRECONDITION in an overdraft storm. */
  allowedErrorCodes: string[];
  /** Phases that run only transfers: every snapshot taken in them must show one constant total. */
  transferOnlyPhases: string[];
}
