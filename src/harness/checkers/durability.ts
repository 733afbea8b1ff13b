import type { InvariantVerdict, LogEntryView, OpRecord, RunObservation } from '../history.js';
import { describeRecord, Evidence } from './evidence.js';
import { logicalWrites } from './logical-writes.js';

const seconds = (ns: bigint): string => `${(Number(ns) / 1e9).toFixed(3)}s`;

/** "acknowledged at 1.204s, before kill #3 at 1.530s": which crash a lost write should have survived. */
function whenAcknowledged(record: OpRecord, kills: readonly { atNs: bigint }[]): string {
  const next = kills.findIndex((k) => k.atNs > record.completeNs);
  const before =
    next < 0 ? 'after the last kill' : `before kill #${next + 1} at ${seconds(kills[next]!.atNs)}`;
  return `acknowledged at ${seconds(record.completeNs)}, ${before}`;
}

const sameList = (a: readonly bigint[], b: readonly bigint[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

interface Replayed {
  balance: bigint;
  version: bigint;
}

/**
 * Replays the fetched log entries in position order from the initial balances; every entry's
 * balances_after must be what the replay gives, and the final snapshot must equal the replay's end.
 * Accounts the replay cannot follow (first seen in an entry that is not their creation) are skipped.
 */
function replayLog(
  observation: RunObservation,
  entries: readonly LogEntryView[],
  evidence: Evidence,
): number {
  const state = new Map<string, Replayed>();
  for (const [id, balance] of observation.initialBalances) {
    state.set(id, { balance, version: observation.initialVersions?.get(id) ?? 0n });
  }
  const lost = new Set<string>();
  for (const e of entries) {
    const effects: [string, bigint][] =
      e.operation === 'transfer'
        ? [
            [e.accountIds[0] ?? '', -e.amount],
            [e.accountIds[1] ?? '', e.amount],
          ]
        : [[e.accountIds[0] ?? '', e.amount]];
    const expected: bigint[] = [];
    for (const [id, change] of effects) {
      if (e.operation === 'create') {
        if (state.has(id))
          evidence.add(`log entry ${e.position} (tx ${e.transactionId}) creates ${id}, which already exists`);
        state.set(id, { balance: change, version: 0n });
        lost.delete(id);
      } else {
        const account = state.get(id);
        if (account === undefined) {
          lost.add(id);
          continue;
        }
        account.balance += change;
        account.version += 1n;
      }
      expected.push(state.get(id)!.balance);
    }
    if (expected.length === effects.length && !sameList(expected, e.balancesAfter)) {
      evidence.add(
        `log entry ${e.position} (${e.operation} tx ${e.transactionId}) has balances_after [${e.balancesAfter}], replaying the log gives [${expected}]: an earlier write is missing, half-applied or applied twice`,
      );
    }
  }
  const final = observation.finalSnapshot!;
  let compared = 0;
  for (const a of final.accounts) {
    const replayed = state.get(a.accountId);
    if (replayed === undefined || lost.has(a.accountId)) continue;
    compared++;
    if (replayed.balance !== a.balance || replayed.version !== a.version) {
      evidence.add(
        `account ${a.accountId}: final balance ${a.balance} version ${a.version}, the log replays to balance ${replayed.balance} version ${replayed.version}`,
      );
    }
  }
  return compared;
}

/**
 * Nothing acknowledged is lost by a crash, nothing is applied twice, and the durable log explains
 * the final state, as seen after the last restart:
 * - the server came back after every kill and never died on its own;
 * - every acknowledged write's id has its log entry, with the balances the server acknowledged;
 * - no transaction id executed twice (a write retried after a restart must replay);
 * - log positions from the run's first to the final snapshot's log_position are unique and dense
 *   (a position no write of the history explains is a write applied twice, or a phantom); the only
 *   positions allowed to stay unfetched are those of creates sent without an id and of lookups
 *   that failed;
 * - when every position was fetched: replaying the entries in order from the initial balances
 *   reproduces each entry's balances_after and the final snapshot (balance and version), so no
 *   write was half-applied.
 */
export function checkDurability(observation: RunObservation): InvariantVerdict {
  const name = 'durability';
  const final = observation.finalSnapshot;
  if (final === undefined || observation.initialLogPosition === undefined) {
    return {
      name,
      passed: false,
      summary: 'needs the initial log position and a final snapshot, and the run recorded none',
      evidence: [final === undefined ? 'finalSnapshot missing' : 'initialLogPosition missing'],
    };
  }
  const kills = observation.kills ?? [];
  const evidence = new Evidence();
  for (const failure of observation.serverFailures ?? []) evidence.add(failure);
  let acknowledged = 0;
  let unexplained = 0;
  for (const w of logicalWrites(observation.records)) {
    const txid = w.transactionId;
    if (txid === undefined || w.records[0]?.args.transactionId === undefined) {
      // A create sent without an id: its generated id is not on the wire, its entry unreachable.
      if (w.fate !== 'not-applied') unexplained++;
      continue;
    }
    const entry = observation.logEntries.get(txid);
    if (entry === undefined && w.fate !== 'not-applied') unexplained++;
    const executed = w.records.filter((r) => r.type === 'ok' && r.replayed !== true);
    if (executed.length > 1) {
      evidence.add(`tx ${txid}: applied ${executed.length} times (a retried id must replay):`);
      for (const r of executed) evidence.add(`  ${describeRecord(r)} (${whenAcknowledged(r, kills)})`);
    }
    if (w.fate !== 'applied') continue;
    acknowledged++;
    const ack = w.ack!;
    if (entry === 'not-found') {
      evidence.add(
        `tx ${txid}: ${whenAcknowledged(ack, kills)}, missing after the last restart: ${describeRecord(ack)}`,
      );
    } else if (entry !== undefined) {
      const balances = ack.accounts?.map((a) => a.balance) ?? [];
      if (!sameList(entry.balancesAfter, balances)) {
        evidence.add(
          `tx ${txid}: log entry ${entry.position} has balances_after [${entry.balancesAfter}], acknowledged [${balances}] (${whenAcknowledged(ack, kills)})`,
        );
      }
    }
  }

  const entries = [...observation.logEntries.values()].filter((e): e is LogEntryView => e !== 'not-found');
  entries.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  const first = observation.initialLogPosition + 1n;
  const span = final.logPosition - observation.initialLogPosition;
  let inSpan = 0n;
  for (const [i, e] of entries.entries()) {
    if (i > 0 && entries[i - 1]!.position === e.position)
      evidence.add(
        `log position ${e.position} held by tx ${entries[i - 1]!.transactionId} and tx ${e.transactionId}`,
      );
    if (e.position < first || e.position > final.logPosition) {
      evidence.add(
        `tx ${e.transactionId} at log position ${e.position}, outside the run's ${first}..${final.logPosition}`,
      );
    } else inSpan++;
  }
  if (span < 0n) {
    evidence.add(
      `the log shrank: final log_position ${final.logPosition} is below ${observation.initialLogPosition}, where the run started`,
    );
  }
  const missing = span - inSpan;
  if (missing > BigInt(unexplained)) {
    evidence.add(
      `the log grew by ${span} positions during the run but only ${inSpan} hold writes of the history (${unexplained} more may be unfetchable): ${missing - BigInt(unexplained)} entries belong to no write, e.g. one applied twice`,
    );
  }
  let replay =
    missing > 0n
      ? `replay skipped (${missing} positions not fetched)`
      : 'replay skipped (entries outside the run)';
  if (missing === 0n && entries.length === Number(inSpan)) {
    const compared = replayLog(observation, entries, evidence);
    replay = `log replay reproduces all ${entries.length} entries and ${compared} final balances`;
  }
  return {
    name,
    passed: evidence.empty,
    summary: `${acknowledged} acknowledged writes each present once after ${kills.length} kills; log positions ${first}..${final.logPosition} dense; ${replay}`,
    evidence: evidence.toArray(),
  };
}
