import type { InvariantVerdict, OpRecord, RunObservation } from '../history.js';
import { describeAccount, describeRecord, Evidence } from './evidence.js';
import {
  CONFLICT_MESSAGE,
  isConflict,
  isDecidedFailure,
  logicalWrites,
  paramsKey,
  paramsOf,
} from './logical-writes.js';

const bodyOf = (r: OpRecord): string =>
  `${r.resultTransactionId ?? ''} ${(r.accounts ?? []).map(describeAccount).join(', ')}`;
const errorOf = (r: OpRecord): string => `${r.code} '${r.message}'`;

/** Failures that never decide a transaction id's outcome, so they say nothing about it. */
const isUnrecorded = (r: OpRecord): boolean => r.type === 'fail' && !isDecidedFailure(r) && !isConflict(r);

/**
 * Each transaction id decides one outcome, once:
 * - at most one request per id executes (a non-replayed ok or decided failure); when no
 *   request of it is indeterminate, exactly one does and every other one is a replay;
 * - every answer with the deciding parameters equals the original outcome (same body, or the
 *   same code and message), and an id never ends up both applied and failed;
 * - a request with other parameters (or another method) gets ALREADY_EXISTS
 *   `Transaction X already exists with different parameters` (or is refused by validation);
 * - the audit log holds the id's entry only when it applied, and that entry's position is
 *   unique (the audit-log checker looks at the fields).
 */
export function checkIdempotency(observation: RunObservation): InvariantVerdict {
  const evidence = new Evidence();
  let ids = 0;
  let replays = 0;
  const byPosition = new Map<bigint, string>();
  for (const w of logicalWrites(observation.records)) {
    const txid = w.records[0]?.args.transactionId;
    if (!txid) continue;
    ids++;
    const deciding = w.records.filter((r) => r.type === 'ok' || isDecidedFailure(r));
    const paramSets = new Set(deciding.map((r) => paramsKey(paramsOf(r))));
    if (paramSets.size > 1) {
      evidence.add(`tx ${txid}: outcomes decided for ${paramSets.size} different parameter sets`);
      for (const r of deciding) evidence.add(`  ${describeRecord(r)}`);
      continue;
    }
    const decidedKey = [...paramSets][0];
    const same = w.records.filter((r) => decidedKey === undefined || paramsKey(paramsOf(r)) === decidedKey);
    const executed = same.filter((r) => (r.type === 'ok' || isDecidedFailure(r)) && r.replayed !== true);
    const indeterminate = same.some((r) => r.type === 'info');
    replays += same.filter((r) => r.replayed === true).length;
    if (executed.length > 1) {
      evidence.add(`tx ${txid}: executed ${executed.length} times (expected once, the rest replayed)`);
      for (const r of executed) evidence.add(`  ${describeRecord(r)}`);
    } else if (executed.length === 0 && deciding.length > 0 && !indeterminate) {
      evidence.add(`tx ${txid}: only replays, no request executed it: ${describeRecord(deciding[0]!)}`);
    }
    const oks = same.filter((r) => r.type === 'ok');
    const fails = same.filter(isDecidedFailure);
    if (oks.length > 0 && fails.length > 0) {
      evidence.add(
        `tx ${txid}: both applied and failed: ${describeRecord(oks[0]!)} vs ${describeRecord(fails[0]!)}`,
      );
    }
    const original = executed[0] ?? deciding[0];
    for (const r of same) {
      if (original === undefined || r === original || r.type === 'info' || isUnrecorded(r)) continue;
      if (r.type === 'ok' && original.type === 'ok' && bodyOf(r) !== bodyOf(original)) {
        evidence.add(
          `tx ${txid}: ${describeRecord(r)} differs from the original ${describeRecord(original)}`,
        );
      }
      if (r.type === 'fail' && original.type === 'fail' && errorOf(r) !== errorOf(original)) {
        evidence.add(
          `tx ${txid}: ${describeRecord(r)} differs from the original ${describeRecord(original)}`,
        );
      }
    }
    if (decidedKey !== undefined) {
      for (const r of w.records) {
        if (paramsKey(paramsOf(r)) === decidedKey || r.type === 'info') continue;
        if (isConflict(r) || (r.type === 'fail' && !isDecidedFailure(r))) continue;
        evidence.add(
          `tx ${txid}: reused with other parameters, expected ALREADY_EXISTS '${CONFLICT_MESSAGE(txid)}', got ${describeRecord(r)}`,
        );
      }
    }
    const entry = observation.logEntries.get(txid);
    if (entry !== undefined && entry !== 'not-found') {
      const other = byPosition.get(entry.position);
      if (other !== undefined)
        evidence.add(`tx ${txid} and tx ${other} share log position ${entry.position}`);
      byPosition.set(entry.position, txid);
    }
  }
  return {
    name: 'idempotency',
    passed: evidence.empty,
    summary: `${ids} transaction ids each decided once; ${replays} replays matched their original`,
    evidence: evidence.toArray(),
  };
}
