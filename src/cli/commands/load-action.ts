import { type FlagScenarioOptions, flagScenario } from '../../harness/flag-scenario.js';
import { renderHumanReport } from '../../harness/human-report.js';
import { attachComparison, readBaseline, runExitCode } from '../run-comparison.js';
import type { RunFlags } from '../run-options.js';
import { reportStream, runLoaded, writeOutputs } from './stress-action.js';

/** The scenario flags (commander names the repeatable ones in the singular) and the run flags. */
export interface LoadFlags extends RunFlags, Omit<FlagScenarioOptions, 'thresholds' | 'allowErrors'> {
  threshold: string[];
  allowError: string[];
  history?: string;
}

/** `ledgerctl load`: a Scenario built from flags, then exactly what `stress` does with a file. */
export async function load(flags: LoadFlags): Promise<void> {
  const report = reportStream(flags);
  const baseline = readBaseline(flags);
  const result = await runLoaded('(ledgerctl load flags)', flags, () =>
    flagScenario({ ...flags, thresholds: flags.threshold, allowErrors: flags.allowError }),
  );
  attachComparison(result, baseline);
  const exitCode = runExitCode(result);
  report.write(renderHumanReport(result, flags.verbose, exitCode));
  await writeOutputs([result], flags, false);
  process.exitCode = exitCode;
}
