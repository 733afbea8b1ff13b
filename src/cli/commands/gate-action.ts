import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import Table from 'cli-table3';
import { renderHumanReport } from '../../harness/human-report.js';
import { loadScenarioFile, ScenarioError } from '../../harness/load-scenario.js';
import type { RunResult } from '../../harness/run-result.js';
import { tableStyle } from '../../harness/table-style.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { worstExitCode } from '../exit-status.js';
import { attachComparison, readBaseline, runExitCode } from '../run-comparison.js';
import type { RunFlags } from '../run-options.js';
import { reportStream, runOne, writeOutputs } from './stress-action.js';

export interface GateFlags extends RunFlags {
  all?: boolean;
  failFast?: boolean;
}

interface Row {
  file: string;
  scenario: string;
  exitCode: ExitCode;
  detail: string;
  seconds: string;
}

interface GateEntry {
  file: string;
  /** Named on the command line: runs even when marked ci: false. */
  named: boolean;
}

/** Directories give their scenario files (sorted); a file is taken as named. */
async function expandPaths(paths: readonly string[]): Promise<GateEntry[]> {
  const entries: GateEntry[] = [];
  for (const path of paths) {
    try {
      if ((await stat(path)).isDirectory()) {
        const names = (await readdir(path)).filter((f) => /\.ya?ml$/.test(f)).sort();
        entries.push(...names.map((name) => ({ file: join(path, name), named: false })));
      } else entries.push({ file: path, named: true });
    } catch (err) {
      throw new CliError(
        `cannot read scenario path ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        EXIT.usage,
      );
    }
  }
  return entries;
}

/** `ledgerctl gate [paths...]`: every CI scenario, one summary table, the worst exit code. */
export async function gate(paths: string[], flags: GateFlags): Promise<void> {
  const report = reportStream(flags);
  const baseline = readBaseline(flags);
  const entries = await expandPaths(paths);
  const rows: Row[] = [];
  const results: RunResult[] = [];
  for (const [index, { file, named }] of entries.entries()) {
    const name = basename(file);
    if (flags.failFast && rows.some((r) => r.exitCode === EXIT.failed)) {
      const left = entries.slice(index).map((e) => e.file);
      process.stderr.write(`gate: --fail-fast: not running ${left.join(', ')}\n`);
      break;
    }
    try {
      const scenario = await loadScenarioFile(file);
      if (!scenario.ci && !flags.all && !named) continue;
      // A scenario that spawns (and kills) its own server cannot run against someone else's.
      if (scenario.server.mode === 'spawned' && scenario.faults.length > 0 && flags.target !== undefined) {
        process.stderr.write(`gate: skipping ${file}: it spawns its own server (not with --target)\n`);
        continue;
      }
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      process.stderr.write(`${err.message}\n`);
      rows.push({
        file,
        scenario: name,
        exitCode: EXIT.usage,
        detail: 'invalid scenario file',
        seconds: '-',
      });
      continue;
    }
    process.stderr.write(`gate: running ${file}\n`);
    try {
      const result = await runOne(file, flags);
      results.push(result);
      attachComparison(result, baseline);
      const exitCode = runExitCode(result);
      if (flags.verbose || exitCode !== EXIT.ok)
        report.write(renderHumanReport(result, flags.verbose, exitCode));
      rows.push({
        file,
        scenario: result.scenario,
        exitCode,
        detail: describe(result),
        seconds: (result.durationMs / 1000).toFixed(1),
      });
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      process.stderr.write(`${file}: ${err.message}\n`);
      rows.push({
        file,
        scenario: name,
        exitCode: err.exitCode,
        detail: err.message.split('\n')[0]!,
        seconds: '-',
      });
    }
  }
  if (rows.length === 0) throw new CliError(`no CI scenarios (ci: true) in ${paths.join(', ')}`, EXIT.usage);
  const style = tableStyle();
  const head = ['scenario', 'result', 'exit', 'seconds', 'detail'];
  const table = new Table(style === undefined ? { head } : { head, style });
  for (const r of rows) table.push([r.scenario, verdictWord(r.exitCode), r.exitCode, r.seconds, r.detail]);
  report.write(`${table.toString()}\n`);
  const worst = worstExitCode(rows.map((r) => r.exitCode));
  report.write(`gate: ${rows.length} scenarios, exit ${worst}\n`);
  await writeOutputs(results, flags, true);
  process.exitCode = worst;
}

function verdictWord(code: number): string {
  switch (code) {
    case EXIT.ok:
      return 'pass';
    case EXIT.failed:
      return 'INVARIANT FAILED';
    case EXIT.threshold:
      return 'THRESHOLD FAILED';
    case EXIT.usage:
      return 'INVALID';
    default:
      return 'ERROR';
  }
}

function describe(r: RunResult): string {
  const inv = r.verdicts.filter((v) => v.passed).length;
  const th = r.thresholds.filter((t) => t.status === 'pass').length;
  const failed = [
    ...r.verdicts.filter((v) => !v.passed).map((v) => v.name),
    ...r.thresholds.filter((t) => t.status === 'fail').map((t) => t.threshold),
    ...(r.comparison?.rows.filter((row) => row.regressed).map((row) => `${row.rule} on ${row.op}`) ?? []),
  ];
  const ops = r.ops.find((o) => o.op === '*')?.count ?? 0;
  const base = `${inv}/${r.verdicts.length} invariants, ${th}/${r.thresholds.length} thresholds, ${ops} ops`;
  return failed.length > 0 ? `${base}; failed: ${failed.join(', ')}` : base;
}
