import type { InvariantVerdict } from './history.js';
import type { ThresholdResult } from './thresholds.js';

/**
 * What one run concluded, worst first: an invariant failed (even if a threshold failed too), else
 * a threshold failed, else it passed. The CLI maps this to an exit code; the harness knows none.
 */
export type RunVerdict = 'invariant-failed' | 'threshold-failed' | 'pass';

export function runVerdict(
  verdicts: readonly InvariantVerdict[],
  thresholds: readonly ThresholdResult[],
): RunVerdict {
  if (verdicts.some((v) => !v.passed)) return 'invariant-failed';
  if (thresholds.some((t) => t.status === 'fail')) return 'threshold-failed';
  return 'pass';
}
