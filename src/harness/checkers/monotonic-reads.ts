import type { InvariantVerdict, RunObservation } from '../history.js';
import { observedAccounts, recordsByCaller } from './callers.js';
import { describeRecord, Evidence } from './evidence.js';

/**
 * Per caller, what it sees never goes back in time: an account's version never decreases from
 * one answer to the next, nor does the log position of its snapshots.
 */
export function checkMonotonicReads(observation: RunObservation): InvariantVerdict {
  const evidence = new Evidence();
  let observations = 0;
  for (const [caller, records] of recordsByCaller(observation.records)) {
    const latest = new Map<string, { version: bigint; index: number }>();
    let logPosition: { position: bigint; index: number } | undefined;
    for (const r of records) {
      for (const a of observedAccounts(r)) {
        observations++;
        const before = latest.get(a.accountId);
        if (before !== undefined && a.version < before.version) {
          evidence.add(
            `caller ${caller}, account ${a.accountId}: version ${a.version} seen after version ${before.version} (#${before.index}) in ${describeRecord(r)}`,
          );
        }
        if (before === undefined || a.version > before.version) {
          latest.set(a.accountId, { version: a.version, index: r.index });
        }
      }
      if (r.type === 'ok' && r.snapshot !== undefined) {
        observations++;
        const position = r.snapshot.logPosition;
        if (logPosition !== undefined && position < logPosition.position) {
          evidence.add(
            `caller ${caller}: snapshot log_position ${position} after ${logPosition.position} (#${logPosition.index}) in ${describeRecord(r)}`,
          );
        }
        if (logPosition === undefined || position > logPosition.position)
          logPosition = { position, index: r.index };
      }
    }
  }
  return {
    name: 'monotonic-reads',
    passed: evidence.empty,
    summary: `${observations} per-caller observations of versions and log positions, none going backwards`,
    evidence: evidence.toArray(),
  };
}
