import type { ClientSecurity } from '../client/client-security.js';
import { runConformance } from './conformance/index.js';
import type { InvariantVerdict } from './history.js';

/** Runs the ledger.v1 contract kit (src/harness/conformance) against one target. */
export async function runConformanceKit(
  target: string,
  deadlineMs: number,
  security?: ClientSecurity,
): Promise<{ verdicts: InvariantVerdict[] }> {
  const { verdicts } = await runConformance(target, { deadlineMs, security });
  return { verdicts };
}
