import type { RunVerdict } from '../harness/run-verdict.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** One run: 1 if an invariant failed (even if a threshold failed too), else 3 if a threshold failed, else 0. */
export function exitCodeOf(verdict: RunVerdict): ExitCode {
  switch (verdict) {
    case 'invariant-failed':
      return EXIT.failed;
    case 'threshold-failed':
      return EXIT.threshold;
    case 'pass':
      return EXIT.ok;
  }
}

/** Severity order for the gate: a broken invariant outranks everything, then unusable input, then thresholds. */
const SEVERITY: readonly ExitCode[] = [EXIT.internal, EXIT.failed, EXIT.usage, EXIT.threshold, EXIT.ok];

export function worstExitCode(codes: readonly ExitCode[]): ExitCode {
  for (const code of SEVERITY) if (codes.includes(code)) return code;
  return EXIT.ok;
}
