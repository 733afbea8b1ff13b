import { runConformance } from './conformance/index.js';
import type { InvariantVerdict } from './history.js';

/** Runs the ledger.v1 contract kit (src/harness/conformance) against one target. */
export async function runConformanceKit(
  target: string,
  deadlineMs: number,
): Promise<{ verdicts: InvariantVerdict[] }> {
  const { verdicts } = await runConformance(target, { deadlineMs });
  return { verdicts };
}
