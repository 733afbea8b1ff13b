import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { parseScenario } from '../src/harness/load-scenario.js';
import { runScenario } from '../src/harness/run-scenario.js';

// The in-process server runs in a worker thread that loads dist/ (`npm test` builds first).
const LOST_UPDATE = `name: lost-update-e2e
accounts:
  - { id: acc, balance: 1000 }
  - { count: 4, prefix: m-, balance: 500 }
SERVER
phases:
  - name: storm
    timeout: 20s
    groups:
      - name: plus-ten
        script: { op: update, account: acc, amount: 10 }
        load: { model: closed, callers: 100 }
        ops: 100
      - name: mesh
        mix: { transfer: 3, get: 1, snapshot: 1, query: 1 }
        pool: [m-0, m-1, m-2, m-3]
        load: { model: closed, callers: 8 }
        ops: 200
expect:
  final_balances: { acc: 2000 }
  allowed_errors: [FAILED_PRECONDITION]
  thresholds: ['error_rate(update) < 0.1%', 'dropped(*) <= 0']
`;

const scenario = (server: string) => parseScenario(LOST_UPDATE.replace('SERVER', server), 'e2e.yaml');

describe('stress runs against the in-process server', () => {
  it('passes every invariant against the real engine (with async commits)', async () => {
    const result = await runScenario(scenario('server: { commit_delay_ms: [0, 2] }'), {
      file: 'e2e.yaml',
      seed: 11,
    });
    const failed = result.verdicts.filter((v) => !v.passed);
    expect(failed).toEqual([]);
    expect(result.verdicts.map((v) => v.name)).toContain('exact-balances');
    expect(result.thresholds.every((t) => t.status === 'pass')).toBe(true);
    expect(result.ops.find((o) => o.op === 'update')).toMatchObject({ count: 100, ok: 100 });
    expect(result.resources?.server).toBe('in-process');
    expect(result.verdict).toBe('pass');
  });

  it('fails (exit 1) against the broken test-double engine: lost updates are caught', async () => {
    const result = await runScenario(
      scenario('server: { commit_delay_ms: [0, 3], test_double: { unsafe_locking: none } }'),
      { file: 'e2e.yaml', seed: 11 },
    );
    const failed = result.verdicts.filter((v) => !v.passed).map((v) => v.name);
    expect(failed).toContain('exact-balances');
    expect(result.verdict).toBe('invariant-failed');
  });
});

const run = promisify(execFile);
const cli = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await run('node', ['bin/ledgerctl.js', ...args], {
      cwd: join(import.meta.dirname, '..'),
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('ledgerctl stress CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-stress-'));

  it('a broken scenario file: file:line:col and exit 2, no stack trace', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\nphases:\n  - name: p\n    groups:\n      - name: g\n        op: get\n');
    const r = await cli('stress', file);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(`${file}:6:9: phases.0.groups.0: unknown key "op"`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable target: one clear line and exit 2', async () => {
    const r = await cli('stress', 'scenarios/lost-update.yaml', '--target', '127.0.0.1:1', '--no-status');
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/^ledgerctl: cannot reach ledger at 127\.0\.0\.1:1/);
  });

  it('runs a scenario, writes JSON, JUnit and JSONL history, exit 0', async () => {
    const json = join(dir, 'r.json');
    const junit = join(dir, 'r.xml');
    const history = join(dir, 'h.jsonl');
    const r = await cli(
      'stress',
      'scenarios/lost-update-unit.yaml',
      '--seed',
      '5',
      '--json',
      json,
      '--junit',
      junit,
      '--history',
      history,
      '--no-status',
    );
    expect(r.stdout).toContain('result: PASS');
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toMatchObject({
      scenario: 'lost-update-unit',
      seed: 5,
      exitCode: 0,
    });
    expect(readFileSync(junit, 'utf8')).toContain(
      '<testcase classname="lost-update-unit.invariants" name="conservation">',
    );
    const lines = readFileSync(history, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.type === 'invoke')).toHaveLength(100);
    expect(lines.filter((l) => l.type === 'ok')).toHaveLength(100);
  });

  it('calibrate prints the floor alone; a bad rate is one line and exit 2', async () => {
    const r = await cli('calibrate', '--rate', '200', '--duration', '500ms', '--json');
    expect(r.code).toBe(EXIT.ok);
    const floor = JSON.parse(r.stdout);
    expect(floor).toMatchObject({ ratePerS: 200, rateSource: 'flag', durationMs: 500 });
    expect(floor.calls).toBeGreaterThan(50);
    expect(floor.latencyUs.p99).toBeGreaterThan(0);
    expect(floor.sendLatenessUs.p99).toBeGreaterThan(0);
    const bad = await cli('calibrate', '--rate', '0');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toMatch(/^ledgerctl: .*--rate.*/);
  });

  it('every stress report states the floor at its rate and the server time per op', async () => {
    const json = join(dir, 'floor.json');
    const r = await cli(
      'stress',
      'scenarios/lost-update-unit.yaml',
      '--seed',
      '5',
      '--json',
      json,
      '--no-status',
    );
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/instrument floor at 500\/s \(default: the run has no open-loop rate\): p50 /);
    expect(r.stdout).toContain('client latency beside server time');
    const result = JSON.parse(readFileSync(json, 'utf8'));
    expect(result.floor).toMatchObject({ ratePerS: 500, rateSource: 'default' });
    const update = result.ops.find((o: { op: string }) => o.op === 'update');
    expect(update.serverUs.p99).toBeGreaterThan(0);
    expect(update.serverUs.p99).toBeLessThanOrEqual(update.serviceUs.max);
  });
});
