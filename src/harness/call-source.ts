import { HARNESS_LIMITS } from './harness-limits.js';
import type { OpArgs, OpKind } from './history.js';
import { expandTemplate, type RunIds } from './run-ids.js';
import type {
  BatchItemOpName,
  BatchSpec,
  GroupSpec,
  MixOpName,
  OpKindName,
  ScriptSpec,
} from './scenario-schema.js';
import type { SeededRandom } from './seeded-random.js';

/** One write of a planned batch; `linked`: it succeeds or fails together with the next one. */
export interface PlannedBatchItem {
  op: BatchItemOpName;
  args: OpArgs;
  linked: boolean;
}

/** One call: a unary op, or `batch` (one ExecuteBatch; each item is recorded as the write it is). */
export type PlannedCall =
  | { op: OpKind; args: OpArgs; items?: undefined }
  | { op: 'batch'; args: OpArgs; items: PlannedBatchItem[] };

/** Produces the request of call number `index` (within its group) for a given caller. */
export type CallSource = (index: number, round: number, caller: number, random: SeededRandom) => PlannedCall;

const DEFAULT_AMOUNT = { min: 1n, max: 100n };

/** Scripted: the same operation every time; ids may be templated, e.g. `race-{round}`. */
export function scriptedSource(group: string, script: ScriptSpec, ids: RunIds): CallSource {
  const isWrite = script.op === 'update' || script.op === 'transfer';
  // Every write needs a transaction id; unique per call unless the scenario fixes one.
  const txidTemplate = script.txid ?? (isWrite ? '{group}-{i}' : undefined);
  return (index, round, caller) => {
    const values = { i: index, round, caller, group };
    const fill = (template: string | undefined) =>
      template === undefined ? undefined : expandTemplate(template, values);
    const accountId = fill(script.account);
    const fromId = fill(script.from);
    const toId = fill(script.to);
    const txid = fill(txidTemplate);
    const args: OpArgs = {};
    if (accountId !== undefined) args.accountId = ids.account(accountId);
    if (fromId !== undefined) args.fromId = ids.account(fromId);
    if (toId !== undefined) args.toId = ids.account(toId);
    if (script.amount !== undefined) args.amount = script.amount;
    if (txid !== undefined) args.transactionId = ids.txid(txid);
    if (script.op === 'snapshot') args.includeAccounts = script.include_accounts ?? true;
    return { op: script.op, args };
  };
}

/**
 * Random workload: op by weight, accounts uniform or skewed to the first `hot_accounts` of the
 * pool, amounts uniform in their range. Queries read back transaction ids this group saw
 * acknowledged; before there is one, a query is sent as a get instead.
 */
export function mixSource(
  spec: GroupSpec,
  pool: readonly string[],
  ids: RunIds,
  acknowledged: string[],
): CallSource {
  const mix = Object.entries(spec.mix ?? {}).filter(([, w]) => (w ?? 0) > 0) as [MixOpName, number][];
  const batch = spec.batch ?? DEFAULT_BATCH;
  const batchMix = Object.entries(batch.mix).filter(([, w]) => (w ?? 0) > 0) as [BatchItemOpName, number][];
  const amount = spec.amount ?? DEFAULT_AMOUNT;
  const delta = spec.delta ?? DEFAULT_AMOUNT;
  const pick = spec.pick ?? { dist: 'uniform' as const };
  const hotCount = pick.dist === 'hot' ? Math.min(pick.hot_accounts, pool.length) : 0;

  const chooseAccount = (random: SeededRandom): string => {
    if (pick.dist === 'hot' && (hotCount === pool.length || random.next() < pick.hot_share)) {
      return pool[random.below(hotCount)]!;
    }
    if (pick.dist === 'hot') return pool[hotCount + random.below(pool.length - hotCount)]!;
    return pool[random.below(pool.length)]!;
  };

  const single = (op: OpKindName, label: string, random: SeededRandom): PlannedCall => {
    const txid = ids.txid(`${spec.name}-${label}`);
    switch (op) {
      case 'get':
        return { op, args: { accountId: chooseAccount(random) } };
      case 'update':
        return {
          op,
          args: {
            accountId: chooseAccount(random),
            amount: random.bigintBetween(delta.min, delta.max),
            transactionId: txid,
          },
        };
      case 'transfer': {
        const fromId = chooseAccount(random);
        let toId = chooseAccount(random);
        // A bounded retry keeps hot-skewed picks from looping; the last resort is the next account.
        for (let tries = 0; toId === fromId && tries < 8; tries++) toId = chooseAccount(random);
        if (toId === fromId) toId = pool[(pool.indexOf(fromId) + 1) % pool.length]!;
        return {
          op,
          args: { fromId, toId, amount: random.bigintBetween(amount.min, amount.max), transactionId: txid },
        };
      }
      case 'snapshot':
        return { op, args: { includeAccounts: spec.snapshot_accounts ?? true } };
      case 'create':
        return {
          op,
          args: {
            accountId: ids.account(`${spec.name}-new-${label}`),
            amount: random.bigintBetween(amount.min, amount.max),
            transactionId: txid,
          },
        };
      case 'query': {
        if (acknowledged.length === 0) return { op: 'get', args: { accountId: chooseAccount(random) } };
        return { op, args: { transactionId: acknowledged[random.below(acknowledged.length)]! } };
      }
    }
  };

  return (index, _round, _caller, random) => {
    const op = chooseWeighted(mix, random);
    if (op !== 'batch') return single(op, String(index), random);
    // A linked operation is never the last: a chain left open would refuse the whole batch.
    const items = Array.from({ length: batch.size }, (_, k): PlannedBatchItem => {
      const item = single(chooseWeighted(batchMix, random), `${index}-${k}`, random);
      const linked = k < batch.size - 1 && batch.linked_share > 0 && random.next() < batch.linked_share;
      return { op: item.op as BatchItemOpName, args: item.args, linked };
    });
    return { op: 'batch', args: {}, items };
  };
}

const DEFAULT_BATCH: BatchSpec = { size: 100, linked_share: 0, mix: { transfer: 1 } };

function chooseWeighted<T>(weights: readonly [T, number][], random: SeededRandom): T {
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  let r = random.next() * total;
  for (const [value, weight] of weights) {
    r -= weight;
    if (r < 0) return value;
  }
  return weights[weights.length - 1]![0];
}

/** Remembers acknowledged write ids for queries, in a bounded ring. */
export function rememberAcknowledged(ring: string[], txid: string, counter: number): void {
  if (ring.length < HARNESS_LIMITS.queryTxidRing) ring.push(txid);
  else ring[counter % HARNESS_LIMITS.queryTxidRing] = txid;
}
