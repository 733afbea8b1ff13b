import { describe, expect, it } from 'vitest';
import { ArrivalSchedule, type RateRamp } from '../src/harness/arrival-schedule.js';
import { flagScenario } from '../src/harness/flag-scenario.js';
import type { OpRecord } from '../src/harness/history.js';
import { parseScenario, ScenarioError } from '../src/harness/load-scenario.js';
import type { GroupResult } from '../src/harness/run-group.js';
import { SeededRandom } from '../src/harness/seeded-random.js';
import { addStageFigures, stageRows } from '../src/harness/stage-report.js';

/** Every due time of a schedule, until it says nothing more is due. */
function allDue(s: ArrivalSchedule): number[] {
  const due: number[] = [];
  for (let t = s.next(); Number.isFinite(t); t = s.next()) due.push(t);
  return due;
}

const RAMP: RateRamp = {
  startPerS: 0,
  stages: [
    { durationMs: 10_000, targetPerS: 100 }, // 0 -> 100/s: 500 sends
    { durationMs: 10_000, targetPerS: 100 }, // flat 100/s: 1000
    { durationMs: 5_000, targetPerS: 0 }, // 100 -> 0/s: 250
  ],
};

describe('rate ramps (k6 ramping-arrival-rate)', () => {
  it('uniform: exactly the integral of the rate per stage, due where the integral reaches each count', () => {
    const s = new ArrivalSchedule(RAMP, 'uniform', new SeededRandom(1));
    const due = allDue(s);
    expect(due).toHaveLength(1750);
    expect(s.stageCounts()!.map((c) => c.offered)).toEqual([500, 1000, 250]);
    // Rising r(t) = 10 t (per s): send k is due where 5 t^2 = k, t = sqrt(k / 5) s.
    expect(due[0]).toBe(0);
    expect(due[5]).toBeCloseTo(1000, 9);
    expect(due[499]).toBeCloseTo(Math.sqrt(499 / 5) * 1000, 6);
    // Flat 100/s: every 10 ms from 10 s.
    expect(due[500]).toBeCloseTo(10_000, 9);
    expect(due[501]).toBeCloseTo(10_010, 9);
    // Falling to 0 over 5 s: the last send is before the end, and none after it.
    expect(due.at(-1)!).toBeLessThan(25_000);
    for (let i = 1; i < due.length; i++) expect(due[i]!).toBeGreaterThan(due[i - 1]!);
    expect(s.next()).toBe(Number.POSITIVE_INFINITY);
  });

  it('a constant-rate schedule is unchanged, and a flat ramp at that rate gives the same times', () => {
    const flat = new ArrivalSchedule(
      { startPerS: 200, stages: [{ durationMs: 1_000, targetPerS: 200 }] },
      'uniform',
      new SeededRandom(1),
    );
    const constant = new ArrivalSchedule(200, 'uniform', new SeededRandom(1));
    const a = allDue(flat);
    expect(a).toHaveLength(200);
    for (const t of a) expect(t).toBeCloseTo(constant.next(), 9);
  });

  it('a stage at 0/s sends nothing for its length; a 0s stage is a step', () => {
    const s = new ArrivalSchedule(
      {
        startPerS: 100,
        stages: [
          { durationMs: 1_000, targetPerS: 100 },
          { durationMs: 0, targetPerS: 0 },
          { durationMs: 2_000, targetPerS: 0 },
          { durationMs: 0, targetPerS: 50 },
          { durationMs: 1_000, targetPerS: 50 },
        ],
      },
      'uniform',
      new SeededRandom(1),
    );
    const due = allDue(s);
    expect(s.stageCounts()!.map((c) => c.offered)).toEqual([100, 0, 0, 0, 50]);
    expect(due.filter((t) => t >= 1_000 && t < 3_000)).toEqual([]);
    expect(due[100]).toBeCloseTo(3_000, 9);
    expect(due[101]).toBeCloseTo(3_020, 9);
  });

  it('poisson: the counts per stage follow the integral, reproducibly from the seed', () => {
    const ramp: RateRamp = {
      startPerS: 1_000,
      stages: [
        { durationMs: 20_000, targetPerS: 3_000 },
        { durationMs: 10_000, targetPerS: 0 },
      ],
    };
    const s = new ArrivalSchedule(ramp, 'poisson', new SeededRandom(9));
    const due = allDue(s);
    const [rising, falling] = s.stageCounts()!.map((c) => c.offered);
    // Expected 40,000 and 15,000; a Poisson count's sd is its square root (200 and 122).
    expect(Math.abs(rising! - 40_000)).toBeLessThan(1_000);
    expect(Math.abs(falling! - 15_000)).toBeLessThan(700);
    // The second half of the rising stage holds more than the first (the rate grows).
    const firstHalf = due.filter((t) => t < 10_000).length;
    expect(rising! - firstHalf).toBeGreaterThan(firstHalf * 1.3);
    expect(allDue(new ArrivalSchedule(ramp, 'poisson', new SeededRandom(9)))).toEqual(due);
  });

  it('counts a dropped send against the stage it was due in', () => {
    const s = new ArrivalSchedule(RAMP, 'uniform', new SeededRandom(1));
    for (let i = 0; i < 600; i++) s.next();
    s.dropped();
    expect(s.stageCounts()!.map((c) => c.dropped)).toEqual([0, 1, 0]);
  });
});

function problems(text: string): string[] {
  try {
    parseScenario(text, 'r.yaml');
  } catch (err) {
    if (err instanceof ScenarioError) return err.problems;
    throw err;
  }
  throw new Error('expected the scenario to be rejected');
}

const RAMP_FILE = `name: ramp
phases:
  - name: p
    groups:
      - name: g
        mix: { transfer: 1 }
        load:
          model: open
          start_rate: 100
          stages:
            - { duration: 60s, target: 5000 }
            - { duration: 30s, target: 5000 }
`;

describe('ramps in scenario files', () => {
  it('a ramp group lasts as long as its stages; everything needing one rate sees the peak', () => {
    const g = parseScenario(RAMP_FILE, 'r.yaml').phases[0]!.groups[0]!;
    expect(g.duration).toBe(90_000);
    expect(g.load).toMatchObject({ model: 'open', rate_per_s: 5000, start_rate: 100 });
  });

  it('refuses a bad ramp with file:line:col, every problem at once', () => {
    expect(
      problems(
        RAMP_FILE.replace('start_rate: 100', 'rate_per_s: 100').replace(
          'target: 5000 }\n',
          'target: 5000, hold: 1 }\n',
        ),
      ),
    ).toEqual([
      'r.yaml:11:46: phases.0.groups.0.load.stages.0: unknown key "hold"',
      'r.yaml:9:23: phases.0.groups.0.load.rate_per_s: an open load needs exactly one of "rate_per_s" or "stages"',
    ]);
    expect(problems(RAMP_FILE.replace('start_rate: 100', 'rate_per_s: 100'))).toEqual([
      'r.yaml:9:23: phases.0.groups.0.load.rate_per_s: an open load needs exactly one of "rate_per_s" or "stages"',
    ]);
    expect(
      problems(
        RAMP_FILE.replace('duration: 30s', 'duration: soon').replace('target: 5000 }', 'target: -1 }'),
      ),
    ).toEqual([
      'r.yaml:11:40: phases.0.groups.0.load.stages.0.target: Too small: expected number to be >=0',
      'r.yaml:12:27: phases.0.groups.0.load.stages.1.duration: expected a duration like 500ms, 5s or 2m',
    ]);
    expect(problems(RAMP_FILE.replace('        load:\n', '        duration: 10s\n        load:\n'))).toEqual([
      'r.yaml:7:19: phases.0.groups.0.duration: "duration" comes from the stages: leave it out',
    ]);
    expect(
      problems(RAMP_FILE.replace(/target: 5000/g, 'target: 0').replace('start_rate: 100', 'start_rate: 0')),
    ).toEqual(['r.yaml:11:13: phases.0.groups.0.load.stages: the stages never rise above 0/s']);
  });

  it('ledgerctl load --stage builds the same ramp; conflicting flags are refused by name', () => {
    const base = { accounts: 10, balance: '100', thresholds: [], allowErrors: [] };
    const s = flagScenario({ ...base, stage: ['2s:400', '1s:0'], startRate: 50 });
    expect(s.phases[0]!.groups[0]!.duration).toBe(3_000);
    expect(s.phases[0]!.groups[0]!.load).toMatchObject({
      start_rate: 50,
      stages: [
        { duration: 2_000, target: 400 },
        { duration: 1_000, target: 0 },
      ],
    });
    const refused = (o: Partial<Parameters<typeof flagScenario>[0]>) => {
      try {
        flagScenario({ ...base, ...o });
      } catch (err) {
        return (err as ScenarioError).problems;
      }
      return [];
    };
    expect(refused({ stage: ['2s:400'], rate: 10, duration: '5s' })).toEqual([
      'use --rate (one rate) or --stage (a ramp), not both',
      '--stage: the ramp lasts as long as its stages; drop --duration',
    ]);
    expect(refused({ stage: ['2s'] })).toEqual([
      '--stage: cannot read "2s": expected duration:rate, e.g. 60s:5000',
    ]);
    expect(refused({ stage: ['2x:400'] })).toEqual(['--stage: expected a duration like 500ms, 5s or 2m']);
    expect(refused({ startRate: 5 })).toEqual(['--start-rate needs --stage']);
  });
});

describe('per-stage report', () => {
  it('bins each sent call by when it was due and reads each stage its own latency', () => {
    const group: GroupResult = {
      name: 'g',
      phase: 'p',
      model: 'open',
      elapsedMs: 3_000,
      calls: 4,
      scheduleStarts: [{ callerBase: 0, startedAtS: 1, offsetMs: 0 }],
      stages: [
        { startMs: 0, endMs: 2_000, fromPerS: 0, toPerS: 2, offered: 3, dropped: 1 },
        { startMs: 2_000, endMs: 3_000, fromPerS: 2, toPerS: 2, offered: 2, dropped: 0 },
      ],
    };
    const rec = (
      op: 'get' | 'transfer',
      dueMs: number,
      latencyMs: number,
      type: OpRecord['type'] = 'ok',
    ): OpRecord => {
      const scheduledNs = 1_000_000_000n + BigInt(dueMs * 1e6);
      return {
        index: 0,
        phase: 'p',
        group: 'g',
        caller: 0,
        op,
        args: {},
        scheduledNs,
        invokeNs: scheduledNs,
        completeNs: scheduledNs + BigInt(latencyMs * 1e6),
        type,
      } as OpRecord;
    };
    const other = { ...rec('get', 100, 999), group: 'other' };
    addStageFigures(
      [group],
      [
        rec('get', 0, 5),
        rec('transfer', 1_999, 7, 'fail'),
        rec('get', 2_000, 50),
        rec('get', 2_500, 60),
        other,
      ],
    );
    // Histogram values are exact to 3 significant digits.
    const near = (us: number) => expect.closeTo(us, -1);
    expect(group.stages![0]!.ops).toEqual([
      { op: 'get', count: 1, errors: 0, p50Us: near(5_000), p99Us: near(5_000) },
      { op: 'transfer', count: 1, errors: 1, p50Us: near(7_000), p99Us: near(7_000) },
      { op: '*', count: 2, errors: 1, p50Us: near(5_000), p99Us: near(7_000) },
    ]);
    expect(group.stages![1]!.ops![0]).toMatchObject({
      op: 'get',
      count: 2,
      p99Us: expect.closeTo(60_000, -2),
    });
    const rows = stageRows(group);
    expect(rows[0]!.slice(0, 6)).toEqual(['1', '0s-2s', '0 -> 2/s', '1.5', '1.0', '1']);
    expect(rows[3]!.slice(0, 6)).toEqual(['2', '2s-3s', '2 -> 2/s', '2.0', '2.0', '0']);
  });
});
