import type { InvariantVerdict, RunObservation } from '../history.js';
import { checkAuditLog } from './audit-log.js';
import { checkConservation } from './conservation.js';
import { checkDurability } from './durability.js';
import { checkExactBalances } from './exact-balances.js';
import type { InvariantExpectations, InvariantName } from './expectations.js';
import { checkExpectedErrors } from './expected-errors.js';
import { checkIdempotency } from './idempotency.js';
import { checkMonotonicReads } from './monotonic-reads.js';
import { checkNoDeadlock } from './no-deadlock.js';
import { checkNoNegativeBalance } from './no-negative-balance.js';
import { checkNoTornSnapshot } from './no-torn-snapshot.js';
import { checkReadYourWrites } from './read-your-writes.js';

export { checkAuditLog } from './audit-log.js';
export { checkConservation } from './conservation.js';
export { checkDurability } from './durability.js';
export { checkExactBalances } from './exact-balances.js';
export { INVARIANT_NAMES, type InvariantExpectations, type InvariantName } from './expectations.js';
export { checkExpectedErrors } from './expected-errors.js';
export { checkIdempotency } from './idempotency.js';
export { checkMonotonicReads } from './monotonic-reads.js';
export { checkNoDeadlock } from './no-deadlock.js';
export { checkNoNegativeBalance } from './no-negative-balance.js';
export { checkNoTornSnapshot } from './no-torn-snapshot.js';
export { checkReadYourWrites } from './read-your-writes.js';

const checkers: Record<InvariantName, (o: RunObservation, e: InvariantExpectations) => InvariantVerdict> = {
  conservation: (o) => checkConservation(o),
  'exact-balances': (o, e) => checkExactBalances(o, e.finalBalances),
  'no-negative-balance': (o) => checkNoNegativeBalance(o),
  'no-torn-snapshot': (o, e) => checkNoTornSnapshot(o, e.transferOnlyPhases),
  'monotonic-reads': (o) => checkMonotonicReads(o),
  'read-your-writes': (o) => checkReadYourWrites(o),
  idempotency: (o) => checkIdempotency(o),
  'audit-log': (o) => checkAuditLog(o),
  'no-deadlock': (o) => checkNoDeadlock(o),
  'expected-errors': (o, e) => checkExpectedErrors(o, e.allowedErrorCodes),
  durability: (o) => checkDurability(o),
};

/** One verdict per requested invariant, in the requested order; a checker that throws fails its verdict. */
export function checkInvariants(
  observation: RunObservation,
  expect: InvariantExpectations,
): InvariantVerdict[] {
  return expect.invariants.map((name) => {
    try {
      return checkers[name](observation, expect);
    } catch (err) {
      return {
        name,
        passed: false,
        summary: 'the checker itself failed',
        evidence: [err instanceof Error ? (err.stack ?? err.message) : String(err)],
      };
    }
  });
}
