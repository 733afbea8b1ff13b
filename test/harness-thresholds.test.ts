import { describe, expect, it } from 'vitest';
import { floorFor, type InstrumentFloor } from '../src/harness/calibrate.js';
import { runVerdict } from '../src/harness/run-verdict.js';
import { evaluateThreshold, parseThreshold, type Threshold } from '../src/harness/thresholds.js';

const parsed = (text: string): Threshold => {
  const t = parseThreshold(text);
  if (typeof t === 'string') throw new Error(t);
  return t;
};

describe('thresholds', () => {
  it('normalises every unit family to its base unit', () => {
    expect(parsed('p99(transfer) < 50ms')).toMatchObject({
      percentile: 99,
      op: 'transfer',
      comparator: '<',
      limit: 50_000,
      kind: 'time',
    });
    expect(parsed('p99.9(*) <= 1s')).toMatchObject({ percentile: 99.9, op: '*', limit: 1_000_000 });
    expect(parsed('error_rate(*) < 0.1%')).toMatchObject({ limit: 0.001, kind: 'fraction' });
    expect(parsed('rate(*) >= 500/s')).toMatchObject({ comparator: '>=', limit: 500, kind: 'rate' });
    expect(parsed('max_rss < 500MB')).toMatchObject({ op: undefined, limit: 500 * 1024 ** 2, kind: 'bytes' });
    expect(parsed('dropped(get) <= 0')).toMatchObject({ limit: 0, kind: 'count' });
  });

  it.each([
    ['p99(transfer) < 50', 'expected a time unit'],
    ['latency(get) < 5ms', 'unknown metric "latency"'],
    ['p99 < 5ms', 'needs an operation'],
    ['max_rss(get) < 5MB', 'takes no operation'],
    ['p99(delete) < 5ms', 'unknown operation "delete"'],
    ['error_rate(*) < 0.1', 'expected a percentage'],
    ['rate(*) > 5', 'expected a rate per second'],
    ['p0(get) < 1ms', 'must be in (0, 100]'],
    ['p99(get) ~ 5ms', 'cannot read threshold'],
  ])('rejects %s', (text, message) => {
    expect(parseThreshold(text)).toContain(message);
  });

  it('passes, fails, and skips what cannot be measured', () => {
    const t = parsed('p99(get) < 5ms');
    expect(evaluateThreshold(t, () => 4_999)).toMatchObject({
      status: 'pass',
      observed: '5.00ms',
      limit: '< 5.00ms',
    });
    expect(evaluateThreshold(t, () => 5_000)).toMatchObject({ status: 'fail' });
    expect(evaluateThreshold(parsed('max_rss < 1GB'), () => ({ unavailable: 'remote' }))).toMatchObject({
      status: 'skipped',
      observed: 'n/a',
      note: 'remote',
    });
    expect(evaluateThreshold(parsed('rate(*) >= 500/s'), () => 500)).toMatchObject({ status: 'pass' });
  });
});

describe('judging latency against the instrument floor', () => {
  const floor: InstrumentFloor = {
    ratePerS: 500,
    rateSource: 'run',
    calls: 1000,
    durationMs: 2000,
    latencyUs: { p50: 400, p90: 900, p99: 3_000, p999: 6_000, max: 8_000, mean: 500 },
    serviceUs: { p50: 300, p90: 700, p99: 2_000, p999: 5_000, max: 7_000, mean: 400 },
  };
  const observedUs = (us: number) => () => us;

  it('a limit within 2x of the floor at its percentile that is missed is "cannot judge"; one that is met passes', () => {
    const t = parsed('p99(get) < 5ms');
    // Observed 9 ms misses the limit, but the instrument alone could account for that: whose miss is it?
    const missed = evaluateThreshold(t, observedUs(9_000), floorFor(t, floor));
    expect(missed.status).toBe('cannot-judge');
    expect(missed.note).toContain("2x the instrument's own p99 at 500/s 3.00ms");
    expect(runVerdict([], [missed])).toBe('pass');
    // Observed 4.9 ms meets it: the instrument only adds to each call, so the server's p99 is at most 4.9 ms.
    const met = evaluateThreshold(t, observedUs(4_900), floorFor(t, floor));
    expect(met.status).toBe('pass');
    expect(met.note).toContain("includes the instrument's own p99 at 500/s 3.00ms");
  });

  it('a limit clear of the floor is judged as usual, pass or fail', () => {
    const t = parsed('p99(get) < 10ms');
    expect(evaluateThreshold(t, observedUs(4_000), floorFor(t, floor)).status).toBe('pass');
    expect(evaluateThreshold(t, observedUs(12_000), floorFor(t, floor)).status).toBe('fail');
    // p50 is judged against the floor's p50 (0.4 ms): 1 ms is clear of it.
    const p50 = parsed('p50(get) < 1ms');
    expect(evaluateThreshold(p50, observedUs(700), floorFor(p50, floor)).status).toBe('pass');
  });

  const summary = (p99: number) => ({
    p50: p99 / 4,
    p90: p99 / 2,
    p99,
    p999: p99 * 2,
    max: p99 * 3,
    mean: p99 / 4,
  });

  it('a slow instrument during the load makes a limit "cannot judge", though the calibration before was quiet', () => {
    const t = parsed('p99(get) < 10ms');
    // Too few probe calls to stand alone: the worse of the two floors.
    const short = { ...floor, during: { ratePerS: 50, calls: 100, latencyUs: summary(8_000) } };
    const r = evaluateThreshold(t, observedUs(12_000), floorFor(t, short));
    expect(r.status).toBe('cannot-judge');
    expect(r.note).toContain('p99 at 500/s (before and during the load) 8.00ms');
    const long = { ...floor, during: { ratePerS: 50, calls: 1_000, latencyUs: summary(8_000) } };
    const l = evaluateThreshold(t, observedUs(12_000), floorFor(t, long));
    expect(l.status).toBe('cannot-judge');
    expect(l.note).toContain('p99 during the load (50/s probe, 1000 calls) 8.00ms');
  });

  it('a probe with enough calls is the floor alone: a burst during the calibration before the load does not decide', () => {
    const t = parsed('p99(get) < 5ms');
    const noisyBefore = { ...floor, latencyUs: summary(300_000) };
    expect(evaluateThreshold(t, observedUs(6_000), floorFor(t, noisyBefore)).status).toBe('cannot-judge');
    const quietDuring = { ...noisyBefore, during: { ratePerS: 50, calls: 1_000, latencyUs: summary(1_000) } };
    expect(evaluateThreshold(t, observedUs(4_000), floorFor(t, quietDuring)).status).toBe('pass');
    expect(evaluateThreshold(t, observedUs(6_000), floorFor(t, quietDuring)).status).toBe('fail');
    // Too few probe calls: the noisy calibration still counts.
    const fewCalls = { ...noisyBefore, during: { ratePerS: 50, calls: 40, latencyUs: summary(1_000) } };
    expect(evaluateThreshold(t, observedUs(6_000), floorFor(t, fewCalls)).status).toBe('cannot-judge');
  });

  it('only upper latency limits are subject to the floor', () => {
    for (const text of ['error_rate(*) < 0.1%', 'rate(*) >= 475/s', 'max_rss < 1MB']) {
      expect(floorFor(parsed(text), floor)).toBeUndefined();
    }
    const lower = parsed('p99(get) > 1ms');
    expect(evaluateThreshold(lower, observedUs(2_000), floorFor(lower, floor)).status).toBe('pass');
  });
});
