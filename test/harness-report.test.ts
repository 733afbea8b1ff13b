import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { exitCodeOf, worstExitCode } from '../src/cli/exit-status.js';
import type { InvariantVerdict } from '../src/harness/history.js';
import { renderHumanReport } from '../src/harness/human-report.js';
import { renderJunit } from '../src/harness/junit-report.js';
import type { RunResult } from '../src/harness/run-result.js';
import { runVerdict } from '../src/harness/run-verdict.js';
import type { ThresholdResult } from '../src/harness/thresholds.js';

const pass: InvariantVerdict = { name: 'conservation', passed: true, summary: 'total kept', evidence: [] };
const fail: InvariantVerdict = {
  name: 'exact-balances',
  passed: false,
  summary: 'lost update',
  evidence: ['acc: 1020 <want 2000>'],
};
const tPass: ThresholdResult = {
  threshold: 'p99(get) < 5ms',
  limit: '< 5.00ms',
  observed: '1.00ms',
  status: 'pass',
};
const tFail: ThresholdResult = {
  threshold: 'p99(get) < 1ms',
  limit: '< 1.00ms',
  observed: '2.00ms',
  status: 'fail',
};
const tSkip: ThresholdResult = {
  threshold: 'max_rss < 1GB',
  limit: '< 1.00GB',
  observed: 'n/a',
  status: 'skipped',
  note: 'remote',
};

function result(verdicts: InvariantVerdict[], thresholds: ThresholdResult[]): RunResult {
  return {
    scenario: 'demo',
    file: 'demo.yaml',
    kind: 'load',
    seed: 7,
    target: 'in-process',
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 1234,
    ops: [],
    groups: [],
    verdicts,
    thresholds,
    resources: undefined,
    stuckPhases: [],
    notes: [],
    verdict: runVerdict(verdicts, thresholds),
  };
}

describe('exit codes', () => {
  it('maps one run: invariant failure 1 (even with a threshold failure), threshold 3, else 0', () => {
    const code = (v: InvariantVerdict[], t: ThresholdResult[]) => exitCodeOf(runVerdict(v, t));
    expect(code([pass], [tPass, tSkip])).toBe(EXIT.ok);
    expect(code([pass], [tFail])).toBe(EXIT.threshold);
    expect(code([fail], [tPass])).toBe(EXIT.failed);
    expect(code([fail], [tFail])).toBe(EXIT.failed);
  });

  it('gate: the worst of all runs, invariants first, then invalid input, then thresholds', () => {
    expect(worstExitCode([EXIT.ok, EXIT.ok])).toBe(EXIT.ok);
    expect(worstExitCode([EXIT.ok, EXIT.threshold])).toBe(EXIT.threshold);
    expect(worstExitCode([EXIT.threshold, EXIT.usage])).toBe(EXIT.usage);
    expect(worstExitCode([EXIT.usage, EXIT.failed, EXIT.threshold])).toBe(EXIT.failed);
  });
});

describe('reports', () => {
  it('human report shows the seed, each verdict, evidence of failures and the exit code', () => {
    const text = renderHumanReport(result([pass, fail], [tPass, tFail]), false, 1);
    expect(text).toContain('seed 7');
    expect(text).toContain('exact-balances FAILED: lost update');
    expect(text).toContain('acc: 1020 <want 2000>');
    expect(text).toContain('result: FAIL (1 invariants failed, 1 thresholds failed; exit 1; seed 7)');
    // Piped output carries no ANSI colour codes.
    expect(text).not.toContain('\u001b[');
  });

  it('JUnit has one testcase per invariant and threshold, with failures and skips, XML-escaped', () => {
    const xml = renderJunit([result([pass, fail], [tPass, tFail, tSkip])]);
    expect(xml.match(/<testcase /g)).toHaveLength(5);
    expect(xml).toContain('<testsuite name="demo" tests="5" failures="2" skipped="1" time="1.234">');
    expect(xml).toContain('acc: 1020 &lt;want 2000&gt;');
    expect(xml).toContain('<skipped message="remote"/>');
    expect(xml).toContain('name="p99(get) &lt; 1ms"><failure message="observed 2.00ms, limit &lt; 1.00ms"/>');
  });
});
