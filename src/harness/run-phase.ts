import type { BatchCaller, Caller } from './call-op.js';
import type { CallSource } from './call-source.js';
import { runGroupInThreads, type ThreadEnv } from './generator-threads.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { OpRecord } from './history.js';
import { type GroupContext, type GroupResult, runGroup } from './run-group.js';
import type { RunRecorder } from './run-recorder.js';
import type { GroupSpec, PhaseSpec } from './scenario-schema.js';
import type { SeededRandom } from './seeded-random.js';

export interface PhaseGroup {
  spec: GroupSpec;
  /** The group's account pool (physical ids); generator threads build their own source from it. */
  accounts: readonly string[];
  source: CallSource;
  callerBase: number;
  acknowledged: string[];
  random: SeededRandom;
}

export interface PhaseOutcome {
  groups: GroupResult[];
  /** Set when the phase hit its timeout: the calls still pending then. */
  stuck?: { phase: string; timeoutMs: number; pending: OpRecord[] };
}

/** A phase's timeout: as written, else the default plus its longest group duration. */
export function phaseTimeoutMs(phase: PhaseSpec): number {
  if (phase.timeout !== undefined) return phase.timeout;
  const longestMs = Math.max(0, ...phase.groups.map((g) => g.duration ?? 0));
  return HARNESS_LIMITS.defaultPhaseTimeoutMs + longestMs;
}

/**
 * Runs a phase's groups in parallel. If they are not all done by the phase timeout, the calls
 * still pending are a suspected deadlock: they are captured as evidence, no further calls start,
 * and the phase fails.
 */
export async function runPhase(
  phase: PhaseSpec,
  groups: PhaseGroup[],
  recorder: RunRecorder,
  callers: readonly Caller[],
  batchCallers: readonly BatchCaller[],
  deadlineMs: number,
  gate?: () => Promise<void> | undefined,
  threads?: Omit<ThreadEnv, 'accounts'>,
): Promise<PhaseOutcome> {
  const stop = { stopped: false };
  const timeoutMs = phaseTimeoutMs(phase);
  const results: GroupResult[] = [];
  const all = Promise.all(
    groups.map((g) => {
      const groupCtx: GroupContext = {
        phase: phase.name,
        spec: g.spec,
        source: g.source,
        recorder,
        callers,
        batchCallers,
        random: g.random,
        callerBase: g.callerBase,
        deadlineMs,
        stop,
        acknowledged: g.acknowledged,
        gate,
      };
      const run =
        threads !== undefined && threads.threads > 1 && !sendsBatches(g.spec)
          ? runGroupInThreads(groupCtx, { ...threads, accounts: g.accounts })
          : runGroup(groupCtx);
      return run.then((r) => {
        results.push(r);
      });
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([all.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (first === 'done') return { groups: results };

  stop.stopped = true;
  const nowNs = recorder.nowNs();
  const pending = [...recorder.inFlight.values()]
    .filter((r) => r.phase === phase.name)
    .map((r) => ({
      ...r,
      completeNs: nowNs,
      type: 'info' as const,
      code: 'PENDING',
      message: 'still pending at the phase timeout',
    }));
  // Give stuck calls a moment to finish (e.g. by their deadline) so the final state settles.
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, HARNESS_LIMITS.stuckGraceMs))]);
  return { groups: results, stuck: { phase: phase.name, timeoutMs, pending } };
}

/** ExecuteBatch groups stay on the main thread: a batch's items are recorded as one call there. */
function sendsBatches(spec: GroupSpec): boolean {
  return (spec.mix?.batch ?? 0) > 0;
}
