import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BenchResult, result } from './report.js';

const run = promisify(execFile);
const MB = 2 ** 20;

interface ChildReport {
  accounts: number;
  createMs: number;
  baseline: NodeJS.MemoryUsage;
  afterBurst: NodeJS.MemoryUsage;
  after: NodeJS.MemoryUsage;
  logWindowEntries: number;
  txidsHeld: number;
}

export interface MemoryCase {
  accounts: number;
  /** Audit-log entries kept in memory; undefined = the product's default window. */
  logWindowEntries?: number;
}

/** Heap and RSS of an engine holding N accounts, each case in its own fresh process. */
export async function runMemoryBench(cases: readonly MemoryCase[], log: (line: string) => void) {
  const results: BenchResult[] = [];
  const details: Record<string, ChildReport> = {};
  const script = fileURLToPath(new URL('./memory-child.js', import.meta.url));
  for (const { accounts, logWindowEntries } of cases) {
    const args = [
      script,
      String(accounts),
      ...(logWindowEntries === undefined ? [] : [String(logWindowEntries)]),
    ];
    const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as ChildReport;
    const rssMb = report.after.rss / MB;
    const heapMb = report.after.heapUsed / MB;
    const bytesPerAccount = (report.after.heapUsed - report.baseline.heapUsed) / accounts;
    const label = `${accounts.toLocaleString('en-US')} accounts${logWindowEntries === undefined ? '' : `, log window ${logWindowEntries.toLocaleString('en-US')}`}`;
    details[label] = report;
    log(`memory ${label}: rss ${rssMb.toFixed(1)} MB, heap ${heapMb.toFixed(1)} MB`);
    const window = `log window holds ${report.logWindowEntries.toLocaleString('en-US')} entries`;
    const product = logWindowEntries === undefined;
    results.push(
      result(
        'memory',
        `RSS, ${label}`,
        rssMb,
        'MB',
        accounts === 100_000 && product ? { comparison: '<', value: 100 } : undefined,
        `whole process, settled (${(report.afterBurst.rss / MB).toFixed(0)} MB right after the creates; bare node ${(report.baseline.rss / MB).toFixed(0)} MB); ${window}`,
      ),
      result(
        'memory',
        `heap used, ${label}`,
        heapMb,
        'MB',
        undefined,
        `created in ${(report.createMs / 1000).toFixed(1)} s`,
      ),
      result(
        'memory',
        `heap per account, ${label}`,
        bytesPerAccount,
        'bytes',
        undefined,
        product ? 'incl. its log entry' : 'accounts only',
      ),
    );
  }
  return { results, details };
}
