import type { InvariantVerdict, LogEntryView, RunObservation } from '../history.js';
import { describeRecord, Evidence } from './evidence.js';
import { type LogicalWrite, logicalWrites, type WriteParams } from './logical-writes.js';

const sameList = <T>(a: readonly T[], b: readonly T[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Field mismatches between a log entry and the write it should record. */
function fieldProblems(
  entry: LogEntryView,
  txid: string,
  p: WriteParams,
  balancesAfter?: bigint[],
): string[] {
  const problems: string[] = [];
  if (entry.transactionId !== txid) problems.push(`transaction_id ${entry.transactionId}`);
  if (entry.operation !== p.op) problems.push(`operation '${entry.operation}' (expected '${p.op}')`);
  if (!sameList(entry.accountIds, p.accountIds)) {
    problems.push(`account_ids [${entry.accountIds}] (expected [${p.accountIds}])`);
  }
  if (entry.amount !== p.amount) problems.push(`amount ${entry.amount} (expected ${p.amount})`);
  if (balancesAfter !== undefined && !sameList(entry.balancesAfter, balancesAfter)) {
    problems.push(`balances_after [${entry.balancesAfter}] (expected [${balancesAfter}] as returned)`);
  }
  if (entry.status !== 'OK') problems.push(`status '${entry.status}'`);
  return problems;
}

/**
 * The audit log records exactly the committed writes:
 * - every applied write's id has an entry whose fields match the request and whose
 *   balances_after equal the balances the server returned;
 * - a write whose outcome was a failure has none (GetTransaction: NOT_FOUND);
 * - an indeterminate write may have one or not; if it has, it matches one of its requests;
 * - positions of the fetched entries are unique and dense between the lowest and the highest.
 *   Writes outside the history (set-up creates) commit before the run, below the lowest
 *   position, so they leave no gap; the only gaps allowed are for creates sent without a
 *   transaction id (applied or indeterminate): the generated id is not in CreateAccount's
 *   answer, so their entries cannot be fetched; likewise for a lookup that itself failed
 *   (left out of `logEntries`), which is counted in the summary instead.
 *   Another client writing during the run would also leave gaps: the rule assumes it does not.
 */
export function checkAuditLog(observation: RunObservation): InvariantVerdict {
  const evidence = new Evidence();
  const log = observation.logEntries;
  let applied = 0;
  let failed = 0;
  // Writes whose entry was not fetched: the id is unknown (create without one) or the lookup
  // itself failed. They cannot be checked, and each may hold one position.
  let unknownIds = 0;
  let unfetched = 0;
  const expectEntry = (w: LogicalWrite, txid: string) => {
    const entry = log.get(txid);
    const ack = w.ack!;
    if (entry === undefined) unfetched++;
    else if (entry === 'not-found')
      evidence.add(`tx ${txid}: acknowledged but no log entry (NOT_FOUND): ${describeRecord(ack)}`);
    else {
      const problems = fieldProblems(
        entry,
        txid,
        w.candidates[0]!,
        ack.accounts?.map((a) => a.balance),
      );
      if (problems.length > 0)
        evidence.add(
          `tx ${txid}: log entry ${entry.position} has ${problems.join(', ')}: ${describeRecord(ack)}`,
        );
    }
  };
  for (const w of logicalWrites(observation.records)) {
    const txid = w.transactionId;
    if (w.fate === 'applied') {
      applied++;
      // CreateAccount answers an Account: the id generated for a create sent without one is not
      // on the wire, so that entry cannot be fetched; it may fill one position.
      if (txid === undefined) unknownIds++;
      else expectEntry(w, txid);
    } else if (txid === undefined) {
      if (w.fate === 'indeterminate') unknownIds++;
    } else if (w.fate === 'not-applied') {
      failed++;
      const entry = log.get(txid);
      if (entry === undefined) unfetched++;
      else if (entry !== 'not-found') {
        evidence.add(
          `tx ${txid}: failed write has log entry ${entry.position} (${entry.operation} [${entry.accountIds}]): ${describeRecord(w.records[0]!)}`,
        );
      }
    } else {
      const entry = log.get(txid);
      if (entry === undefined) unfetched++;
      if (entry !== undefined && entry !== 'not-found') {
        const matches = w.candidates.some((p) => fieldProblems(entry, txid, p).length === 0);
        if (!matches)
          evidence.add(
            `tx ${txid}: log entry ${entry.position} matches none of its requests: ${describeRecord(w.records[0]!)}`,
          );
      }
    }
  }
  const positions: bigint[] = [];
  const owner = new Map<bigint, string>();
  for (const [txid, entry] of log) {
    if (entry === 'not-found') continue;
    const other = owner.get(entry.position);
    if (other !== undefined)
      evidence.add(`log position ${entry.position} held by both tx ${other} and tx ${txid}`);
    else positions.push(entry.position);
    owner.set(entry.position, txid);
  }
  const unfetchable = unknownIds + unfetched;
  positions.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let gaps = 0n;
  for (let i = 1; i < positions.length; i++) gaps += positions[i]! - positions[i - 1]! - 1n;
  if (gaps > BigInt(unfetchable)) {
    const missing: string[] = [];
    for (let i = 1; i < positions.length && missing.length < 10; i++) {
      for (let p = positions[i - 1]! + 1n; p < positions[i]! && missing.length < 10; p++)
        missing.push(`${p}`);
    }
    evidence.add(
      `log positions not dense: ${gaps} missing between ${positions[0]} and ${positions.at(-1)} (e.g. ${missing.join(', ')}); at most ${unfetchable} explained by writes whose entry was not fetched`,
    );
  }
  // Entries committed after the history's last one are unexplained too (e.g. a duplicate executed again).
  const final = observation.finalSnapshot;
  const last = positions.at(-1);
  if (final !== undefined && last !== undefined) {
    if (last > final.logPosition) {
      evidence.add(
        `log entry at position ${last} beyond the final snapshot's log_position ${final.logPosition}`,
      );
    } else if (gaps + final.logPosition - last > BigInt(unfetchable)) {
      evidence.add(
        `final log_position ${final.logPosition} but the history's last entry is at ${last}: ${final.logPosition - last} entries after it belong to no write in the history`,
      );
    }
  }
  return {
    name: 'audit-log',
    passed: evidence.empty,
    summary: `${applied} applied writes logged once with matching fields, ${failed} failed ones absent, ${positions.length} fetched positions dense (${unknownIds} creates without an id and ${unfetched} lookups that failed left unchecked)`,
    evidence: evidence.toArray(),
  };
}
