import { describe, expect, it } from 'vitest';
import { ArrivalSchedule } from '../src/harness/arrival-schedule.js';
import { SeededRandom } from '../src/harness/seeded-random.js';

describe('open-loop arrival schedule', () => {
  it('uniform: one send every 1000/rate ms, without drift over a million sends', () => {
    const s = new ArrivalSchedule(2000, 'uniform', new SeededRandom(1));
    const due = Array.from({ length: 4 }, () => s.next());
    expect(due).toEqual([0, 0.5, 1, 1.5]);
    for (let i = 4; i < 1_000_000; i++) s.next();
    expect(s.next()).toBeCloseTo(500_000, 6);
  });

  it('poisson: exponential gaps whose mean is 1000/rate ms and whose spread matches (cv ~ 1)', () => {
    const s = new ArrivalSchedule(500, 'poisson', new SeededRandom(42));
    const n = 200_000;
    let previous = s.next();
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const due = s.next();
      const gap = due - previous;
      expect(gap).toBeGreaterThanOrEqual(0);
      sum += gap;
      sumSq += gap * gap;
      previous = due;
    }
    const mean = sum / n;
    const sd = Math.sqrt(sumSq / n - mean * mean);
    expect(mean).toBeGreaterThan(1.98);
    expect(mean).toBeLessThan(2.02);
    expect(sd / mean).toBeGreaterThan(0.97);
    expect(sd / mean).toBeLessThan(1.03);
  });

  it('is reproducible from the seed', () => {
    const a = new ArrivalSchedule(100, 'poisson', new SeededRandom(7));
    const b = new ArrivalSchedule(100, 'poisson', new SeededRandom(7));
    const c = new ArrivalSchedule(100, 'poisson', new SeededRandom(8));
    const take = (s: ArrivalSchedule) => Array.from({ length: 10 }, () => s.next());
    const first = take(a);
    expect(take(b)).toEqual(first);
    expect(take(c)).not.toEqual(first);
  });
});
