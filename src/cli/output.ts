import Table from 'cli-table3';
import { toWireTimestamp } from '../server/ledger-handlers.js';

/** Colour only for a person at a terminal who has not opted out (https://no-color.org). */
export function colourEnabled(): boolean {
  return process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === '';
}

type Alignment = 'left' | 'right' | 'center';

/** A cli-table3 table that emits no ANSI escapes when piped (it colours by default). */
export function newTable(head: string[] = [], colAligns: Alignment[] = []): Table.Table {
  const style = colourEnabled() ? {} : { head: [], border: [] };
  return new Table({ head, colAligns, style });
}

/** A two-column table of labelled values, for one record. */
export function recordTable(rows: ReadonlyArray<readonly [string, string]>): string {
  const table = newTable();
  for (const [label, value] of rows) table.push({ [label]: value });
  return table.toString();
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** JSON for scripts: every 64-bit integer as a decimal string, so no consumer rounds it. */
export function printJson(value: unknown): void {
  printLine(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
}

/** RFC 3339 in UTC with all nine fractional digits: Date would cut the nanoseconds to milliseconds. */
export function formatTimestampNs(ns: bigint): string {
  const { seconds, nanos } = toWireTimestamp(ns);
  const wholeSeconds = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${wholeSeconds}.${String(nanos).padStart(9, '0')}Z`;
}
