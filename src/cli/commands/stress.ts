import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { renderHumanReport } from '../../harness/human-report.js';
import { renderJunit } from '../../harness/junit-report.js';
import { loadScenarioFile, ScenarioError } from '../../harness/load-scenario.js';
import { jsonReplacer } from '../../harness/run-recorder.js';
import type { RunResult } from '../../harness/run-result.js';
import { RunSetupError, runScenario } from '../../harness/run-scenario.js';
import { parseSeed, parseTargets } from '../../harness/stress-options.js';
import { CliError, EXIT } from '../exit-codes.js';

interface StressFlags {
  target?: string[];
  seed?: number;
  json?: string;
  junit?: string;
  history?: string;
  status: boolean;
  verbose?: boolean;
}

export function registerStress(program: Command): void {
  program
    .command('stress')
    .description('run a stress scenario and check the ledger invariants and thresholds')
    .argument('<scenario>', 'scenario file (YAML), e.g. scenarios/lost-update.yaml')
    .option(
      '--target <host:port,...>',
      'run against running servers instead of an in-process one',
      parseTargets,
    )
    .option('--seed <n>', 'seed for every random choice (printed in the report)', parseSeed)
    .option('--json <file>', 'write the full result as JSON')
    .option('--junit <file>', 'write JUnit XML (one testcase per invariant and threshold)')
    .option('--history <file>', 'write every call as JSONL (invoke, then ok/fail/info)')
    .option('--no-status', 'no live status line on stderr')
    .option('--verbose', 'print all evidence lines of failed invariants')
    .addHelpText(
      'after',
      '\nExit codes: 0 all passed, 1 an invariant failed, 3 a threshold failed, 2 invalid input or unreachable target.',
    )
    .action(async (file: string, flags: StressFlags) => {
      const result = await runOne(file, flags);
      process.stdout.write(renderHumanReport(result, flags.verbose));
      await writeOutputs([result], flags.json, flags.junit, false);
      process.exitCode = result.exitCode;
    });
}

/** Loads and runs one scenario; a problem the user can fix becomes a CliError (exit 2). */
export async function runOne(
  file: string,
  flags: { target?: string[]; seed?: number; history?: string; status: boolean },
): Promise<RunResult> {
  try {
    const scenario = await loadScenarioFile(file);
    return await runScenario(scenario, {
      file,
      targets: flags.target,
      seed: flags.seed,
      historyFile: flags.history,
      status: flags.status,
    });
  } catch (err) {
    throw asUserError(err);
  }
}

export function asUserError(err: unknown): unknown {
  if (err instanceof ScenarioError) return new CliError(err.problems.join('\n'), EXIT.usage);
  if (err instanceof RunSetupError) return new CliError(err.message, EXIT.usage);
  return err;
}

export async function writeOutputs(
  results: RunResult[],
  jsonFile: string | undefined,
  junitFile: string | undefined,
  asArray: boolean,
): Promise<void> {
  try {
    if (jsonFile !== undefined) {
      const body = asArray ? results : results[0];
      await writeFile(jsonFile, `${JSON.stringify(body, jsonReplacer, 2)}\n`);
    }
    if (junitFile !== undefined) await writeFile(junitFile, renderJunit(results));
  } catch (err) {
    throw new CliError(`cannot write report: ${(err as Error).message}`, EXIT.usage);
  }
}
