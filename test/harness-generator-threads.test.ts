import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatorThreadsFor, splitCount, threadShare } from '../src/harness/generator-threads.js';
import { HARNESS_LIMITS } from '../src/harness/harness-limits.js';
import { parseScenario } from '../src/harness/load-scenario.js';
import { buildLatencyHistogram } from '../src/harness/op-stats.js';
import { runScenario } from '../src/harness/run-scenario.js';

const SCENARIO = `name: threads-e2e
generator: { threads: 3 }
accounts:
  - { count: 50, prefix: t-, balance: 100000 }
phases:
  - name: mixed
    groups:
      - name: open
        mix: { get: 2, update: 1, transfer: 1, query: 1 }
        load: { model: open, rate_per_s: 300, arrivals: poisson, max_in_flight: 30 }
        duration: 1500ms
      - name: closed
        mix: { update: 1, transfer: 1 }
        load: { model: closed, callers: 7 }
        ops: 400
`;

// Threads and a fault together: the fault gate reaches every thread (sends wait while the server
// is down), every thread moves to the restarted server, and the one history stays whole.
const CRASH_THREADS = `name: threads-crash-e2e
generator: { threads: 2 }
server: SERVER
faults:
  - { kill: server, every: 250ms..450ms, signal: SIGKILL, count: 2 }
accounts:
  - { count: 6, prefix: c-, balance: 1000 }
phases:
  - name: load
    groups:
      - name: open
        mix: { update: 3, transfer: 5, get: 2 }
        delta: { min: -30, max: 30 }
        load: { model: open, rate_per_s: 200, arrivals: uniform, max_in_flight: 40 }
        duration: 3s
      - name: closed
        mix: { update: 1, transfer: 1, snapshot: 1 }
        delta: { min: -30, max: 30 }
        load: { model: closed, callers: 4 }
        duration: 3s
expect:
  allowed_errors: [FAILED_PRECONDITION]
`;

describe('generator threads', () => {
  it('split a group exactly: rates, slots, callers and ops add up to the whole', () => {
    for (const [n, parts] of [
      [10, 3],
      [7, 7],
      [1, 4],
      [1000, 16],
    ] as const) {
      const sum = Array.from({ length: parts }, (_, k) => splitCount(n, parts, k)).reduce((a, b) => a + b, 0);
      expect(sum).toBe(n);
    }
    const spec = parseScenario(SCENARIO, 'x.yaml').phases[0]!.groups;
    const shares = [0, 1, 2].map((k) => threadShare(spec[0]!, 3, k));
    expect(shares.reduce((s, g) => s + (g.load.model === 'open' ? g.load.rate_per_s : 0), 0)).toBeCloseTo(
      300,
    );
    expect(shares.reduce((s, g) => s + (g.load.model === 'open' ? g.load.max_in_flight! : 0), 0)).toBe(30);
    const closed = [0, 1, 2].map((k) => threadShare(spec[1]!, 3, k));
    expect(closed.map((g) => (g.load.model === 'closed' ? g.load.callers : 0))).toEqual([3, 2, 2]);
    expect(closed.reduce((s, g) => s + g.ops!, 0)).toBe(400);
  });

  it('one history, unique ids, invariants whole, and histograms equal to one histogram of every sample', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-threads-'));
    const historyFile = join(dir, 'h.jsonl');
    const result = await runScenario(parseScenario(SCENARIO, 'threads.yaml'), {
      file: 'threads.yaml',
      seed: 3,
      historyFile,
    });
    expect(result.verdicts.filter((v) => !v.passed)).toEqual([]);
    expect(result.verdict).toBe('pass');
    const lines = readFileSync(historyFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const invokes = lines.filter((l) => l.type === 'invoke');
    const ends = new Map(lines.filter((l) => l.type !== 'invoke').map((l) => [l.index, l]));
    expect(ends.size).toBe(invokes.length);
    const all = result.ops.find((o) => o.op === '*')!;
    expect(all.count).toBe(invokes.length);
    expect(result.groups.find((g) => g.name === 'closed')!.calls).toBe(400);

    // Transaction ids of writes are unique across threads.
    const txids = invokes
      .filter((l) => l.f === 'update' || l.f === 'transfer')
      .map((l) => l.value.transactionId);
    expect(new Set(txids).size).toBe(txids.length);
    // Caller ids are unique across threads: each caller's calls never overlap in time.
    const byCaller = new Map<number, [bigint, bigint][]>();
    for (const l of invokes) {
      const span: [bigint, bigint] = [BigInt(l.time), BigInt(ends.get(l.index).time)];
      byCaller.set(l.process, [...(byCaller.get(l.process) ?? []), span]);
    }
    for (const spans of byCaller.values()) {
      spans.sort((a, b) => (a[0] < b[0] ? -1 : 1));
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0] >= spans[i - 1]![1]).toBe(true);
    }
    expect(byCaller.size).toBeGreaterThan(7);

    // The report's service-time histogram is exactly a single histogram of every call's sample.
    const single = buildLatencyHistogram();
    for (const l of invokes) {
      const us = Number(BigInt(ends.get(l.index).time) - BigInt(l.time)) / 1_000;
      single.recordValue(Math.max(1, Math.round(us)));
    }
    expect(all.serviceUs).toEqual({
      p50: single.getValueAtPercentile(50),
      p90: single.getValueAtPercentile(90),
      p99: single.getValueAtPercentile(99),
      p999: single.getValueAtPercentile(99.9),
      max: single.maxValue,
      mean: single.mean,
    });
  }, 60_000);

  it('with a fault: every thread waits out the restarts and moves; durability and the history hold, and a lossy server is caught', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-threads-crash-'));
    const historyFile = join(dir, 'h.jsonl');
    const durable = CRASH_THREADS.replace('SERVER', '{ mode: spawned, data_dir: temp }');
    const result = await runScenario(parseScenario(durable, 'threads-crash.yaml'), {
      file: 'threads-crash.yaml',
      seed: 4,
      historyFile,
    });
    expect(result.verdicts.filter((v) => !v.passed)).toEqual([]);
    expect(result.verdicts.map((v) => v.name)).toContain('durability');
    expect(result.faults!.kills).toBeGreaterThanOrEqual(2);
    expect(result.faults!.restartFailures).toEqual([]);
    const lines = readFileSync(historyFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const invokes = lines.filter((l) => l.type === 'invoke');
    // Dense indexes over both threads and the main thread's retries, each call ended exactly once.
    expect(invokes.map((l) => l.index).sort((a, b) => a - b)).toEqual(invokes.map((_, i) => i));
    expect(new Set(lines.filter((l) => l.type !== 'invoke').map((l) => l.index)).size).toBe(invokes.length);
    // Both threads' calls are in it (their caller ids are disjoint ranges).
    expect(new Set(invokes.map((l) => l.process)).size).toBeGreaterThan(4);
    expect(result.faults!.restarts).toHaveLength(result.faults!.kills);
    expect(result.ops.find((o) => o.op === '*')!.ok).toBeGreaterThan(100);
    expect(result.verdict).toBe('pass');

    // The same load against a server that keeps nothing across a kill: the threads' writes are checked too.
    const lossy = CRASH_THREADS.replace('SERVER', '{ mode: spawned, in_memory: true }');
    const caught = await runScenario(parseScenario(lossy, 'threads-crash.yaml'), {
      file: 'threads-crash.yaml',
      seed: 4,
    });
    expect(caught.verdicts.filter((v) => !v.passed).map((v) => v.name)).toContain('durability');
    expect(caught.verdict).toBe('invariant-failed');
  }, 120_000);
});

describe('the default number of generator threads', () => {
  const threadsOf = (...args: Parameters<typeof generatorThreadsFor>) => generatorThreadsFor(...args).threads;
  const scenario = (groups: string, generator = '') =>
    parseScenario(
      `name: threads-default
${generator}accounts:
  - { count: 5, prefix: d-, balance: 100 }
phases:
  - name: a
    groups:
${groups}`,
      'threads-default.yaml',
    );
  const open = (name: string, rate: number) =>
    `      - { name: ${name}, mix: { get: 1 }, load: { model: open, rate_per_s: ${rate} }, duration: 1s }\n`;
  const ramp = `      - name: ramp
        mix: { get: 1 }
        load: { model: open, start_rate: 10, stages: [{ duration: 1s, target: 1500 }, { duration: 1s, target: 10 }] }
`;

  it('keeps a slow open loop and closed loops on the main thread', () => {
    expect(threadsOf(scenario(open('slow', 999)), undefined)).toBe(1);
    const closed = '      - { name: c, mix: { get: 1 }, load: { model: closed, callers: 64 }, ops: 10 }\n';
    expect(threadsOf(scenario(closed), undefined)).toBe(1);
  });

  it('moves an open loop of 1,000/s or more off the main thread, summed over a phase, a ramp at its peak', () => {
    const threads = HARNESS_LIMITS.generatorThreadsAtRate;
    expect(generatorThreadsFor(scenario(open('fast', 1000)), undefined)).toEqual({ threads, byRate: true });
    expect(threadsOf(scenario(open('fast', 1000)), undefined)).toBe(threads);
    expect(threadsOf(scenario(open('a', 600) + open('b', 400)), undefined)).toBe(threads);
    expect(threadsOf(scenario(ramp), undefined)).toBe(threads);
  });

  it('the flag, then the scenario, decide over the rate', () => {
    expect(generatorThreadsFor(scenario(open('fast', 3000)), 2)).toEqual({ threads: 2, byRate: false });
    expect(threadsOf(scenario(open('fast', 3000)), 1)).toBe(1);
    expect(threadsOf(scenario(open('fast', 3000), 'generator: { threads: 1 }\n'), undefined)).toBe(1);
    expect(threadsOf(scenario(open('slow', 10), 'generator: { threads: 3 }\n'), 4)).toBe(4);
  });
});
