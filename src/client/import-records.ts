import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { LedgerError } from '../domain/errors.js';
import { parseInt64 } from '../domain/money.js';
import { validateCreate, validateTransfer } from '../domain/validate.js';
import type { BatchOperation } from './ledger-client.js';

/**
 * Records of `ledgerctl import`: accounts and transfers, one per JSON Lines line or CSV row, with
 * the proto's field names. A record without a transaction id gets one derived from the id
 * namespace (the file's base name unless given), its line number and its text, so running the
 * same file again replays every record instead of applying it twice.
 */
export type ImportFormat = 'jsonl' | 'csv';

export const IMPORT_FIELDS = [
  'type',
  'account_id',
  'initial_balance',
  'from_account_id',
  'to_account_id',
  'amount',
  'transaction_id',
] as const;

export interface ImportRecord {
  /** 1-based line of the file where the record starts. */
  readonly line: number;
  readonly operation: BatchOperation;
}

/** A record the file cannot hold: where, and what is wrong with it. */
export class ImportFileError extends Error {
  override readonly name = 'ImportFileError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
  }
}

/** The format a file name implies, or undefined. */
export function formatOfFile(file: string): ImportFormat | undefined {
  const name = file.toLowerCase();
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.csv')) return 'csv';
  return undefined;
}

export function defaultIdNamespace(file: string): string {
  return basename(file);
}

/** `imp-` and 40 hex digits of SHA-256 over namespace, line number and the line's text. */
export function derivedTransactionId(namespace: string, line: number, text: string): string {
  const hash = createHash('sha256')
    .update(namespace)
    .update('\0')
    .update(String(line))
    .update('\0')
    .update(text);
  return `imp-${hash.digest('hex').slice(0, 40)}`;
}

type Fields = Partial<Record<(typeof IMPORT_FIELDS)[number], unknown>>;

/** Reads a file's records in order; throws ImportFileError at the first bad one. */
export async function* readImportRecords(
  file: string,
  format: ImportFormat,
  namespace: string,
): AsyncGenerator<ImportRecord> {
  try {
    // Opened up front: a missing file is one clear refusal, not a stream error event.
    const stats = await stat(file);
    if (stats.isDirectory()) throw new ImportFileError(file, undefined, 'is a directory');
    await access(file, constants.R_OK);
    const source = format === 'jsonl' ? jsonLines(file) : csvRows(file);
    for await (const { line, text, fields } of source) {
      yield { line, operation: toOperation(file, line, text, fields, namespace) };
    }
  } catch (err) {
    if (err instanceof ImportFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImportFileError(file, undefined, 'no such file');
    if (code === 'EACCES') throw new ImportFileError(file, undefined, 'permission denied');
    if (code === 'EISDIR') throw new ImportFileError(file, undefined, 'is a directory');
    throw new ImportFileError(file, undefined, err instanceof Error ? err.message : String(err));
  }
}

interface RawRecord {
  line: number;
  text: string;
  fields: Fields;
}

async function* jsonLines(file: string): AsyncGenerator<RawRecord> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ImportFileError(file, line, 'not valid JSON');
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ImportFileError(file, line, 'expected a JSON object');
    }
    yield { line, text, fields: value as Fields };
  }
}

async function* csvRows(file: string): AsyncGenerator<RawRecord> {
  const parser = createReadStream(file).pipe(
    parseCsv({
      bom: true,
      skip_empty_lines: true,
      trim: true,
      raw: true,
      info: true,
      columns: (header: string[]) => {
        for (const name of header) {
          if (!(IMPORT_FIELDS as readonly string[]).includes(name)) {
            throw new ImportFileError(
              file,
              1,
              `unknown column ${JSON.stringify(name)} (columns: ${IMPORT_FIELDS.join(', ')})`,
            );
          }
        }
        return header;
      },
    }),
  );
  try {
    for await (const row of parser as AsyncIterable<{
      record: Record<string, string>;
      raw: string;
      info: { lines: number };
    }>) {
      const fields: Fields = {};
      for (const [key, value] of Object.entries(row.record))
        if (value !== '') fields[key as keyof Fields] = value;
      // csv-parse counts the line the record ends on; records here are one line each.
      yield { line: row.info.lines, text: row.raw.replace(/\r?\n$/, ''), fields };
    }
  } catch (err) {
    if (err instanceof ImportFileError) throw err;
    const csv = err as { code?: string; lines?: number; message?: string };
    if (typeof csv.code === 'string' && csv.code.startsWith('CSV_')) {
      throw new ImportFileError(file, csv.lines, `not valid CSV (${csv.message ?? csv.code})`);
    }
    throw err;
  }
}

function text(file: string, line: number, fields: Fields, name: keyof Fields, required: boolean): string {
  const value = fields[name];
  if (value === undefined || value === null || value === '') {
    if (required) throw new ImportFileError(file, line, `${name} is required`);
    return '';
  }
  if (typeof value !== 'string') throw new ImportFileError(file, line, `${name} must be a string`);
  return value;
}

/** An int64 from a string of digits, or from a JSON number only where a double holds it exactly. */
function amount(file: string, line: number, fields: Fields, name: keyof Fields): bigint {
  const value = fields[name];
  if (value === undefined || value === null || value === '')
    throw new ImportFileError(file, line, `${name} is required`);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new ImportFileError(
        file,
        line,
        `${name} is not an integer a JSON number holds exactly (it reads as ${value}); write it as a string of digits ("${name}": "...")`,
      );
    }
    return BigInt(value);
  }
  const parsed = typeof value === 'string' ? parseInt64(value) : undefined;
  if (parsed === undefined) {
    throw new ImportFileError(
      file,
      line,
      `${name} must be an integer in the int64 range, got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

function toOperation(
  file: string,
  line: number,
  raw: string,
  fields: Fields,
  namespace: string,
): BatchOperation {
  for (const key of Object.keys(fields)) {
    if (!(IMPORT_FIELDS as readonly string[]).includes(key)) {
      throw new ImportFileError(
        file,
        line,
        `unknown field ${JSON.stringify(key)} (fields: ${IMPORT_FIELDS.join(', ')})`,
      );
    }
  }
  const type = text(file, line, fields, 'type', true);
  const given = text(file, line, fields, 'transaction_id', false);
  const transactionId = given === '' ? derivedTransactionId(namespace, line, raw) : given;
  try {
    if (type === 'account') {
      const accountId = text(file, line, fields, 'account_id', true);
      const initialBalance = amount(file, line, fields, 'initial_balance');
      validateCreate({ accountId, initialBalance, transactionId });
      return { kind: 'create', accountId, initialBalance, transactionId };
    }
    if (type === 'transfer') {
      const fromAccountId = text(file, line, fields, 'from_account_id', true);
      const toAccountId = text(file, line, fields, 'to_account_id', true);
      const value = amount(file, line, fields, 'amount');
      validateTransfer({ fromId: fromAccountId, toId: toAccountId, amount: value, transactionId });
      return { kind: 'transfer', fromAccountId, toAccountId, amount: value, transactionId };
    }
  } catch (err) {
    // The server would refuse it with this INVALID_ARGUMENT: refuse the file before sending anything.
    if (err instanceof LedgerError) throw new ImportFileError(file, line, err.message);
    throw err;
  }
  throw new ImportFileError(file, line, `type must be "account" or "transfer", got ${JSON.stringify(type)}`);
}
