import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistogramLogReader } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import {
  type ComparableOp,
  compareRuns,
  parseRegressionRule,
  type RegressionRule,
} from '../src/harness/compare-baseline.js';
import { oneErrorLine, runCli } from './cli-run.js';

const op = (name: string, p99: number, rate: number, count = 100, ok = 100): ComparableOp => ({
  op: name,
  count,
  ok,
  throughputPerS: rate,
  latencyUs: { p50: p99 / 2, p90: p99 * 0.8, p99, p999: p99 * 1.5, max: p99 * 2, mean: p99 / 2 },
});
const rules = (...texts: string[]) => texts.map((t) => parseRegressionRule(t) as RegressionRule);

describe('regression rules', () => {
  it('reads the sign as the direction that is worse', () => {
    expect(parseRegressionRule('p99(*) +10%')).toMatchObject({
      metric: 'p99',
      op: '*',
      worse: 1,
      allowed: 0.1,
    });
    expect(parseRegressionRule('rate(transfer) -5%')).toMatchObject({
      metric: 'rate',
      worse: -1,
      allowed: 0.05,
    });
    expect(parseRegressionRule('p99.9(get) +20%')).toMatchObject({ metric: 'p999' });
    expect(parseRegressionRule('p99(*) 10%')).toMatch(/cannot read regression rule/);
    expect(parseRegressionRule('p42(*) +10%')).toMatch(/unknown metric "p42"/);
  });

  it('flags a p99 grown past its allowance and a rate fallen past its allowance, per op', () => {
    const baseline = [op('get', 1000, 500), op('transfer', 2000, 300), op('*', 2000, 800)];
    const current = [op('get', 1099, 476), op('transfer', 2300, 250), op('*', 2300, 726)];
    const c = compareRuns('base.json', baseline, current, rules('p99(*) +10%', 'rate(*) -5%'));
    const verdict = Object.fromEntries(c.rows.map((r) => [`${r.rule} ${r.op}`, r.regressed]));
    expect(verdict).toEqual({
      'p99(*) +10% get': false,
      'p99(*) +10% transfer': true,
      'p99(*) +10% *': true,
      'rate(*) -5% get': false,
      'rate(*) -5% transfer': true,
      'rate(*) -5% *': true,
    });
    expect(c.regressed).toBe(true);
    expect(c.rows[1]!.change).toBeCloseTo(0.15);
  });

  it('an improvement is never a regression; a named op missing is noted', () => {
    const c = compareRuns(
      'b',
      [op('get', 1000, 500)],
      [op('get', 500, 900)],
      rules('p99(*) +0%', 'rate(get) -0%', 'p99(query) +1%'),
    );
    expect(c.regressed).toBe(false);
    expect(c.missing).toEqual(['p99(query) +1%: no "query" in the baseline']);
  });
});

describe('--compare through the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-compare-'));
  const run = (...extra: string[]) =>
    runCli([
      'load',
      '--op',
      'get',
      '--callers',
      '2',
      '--duration',
      '1s',
      '--accounts',
      '5',
      '--no-status',
      ...extra,
    ]);

  it('exits 3 on a regression against the baseline and shows the delta per op', async () => {
    const first = join(dir, 'first.json');
    expect((await run('--json', first)).code).toBe(EXIT.ok);
    // The baseline claims ten times this machine's rate: this run must read as a regression.
    const report = JSON.parse(readFileSync(first, 'utf8'));
    for (const o of report.ops) o.throughputPerS *= 10;
    const baseline = join(dir, 'baseline.json');
    writeFileSync(baseline, JSON.stringify(report));

    const result = await run('--compare', baseline, '--json', join(dir, 'second.json'));
    expect(result.code).toBe(EXIT.threshold);
    expect(result.stdout).toContain(`compared with ${baseline}`);
    expect(result.stdout).toMatch(/│ rate\(\*\) -5% +│ get +│ .*│ -\d+\.\d% +│ REGRESSED │/);
    expect(result.stdout).toMatch(
      /result: FAIL \(0 invariants failed, 0 thresholds failed, \d regressions against the baseline; exit 3;/,
    );
    const json = JSON.parse(readFileSync(join(dir, 'second.json'), 'utf8'));
    expect(json.exitCode).toBe(EXIT.threshold);
    expect(json.comparison.regressed).toBe(true);

    // Against itself, with a generous allowance, nothing regresses.
    const same = await run('--compare', first, '--regression', 'rate(*) -99%');
    expect(same.code).toBe(EXIT.ok);
    expect(same.stdout).not.toContain('REGRESSED');
  });

  it('refuses a bad rule or an unreadable baseline before running', async () => {
    const rule = await run('--compare', 'x.json', '--regression', 'p99 +10%');
    expect(rule.code).toBe(EXIT.usage);
    expect(oneErrorLine(rule.stderr)).toMatch(/--regression <rule>' argument 'p99 \+10%' is invalid/);
    const missing = await run('--compare', join(dir, 'nope.json'));
    expect(missing.code).toBe(EXIT.usage);
    expect(oneErrorLine(missing.stderr)).toBe(
      `ledgerctl: --compare ${join(dir, 'nope.json')}: cannot read a JSON report (ENOENT)`,
    );
  });
});

describe('--hdr-log: full distributions for HdrHistogram tools', () => {
  it("writes one tagged interval per op that HdrHistogram's own log reader reads back exactly", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-hdr-'));
    const log = join(dir, 'latency.hlog');
    const json = join(dir, 'run.json');
    const result = await runCli([
      'load',
      '--mix',
      'transfer=1,get=1',
      '--callers',
      '4',
      '--duration',
      '1s',
      '--accounts',
      '10',
      '--hdr-log',
      log,
      '--json',
      json,
      '--no-status',
    ]);
    expect(result.code).toBe(EXIT.ok);
    const text = readFileSync(log, 'utf8');
    expect(text.split('\n').slice(0, 4)).toEqual([
      '#[Histogram log format version 1.3]',
      expect.stringMatching(/^#\[StartTime: \d+\.\d{3} \(seconds since epoch\), /),
      '#[values in microseconds; one tagged interval per scenario and op]',
      '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    const reader = new HistogramLogReader(text);
    const read = new Map<string, { count: number; p99: number }>();
    for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
      read.set(h.tag, { count: h.totalCount, p99: h.getValueAtPercentile(99) });
    }
    expect([...read.keys()].sort()).toEqual(['load/all', 'load/get', 'load/transfer']);
    for (const op of report.ops as { op: string; count: number; latencyUs: { p99: number } }[]) {
      const tag = `load/${op.op === '*' ? 'all' : op.op}`;
      expect(read.get(tag)).toEqual({ count: op.count, p99: op.latencyUs.p99 });
    }
  });
});
