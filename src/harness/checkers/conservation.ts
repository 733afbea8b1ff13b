import type { InvariantVerdict, RunObservation } from '../history.js';
import { describeRecord, Evidence, missingFinalSnapshot } from './evidence.js';
import { knownAccountIds, type LogicalWrite, logicalWrites, totalEffect } from './logical-writes.js';
import { describeExpected, describeReachable, reachable, reachableSums } from './reachable-sums.js';

/**
 * Money is neither made nor lost: the final total of the accounts the history knows equals the
 * initial total plus the balances of applied creates plus applied update deltas; transfers
 * change nothing. Indeterminate creates/updates may each count or not. Accounts the history
 * never touched (another client's, on a shared server) are left out and named in the summary.
 */
export function expectedTotal(initial: ReadonlyMap<string, bigint>, writes: readonly LogicalWrite[]) {
  let base = 0n;
  for (const balance of initial.values()) base += balance;
  let created = 0n;
  let deltas = 0n;
  const choices: bigint[][] = [];
  for (const w of writes) {
    if (w.fate === 'applied') {
      const p = w.candidates[0]!;
      if (p.op === 'create') created += p.amount;
      else if (p.op === 'update') deltas += p.amount;
    } else if (w.fate === 'indeterminate') {
      const options = [0n, ...w.candidates.map(totalEffect)];
      if (options.some((o) => o !== 0n)) choices.push(options);
    }
  }
  return { initialTotal: base, created, deltas, sums: reachableSums(base + created + deltas, choices) };
}

export function checkConservation(observation: RunObservation): InvariantVerdict {
  const name = 'conservation';
  const final = observation.finalSnapshot;
  if (final === undefined) return missingFinalSnapshot(name);
  const writes = logicalWrites(observation.records);
  const known = knownAccountIds(observation.initialBalances, writes);
  const evidence = new Evidence();
  let sumAll = 0n;
  let sumKnown = 0n;
  let foreign = 0;
  for (const a of final.accounts) {
    sumAll += a.balance;
    if (known.has(a.accountId)) sumKnown += a.balance;
    else foreign++;
  }
  if (sumAll !== final.totalBalance) {
    evidence.add(`final snapshot: total_balance=${final.totalBalance} but its accounts sum to ${sumAll}`);
  }
  const { initialTotal, created, deltas, sums } = expectedTotal(observation.initialBalances, writes);
  if (!reachable(sums, sumKnown)) {
    evidence.add(
      `final total of the run's accounts is ${sumKnown}; expected ${describeExpected(sums)} = initial ${initialTotal} + created ${created} + acknowledged deltas ${deltas}${sums.uncertain > 0 ? ' + some indeterminate writes' : ''}`,
    );
    for (const w of writes)
      if (w.fate === 'indeterminate') evidence.add(`indeterminate: ${describeRecord(w.records[0]!)}`);
  }
  const foreignNote = foreign > 0 ? `; ${foreign} accounts outside the history left out` : '';
  return {
    name,
    passed: evidence.empty,
    summary: `final total ${sumKnown} vs initial ${initialTotal} + created ${created} + acked deltas ${deltas} (${describeReachable(sums)})${foreignNote}`,
    evidence: evidence.toArray(),
  };
}
