import type { ImportRecord } from './import-records.js';
import type { BatchOperation, LedgerClient } from './ledger-client.js';

export interface ImportProgress {
  /** Records answered so far. */
  done: number;
  applied: number;
  replayed: number;
  failed: number;
  /** The line of the last record answered. */
  line: number;
}

export interface ImportFailure {
  line: number;
  code: string;
  message: string;
  /** The outcome recorded when the record was first sent (a re-run). */
  replayed: boolean;
}

export interface ImportSummary extends ImportProgress {
  accounts: number;
  transfers: number;
  batches: number;
  /** The first failures, in file order (at most `maxFailuresKept`). */
  failures: ImportFailure[];
  failuresByCode: Record<string, number>;
  durationMs: number;
}

export interface ImportOptions {
  batchSize: number;
  /** Called after every batch is answered. */
  onProgress?: (progress: ImportProgress) => void;
  maxFailuresKept?: number;
}

/** A call failed as a whole (unreachable, deadline): everything before `line` was answered. */
export class ImportInterrupted extends Error {
  override readonly name = 'ImportInterrupted';
  constructor(
    readonly line: number,
    readonly progress: ImportProgress,
    override readonly cause: unknown,
  ) {
    super(`import stopped at line ${line}`);
  }
}

/**
 * Sends the records in ExecuteBatch calls of up to `batchSize`, one call at a time so a record
 * always follows the ones before it (an account is created before the transfers after it). A
 * batch never holds one transaction id twice (the server would refuse the whole batch): a
 * repeated id starts the next batch, and answers as a replay or a conflict.
 */
export async function runImport(
  client: LedgerClient,
  records: AsyncIterable<ImportRecord>,
  options: ImportOptions,
): Promise<ImportSummary> {
  const started = performance.now();
  const keep = options.maxFailuresKept ?? 20;
  const summary: ImportSummary = {
    done: 0,
    applied: 0,
    replayed: 0,
    failed: 0,
    line: 0,
    accounts: 0,
    transfers: 0,
    batches: 0,
    failures: [],
    failuresByCode: {},
    durationMs: 0,
  };
  let lines: number[] = [];
  let operations: BatchOperation[] = [];
  let ids = new Set<string>();

  const flush = async (): Promise<void> => {
    if (operations.length === 0) return;
    let reply: Awaited<ReturnType<LedgerClient['executeBatch']>>;
    try {
      reply = await client.executeBatch(operations);
    } catch (err) {
      throw new ImportInterrupted(lines[0]!, { ...summary }, err);
    }
    summary.batches++;
    reply.value.forEach((item, i) => {
      const line = lines[i]!;
      summary.done++;
      summary.line = line;
      if (item.ok) {
        if (item.replayed) summary.replayed++;
        else summary.applied++;
        if (item.kind === 'create') summary.accounts++;
        else summary.transfers++;
        return;
      }
      summary.failed++;
      summary.failuresByCode[item.codeName] = (summary.failuresByCode[item.codeName] ?? 0) + 1;
      if (summary.failures.length < keep)
        summary.failures.push({ line, code: item.codeName, message: item.message, replayed: item.replayed });
    });
    operations = [];
    lines = [];
    ids = new Set();
    options.onProgress?.({ ...summary });
  };

  for await (const record of records) {
    const txid = record.operation.transactionId;
    if (operations.length >= options.batchSize || (txid !== undefined && ids.has(txid))) await flush();
    operations.push(record.operation);
    lines.push(record.line);
    if (txid !== undefined) ids.add(txid);
  }
  await flush();
  summary.durationMs = performance.now() - started;
  return summary;
}
