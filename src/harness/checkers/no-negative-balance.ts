import type { InvariantVerdict, RunObservation } from '../history.js';
import { describeRecord, Evidence } from './evidence.js';

/** No balance is ever seen below zero: in any answer, snapshot, audit-log entry or the final state. */
export function checkNoNegativeBalance(observation: RunObservation): InvariantVerdict {
  const evidence = new Evidence();
  let observed = 0;
  for (const r of observation.records) {
    if (r.type !== 'ok') continue;
    for (const a of [...(r.accounts ?? []), ...(r.snapshot?.accounts ?? [])]) {
      observed++;
      if (a.balance < 0n) evidence.add(`${describeRecord(r)}: account ${a.accountId} balance ${a.balance}`);
    }
    for (const [i, b] of (r.logEntry?.balancesAfter ?? []).entries()) {
      observed++;
      if (b < 0n) evidence.add(`${describeRecord(r)}: log balances_after[${i}] = ${b}`);
    }
    if (r.snapshot !== undefined && r.snapshot.totalBalance < 0n) {
      evidence.add(`${describeRecord(r)}: snapshot total ${r.snapshot.totalBalance}`);
    }
  }
  for (const entry of observation.logEntries.values()) {
    if (entry === 'not-found') continue;
    for (const [i, b] of entry.balancesAfter.entries()) {
      observed++;
      if (b < 0n) {
        evidence.add(`log entry ${entry.position} (tx ${entry.transactionId}): balances_after[${i}] = ${b}`);
      }
    }
  }
  for (const a of observation.finalSnapshot?.accounts ?? []) {
    observed++;
    if (a.balance < 0n) evidence.add(`final snapshot: account ${a.accountId} balance ${a.balance}`);
  }
  return {
    name: 'no-negative-balance',
    passed: evidence.empty,
    summary: `${observed} observed balances, none negative expected`,
    evidence: evidence.toArray(),
  };
}
