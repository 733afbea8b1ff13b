import Table from 'cli-table3';
import { tableStyle } from '../harness/table-style.js';
import { toWireTimestamp } from '../server/ledger-handlers.js';

type Alignment = 'left' | 'right' | 'center';

/** A cli-table3 table that emits no ANSI escapes when piped (it colours by default). */
export function newTable(head: string[] = [], colAligns: Alignment[] = []): Table.Table {
  const style = tableStyle();
  return new Table(style === undefined ? { head, colAligns } : { head, colAligns, style });
}

/** A two-column table of labelled values, for one record. */
export function recordTable(rows: ReadonlyArray<readonly [string, string]>): string {
  const table = newTable();
  for (const [label, value] of rows) table.push({ [label]: escapeControls(value) });
  return table.toString();
}

// C0 controls, DEL, C1 controls (ESC [ and CSI start ANSI sequences) and the Unicode bidi
// controls that reorder what follows them on screen.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from the ledger (ids are client-chosen bytes) made safe for a terminal: control characters
 * are shown escaped (`\x1b`, `\u202e`), so an id cannot move the cursor, recolour or rewrite the
 * operator's screen. JSON output needs none of this (JSON escapes them itself).
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
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
