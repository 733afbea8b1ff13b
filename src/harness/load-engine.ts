import type { FaultInjector } from './fault-injector.js';
import type { RunObservation } from './history.js';
import type { LoadPlan } from './load-plan.js';
import type { RunContext } from './run-context.js';
import type { GroupResult } from './run-group.js';
import { runPhase } from './run-phase.js';
import type { RunRecorder } from './run-recorder.js';
import type { StatusLine } from './status-line.js';

export interface LoadOutcome {
  groups: GroupResult[];
  stuckPhases: RunObservation['stuckPhases'];
}

export interface LoadHooks {
  recorder: RunRecorder;
  status: StatusLine;
  /** Fault injection: resolves when the server is back up (undefined: send now). */
  gate?: () => Promise<void> | undefined;
  /** Generator threads (more than 1: groups run on worker threads). */
  threads: number;
  injector?: FaultInjector;
  /** After the first of several phases (a warm-up): the baseline for growth thresholds. */
  afterFirstPhase?: () => Promise<void>;
}

/** Runs the planned phases in order; a stuck phase stops the run (the rest is noted as not run). */
export async function runLoad(ctx: RunContext, plan: LoadPlan, hooks: LoadHooks): Promise<LoadOutcome> {
  const groups: GroupResult[] = [];
  const stuckPhases: LoadOutcome['stuckPhases'] = [];
  for (const [i, { phase, groups: phaseGroups }] of plan.phases.entries()) {
    hooks.status.phase = phase.name;
    const outcome = await runPhase(
      phase,
      phaseGroups,
      hooks.recorder,
      ctx.pool.callers,
      ctx.pool.batchCallers,
      ctx.deadlineMs,
      hooks.gate,
      {
        threads: hooks.threads,
        pool: ctx.pool,
        recorder: hooks.recorder,
        idsPrefix: ctx.ids.prefix,
        injector: hooks.injector,
      },
    );
    groups.push(...outcome.groups);
    if (i === 0 && plan.phases.length > 1) await hooks.afterFirstPhase?.();
    if (outcome.stuck !== undefined) {
      stuckPhases.push(outcome.stuck);
      const skipped = plan.phases.slice(i + 1).map((p) => p.phase.name);
      if (skipped.length > 0) ctx.notes.push(`phases not run after the stuck phase: ${skipped.join(', ')}`);
      break;
    }
  }
  return { groups, stuckPhases };
}
