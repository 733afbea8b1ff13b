import { writeFile } from 'node:fs/promises';
import { renderHumanReport } from '../../harness/human-report.js';
import { renderJunit } from '../../harness/junit-report.js';
import { loadScenarioFile, ScenarioError } from '../../harness/load-scenario.js';
import { jsonReplacer } from '../../harness/run-recorder.js';
import type { RunResult } from '../../harness/run-result.js';
import { RunSetupError, runScenario } from '../../harness/run-scenario.js';
import { type ClientSecurityFlags, clientSecurityFrom } from '../client-credentials.js';
import { CliError, EXIT } from '../exit-codes.js';
import { exitCodeOf } from '../exit-status.js';

export interface StressFlags extends ClientSecurityFlags {
  target?: string[];
  seed?: number;
  json?: string;
  junit?: string;
  history?: string;
  status: boolean;
  verbose?: boolean;
  generatorThreads?: number;
}

/** `ledgerctl stress <scenario>`: run it, print the report, write the outputs, set the exit code. */
export async function stress(file: string, flags: StressFlags): Promise<void> {
  const result = await runOne(file, flags);
  const exitCode = exitCodeOf(result.verdict);
  process.stdout.write(renderHumanReport(result, flags.verbose, exitCode));
  await writeOutputs([result], flags.json, flags.junit, false);
  process.exitCode = exitCode;
}

/** Loads and runs one scenario; a problem the user can fix becomes a CliError (exit 2). */
export async function runOne(
  file: string,
  flags: {
    target?: string[];
    seed?: number;
    history?: string;
    status: boolean;
    generatorThreads?: number;
  } & ClientSecurityFlags,
): Promise<RunResult> {
  const given = [flags.tlsCa, flags.tlsCert, flags.tlsKey, flags.tokenFile].some((f) => f !== undefined);
  if (given && flags.target === undefined) {
    throw new CliError('--tls-ca, --tls-cert, --tls-key and --token-file apply to --target servers only');
  }
  // LEDGER_TOKEN alone does not make a run against the in-process server fail.
  const security = flags.target === undefined ? undefined : clientSecurityFrom(flags);
  try {
    const scenario = await loadScenarioFile(file);
    return await runScenario(scenario, {
      file,
      targets: flags.target,
      seed: flags.seed,
      historyFile: flags.history,
      status: flags.status,
      security,
      generatorThreads: flags.generatorThreads,
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
      // The JSON report carries the exit code each run maps to, beside the harness's verdict.
      const withCodes = results.map((r) => ({ ...r, exitCode: exitCodeOf(r.verdict) }));
      const body = asArray ? withCodes : withCodes[0];
      await writeFile(jsonFile, `${JSON.stringify(body, jsonReplacer, 2)}\n`);
    }
    if (junitFile !== undefined) await writeFile(junitFile, renderJunit(results));
  } catch (err) {
    throw new CliError(`cannot write report: ${(err as Error).message}`, EXIT.usage);
  }
}
