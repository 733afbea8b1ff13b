import type { AccountView, InvariantVerdict, RunObservation } from '../history.js';
import { describeRecord, Evidence, missingFinalSnapshot } from './evidence.js';
import {
  accountEffect,
  knownAccountIds,
  type LogicalWrite,
  logicalWrites,
  versionEffect,
} from './logical-writes.js';
import { pushTo } from './multimap.js';
import { describeExpected, reachable, reachableSums } from './reachable-sums.js';

/**
 * No lost update, per account: final balance == initial + the acknowledged deltas and transfers
 * in and out (indeterminate writes may each count or not), and == the scenario's exact final
 * balance when it gives one. The final version must equal the initial version plus the number
 * of applied writes touching the account: a write applied twice, even one that moves nothing,
 * shows up there.
 */
export function checkExactBalances(
  observation: RunObservation,
  finalBalances?: Record<string, bigint>,
): InvariantVerdict {
  const name = 'exact-balances';
  const final = observation.finalSnapshot;
  if (final === undefined) return missingFinalSnapshot(name);
  const finalById = new Map<string, AccountView>(final.accounts.map((a) => [a.accountId, a]));
  const writes = logicalWrites(observation.records);
  const touching = new Map<string, LogicalWrite[]>();
  for (const w of writes) {
    const ids = new Set(w.candidates.flatMap((p) => p.accountIds));
    for (const id of ids) pushTo(touching, id, w);
  }
  const evidence = new Evidence();
  let checked = 0;
  let uncertainAccounts = 0;
  for (const id of [...knownAccountIds(observation.initialBalances, writes)].sort()) {
    checked++;
    const initial = observation.initialBalances.get(id);
    const startVersion = initial === undefined ? 0n : (observation.initialVersions?.get(id) ?? 0n);
    let balance = initial ?? 0n;
    let version = startVersion;
    let applied = 0;
    let definitelyExists = initial !== undefined;
    const choices: bigint[][] = [];
    const versionChoices: bigint[][] = [];
    for (const w of touching.get(id) ?? []) {
      if (w.fate === 'applied') {
        const p = w.candidates[0]!;
        balance += accountEffect(p, id);
        version += versionEffect(p, id);
        applied++;
        definitelyExists = true;
      } else if (w.fate === 'indeterminate') {
        choices.push([0n, ...w.candidates.map((p) => accountEffect(p, id))]);
        versionChoices.push([0n, ...w.candidates.map((p) => versionEffect(p, id))]);
      }
    }
    if (choices.length > 0) uncertainAccounts++;
    const seen = finalById.get(id);
    if (seen === undefined) {
      if (definitelyExists)
        evidence.add(`account ${id}: missing from the final snapshot after ${applied} applied writes`);
      continue;
    }
    const balances = reachableSums(balance, choices);
    const versions = reachableSums(version, versionChoices);
    if (!reachable(balances, seen.balance) || !reachable(versions, seen.version)) {
      evidence.add(
        `account ${id}: final balance ${seen.balance} version ${seen.version}; expected balance ${describeExpected(balances)} version ${describeExpected(versions)} (initial ${initial ?? 'none'}, ${applied} applied writes, ${choices.length} indeterminate)`,
      );
      for (const w of touching.get(id) ?? []) {
        if (w.fate === 'indeterminate') evidence.add(`  indeterminate: ${describeRecord(w.records[0]!)}`);
      }
    }
  }
  let expectedCount = 0;
  for (const [id, expected] of Object.entries(finalBalances ?? {})) {
    expectedCount++;
    const seen = finalById.get(id);
    if (seen === undefined)
      evidence.add(`account ${id}: scenario expects final balance ${expected}, account missing`);
    else if (seen.balance !== expected) {
      evidence.add(`account ${id}: scenario expects final balance ${expected}, saw ${seen.balance}`);
    }
  }
  const scenario = expectedCount > 0 ? `; ${expectedCount} exact balances from the scenario` : '';
  return {
    name,
    passed: evidence.empty,
    summary: `${checked} accounts: final balance and version == initial + applied writes (${uncertainAccounts} with indeterminate writes)${scenario}`,
    evidence: evidence.toArray(),
  };
}
