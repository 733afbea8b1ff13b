import { describe, expect, it } from 'vitest';
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
