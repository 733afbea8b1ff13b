import type { InvariantVerdict, RunObservation } from '../history.js';
import { describeArgs, Evidence } from './evidence.js';

/** Every phase finished within its timeout; the calls still pending at a timeout are the evidence. */
export function checkNoDeadlock(observation: RunObservation): InvariantVerdict {
  const evidence = new Evidence();
  for (const stuck of observation.stuckPhases) {
    evidence.add(
      `phase '${stuck.phase}' hit its ${stuck.timeoutMs} ms timeout with ${stuck.pending.length} calls pending`,
    );
    for (const r of stuck.pending)
      evidence.add(`  stuck: #${r.index} caller ${r.caller} [${r.group}] ${describeArgs(r)}`);
  }
  const phases = new Set(observation.records.map((r) => r.phase)).size;
  return {
    name: 'no-deadlock',
    passed: observation.stuckPhases.length === 0,
    summary:
      observation.stuckPhases.length === 0
        ? `all ${phases} phases finished within their timeouts`
        : `${observation.stuckPhases.length} phases hit their timeout (suspected deadlock)`,
    evidence: evidence.toArray(),
  };
}
