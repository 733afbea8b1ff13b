import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError } from '../src/harness/load-scenario.js';
import { scenarioSchemaText } from '../src/harness/write-schema.js';

function problems(text: string): string[] {
  try {
    parseScenario(text, 'x.yaml');
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
  throw new Error('expected the scenario to be rejected');
}

const VALID = `name: demo
ci: true
accounts:
  - { id: acc, balance: 1000 }
  - { count: 3, prefix: p-, balance: "9007199254740993" }
phases:
  - name: storm
    timeout: 5s
    groups:
      - name: plus
        script: { op: update, account: acc, amount: 10 }
        load: { model: closed, callers: 4 }
        ops: 8
      - name: open
        mix: { get: 3, transfer: 1 }
        load: { model: open, rate_per_s: 200, arrivals: poisson }
        duration: 2s
        warmup: 500ms
expect:
  final_balances: { acc: 1080 }
  allowed_errors: [FAILED_PRECONDITION]
  thresholds: ['p99(transfer) < 50ms', 'max_rss < 500MB']
`;

describe('scenario files', () => {
  it('parses a valid scenario with money as bigint and durations in ms', () => {
    const s = parseScenario(VALID, 'x.yaml');
    expect(s.kind).toBe('load');
    expect(s.accounts[1]).toEqual({ count: 3, prefix: 'p-', balance: 9007199254740993n });
    expect(s.phases[0]!.timeout).toBe(5000);
    expect(s.phases[0]!.groups[1]!.warmup).toBe(500);
    expect(s.expect.final_balances).toEqual({ acc: 1080n });
    expect(s.expect.invariants).toContain('conservation');
  });

  it('points an unknown key at its own line and column', () => {
    const text = VALID.replace('    timeout: 5s\n', '    timeout: 5s\n    timout: 6s\n');
    expect(problems(text)).toEqual(['x.yaml:9:5: phases.0: unknown key "timout"']);
  });

  it('points a wrong value type at the value', () => {
    expect(problems(VALID.replace('callers: 4', 'callers: four'))).toEqual([
      'x.yaml:12:41: phases.0.groups.0.load.callers: expected number',
    ]);
  });

  it('names the allowed values of an enum', () => {
    expect(problems(VALID.replace('op: update', 'op: upd'))[0]).toMatch(
      /^x\.yaml:11:23: phases\.0\.groups\.0\.script\.op: expected one of "create", "get", "update"/,
    );
  });

  it('reports a missing required key at the mapping that lacks it', () => {
    expect(problems('ci: true\nphases: []\n')).toEqual(['x.yaml:1:1: name: is required']);
    expect(problems('name: a\nphases: []\n')).toEqual([
      'x.yaml:2:9: phases: a load scenario needs at least one phase',
    ]);
  });

  it('rejects an unreadable threshold with what is expected', () => {
    expect(problems(VALID.replace("'max_rss < 500MB'", "'p99(transfer) < 50'"))).toEqual([
      'x.yaml:22:40: expect.thresholds.1: threshold "p99(transfer) < 50": expected a time unit (us, ms, s)',
    ]);
  });

  it('rejects a group with both or neither of ops and duration, and of script and mix', () => {
    const text = VALID.replace('        ops: 8\n', '');
    expect(problems(text)).toEqual([
      'x.yaml:10:9: phases.0.groups.0: a group needs exactly one of "ops" or "duration"',
    ]);
  });

  it('refuses durations a timer cannot hold (a 30-day run would end after 1 ms), not a 10-year txid_ttl', () => {
    const tooLong = 'longer than a timer can hold: at most 2147483647 ms (about 24.8 days, e.g. 24d)';
    expect(problems(VALID.replace('duration: 2s', 'duration: 30d'))).toEqual([
      `x.yaml:17:19: phases.0.groups.1.duration: ${tooLong}`,
    ]);
    expect(problems(VALID.replace('timeout: 5s', 'timeout: 25d'))).toEqual([
      `x.yaml:8:14: phases.0.timeout: ${tooLong}`,
    ]);
    expect(parseScenario(VALID.replace('duration: 2s', 'duration: 24d'), 'x.yaml')).toBeDefined();
    expect(
      parseScenario(VALID.replace('ci: true', 'ci: true\nserver: { txid_ttl: 3650d }'), 'x.yaml'),
    ).toBeDefined();
  });

  it('reports YAML syntax errors and duplicate keys with line:col', () => {
    expect(problems('name: a\nname: b\n')[0]).toMatch(/^x\.yaml:2:1: Map keys must be unique/);
    expect(problems('name: [unclosed\n')[0]).toMatch(/^x\.yaml:\d+:\d+: /);
  });

  it('rejects a money amount that is not an integer', () => {
    expect(problems(VALID.replace('balance: 1000 }', 'balance: 10.5 }'))[0]).toMatch(
      /^x\.yaml:4:25: accounts\.0/,
    );
  });

  it('publishes scenarios/schema.json generated from the schema (regenerate: node dist/src/harness/write-schema.js scenarios/schema.json)', () => {
    // Compared as JSON: Biome formats the committed file; the content must match exactly.
    const committed = JSON.parse(readFileSync(new URL('../scenarios/schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(scenarioSchemaText()));
  });
});
