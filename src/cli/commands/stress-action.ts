import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isScenarioName, resolveScenario } from '../../harness/builtin-scenarios.js';
import { renderHdrLog } from '../../harness/hdr-log.js';
import { renderHtmlReport } from '../../harness/html-report.js';
import { renderHumanReport } from '../../harness/human-report.js';
import { renderJunit } from '../../harness/junit-report.js';
import { loadScenarioFile, ScenarioError } from '../../harness/load-scenario.js';
import { jsonReplacer } from '../../harness/run-recorder.js';
import type { RunResult } from '../../harness/run-result.js';
import { RunSetupError, runScenario } from '../../harness/run-scenario.js';
import type { Scenario } from '../../harness/scenario-schema.js';
import { type ClientSecurityFlags, securityForTarget } from '../client-credentials.js';
import { CliError, EXIT } from '../exit-codes.js';
import { attachComparison, readBaseline, runExitCode } from '../run-comparison.js';
import type { RunFlags } from '../run-options.js';

export interface StressFlags extends RunFlags {
  history?: string;
  /** `--set key.path=value` overrides, applied before validation. */
  set?: string[];
}

/** `ledgerctl stress <scenario>`: run it, print the report, write the outputs, set the exit code. */
export async function stress(file: string, flags: StressFlags): Promise<void> {
  const report = reportStream(flags);
  const baseline = readBaseline(flags);
  const result = await runOne(file, flags);
  attachComparison(result, baseline);
  const exitCode = runExitCode(result);
  report.write(renderHumanReport(result, flags.verbose, exitCode));
  await writeOutputs([result], flags, false);
  process.exitCode = exitCode;
}

/** Loads and runs one scenario; a problem the user can fix becomes a CliError (exit 2). */
export async function runOne(file: string, flags: RunOneFlags & { set?: string[] }): Promise<RunResult> {
  const path = resolveScenario(file);
  if (!existsSync(path) && isScenarioName(file)) {
    throw new CliError(
      `${file}: no such scenario file, nor a built-in scenario of that name (see \`ledgerctl scenarios\`)`,
    );
  }
  return runLoaded(file, flags, () => loadScenarioFile(path, flags.set ?? []));
}

type RunOneFlags = {
  target?: string[];
  seed?: number;
  history?: string;
  status: boolean;
  generatorThreads?: number;
} & ClientSecurityFlags;

/** Runs a scenario from a file or from flags (`load`): the same checks, report and exit codes. */
export async function runLoaded(
  file: string,
  flags: RunOneFlags,
  load: () => Scenario | Promise<Scenario>,
): Promise<RunResult> {
  const security = securityForTarget(
    flags,
    flags.target,
    '--target servers only (a server the run starts speaks TLS with its own throwaway CA: server: { mode: spawned, tls: true }, or --set server.tls=true)',
  );
  try {
    const scenario = await load();
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
  if (err instanceof ScenarioError) return new CliError(err.problems, EXIT.usage);
  if (err instanceof RunSetupError) return new CliError(err.message, EXIT.usage);
  return err;
}

/** `-` names stdout, as in most Unix tools. */
export const STDOUT = '-';

/**
 * Where the human report goes: stdout, unless a machine-readable copy was asked for on stdout
 * (`--json -`), which must then be the only thing there. Checked before the run, so a conflict
 * costs nothing.
 */
export function reportStream(
  flags: Pick<RunFlags, 'json' | 'junit' | 'hdrLog' | 'html'>,
): NodeJS.WritableStream {
  const onStdout = [flags.json, flags.junit, flags.hdrLog, flags.html].filter((f) => f === STDOUT).length;
  if (onStdout > 1) {
    throw new CliError(
      '--json, --junit, --hdr-log and --html: only one of them can go to stdout (-)',
      EXIT.usage,
    );
  }
  return onStdout === 1 ? process.stderr : process.stdout;
}

export async function writeOutputs(
  results: RunResult[],
  flags: Pick<RunFlags, 'json' | 'junit' | 'hdrLog' | 'html'>,
  asArray: boolean,
): Promise<void> {
  // The JSON report carries the exit code each run maps to, beside the harness's verdict.
  const withCodes = results.map((r) => ({ ...r, exitCode: runExitCode(r) }));
  const outputs: [string | undefined, () => string][] = [
    [flags.json, () => `${JSON.stringify(asArray ? withCodes : withCodes[0], jsonReplacer, 2)}\n`],
    [flags.junit, () => renderJunit(results)],
    [flags.hdrLog, () => renderHdrLog(results)],
    [
      flags.html,
      () =>
        renderHtmlReport(
          results,
          withCodes.map((r) => r.exitCode),
        ),
    ],
  ];
  for (const [file, render] of outputs) {
    if (file === undefined) continue;
    try {
      if (file === STDOUT) process.stdout.write(render());
      else await writeFile(file, render());
    } catch (err) {
      throw new CliError(`cannot write report ${file}: ${(err as Error).message}`, EXIT.usage);
    }
  }
}
