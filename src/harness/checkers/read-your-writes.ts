import type { InvariantVerdict, RunObservation } from '../history.js';
import { isWriteOp } from '../op-kinds.js';
import { recordsByCaller } from './callers.js';
import { describeRecord, Evidence } from './evidence.js';

/**
 * Per caller, a read of an account after the caller's own acknowledged write to it sees that
 * write: version >= the version the write returned, the account present in snapshots that
 * carry accounts, and no NOT_FOUND from GetBalance. Replayed write answers count as writes
 * (the original certainly happened before), never as reads.
 */
export function checkReadYourWrites(observation: RunObservation): InvariantVerdict {
  const evidence = new Evidence();
  let reads = 0;
  for (const [caller, records] of recordsByCaller(observation.records)) {
    const own = new Map<string, { version: bigint; index: number }>();
    const violation = (r: (typeof records)[number], id: string, seen: string) => {
      const write = own.get(id)!;
      evidence.add(
        `caller ${caller}, account ${id}: own write #${write.index} returned version ${write.version}, later ${describeRecord(r)} saw ${seen}`,
      );
    };
    for (const r of records) {
      if (r.op === 'get' && r.args.accountId !== undefined && own.has(r.args.accountId)) {
        reads++;
        const id = r.args.accountId;
        if (r.type === 'fail' && r.code === 'NOT_FOUND') violation(r, id, 'NOT_FOUND');
        const a = r.type === 'ok' ? r.accounts?.[0] : undefined;
        if (a !== undefined && a.version < own.get(id)!.version) violation(r, id, `version ${a.version}`);
      }
      if (
        r.op === 'snapshot' &&
        r.type === 'ok' &&
        r.snapshot !== undefined &&
        r.args.includeAccounts === true
      ) {
        const seen = new Map(r.snapshot.accounts.map((a) => [a.accountId, a.version]));
        for (const [id, write] of own) {
          reads++;
          const version = seen.get(id);
          if (version === undefined) violation(r, id, 'no such account');
          else if (version < write.version) violation(r, id, `version ${version}`);
        }
      }
      if (isWriteOp(r.op) && r.type === 'ok') {
        for (const a of r.accounts ?? []) {
          const before = own.get(a.accountId);
          if (before === undefined || a.version >= before.version) {
            own.set(a.accountId, { version: a.version, index: r.index });
          }
        }
      }
    }
  }
  return {
    name: 'read-your-writes',
    passed: evidence.empty,
    summary: `${reads} reads after the caller's own acknowledged writes, each seeing them`,
    evidence: evidence.toArray(),
  };
}
