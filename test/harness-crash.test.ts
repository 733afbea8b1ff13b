import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError } from '../src/harness/load-scenario.js';
import { runScenario } from '../src/harness/run-scenario.js';

// The harness spawns bin/ledgerctl.js, which loads dist/ (`npm test` builds first).
const CRASH = `name: crash-e2e
seed: 5
server: SERVER
faults:
  - { kill: server, every: 200ms..400ms, signal: SIGKILL, count: 5 }
accounts:
  - { count: 6, prefix: c-, balance: 1000 }
phases:
  - name: load
    groups:
      - name: mixed
        mix: { update: 3, transfer: 5, get: 2, snapshot: 1, query: 1, create: 1 }
        delta: { min: -30, max: 30 }
        load: { model: closed, callers: 8 }
        duration: 8s
expect:
  allowed_errors: [FAILED_PRECONDITION]
`;

const crash = (server: string) => parseScenario(CRASH.replace('SERVER', server), 'crash-e2e.yaml');

describe('fault injection: a spawned server killed and restarted during the run', () => {
  it('passes every invariant, durability included, against the durable server', async () => {
    const result = await runScenario(crash('{ mode: spawned, data_dir: temp }'), { file: 'crash-e2e.yaml' });
    const failed = result.verdicts.filter((v) => !v.passed);
    expect(failed).toEqual([]);
    expect(result.verdicts.map((v) => v.name)).toContain('durability');
    expect(result.faults).toMatchObject({ signal: 'SIGKILL', restartFailures: [], unexpectedExits: [] });
    // Kills are timed, restarts take about 0.8 s each: 5 fit in 8 s here; a loaded machine may fit fewer.
    expect(result.faults!.kills).toBeGreaterThanOrEqual(3);
    expect(result.faults!.kills).toBeLessThanOrEqual(5);
    expect(result.faults!.restarts).toHaveLength(result.faults!.kills);
    // Each restart recovered what the previous process had committed, and said so in its log.
    const recovered = result.faults!.restarts.map((r) => r.recoveredLogEntries ?? 0);
    expect(recovered.every((n, i) => i === 0 || n >= recovered[i - 1]!)).toBe(true);
    const retries = result.faults!.retries!;
    expect(retries.sent).toBe(retries.replayed + retries.executed + retries.refused + retries.indeterminate);
    // The spawned server's memory is measured apart from this process, split into anon and file pages.
    const memory = result.resources!.serverMemory!.after;
    expect(memory.anonBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(memory.fileBytes).toBeGreaterThan(0);
    expect(memory.anonBytes + memory.fileBytes).toBeLessThanOrEqual(memory.rssBytes);
    expect(result.verdict).toBe('pass');
  });

  it('fails (exit 1) against a server that keeps nothing across a kill (--in-memory)', async () => {
    const result = await runScenario(crash('{ mode: spawned, in_memory: true }'), { file: 'crash-e2e.yaml' });
    const failed = result.verdicts.filter((v) => !v.passed).map((v) => v.name);
    expect(failed).toEqual(expect.arrayContaining(['durability', 'conservation', 'exact-balances']));
    const durability = result.verdicts.find((v) => v.name === 'durability')!;
    expect(durability.evidence[0]).toMatch(
      /acknowledged at .* before kill #1 .*missing after the last restart/,
    );
    expect(result.verdict).toBe('invariant-failed');
  });
});

describe('fault keys are validated', () => {
  const problems = (yaml: string): string[] => {
    try {
      parseScenario(yaml, 'f.yaml');
    } catch (err) {
      if (err instanceof ScenarioError) return err.problems;
      throw err;
    }
    return [];
  };
  const base = (server: string, fault: string) =>
    `name: f\nserver: ${server}\nfaults:\n  - ${fault}\naccounts: [{ id: a, balance: 1 }]\nphases:\n  - name: p\n    groups:\n      - { name: g, script: { op: get, account: a }, ops: 1 }\n`;

  it('needs a spawned server, a valid interval and no in-process-only keys', () => {
    expect(problems(base('{ mode: in-process }', '{ kill: server, every: 1s }')).join('\n')).toMatch(
      /f\.yaml:\d+:\d+: faults: needs "server: \{ mode: spawned \}"/,
    );
    expect(problems(base('{ mode: spawned }', '{ kill: server, every: 3s..1s }')).join('\n')).toMatch(
      /expected a duration or a range like 300ms\.\.900ms/,
    );
    expect(
      problems(base('{ mode: spawned, commit_delay_ms: [0, 1] }', '{ kill: server, every: 1s }')).join('\n'),
    ).toMatch(/"commit_delay_ms" needs server mode in-process/);
    expect(problems(base('{ mode: spawned }', '{ kill: server, every: 1s..2s, count: 3 }'))).toEqual([]);
  });

  it('checks durability by default only when the scenario injects faults', () => {
    const withFaults = parseScenario(base('{ mode: spawned }', '{ kill: server, every: 1s }'), 'f.yaml');
    expect(withFaults.expect.invariants).toContain('durability');
    const plain = parseScenario(
      base('{ mode: in-process }', '{ kill: server, every: 1s }').replace(/faults:\n.*\n/, ''),
      'f.yaml',
    );
    expect(plain.expect.invariants).not.toContain('durability');
  });
});
