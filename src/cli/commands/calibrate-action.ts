import { calibrate } from '../../harness/calibrate.js';
import { HARNESS_LIMITS } from '../../harness/harness-limits.js';
import { floorLine } from '../../harness/human-report.js';
import { RunSetupError } from '../../harness/run-setup-error.js';
import { securityForTarget } from '../client-credentials.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { CalibrateFlags } from './calibrate.js';

/** `ledgerctl calibrate`: the floor alone, the line every stress report carries. */
export async function calibrateCommand(flags: CalibrateFlags): Promise<void> {
  if (flags.rate > HARNESS_LIMITS.maxOpenLoopRatePerS)
    throw new CliError(
      `--rate ${flags.rate} is above the limit of ${HARNESS_LIMITS.maxOpenLoopRatePerS}/s`,
      EXIT.usage,
    );
  if (flags.connections !== undefined && flags.connections > HARNESS_LIMITS.maxConnectionsPerTarget)
    throw new CliError(
      `--connections ${flags.connections} is above the limit of ${HARNESS_LIMITS.maxConnectionsPerTarget}`,
      EXIT.usage,
    );
  const security = securityForTarget(
    flags,
    flags.target,
    '--target only (the null responder calibrate starts speaks plaintext)',
  );
  const floor = await calibrate({
    ratePerS: flags.rate,
    rateSource: 'flag',
    durationMs: flags.duration,
    connections: flags.connections,
    target: flags.target,
    security,
  }).catch((err: unknown) => {
    // An unreachable or mismatched target is the user's to fix: one line, exit 2.
    throw err instanceof RunSetupError ? new CliError(err.message, EXIT.usage) : err;
  });
  process.stdout.write(flags.json ? `${JSON.stringify(floor, null, 2)}\n` : `${floorLine(floor)}\n`);
}
