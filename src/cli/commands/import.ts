import { type Command, InvalidArgumentError, Option } from 'commander';
import { ImportInterrupted, type ImportProgress, runImport } from '../../client/bulk-import.js';
import {
  defaultIdNamespace,
  formatOfFile,
  ImportFileError,
  type ImportFormat,
  readImportRecords,
} from '../../client/import-records.js';
import { LedgerCallError } from '../../client/ledger-client.js';
import { LIMITS } from '../../domain/limits.js';
import { CliError, EXIT } from '../exit-codes.js';
import { withExamples } from '../help-examples.js';
import { printJson, printLine } from '../output.js';
import { addConnectionOptions, type ConnectionOptions, withLedger } from '../target.js';

interface ImportOptions extends ConnectionOptions {
  format?: ImportFormat;
  batchSize: number;
  idNamespace?: string;
  progress: boolean;
}

const DEFAULT_BATCH_SIZE = 1_000;
const PROGRESS_INTERVAL_MS = 1_000;
const FAILURES_SHOWN = 20;

function batchSizeArg(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= LIMITS.maxBatchOperations)) {
    throw new InvalidArgumentError(`Expected an integer from 1 to ${LIMITS.maxBatchOperations}.`);
  }
  return n;
}

const count = (n: number) => n.toLocaleString('en-US');

/** Checks the whole file before sending anything: a bad record refuses the import, nothing changed. */
async function countRecords(file: string, format: ImportFormat, namespace: string): Promise<number> {
  let records = 0;
  try {
    for await (const _ of readImportRecords(file, format, namespace)) records++;
  } catch (err) {
    if (err instanceof ImportFileError)
      throw new CliError(`${err.message}; nothing was imported`, EXIT.usage);
    throw err;
  }
  if (records === 0) throw new CliError(`${file}: no records; nothing was imported`, EXIT.usage);
  return records;
}

/** A status line on stderr once a second: rewritten in place on a terminal, one line per tick otherwise. */
function progressLine(total: number, enabled: boolean) {
  const stream = process.stderr;
  const inPlace = stream.isTTY === true;
  let latest: ImportProgress = { done: 0, applied: 0, replayed: 0, failed: 0, line: 0 };
  let lastDone = 0;
  let lastMs = performance.now();
  let wrote = false;
  const tick = () => {
    const nowMs = performance.now();
    const rate = ((latest.done - lastDone) / Math.max(nowMs - lastMs, 1)) * 1000;
    lastDone = latest.done;
    lastMs = nowMs;
    const pct = ((latest.done / total) * 100).toFixed(1);
    const line = `import: ${count(latest.done)}/${count(total)} records (${pct}%), ${count(Math.round(rate))}/s, ${count(latest.replayed)} replayed, ${count(latest.failed)} failed`;
    stream.write(inPlace ? `\r${line}\x1b[K` : `${line}\n`);
    wrote = true;
  };
  const timer = enabled ? setInterval(tick, PROGRESS_INTERVAL_MS) : undefined;
  timer?.unref();
  return {
    update: (progress: ImportProgress) => {
      latest = progress;
    },
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      if (wrote && inPlace) stream.write('\n');
    },
  };
}

export function registerImport(program: Command): void {
  const command = program
    .command('import')
    .description(
      'load accounts and transfers from a JSON Lines or CSV file in batches; running it again replays what was imported (resumes an interrupted import)',
    )
    .argument('<file>', 'records, one per line: .jsonl/.ndjson or .csv (see README "import")')
    .addOption(
      new Option('--format <format>', 'file format (default: from the file name)').choices(['jsonl', 'csv']),
    )
    .addOption(
      new Option('--batch-size <n>', `records per ExecuteBatch call (1-${LIMITS.maxBatchOperations})`)
        .default(DEFAULT_BATCH_SIZE)
        .argParser(batchSizeArg),
    )
    .option(
      '--id-namespace <name>',
      'part of every derived transaction id (default: the file name); keep it when renaming a file',
    )
    .option('--no-progress', 'no status line on stderr');
  withExamples(addConnectionOptions(command), [
    'ledgerctl import accounts.jsonl',
    'ledgerctl import ledger-2024.csv --batch-size 500 --target 127.0.0.1:50051   # run again to resume',
  ]).action(async (file: string, options: ImportOptions) => {
    const format = options.format ?? formatOfFile(file);
    if (format === undefined) {
      throw new CliError(
        `cannot tell the format of ${file}: name it .jsonl, .ndjson or .csv, or pass --format`,
        EXIT.usage,
      );
    }
    const namespace = options.idNamespace ?? defaultIdNamespace(file);
    const total = await countRecords(file, format, namespace);
    let progress: ReturnType<typeof progressLine> | undefined;
    let summary: Awaited<ReturnType<typeof runImport>>;
    try {
      summary = await withLedger(options, async (client) => {
        await client.waitForReady(options.timeout);
        progress = progressLine(total, options.progress);
        return runImport(client, readImportRecords(file, format, namespace), {
          batchSize: options.batchSize,
          onProgress: (p) => progress?.update(p),
          maxFailuresKept: FAILURES_SHOWN,
        });
      });
    } catch (err) {
      if (err instanceof ImportInterrupted) throw interrupted(file, err, options);
      if (err instanceof Error && err.message.startsWith('cannot reach ledger')) {
        throw new CliError(err.message.replace('cannot reach ledger', 'cannot reach the ledger'), EXIT.usage);
      }
      throw err;
    } finally {
      progress?.stop();
    }
    const seconds = summary.durationMs / 1000;
    if (options.json) {
      printJson({
        file,
        records: summary.done,
        applied: summary.applied,
        replayed: summary.replayed,
        failed: summary.failed,
        accounts: summary.accounts,
        transfers: summary.transfers,
        batches: summary.batches,
        failures_by_code: summary.failuresByCode,
        failures: summary.failures,
        duration_ms: Math.round(summary.durationMs),
      });
    } else {
      printLine(
        `imported ${file}: ${count(summary.done)} records in ${count(summary.batches)} batches, ${seconds.toFixed(1)} s ` +
          `(${count(Math.round(summary.done / Math.max(seconds, 0.001)))}/s): ${count(summary.applied)} applied, ` +
          `${count(summary.replayed)} replayed, ${count(summary.failed)} failed ` +
          `(${count(summary.accounts)} accounts, ${count(summary.transfers)} transfers succeeded)`,
      );
    }
    if (summary.failed > 0) {
      for (const f of summary.failures) {
        const replay = f.replayed ? ' (replayed: the outcome recorded when this record was first sent)' : '';
        process.stderr.write(`ledgerctl: ${file}:${f.line}: ${f.code} ${f.message}${replay}\n`);
      }
      if (summary.failed > summary.failures.length) {
        process.stderr.write(
          `ledgerctl: ... and ${count(summary.failed - summary.failures.length)} more failed records\n`,
        );
      }
      process.exitCode = EXIT.failed;
    }
  });
}

function interrupted(file: string, err: ImportInterrupted, { target }: ConnectionOptions): CliError {
  const cause = err.cause;
  const why = cause instanceof LedgerCallError ? `${cause.codeName}: ${cause.details}` : String(cause);
  const unreachable =
    cause instanceof LedgerCallError &&
    (cause.codeName === 'UNAVAILABLE' || cause.codeName === 'DEADLINE_EXCEEDED');
  return new CliError(
    `import of ${file} stopped at line ${err.line} after ${count(err.progress.done)} records (the ledger at ${target} answered ${why}); ` +
      'run the same command again to resume: records already imported replay',
    unreachable || (cause instanceof LedgerCallError && cause.codeName === 'INVALID_ARGUMENT')
      ? EXIT.usage
      : EXIT.failed,
  );
}
