import type { SeededRandom } from './seeded-random.js';

/**
 * Open-loop send times, in milliseconds from the start of the group. Uniform: exactly one send
 * every 1000/rate ms. Poisson: exponential gaps with that mean (independent arrivals, as real
 * clients produce). Latency is measured from these times, not from when a send actually left,
 * so a stalled server cannot hide its stall by slowing the generator (no coordinated omission).
 */
export class ArrivalSchedule {
  private dueMs = 0;
  private count = 0;

  constructor(
    private readonly ratePerS: number,
    private readonly arrivals: 'uniform' | 'poisson',
    private readonly random: SeededRandom,
  ) {}

  /** The due time of the next send. */
  next(): number {
    const meanGapMs = 1000 / this.ratePerS;
    if (this.arrivals === 'uniform') {
      // Multiply instead of accumulating so rounding error does not drift over millions of sends.
      return this.count++ * meanGapMs;
    }
    const due = this.dueMs;
    // Inverse-CDF sampling of Exp(rate); 1 - u is in (0, 1], so the log is finite.
    this.dueMs += -Math.log(1 - this.random.next()) * meanGapMs;
    this.count++;
    return due;
  }
}
