import { type CallSource, mixSource, scriptedSource } from './call-source.js';
import { isWriteOp } from './op-kinds.js';
import type { RunContext } from './run-context.js';
import { callerSlots } from './run-group.js';
import type { PhaseGroup } from './run-phase.js';
import { RunSetupError } from './run-setup-error.js';
import type { PhaseSpec } from './scenario-schema.js';
import type { SeededRandom } from './seeded-random.js';

export interface PlannedPhase {
  phase: PhaseSpec;
  groups: PhaseGroup[];
}

export interface LoadPlan {
  phases: PlannedPhase[];
  /** Caller ids used by the groups: ids from here on are free (the fault injector's retries). */
  callerIdsUsed: number;
}

/** Each group's call source, caller id range and random stream, fixed before any call is sent. */
export function planLoad(ctx: RunContext, pool: readonly string[], random: SeededRandom): LoadPlan {
  let callerBase = 0;
  const phases = ctx.scenario.phases.map((phase) => ({
    phase,
    groups: phase.groups.map((spec): PhaseGroup => {
      const acknowledged: string[] = [];
      const groupPool = spec.pool?.map((id) => ctx.ids.account(id)) ?? pool;
      const source: CallSource =
        spec.script !== undefined
          ? scriptedSource(spec.name, spec.script, ctx.ids)
          : mixSource(spec, checkPool(spec.name, spec.mix ?? {}, groupPool), ctx.ids, acknowledged);
      const group = { spec, accounts: groupPool, source, callerBase, acknowledged, random: random.fork() };
      callerBase += callerSlots(spec);
      return group;
    }),
  }));
  return { phases, callerIdsUsed: callerBase };
}

function checkPool(
  group: string,
  mix: Partial<Record<string, number>>,
  pool: readonly string[],
): readonly string[] {
  if (pool.length === 0)
    throw new RunSetupError(`group ${group}: no accounts to pick from (set "accounts" or "pool")`);
  if ((mix.transfer ?? 0) > 0 && pool.length < 2) {
    throw new RunSetupError(`group ${group}: transfers need at least 2 accounts in the pool`);
  }
  return pool;
}

/** A phase whose every group can only move money (or read): the total must be constant in its snapshots. */
export function isTransferOnly(phase: PhaseSpec): boolean {
  // Reads, and transfers (which move money without changing the total).
  const moving = (op: string) => op === 'transfer' || !isWriteOp(op);
  return phase.groups.every((g) =>
    g.script !== undefined
      ? moving(g.script.op)
      : Object.entries(g.mix ?? {}).every(([op, w]) => (w ?? 0) === 0 || moving(op)),
  );
}
