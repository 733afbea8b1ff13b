import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { builtinScenarioNames } from '../src/harness/builtin-scenarios.js';
import { oneErrorLine, runCli } from './cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-load-'));

describe('ledgerctl load: a scenario from flags', () => {
  it('runs closed-loop load with the same report, JSON, JUnit and exit code as a scenario', async () => {
    const junit = join(dir, 'load.xml');
    const result = await runCli([
      'load',
      '--mix',
      'transfer=3,get=1',
      '--callers',
      '8',
      '--duration',
      '1s',
      '--accounts',
      '20',
      '--threshold',
      'error_rate(get) < 1%',
      '--json',
      '-',
      '--junit',
      junit,
      '--no-status',
    ]);
    expect(result.code).toBe(EXIT.ok);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ scenario: 'load', exitCode: 0 });
    expect(json.ops.map((o: { op: string }) => o.op)).toEqual(['get', 'transfer', '*']);
    expect(json.thresholds).toEqual([
      expect.objectContaining({ threshold: 'error_rate(get) < 1%', status: 'pass' }),
    ]);
    expect(json.verdicts.length).toBeGreaterThan(3);
    expect(result.stderr).toMatch(/result: PASS/);
    expect(readFileSync(junit, 'utf8')).toContain('<testsuite name="load"');
  });

  it('open loop at a rate; a failed threshold exits 3', async () => {
    const result = await runCli([
      'load',
      '--op',
      'get',
      '--rate',
      '200',
      '--duration',
      '1s',
      '--threshold',
      'rate(*) >= 1000000/s',
      '--no-status',
    ]);
    expect(result.code).toBe(EXIT.threshold);
    expect(result.stdout).toMatch(/open loop/);
    expect(result.stdout).toMatch(/rate\(\*\) >= 1000000\/s .*FAIL/);
  });

  it.each([
    [
      ['--rate', '10', '--callers', '2'],
      'ledgerctl: use --rate (open loop) or --callers (closed loop), not both',
    ],
    [['--op', 'get', '--mix', 'get=1'], 'ledgerctl: use --op or --mix, not both'],
    [['--duration', '5x'], 'ledgerctl: --duration: expected a duration like 500ms, 5s or 2m'],
    [['--op', 'pay'], /^ledgerctl: --mix\/--op: unknown operation "pay" \(known: create, get/],
    [['--threshold', 'p99(nope) < 1ms'], /^ledgerctl: --threshold: unknown operation "nope"/],
    [['--mix', 'transfer=x'], /^ledgerctl: --mix: cannot read "transfer=x"/],
  ])('refuses %j with one line naming the flag, exit 2', async (args, message) => {
    const result = await runCli(['load', ...args, '--no-status']);
    expect(result.code).toBe(EXIT.usage);
    const line = oneErrorLine(result.stderr);
    if (typeof message === 'string') expect(line).toBe(message);
    else expect(line).toMatch(message);
  });
});

describe('built-in scenarios and --set', () => {
  it('lists every shipped scenario with a one-line description', async () => {
    const result = await runCli(['scenarios', '--json']);
    const list = JSON.parse(result.stdout) as { name: string; ci: boolean; description: string }[];
    expect(list.map((s) => s.name)).toEqual(builtinScenarioNames());
    expect(list.find((s) => s.name === 'deadlock-storm')).toMatchObject({ ci: true });
    for (const s of list) expect(s.description).toMatch(/^\S.*[^\n]$/);
    const text = await runCli(['scenarios']);
    expect(text.stdout).toMatch(/^lost-update-unit +ci +100 concurrent UpdateBalance/m);
  });

  it('runs a built-in scenario by name, with --set overrides', async () => {
    const result = await runCli([
      'stress',
      'lost-update-unit',
      '--set',
      'phases.0.groups.0.ops=40',
      '--set',
      'expect.final_balances.acc=40',
      '--json',
      '-',
      '--no-status',
    ]);
    expect(result.code).toBe(EXIT.ok);
    const json = JSON.parse(result.stdout);
    expect(json.scenario).toBe('lost-update-unit');
    expect(json.ops.find((o: { op: string }) => o.op === 'update').count).toBe(40);
  });

  it('an override the schema refuses names the --set, every problem at once', async () => {
    const result = await runCli([
      'stress',
      'lost-update-unit',
      '--set',
      'phases.0.groups.0.load.callers=0',
      '--set',
      'phases.0.groups.0.ops=many',
    ]);
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'ledgerctl: --set phases.0.groups.0.load.callers=0: phases.0.groups.0.load.callers: Too small: expected number to be >=1',
      '--set phases.0.groups.0.ops=many: phases.0.groups.0.ops: expected number',
    ]);
  });

  it('a malformed --set and an unknown name are one line each', async () => {
    const bad = await runCli(['stress', 'lost-update-unit', '--set', 'no-equals-sign']);
    expect(bad.code).toBe(EXIT.usage);
    expect(oneErrorLine(bad.stderr)).toBe(
      'ledgerctl: --set no-equals-sign: expected key.path=value, e.g. phases.0.groups.0.load.rate_per_s=800',
    );
    const unknown = await runCli(['stress', 'no-such-scenario']);
    expect(unknown.code).toBe(EXIT.usage);
    expect(oneErrorLine(unknown.stderr)).toBe(
      'ledgerctl: no-such-scenario: no such scenario file, nor a built-in scenario of that name (see `ledgerctl scenarios`)',
    );
  });
});
