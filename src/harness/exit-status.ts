import { EXIT, type ExitCode } from '../cli/exit-codes.js';
import type { InvariantVerdict } from './history.js';
import type { ThresholdResult } from './thresholds.js';

/** One run: 1 if an invariant failed (even if a threshold failed too), else 3 if a threshold failed, else 0. */
export function runExitCode(
  verdicts: readonly InvariantVerdict[],
  thresholds: readonly ThresholdResult[],
): ExitCode {
  if (verdicts.some((v) => !v.passed)) return EXIT.failed;
  if (thresholds.some((t) => t.status === 'fail')) return EXIT.threshold;
  return EXIT.ok;
}

/** Severity order for the gate: a broken invariant outranks everything, then unusable input, then thresholds. */
const SEVERITY: readonly ExitCode[] = [EXIT.internal, EXIT.failed, EXIT.usage, EXIT.threshold, EXIT.ok];

export function worstExitCode(codes: readonly ExitCode[]): ExitCode {
  for (const code of SEVERITY) if (codes.includes(code)) return code;
  return EXIT.ok;
}
