import { type Command, Option } from 'commander';
import { verifyDataDir } from '../../engine/durable-backup.js';
import { DataDirError } from '../../engine/durable-errors.js';
import type { CheckReport } from '../../engine/durable-verify.js';
import { CliError, EXIT } from '../exit-codes.js';
import { examplesText } from '../help-examples.js';
import { nonEmptyArg } from '../option-parsers.js';
import { printJson, printLine, recordTable } from '../output.js';

interface VerifyOptions {
  dataDir: string;
  json: boolean;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description(
      'check every record checksum and cross-check of a durable data dir (read-only; safe while a server runs)',
    )
    .addOption(
      new Option('--data-dir <dir>', 'the data dir to check').makeOptionMandatory().argParser(nonEmptyArg),
    )
    .addOption(new Option('--json', 'print the report as JSON').default(false))
    .addHelpText(
      'after',
      examplesText([
        'ledgerctl verify --data-dir /srv/ledger-data',
        'ledgerctl verify --data-dir /srv/ledger-data --json',
      ]),
    )
    .action(async (options: VerifyOptions) => {
      let report: CheckReport;
      try {
        report = await verifyDataDir(options.dataDir);
      } catch (err) {
        if (err instanceof DataDirError) throw new CliError(err.message);
        throw err;
      }
      if (options.json) printJson(report);
      else printLine(summary(report));
      if (report.problemCount > 0) process.exitCode = EXIT.failed;
    });
}

/** The summary both verify and backup print. */
export function summary(report: CheckReport): string {
  const log =
    report.logEntries === 0
      ? 'empty'
      : `positions ${report.firstPosition}..${report.lastPosition} (${report.logEntries} entries)`;
  const table = recordTable([
    ['data file', report.file],
    ['accounts', String(report.accounts)],
    ['total balance', report.totalBalance.toString()],
    ['log', log],
    ['index entries', String(report.indexEntries)],
    ['idempotency records', String(report.txRecords)],
    ['checked in', `${Math.round(report.durationMs)} ms`],
    ['result', report.problemCount === 0 ? 'OK' : `DAMAGED: ${report.problemCount} problems`],
  ]);
  const problems = report.problems.map((p) => `problem: ${p}`);
  if (report.problemCount > report.problems.length)
    problems.push(`... and ${report.problemCount - report.problems.length} more`);
  return [table, ...problems].join('\n');
}
