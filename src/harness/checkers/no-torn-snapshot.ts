import type { InvariantVerdict, OpRecord, RunObservation, SnapshotView } from '../history.js';
import { describeRecord, Evidence } from './evidence.js';
import { knownAccountIds, type LogicalWrite, logicalWrites, totalEffect } from './logical-writes.js';
import { describeExpected, reachable, reachableSums } from './reachable-sums.js';

/** Internal consistency of one snapshot: its total is the sum of its accounts, its count their number. */
export function snapshotTears(snapshot: SnapshotView, includeAccounts: boolean): string[] {
  const problems: string[] = [];
  if (!includeAccounts && snapshot.accounts.length === 0) return problems;
  let sum = 0n;
  for (const a of snapshot.accounts) sum += a.balance;
  if (sum !== snapshot.totalBalance) {
    problems.push(
      `total_balance=${snapshot.totalBalance} but its ${snapshot.accounts.length} accounts sum to ${sum}`,
    );
  }
  if (snapshot.accountCount !== BigInt(snapshot.accounts.length)) {
    problems.push(
      `account_count=${snapshot.accountCount} but it carries ${snapshot.accounts.length} accounts`,
    );
  }
  return problems;
}

/** Earliest time a write can have taken effect, and the time by which an applied one certainly had. */
function window(w: LogicalWrite): { startNs: bigint; certainNs: bigint | undefined } {
  let startNs = w.records[0]!.invokeNs;
  let certainNs: bigint | undefined;
  for (const r of w.records) {
    if (r.invokeNs < startNs) startNs = r.invokeNs;
    if (r.type === 'ok' && (certainNs === undefined || r.completeNs < certainNs)) certainNs = r.completeNs;
  }
  return { startNs, certainNs };
}

/**
 * Snapshots are atomic: each one's total equals the sum of its accounts and its count their
 * number. In a transfer-only phase the total must also equal the money that existed then: the
 * initial total plus creates/updates certainly applied before the snapshot was asked for, plus
 * any subset of those that may have applied while it ran (none, in a truly transfer-only
 * phase), plus the money of accounts outside the history (final total minus the run's
 * accounts, assumed constant: no other client writes during the run).
 */
export function checkNoTornSnapshot(
  observation: RunObservation,
  transferOnlyPhases: string[],
): InvariantVerdict {
  const evidence = new Evidence();
  const transferOnly = new Set(transferOnlyPhases);
  const writes = logicalWrites(observation.records).filter(
    (w) => w.fate !== 'not-applied' && w.candidates.some((p) => p.op !== 'transfer'),
  );
  const windows = writes.map((w) => ({ w, ...window(w) }));
  let foreignTotal = 0n;
  const final = observation.finalSnapshot;
  if (final !== undefined) {
    const known = knownAccountIds(observation.initialBalances, logicalWrites(observation.records));
    for (const a of final.accounts) if (!known.has(a.accountId)) foreignTotal += a.balance;
  }
  let initialTotal = foreignTotal;
  for (const b of observation.initialBalances.values()) initialTotal += b;

  let snapshots = 0;
  let pinned = 0;
  const check = (r: OpRecord, snapshot: SnapshotView) => {
    snapshots++;
    for (const p of snapshotTears(snapshot, r.args.includeAccounts === true))
      evidence.add(`${describeRecord(r)}: ${p}`);
    if (!transferOnly.has(r.phase)) return;
    pinned++;
    let base = initialTotal;
    const choices: bigint[][] = [];
    for (const { w, startNs, certainNs } of windows) {
      if (startNs > r.completeNs) continue;
      if (w.fate === 'applied' && certainNs !== undefined && certainNs < r.invokeNs) {
        base += totalEffect(w.candidates[0]!);
      } else {
        choices.push([0n, ...w.candidates.map(totalEffect)]);
      }
    }
    const sums = reachableSums(base, choices);
    if (!reachable(sums, snapshot.totalBalance)) {
      evidence.add(
        `${describeRecord(r)}: transfer-only phase '${r.phase}' total ${snapshot.totalBalance}, expected ${describeExpected(sums)}`,
      );
    }
  };
  for (const r of observation.records) if (r.type === 'ok' && r.snapshot !== undefined) check(r, r.snapshot);
  if (final !== undefined) {
    snapshots++;
    for (const p of snapshotTears(final, true)) evidence.add(`final snapshot: ${p}`);
  }
  return {
    name: 'no-torn-snapshot',
    passed: evidence.empty,
    summary: `${snapshots} snapshots consistent (total == sum of accounts, count == accounts); ${pinned} in transfer-only phases pinned to the expected total`,
    evidence: evidence.toArray(),
  };
}
