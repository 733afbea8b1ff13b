import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import {
  type ComparableOp,
  compareRuns,
  DEFAULT_REGRESSION_RULES,
  parseRegressionRule,
  type RegressionRule,
} from '../harness/compare-baseline.js';
import type { RunResult } from '../harness/run-result.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { exitCodeOf } from './exit-status.js';

export interface CompareFlags {
  /** A JSON report of an earlier run (`--json`): one run, or a gate's array. */
  compare?: string;
  regression?: RegressionRule[];
}

/** `--regression`: parsed when the flag is read, so a typo costs no run. */
export function regressionArg(value: string, previous: RegressionRule[] = []): RegressionRule[] {
  const rule = parseRegressionRule(value);
  if (typeof rule === 'string') throw new InvalidArgumentError(`${rule}.`);
  return [...previous, rule];
}

interface BaselineRun {
  scenario: string;
  ops: ComparableOp[];
}

export interface Baseline {
  file: string;
  runs: BaselineRun[];
  rules: RegressionRule[];
}

/** Reads the baseline before the run: a missing or foreign file is exit 2 at once. */
export function readBaseline(flags: CompareFlags): Baseline | undefined {
  if (flags.compare === undefined) {
    if (flags.regression !== undefined) throw new CliError('--regression needs --compare BASELINE.json');
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(flags.compare, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CliError(`--compare ${flags.compare}: cannot read a JSON report (${why})`);
  }
  const runs = (Array.isArray(parsed) ? parsed : [parsed]) as Partial<BaselineRun>[];
  if (!runs.every((r) => typeof r?.scenario === 'string' && Array.isArray(r.ops))) {
    throw new CliError(`--compare ${flags.compare}: not a ledgerctl --json report (no scenario and ops)`);
  }
  const rules =
    flags.regression ?? DEFAULT_REGRESSION_RULES.map((text) => parseRegressionRule(text) as RegressionRule);
  return { file: flags.compare, runs: runs as BaselineRun[], rules };
}

/** Adds the comparison to the result; a baseline without this scenario is said in the notes. */
export function attachComparison(result: RunResult, baseline: Baseline | undefined): void {
  if (baseline === undefined) return;
  const before =
    baseline.runs.find((r) => r.scenario === result.scenario) ??
    (baseline.runs.length === 1 ? baseline.runs[0] : undefined);
  if (before === undefined) {
    result.notes.push(`no run of scenario ${result.scenario} in ${baseline.file}: nothing compared`);
    return;
  }
  result.comparison = compareRuns(baseline.file, before.ops, result.ops, baseline.rules);
}

/** The run's exit code: its verdict's, and 3 for a regression against the baseline when all else passed. */
export function runExitCode(result: RunResult): ExitCode {
  const code = exitCodeOf(result.verdict);
  return code === EXIT.ok && result.comparison?.regressed === true ? EXIT.threshold : code;
}
