import { describe, expect, it } from 'vitest';
import { IntervalSampler } from '../src/harness/interval-series.js';
import { OpStats } from '../src/harness/op-stats.js';

describe('over-time series (interval sampler)', () => {
  it("keeps each interval's own calls, errors, drops and latency, not the running totals", () => {
    const stats = new Map<string, OpStats>([['transfer', new OpStats()]]);
    let now = 0n;
    const sampler = new IntervalSampler(stats, () => now, 1_000);
    const t = stats.get('transfer')!;
    // Second 1: 100 fast calls (100 us), 2 of them failing, 1 drop of 103 offered.
    for (let i = 0; i < 100; i++) t.record(0n, 1n, 100, 100, i < 2 ? 'ABORTED' : undefined, false);
    t.offered += 103;
    t.dropped += 3;
    now = 1_000_000_000n;
    sampler.sample();
    // Second 2: 10 slow calls (50 ms): the interval must show them alone, not mixed with second 1.
    for (let i = 0; i < 10; i++) t.record(0n, 1n, 50_000, 50_000, undefined, false);
    t.offered += 10;
    now = 2_000_000_000n;
    sampler.sample();
    // A late op appears in second 3: its earlier intervals are empty, aligned in time.
    stats.set('query', new OpStats());
    stats.get('query')!.record(0n, 1n, 7, 7, undefined, false);
    now = 2_500_000_000n;
    const series = sampler.stop();
    const transfer = series.find((s) => s.op === 'transfer')!;
    expect(transfer.endS).toEqual([1, 2, 2.5]);
    expect(transfer.spanS).toEqual([1, 1, 0.5]);
    expect(transfer.count).toEqual([100, 10, 0]);
    expect(transfer.errors).toEqual([2, 0, 0]);
    expect(transfer.offered).toEqual([103, 10, 0]);
    expect(transfer.dropped).toEqual([3, 0, 0]);
    expect(transfer.p99Us[0]).toBe(100);
    expect(transfer.p50Us[1]).toBeGreaterThanOrEqual(49_950);
    expect(transfer.p50Us[1]).toBeLessThanOrEqual(50_050);
    expect(transfer.p50Us[2]).toBeNull();
    const query = series.find((s) => s.op === 'query')!;
    expect(query.endS).toEqual([1, 2, 2.5]);
    expect(query.count).toEqual([0, 0, 1]);
    expect(query.p50Us).toEqual([null, null, 7]);
  });

  it('stops adding samples at the cap and says so', () => {
    const stats = new Map<string, OpStats>([['*', new OpStats()]]);
    let now = 0n;
    const sampler = new IntervalSampler(stats, () => now, 1_000);
    for (let i = 1; i <= 3_605; i++) {
      now = BigInt(i) * 1_000_000_000n;
      sampler.sample();
    }
    expect(sampler.capped).toBe(true);
    expect(sampler.stop()[0]!.endS).toHaveLength(3_600);
  });
});
