import { type Command, Option } from 'commander';
import { backupDataDir } from '../../engine/durable-backup.js';
import { DataDirError } from '../../engine/durable-errors.js';
import { CliError, EXIT } from '../exit-codes.js';
import { examplesText } from '../help-examples.js';
import { nonEmptyArg } from '../option-parsers.js';
import { printLine } from '../output.js';
import { summary } from './verify.js';

interface BackupOptions {
  dataDir: string;
  to: string;
}

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description(
      'copy a durable data dir, live or not, into a new data dir and verify the copy; restore = serve --data-dir on it',
    )
    .addOption(
      new Option('--data-dir <dir>', 'the data dir to copy').makeOptionMandatory().argParser(nonEmptyArg),
    )
    .addOption(
      new Option('--to <dir>', 'the new data dir to write (must not exist, or be empty)')
        .makeOptionMandatory()
        .argParser(nonEmptyArg),
    )
    .addHelpText(
      'after',
      examplesText([
        'ledgerctl backup --data-dir /srv/ledger-data --to /backups/ledger-2026-11-30',
        'ledgerctl serve --data-dir /backups/ledger-2026-11-30   # restore: serve the copy',
      ]),
    )
    .action(async (options: BackupOptions) => {
      let result: Awaited<ReturnType<typeof backupDataDir>>;
      try {
        result = await backupDataDir(options.dataDir, options.to);
      } catch (err) {
        if (err instanceof DataDirError) throw new CliError(err.message);
        throw err;
      }
      printLine(summary(result.report));
      if (result.report.problemCount > 0) {
        throw new CliError(
          `the copy of ${options.dataDir} fails verification, so it was removed; run ledgerctl verify --data-dir ${options.dataDir}`,
          EXIT.failed,
        );
      }
      printLine(
        `backup written to ${result.dir} (${result.bytes} bytes, copied in ${Math.round(result.copyMs)} ms, verified); restore with: ledgerctl serve --data-dir ${result.dir}`,
      );
    });
}
