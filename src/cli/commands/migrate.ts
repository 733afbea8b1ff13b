import { type Command, Option } from 'commander';
import { LIMITS } from '../../domain/limits.js';
import { DatabaseError } from '../../engine/postgres/database-error.js';
import { describeUrl, openPool, probeDatabase } from '../../engine/postgres/pg-connect.js';
import { migrate } from '../../engine/postgres/pg-migrations.js';
import { CliError } from '../exit-codes.js';
import { formatDuration } from '../format-duration.js';
import { withExamples } from '../help-examples.js';
import { nonEmptyArg, timerDurationArg } from '../option-parsers.js';
import { printLine } from '../output.js';

interface MigrateOptions {
  databaseUrl: string;
  dbConnectTimeout: number;
}

export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description('create or upgrade the ledger schema in a PostgreSQL database (refused if it is newer)')
    .addOption(
      new Option('--database-url <url>', 'the database (postgres://user:password@host:5432/db)')
        .env('LEDGER_DATABASE_URL')
        .argParser(nonEmptyArg)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--db-connect-timeout <duration>', 'longest opening the connection may take')
        .default(LIMITS.defaultPgConnectTimeoutMs, formatDuration(LIMITS.defaultPgConnectTimeoutMs))
        .argParser(timerDurationArg),
    );
  withExamples(command, [
    'ledgerctl migrate --database-url postgres://ledger:secret@127.0.0.1:5432/ledger',
    'LEDGER_DATABASE_URL=postgres://ledger@db:5432/ledger ledgerctl migrate',
  ]).action(runMigrate);
}

async function runMigrate(options: MigrateOptions): Promise<void> {
  let sql: ReturnType<typeof openPool> | undefined;
  try {
    sql = openPool({
      url: options.databaseUrl,
      poolSize: 1,
      statementTimeoutMs: 0,
      connectTimeoutMs: options.dbConnectTimeout,
    });
    await probeDatabase(sql, options.databaseUrl);
    const report = await migrate(sql);
    const where = describeUrl(options.databaseUrl);
    if (report.applied.length === 0)
      printLine(`schema of ${where} is at version ${report.to}: nothing to do`);
    else {
      for (const step of report.applied) printLine(`applied ${step}`);
      printLine(`schema of ${where} migrated from version ${report.from} to ${report.to}`);
    }
  } catch (err) {
    if (err instanceof DatabaseError) throw new CliError(err.message);
    throw err;
  } finally {
    await sql?.end({ timeout: 1 });
  }
}
