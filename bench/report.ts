import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import Table from 'cli-table3';
import { colourEnabled } from '../src/harness/table-style.js';

export interface Target {
  readonly comparison: '>=' | '<=' | '<';
  readonly value: number;
}

/** One measured number, with its target when the issue sets one. */
export interface BenchResult {
  readonly section: string;
  readonly name: string;
  readonly value: number | undefined;
  readonly unit: string;
  readonly target?: Target;
  /** undefined when there is no target, or the measurement could not be taken. */
  readonly pass?: boolean;
  readonly note?: string;
}

export function result(
  section: string,
  name: string,
  value: number | undefined,
  unit: string,
  target?: Target,
  note?: string,
): BenchResult {
  let pass: boolean | undefined;
  if (target !== undefined && value !== undefined && Number.isFinite(value)) {
    pass =
      target.comparison === '>='
        ? value >= target.value
        : target.comparison === '<='
          ? value <= target.value
          : value < target.value;
  }
  return {
    section,
    name,
    value,
    unit,
    ...(target === undefined ? {} : { target }),
    ...(pass === undefined ? {} : { pass }),
    ...(note === undefined ? {} : { note }),
  };
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  totalMemoryMb: number;
  loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) cpuModel = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: os.cpus() is good enough.
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
    loadAverage1m: os.loadavg()[0] ?? 0,
  };
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function verdict(r: BenchResult): string {
  if (r.target === undefined) return '';
  if (r.pass === undefined) return 'n/a';
  return r.pass ? 'pass' : 'MISS';
}

/** The human table, coloured by the same rule as every ledgerctl table. */
export function renderTable(results: readonly BenchResult[]): string {
  const colour = colourEnabled();
  const table = new Table({
    head: ['section', 'measure', 'value', 'target', 'verdict', 'note'],
    colAligns: ['left', 'left', 'right', 'right', 'left', 'left'],
    ...(colour ? {} : { style: { head: [], border: [] } }),
  });
  for (const r of results) {
    const value =
      r.value === undefined ? (r.target === undefined ? '' : 'n/a') : `${formatNumber(r.value)} ${r.unit}`;
    const target =
      r.target === undefined ? '' : `${r.target.comparison} ${formatNumber(r.target.value)} ${r.unit}`;
    table.push([r.section, r.name, value, target, verdict(r), r.note ?? '']);
  }
  return table.toString();
}

export async function writeJsonReport(file: string, report: object): Promise<void> {
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}
